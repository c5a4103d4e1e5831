//! A [`ChangelogReader`] over an rdkafka consumer with manual assignment: the restore
//! consumer of a stream thread, and of the standby thread.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::error::{Error, Result};
use crate::runtime::client_log::LogContext;
use crate::runtime::kafka_errors::{kafka_error, retry_transient};
use crate::state::{ChangelogReader, ChangelogRecord, OwnedChangelogRecord};

/// How long one read waits for the first record.
const FIRST_RECORD_WAIT: Duration = Duration::from_millis(200);
/// How long a watermark look-up may take, retries included, before the restore fails.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(60);

type Tp = (String, i32);

/// Reads changelog partitions for the state manager.
///
/// Positions come from the consumer, so they move past transaction markers: under
/// exactly-once the last offset of a changelog is often a commit marker, and the restore
/// must still reach the end offset.
///
/// Partitions are added to and removed from the consumer's assignment one by one
/// (`incremental_assign`), so that positioning one never restarts the fetches of the
/// others: a whole new assignment would stop every partition and clear the consumer's
/// positions, and a partition whose position was cleared before its next record arrived
/// would start over from where it was first positioned.
pub(crate) struct KafkaChangelogReader {
    consumer: BaseConsumer<LogContext>,
    /// The partitions being read.
    assigned: BTreeSet<Tp>,
    /// The offset after the last record handed out, per partition.
    next: HashMap<Tp, i64>,
    /// Records read for another partition than the one asked for, kept for its next read.
    stash: HashMap<Tp, VecDeque<OwnedChangelogRecord>>,
}

fn is_unknown_partition(source: &crate::error::BoxError) -> bool {
    matches!(
        source.downcast_ref::<KafkaError>(),
        Some(KafkaError::MetadataFetch(
            rdkafka::types::RDKafkaErrorCode::UnknownPartition
                | rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
        ))
    )
}

/// How long a changelog partition may stay unknown to the cluster's metadata: briefly,
/// right after a broker restarts, before the restore gives up. A changelog is created
/// before any task starts, so an unknown one is not empty: reading it as empty would lose
/// the store's state.
const UNKNOWN_PARTITION_TIMEOUT: Duration = Duration::from_secs(30);

impl KafkaChangelogReader {
    /// Creates the restore consumer.
    pub(crate) fn new(config: &ClientConfig) -> Result<Self> {
        let client = config
            .get("client.id")
            .unwrap_or("restore-consumer")
            .to_owned();
        let consumer: BaseConsumer<LogContext> = config
            .create_with_context(LogContext { client })
            .map_err(|e| kafka_error("creating the restore consumer", e))?;
        Ok(KafkaChangelogReader {
            consumer,
            assigned: BTreeSet::new(),
            next: HashMap::new(),
            stash: HashMap::new(),
        })
    }

