//! Reading changelogs for restore, and an in-memory changelog.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::state::builder::ChangelogWriter;
use crate::state::store::ChangelogRecord;

/// Reads changelog partitions to restore stores, as Kafka Streams' restore consumer.
///
/// The state manager restores one partition at a time: it asks for the end offset, seeks,
/// then reads batches until its position reaches the end offset. The Kafka runtime
/// implements it over a consumer; [`InMemoryChangelog`] implements it for tests, benchmarks
/// and the test driver.
pub trait ChangelogReader {
    /// The log-end offset of the partition: one past the offset of its last record (0 for
    /// an empty or unknown partition).
    ///
    /// # Errors
    ///
    /// Whatever the source reports.
    fn end_offset(&mut self, topic: &str, partition: i32) -> Result<i64>;

    /// Positions the reader on the partition at `offset`, or at its beginning for `None`.
    ///
    /// # Errors
    ///
    /// Whatever the source reports.
    fn seek(&mut self, topic: &str, partition: i32, offset: Option<i64>) -> Result<()>;

    /// The log-start offset of the partition: the offset of its first record still held
    /// (0 for an empty or unknown partition). Retention and `DeleteRecords` move it up; a
    /// checkpoint below it cannot be continued from. The default says 0.
    ///
    /// # Errors
    ///
    /// Whatever the source reports.
    fn start_offset(&mut self, topic: &str, partition: i32) -> Result<i64> {
        let _ = (topic, partition);
        Ok(0)
    }

    /// The offset of the next record the reader will return for the partition.
    ///
    /// # Errors
    ///
    /// Whatever the source reports.
    fn position(&mut self, topic: &str, partition: i32) -> Result<i64>;

    /// Reads up to `max_records` records from the current position and hands them to `sink`
    /// as one slice (the sink may be called more than once per read, each with the next
    /// records). Returns how many records were handed over; 0 when none was available.
    ///
    /// # Errors
    ///
    /// [`Error::ChangelogOutOfRange`](crate::Error::ChangelogOutOfRange) when the position
    /// is no longer in the partition (below its log start): the reader must never jump
    /// elsewhere on its own, since the store would then miss records. Otherwise whatever
    /// the source or the sink reports.
    fn read_batch(
        &mut self,
        topic: &str,
        partition: i32,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> Result<()>,
    ) -> Result<usize>;

    /// Stops reading the partition. The default does nothing.
    fn unassign(&mut self, topic: &str, partition: i32) {
        let _ = (topic, partition);
    }
}

/// A changelog record that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedChangelogRecord {
    /// The key.
    pub key: Vec<u8>,
    /// The value, `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// The timestamp.
    pub timestamp: i64,
    /// The offset.
    pub offset: i64,
}

impl OwnedChangelogRecord {
    /// A borrowed view of the record.
    pub fn as_record(&self) -> ChangelogRecord<'_> {
        ChangelogRecord {
            key: &self.key,
            value: self.value.as_deref(),
            timestamp: self.timestamp,
            offset: self.offset,
        }
    }
}

const NULL_LEN: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: usize,
    key_len: u32,
    value_len: u32,
    timestamp: i64,
}

/// One partition's records, packed into one buffer so that a log of millions of records
/// costs a handful of allocations.
#[derive(Debug, Default, Clone)]
struct PartitionLog {
    start_offset: i64,
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl PartitionLog {
    fn end_offset(&self) -> i64 {
        self.start_offset + self.entries.len() as i64
    }

    fn record(&self, index: usize) -> Option<ChangelogRecord<'_>> {
        let e = self.entries.get(index)?;
        let key_end = e.at + e.key_len as usize;
        let key = self.data.get(e.at..key_end)?;
        let value = if e.value_len == NULL_LEN {
            None
        } else {
            Some(self.data.get(key_end..key_end + e.value_len as usize)?)
        };
        Some(ChangelogRecord {
            key,
            value,
            timestamp: e.timestamp,
            offset: self.start_offset + index as i64,
        })
    }
}

