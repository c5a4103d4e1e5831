//! Task identifiers.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Identifies a task: the sub-topology it runs and the partition it owns.
///
/// Displayed as Kafka Streams does, `<subtopology>_<partition>`, for example `0_3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology's id.
    pub subtopology: u32,
    /// The input partition.
    pub partition: i32,
}

impl TaskId {
    /// A task id.
    pub const fn new(subtopology: u32, partition: i32) -> Self {
        TaskId {
            subtopology,
            partition,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

impl FromStr for TaskId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::IllegalState(format!(
                "'{s}' is not a task id of the form <subtopology>_<partition>"
            ))
        };
        let (a, b) = s.split_once('_').ok_or_else(bad)?;
        Ok(TaskId {
            subtopology: a.parse().map_err(|_| bad())?,
            partition: b.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_and_parses_like_kafka_streams() {
        let id = TaskId::new(2, 11);
        assert_eq!(id.to_string(), "2_11");
        assert_eq!("2_11".parse::<TaskId>().ok(), Some(id));
        assert!("2-11".parse::<TaskId>().is_err());
        assert!("x_1".parse::<TaskId>().is_err());
    }
}
