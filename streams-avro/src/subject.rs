//! Subject name strategies: which registry subject a topic's keys or values are registered
//! under.

use std::fmt;
use std::str::FromStr;

/// The subject name strategy for keys (default `TopicNameStrategy`).
pub const KEY_SUBJECT_NAME_STRATEGY: &str = "key.subject.name.strategy";
/// The subject name strategy for values (default `TopicNameStrategy`).
pub const VALUE_SUBJECT_NAME_STRATEGY: &str = "value.subject.name.strategy";

use crate::error::{AvroError, Result};

/// How a serializer names the subject it registers its schema under, as Confluent's
/// `*.subject.name.strategy` settings. Configuration accepts the short names and Confluent's
/// class names (`io.confluent.kafka.serializers.subject.TopicNameStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubjectNameStrategy {
    /// `<topic>-key` or `<topic>-value` (the default).
    #[default]
    TopicName,
    /// The record's full name: one subject per record type, whatever the topic.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The subject for a key (`is_key`) or value of `topic` written with a schema whose full
    /// name is `record` (`None` for a schema without a name).
    ///
    /// # Errors
    ///
    /// [`AvroError::Config`] when the strategy needs a record name and the schema has none.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_avro::SubjectNameStrategy;
    ///
    /// let record = Some("com.example.orders.OrderPlaced");
    /// assert_eq!(SubjectNameStrategy::TopicName.subject("orders.placed", false, record)?, "orders.placed-value");
    /// assert_eq!(SubjectNameStrategy::RecordName.subject("orders.placed", true, record)?, "com.example.orders.OrderPlaced");
    /// assert_eq!(
    ///     SubjectNameStrategy::TopicRecordName.subject("orders.placed", false, record)?,
    ///     "orders.placed-com.example.orders.OrderPlaced"
    /// );
    /// assert!(SubjectNameStrategy::RecordName.subject("t", false, None).is_err());
    /// # Ok::<(), streams_avro::AvroError>(())
    /// ```
    pub fn subject(self, topic: &str, is_key: bool, record: Option<&str>) -> Result<String> {
        let record = || {
            record.ok_or_else(|| {
                AvroError::config(
                    if is_key {
                        KEY_SUBJECT_NAME_STRATEGY
                    } else {
                        VALUE_SUBJECT_NAME_STRATEGY
                    },
                    format!("{self} needs a named schema (a record, enum or fixed)"),
                )
            })
        };
        Ok(match self {
            SubjectNameStrategy::TopicName => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::RecordName => record()?.to_owned(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", record()?),
        })
    }
}

impl fmt::Display for SubjectNameStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectNameStrategy::TopicName => "TopicNameStrategy",
            SubjectNameStrategy::RecordName => "RecordNameStrategy",
            SubjectNameStrategy::TopicRecordName => "TopicRecordNameStrategy",
        })
    }
}

impl FromStr for SubjectNameStrategy {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let short = s.trim().rsplit('.').next().unwrap_or_default();
        match short {
            "TopicNameStrategy" => Ok(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Ok(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Ok(SubjectNameStrategy::TopicRecordName),
            _ => Err(format!(
                "'{s}' is not a subject name strategy; use TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"
            )),
        }
    }
}