/// An in-memory log of topic partitions: a [`ChangelogWriter`] that appends and assigns
/// offsets from 0, and a [`ChangelogReader`] over the same records.
///
/// # Examples
///
/// ```
/// use streams_core::state::{ChangelogReader, ChangelogWriter, InMemoryChangelog};
///
/// let mut log = InMemoryChangelog::new();
/// log.send("app-s-changelog", 0, b"k", Some(b"v"), 5)?;
/// log.send("app-s-changelog", 0, b"k", None, 6)?;
/// assert_eq!(log.end_offset("app-s-changelog", 0)?, 2);
///
/// log.seek("app-s-changelog", 0, None)?;
/// let mut seen = Vec::new();
/// log.read_batch("app-s-changelog", 0, 10, &mut |batch| {
///     seen.extend(batch.iter().map(|r| (r.offset, r.value.is_some())));
///     Ok(())
/// })?;
/// assert_eq!(seen, [(0, true), (1, false)]);
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct InMemoryChangelog {
    partitions: HashMap<(String, i32), PartitionLog>,
    positions: HashMap<(String, i32), i64>,
}

impl InMemoryChangelog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record and returns its offset.
    pub fn append(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> i64 {
        let log = self
            .partitions
            .entry((topic.to_owned(), partition))
            .or_default();
        let at = log.data.len();
        log.data.extend_from_slice(key);
        let value_len = match value {
            Some(v) => {
                log.data.extend_from_slice(v);
                // Values of 4 GiB do not occur in changelogs (Kafka's limit is far below).
                u32::try_from(v.len()).unwrap_or(NULL_LEN - 1)
            }
            None => NULL_LEN,
        };
        log.entries.push(Entry {
            at,
            key_len: u32::try_from(key.len()).unwrap_or(u32::MAX),
            value_len,
            timestamp,
        });
        log.end_offset() - 1
    }

    /// Reserves room for `records` more records of `bytes` key and value bytes in all.
    pub fn reserve(&mut self, topic: &str, partition: i32, records: usize, bytes: usize) {
        let log = self
            .partitions
            .entry((topic.to_owned(), partition))
            .or_default();
        log.entries.reserve(records);
        log.data.reserve(bytes);
    }

    /// A copy of every record of the partition, in offset order.
    pub fn records(&self, topic: &str, partition: i32) -> Vec<OwnedChangelogRecord> {
        let Some(log) = self.partitions.get(&(topic.to_owned(), partition)) else {
            return Vec::new();
        };
        (0..log.entries.len())
            .filter_map(|i| log.record(i))
            .map(|r| OwnedChangelogRecord {
                key: r.key.to_vec(),
                value: r.value.map(<[u8]>::to_vec),
                timestamp: r.timestamp,
                offset: r.offset,
            })
            .collect()
    }

    /// Drops the partition's records below `offset`, as retention or Kafka's
    /// `DeleteRecords` do: the log start moves up to `offset` (never down), and the end
    /// offset stays.
    pub fn truncate_before(&mut self, topic: &str, partition: i32, offset: i64) {
        let Some(log) = self.partitions.get_mut(&(topic.to_owned(), partition)) else {
            return;
        };
        let drop = usize::try_from(offset - log.start_offset)
            .unwrap_or(0)
            .min(log.entries.len());
        // The bytes of dropped entries stay in `data`; only a test log is truncated.
        log.entries.drain(..drop);
        log.start_offset += drop as i64;
    }

    /// The number of records in the partition.
    pub fn len(&self, topic: &str, partition: i32) -> usize {
        self.partitions
            .get(&(topic.to_owned(), partition))
            .map_or(0, |l| l.entries.len())
    }

    /// Whether the log holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.partitions.values().all(|l| l.entries.is_empty())
    }

    /// The (topic, partition) pairs that have records, sorted.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        let mut tps: Vec<_> = self.partitions.keys().cloned().collect();
        tps.sort();
        tps
    }
}

impl ChangelogWriter for InMemoryChangelog {
    fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()> {
        self.append(topic, partition, key, value, timestamp);
        Ok(())
    }
}

