//! [`OutputTopic`]: a user topic the application creates at start when it is missing, with
//! the partitions, replication and topic configuration its use needs.

use std::collections::BTreeMap;
use std::time::Duration;

/// An output topic the application declares: created by
/// [`KafkaStreams::start`](crate::runtime::KafkaStreams::start) when it does not exist (an
/// existing topic is left as it is, whatever its settings), so that retention and compaction
/// are set per use case from the application, as the seed's checklist asks.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_core::topology::OutputTopic;
///
/// let hourly = OutputTopic::new("analytics.hourly-revenue", 6)
///     .replication_factor(3)
///     .retention(Duration::from_secs(30 * 86_400));
/// assert_eq!(hourly.config.get("retention.ms").map(String::as_str), Some("2592000000"));
/// let latest = OutputTopic::new("customers.latest", 6).compacted();
/// assert_eq!(latest.config.get("cleanup.policy").map(String::as_str), Some("compact"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputTopic {
    /// The topic's name.
    pub name: String,
    /// Its partition count.
    pub partitions: i32,
    /// Its replication factor; -1 (the default) takes the application's
    /// `replication.factor`, and the broker's default when that is -1 too.
    pub replication_factor: i32,
    /// Topic configuration (`retention.ms`, `cleanup.policy`, `min.insync.replicas`, ...).
    pub config: BTreeMap<String, String>,
}

impl OutputTopic {
    /// `name` with `partitions` partitions and the broker's default configuration.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        OutputTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            config: BTreeMap::new(),
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, replication_factor: i32) -> Self {
        self.replication_factor = replication_factor;
        self
    }

    /// Sets a topic configuration entry.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Keeps records for `retention` (`retention.ms`).
    pub fn retention(self, retention: Duration) -> Self {
        let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        self.config("retention.ms", ms.to_string())
    }

    /// Keeps the latest record per key (`cleanup.policy=compact`), for changelog-like
    /// outputs such as a table's updates.
    pub fn compacted(self) -> Self {
        self.config("cleanup.policy", "compact")
    }
}
