//! Timestamp extractors: where a record's event time comes from.

/// Chooses the timestamp of each consumed record.
///
/// `record_timestamp` is the timestamp stored in Kafka; `partition_time` is the largest
/// timestamp seen so far on the record's partition (-1 before the first). A negative result
/// drops the record and counts it as dropped, unless the extractor itself reports an error.
///
/// Closures `Fn(&K, &V, i64) -> i64` (key, value, record timestamp) are extractors too, which
/// is the usual way to read event time from a field of the value.
pub trait TimestampExtractor<K, V>: Send + Sync + 'static {
    /// Returns the record's timestamp.
    ///
    /// # Errors
    ///
    /// A message saying why the timestamp is invalid; the task fails with it.
    fn extract(
        &self,
        key: &K,
        value: &V,
        record_timestamp: i64,
        partition_time: i64,
    ) -> Result<i64, String>;
}

impl<K, V, F> TimestampExtractor<K, V> for F
where
    F: Fn(&K, &V, i64) -> i64 + Send + Sync + 'static,
{
    fn extract(
        &self,
        key: &K,
        value: &V,
        record_timestamp: i64,
        _partition_time: i64,
    ) -> Result<i64, String> {
        Ok(self(key, value, record_timestamp))
    }
}

/// The default: the record's own timestamp, and an error for a negative one, as Kafka
/// Streams' `FailOnInvalidTimestamp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailOnInvalidTimestamp;

impl<K, V> TimestampExtractor<K, V> for FailOnInvalidTimestamp {
    fn extract(&self, _key: &K, _value: &V, ts: i64, _partition_time: i64) -> Result<i64, String> {
        if ts < 0 {
            Err(format!(
                "record has invalid (negative) timestamp {ts}; use another timestamp extractor, \
                 such as LogAndSkipOnInvalidTimestamp, to skip such records"
            ))
        } else {
            Ok(ts)
        }
    }
}

/// The record's own timestamp; a negative one drops the record with a warning.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogAndSkipOnInvalidTimestamp;

impl<K, V> TimestampExtractor<K, V> for LogAndSkipOnInvalidTimestamp {
    fn extract(&self, _key: &K, _value: &V, ts: i64, _partition_time: i64) -> Result<i64, String> {
        if ts < 0 {
            tracing::warn!(
                timestamp = ts,
                "skipping record with invalid (negative) timestamp"
            );
        }
        Ok(ts)
    }
}

/// The record's own timestamp; a negative one is replaced by the partition time, or the
/// record is dropped when the partition has no time yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsePartitionTimeOnInvalidTimestamp;

impl<K, V> TimestampExtractor<K, V> for UsePartitionTimeOnInvalidTimestamp {
    fn extract(&self, _key: &K, _value: &V, ts: i64, partition_time: i64) -> Result<i64, String> {
        Ok(if ts < 0 { partition_time } else { ts })
    }
}

/// The record's own timestamp, whatever it is. Use where negative timestamps cannot occur.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordTimestampExtractor;

impl<K, V> TimestampExtractor<K, V> for RecordTimestampExtractor {
    fn extract(&self, _key: &K, _value: &V, ts: i64, _partition_time: i64) -> Result<i64, String> {
        Ok(ts)
    }
}
