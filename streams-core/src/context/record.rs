//! What a task reads and where it writes: raw input records and the record collector.

use crate::error::Result;
use crate::record::Headers;

/// A consumed record before deserialization.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// The key bytes, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value bytes, `None` for a null value.
    pub value: Option<&'a [u8]>,
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's offset in its partition.
    pub offset: i64,
    /// The record's headers.
    pub headers: Headers,
}

/// Where a task's output records go: the producer in the Kafka runtime, a capture buffer in
/// the test driver.
pub trait RecordCollector {
    /// Sends one record. `partition` is `None` when the record has a null key and no
    /// partitioner chose one.
    ///
    /// # Errors
    ///
    /// The send could not be started (an unknown topic, a full buffer that did not drain).
    fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()>;

    /// The number of partitions of `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTopic`](crate::Error::UnknownTopic) when the topic does not exist.
    fn partition_count(&mut self, topic: &str) -> Result<i32>;
}
