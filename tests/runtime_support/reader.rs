//! Reading a topic back: an independent consumer that assigns itself every partition from
//! the beginning and never joins a group, so that what a test checks is what the broker
//! holds. With `read_committed` it sees only records of committed transactions.
//!
//! The including module has a sibling `names` module (`names.rs`) for the reader's group id.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::names::unique;

/// The partition count of `topic` (0 when unknown).
pub(crate) fn partition_count(bootstrap: &str, topic: &str) -> i32 {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let consumer: BaseConsumer = cfg.create().expect("metadata client");
    consumer
        .fetch_metadata(None, Duration::from_secs(5))
        .ok()
        .and_then(|m| {
            m.topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().len() as i32)
        })
        .unwrap_or(0)
}

/// A record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    /// Key.
    pub(crate) key: Option<Vec<u8>>,
    /// Value.
    pub(crate) value: Option<Vec<u8>>,
    /// Partition.
    pub(crate) partition: i32,
    /// Offset.
    pub(crate) offset: i64,
    /// Headers as (key, UTF-8 value).
    pub(crate) headers: BTreeMap<String, String>,
}

impl Read {
    fn of(m: &BorrowedMessage<'_>) -> Read {
        let mut headers = BTreeMap::new();
        if let Some(h) = m.headers() {
            for i in 0..h.count() {
                let hd = h.get(i);
                headers.insert(
                    hd.key.to_owned(),
                    String::from_utf8_lossy(hd.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        Read {
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            partition: m.partition(),
            offset: m.offset(),
            headers,
        }
    }

    /// The key as a string.
    pub(crate) fn key_str(&self) -> String {
        String::from_utf8_lossy(self.key.as_deref().unwrap_or_default()).into_owned()
    }

    /// The value as a string.
    pub(crate) fn value_str(&self) -> String {
        String::from_utf8_lossy(self.value.as_deref().unwrap_or_default()).into_owned()
    }
}

/// A reader of every partition of a topic from the beginning.
pub(crate) struct Reader {
    consumer: BaseConsumer,
    bootstrap: String,
    topic: String,
    partitions: i32,
    /// What was read so far, in the order read.
    pub(crate) records: Vec<Read>,
}

impl Reader {
    /// Reads `topic` from the beginning; `read_committed` hides uncommitted and aborted
    /// transactional records.
    pub(crate) fn new(bootstrap: &str, topic: &str, read_committed: bool) -> Reader {
        let partitions = partition_count(bootstrap, topic);
        assert!(partitions > 0, "topic {topic} does not exist");
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("group.id", unique("reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set(
                "isolation.level",
                if read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            );
        let consumer: BaseConsumer = cfg.create().expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .expect("tpl");
        }
        consumer.assign(&tpl).expect("assign");
        Reader {
            consumer,
            bootstrap: bootstrap.to_owned(),
            topic: topic.to_owned(),
            partitions,
            records: Vec::new(),
        }
    }

    /// The topic read.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads what arrives within `wait`, and goes on past it while records keep coming, up
    /// to 100,000 in one call (with no wait: what is already there). Returns how many
    /// records were read.
    pub(crate) fn poll(&mut self, wait: Duration) -> usize {
        let before = self.records.len();
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left.min(Duration::from_millis(20))) {
                Some(Ok(m)) => {
                    self.records.push(Read::of(&m));
                    if self.records.len() - before >= 100_000 {
                        break;
                    }
                }
                Some(Err(_)) | None => {
                    if Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        self.records.len() - before
    }

    /// Reads until at least `n` records have been read or `timeout` passes; returns whether
    /// `n` were read.
    pub(crate) fn read_at_least(&mut self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.records.len() < n && Instant::now() < deadline {
            self.poll(Duration::from_millis(200));
        }
        self.records.len() >= n
    }

    /// The position of every partition (-1 when unknown).
    pub(crate) fn positions(&self) -> Vec<i64> {
        let positions = self.consumer.position().ok();
        (0..self.partitions)
            .map(|p| {
                positions
                    .as_ref()
                    .and_then(|t| {
                        t.find_partition(&self.topic, p)
                            .and_then(|e| e.offset().to_raw())
                    })
                    .unwrap_or(-1)
            })
            .collect()
    }

    /// Whether every partition's position has reached `ends` (with `read_committed`: no
    /// transaction below them is still open).
    pub(crate) fn at(&self, ends: &[i64]) -> bool {
        self.positions()
            .iter()
            .zip(ends)
            .all(|(p, e)| *e == 0 || p >= e)
    }

    /// Reads until every partition's position reaches the log end offset it had when this
    /// was called. Returns whether it did within `timeout`.
    pub(crate) fn read_to_end(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Some(ends) = self.log_end_offsets() else {
            return false;
        };
        loop {
            self.poll(Duration::from_millis(100));
            if self.at(&ends) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    /// The log end offset of every partition, `None` when the broker does not answer. Asked
    /// with `read_uncommitted`: a `read_committed` client is answered the last stable
    /// offset, which an open transaction holds back.
    fn log_end_offsets(&self) -> Option<Vec<i64>> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap)
            .set("isolation.level", "read_uncommitted");
        let client: BaseConsumer = cfg.create().expect("metadata client");
        (0..self.partitions)
            .map(|p| {
                client
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(3))
                    .ok()
                    .map(|(_, h)| h)
            })
            .collect()
    }
}