    /// The partition's (log start, log end) offsets, waiting out an unknown partition.
    fn watermarks(&self, topic: &str, partition: i32, which: &str) -> Result<(i64, i64)> {
        let consumer = &self.consumer;
        let deadline = std::time::Instant::now() + UNKNOWN_PARTITION_TIMEOUT;
        loop {
            let what = format!("reading the {which} offset of changelog {topic}-{partition}");
            match retry_transient(WATERMARK_TIMEOUT, &what, || {
                consumer.fetch_watermarks(topic, partition, Duration::from_secs(5))
            }) {
                Err(Error::Kafka { context, source }) if is_unknown_partition(&source) => {
                    if std::time::Instant::now() >= deadline {
                        // Still unknown: the thread starts its clients anew and tries again
                        // rather than read the changelog as empty or stop the instance.
                        return Err(Error::TaskCorrupted { context, source });
                    }
                    tracing::warn!(
                        topic,
                        partition,
                        "changelog partition unknown to the cluster yet; retrying"
                    );
                    std::thread::sleep(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    /// Adds `key` to the consumer's assignment at `at`.
    fn assign_one(&self, key: &Tp, at: Offset) -> Result<()> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&key.0, key.1, at)
            .map_err(|e| kafka_error("building the restore assignment", e))?;
        self.consumer
            .incremental_assign(&tpl)
            .map_err(|e| kafka_error("assigning a changelog partition", e))
    }

    /// Removes `key` from the consumer's assignment.
    fn unassign_one(&self, key: &Tp) -> Result<()> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&key.0, key.1);
        self.consumer
            .incremental_unassign(&tpl)
            .map_err(|e| kafka_error("unassigning a changelog partition", e))
    }

    /// Hands out up to `max_records` records stashed for `key` by an earlier read, if it
    /// has any; returns how many.
    fn read_stashed(
        &mut self,
        key: &Tp,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> Result<()>,
    ) -> Result<Option<usize>> {
        let Some(stashed) = self.stash.get_mut(key).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let n = stashed.len().min(max_records);
        let owned: Vec<OwnedChangelogRecord> = stashed.drain(..n).collect();
        let batch: Vec<ChangelogRecord<'_>> =
            owned.iter().map(OwnedChangelogRecord::as_record).collect();
        sink(&batch)?;
        if let Some(last) = owned.last() {
            self.next.insert(key.clone(), last.offset + 1);
        }
        Ok(Some(n))
    }
}

impl ChangelogReader for KafkaChangelogReader {
    fn end_offset(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self.watermarks(topic, partition, "end")?.1.max(0))
    }

    fn start_offset(&mut self, topic: &str, partition: i32) -> Result<i64> {
        Ok(self.watermarks(topic, partition, "start")?.0.max(0))
    }

    fn seek(&mut self, topic: &str, partition: i32, offset: Option<i64>) -> Result<()> {
        let key = (topic.to_owned(), partition);
        let at = offset.map_or(Offset::Beginning, Offset::Offset);
        if self.assigned.remove(&key) {
            self.unassign_one(&key)?;
        }
        self.stash.remove(&key);
        match offset {
            Some(o) => {
                self.next.insert(key.clone(), o);
            }
            None => {
                self.next.remove(&key);
            }
        }
        self.assign_one(&key, at)?;
        self.assigned.insert(key);
        Ok(())
    }

    fn position(&mut self, topic: &str, partition: i32) -> Result<i64> {
        let key = (topic.to_owned(), partition);
        // Records fetched while another partition was read wait in the stash: the consumer
        // is past them, the reader is not.
        if let Some(first) = self.stash.get(&key).and_then(VecDeque::front) {
            return Ok(first.offset);
        }
        let own = self.next.get(&key).copied();
        let consumer_pos = self
            .consumer
            .position()
            .ok()
            .and_then(|all| {
                all.find_partition(topic, partition)
                    .and_then(|e| e.offset().to_raw())
            })
            .filter(|o| *o >= 0);
        match (own, consumer_pos) {
            (Some(a), Some(b)) => Ok(a.max(b)),
            (Some(a), None) => Ok(a),
            (None, Some(b)) => Ok(b),
            // Positioned at the beginning and nothing read yet: the log start.
            (None, None) => self.start_offset(topic, partition),
        }
    }

    fn read_batch(
        &mut self,
        topic: &str,
        partition: i32,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> Result<()>,
    ) -> Result<usize> {
        let key = (topic.to_owned(), partition);
        if let Some(n) = self.read_stashed(&key, max_records, sink)? {
            return Ok(n);
        }
        let Self {
            consumer, stash, ..
        } = self;
        let messages = poll_partition(consumer, stash, topic, partition, max_records)?;
        let batch = changelog_records(&messages, topic, partition);
        let n = messages.len();
        if !batch.is_empty() {
            sink(&batch)?;
        }
        if let Some(last) = messages.last() {
            let next = last.offset() + 1;
            drop(batch);
            drop(messages);
            self.next.insert(key, next);
        }
        Ok(n)
    }