impl ChangelogReader for InMemoryChangelog {
    fn start_offset(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self
            .partitions
            .get(&(topic.to_owned(), partition))
            .map_or(0, |l| l.start_offset))
    }

    fn end_offset(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self
            .partitions
            .get(&(topic.to_owned(), partition))
            .map_or(0, PartitionLog::end_offset))
    }

    fn seek(&mut self, topic: &str, partition: i32, offset: Option<i64>) -> Result<()> {
        let start = self
            .partitions
            .get(&(topic.to_owned(), partition))
            .map_or(0, |l| l.start_offset);
        let offset = offset.unwrap_or(start);
        if offset < start {
            return Err(Error::ChangelogOutOfRange {
                topic: topic.to_owned(),
                partition,
                source: format!("offset {offset} is before the log start {start}").into(),
            });
        }
        self.positions.insert((topic.to_owned(), partition), offset);
        Ok(())
    }

    fn position(&mut self, topic: &str, partition: i32) -> Result<i64> {
        self.positions
            .get(&(topic.to_owned(), partition))
            .copied()
            .ok_or_else(|| Error::IllegalState(format!("{topic}-{partition} is not assigned")))
    }

    fn read_batch(
        &mut self,
        topic: &str,
        partition: i32,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> Result<()>,
    ) -> Result<usize> {
        let key = (topic.to_owned(), partition);
        let position = self.position(topic, partition)?;
        let Some(log) = self.partitions.get(&key) else {
            return Ok(0);
        };
        let from = usize::try_from(position - log.start_offset).unwrap_or(usize::MAX);
        let to = from.saturating_add(max_records).min(log.entries.len());
        if from >= to {
            return Ok(0);
        }
        let batch: Vec<ChangelogRecord<'_>> = (from..to).filter_map(|i| log.record(i)).collect();
        sink(&batch)?;
        let n = batch.len();
        self.positions.insert(key, position + n as i64);
        Ok(n)
    }

    fn unassign(&mut self, topic: &str, partition: i32) {
        self.positions.remove(&(topic.to_owned(), partition));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_assign_consecutive_offsets_per_partition() {
        let mut log = InMemoryChangelog::new();
        assert_eq!(log.append("t", 0, b"a", Some(b"1"), 1), 0);
        assert_eq!(log.append("t", 1, b"a", Some(b"1"), 1), 0);
        assert_eq!(log.append("t", 0, b"b", None, 2), 1);
        assert_eq!(log.len("t", 0), 2);
        let recs = log.records("t", 0);
        assert_eq!(recs[1].key, b"b");
        assert_eq!(recs[1].value, None);
        assert_eq!(recs[1].timestamp, 2);
        assert_eq!(
            log.partitions(),
            vec![("t".to_owned(), 0), ("t".to_owned(), 1)]
        );
    }

    #[test]
    fn reads_in_batches_from_a_position_to_the_end() -> Result<()> {
        let mut log = InMemoryChangelog::new();
        for i in 0..10u8 {
            log.append("t", 0, &[i], Some(&[i, i]), i64::from(i));
        }
        assert!(
            log.position("t", 0).is_err(),
            "unassigned partition has no position"
        );
        log.seek("t", 0, Some(3))?;
        let mut offsets = Vec::new();
        loop {
            let n = log.read_batch("t", 0, 4, &mut |b| {
                offsets.extend(b.iter().map(|r| r.offset));
                assert!(b.iter().all(|r| r.value == Some(&[r.key[0], r.key[0]][..])));
                Ok(())
            })?;
            if n == 0 {
                break;
            }
        }
        assert_eq!(offsets, (3..10).collect::<Vec<i64>>());
        assert_eq!(log.position("t", 0)?, 10);
        assert_eq!(log.end_offset("t", 0)?, 10);
        assert_eq!(log.end_offset("other", 0)?, 0);
        Ok(())
    }

    #[test]
    fn a_failing_sink_does_not_advance_the_position() -> Result<()> {
        let mut log = InMemoryChangelog::new();
        log.append("t", 0, b"k", Some(b"v"), 0);
        log.seek("t", 0, None)?;
        let r = log.read_batch("t", 0, 10, &mut |_| Err(Error::IllegalState("boom".into())));
        assert!(r.is_err());
        assert_eq!(log.position("t", 0)?, 0);
        Ok(())
    }
}