    fn unassign(&mut self, topic: &str, partition: i32) {
        let key = (topic.to_owned(), partition);
        self.next.remove(&key);
        self.stash.remove(&key);
        if self.assigned.remove(&key)
            && let Err(e) = self.unassign_one(&key)
        {
            tracing::warn!(topic, partition, error = %e, "could not unassign a changelog partition");
        }
    }
}

fn owned_record(m: &BorrowedMessage<'_>) -> OwnedChangelogRecord {
    OwnedChangelogRecord {
        key: m.key().map(<[u8]>::to_vec).unwrap_or_default(),
        value: m.payload().map(<[u8]>::to_vec),
        timestamp: m.timestamp().to_millis().unwrap_or(-1),
        offset: m.offset(),
    }
}

/// Polls up to `max_records` records of `topic`/`partition`, stashing those of other
/// partitions for their own reads. A broker that cannot be reached ends the poll early
/// (the restore goes on at its next round).
fn poll_partition<'c>(
    consumer: &'c BaseConsumer<LogContext>,
    stash: &mut HashMap<Tp, VecDeque<OwnedChangelogRecord>>,
    topic: &str,
    partition: i32,
    max_records: usize,
) -> Result<Vec<BorrowedMessage<'c>>> {
    let mut messages: Vec<BorrowedMessage<'c>> = Vec::new();
    let mut wait = FIRST_RECORD_WAIT;
    while messages.len() < max_records {
        match consumer.poll(wait) {
            None => break,
            Some(Ok(m)) => {
                if m.topic() == topic && m.partition() == partition {
                    messages.push(m);
                } else {
                    stash
                        .entry((m.topic().to_owned(), m.partition()))
                        .or_default()
                        .push_back(owned_record(&m));
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            // The restore consumer runs with `auto.offset.reset=error`: a position
            // below the log start surfaces here instead of jumping to the beginning.
            Some(Err(e)) if is_out_of_range(&e) => {
                return Err(Error::ChangelogOutOfRange {
                    topic: topic.to_owned(),
                    partition,
                    source: Box::new(e),
                });
            }
            Some(Err(e)) if is_unreachable(&e) => {
                tracing::warn!(topic, partition, error = %e, "changelog read failed; retrying");
                break;
            }
            Some(Err(e)) => {
                return Err(kafka_error(
                    format!("reading changelog {topic}-{partition}"),
                    e,
                ));
            }
        }
        wait = Duration::ZERO;
    }
    Ok(messages)
}

/// Whether the consumer's position is outside the partition's log.
fn is_out_of_range(error: &KafkaError) -> bool {
    error.rdkafka_error_code().is_some_and(|c| {
        matches!(
            c,
            rdkafka::types::RDKafkaErrorCode::AutoOffsetReset
                | rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange
        )
    })
}

/// Whether the brokers could not be reached or did not answer in time.
fn is_unreachable(error: &KafkaError) -> bool {
    error.rdkafka_error_code().is_some_and(|c| {
        matches!(
            c,
            rdkafka::types::RDKafkaErrorCode::BrokerTransportFailure
                | rdkafka::types::RDKafkaErrorCode::AllBrokersDown
                | rdkafka::types::RDKafkaErrorCode::OperationTimedOut
        )
    })
}

/// The changelog records of `messages`; a record without a key is skipped, as a store
/// cannot apply it.
fn changelog_records<'m>(
    messages: &'m [BorrowedMessage<'_>],
    topic: &str,
    partition: i32,
) -> Vec<ChangelogRecord<'m>> {
    messages
        .iter()
        .filter_map(|m| {
            let Some(key) = m.key() else {
                tracing::warn!(
                    topic,
                    partition,
                    offset = m.offset(),
                    "skipping a changelog record without a key"
                );
                return None;
            };
            Some(ChangelogRecord {
                key,
                value: m.payload(),
                timestamp: m.timestamp().to_millis().unwrap_or(-1),
                offset: m.offset(),
            })
        })
        .collect()
}
