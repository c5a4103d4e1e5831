//! The producer's delivery reports: which offsets were acknowledged, and which sends failed
//! and how (see [`classify`]), kept for the record collector to act on.

use std::collections::HashMap;
use std::sync::Mutex;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{DeliveryResult, ProducerContext};

use crate::runtime::client_log::{client_error, log_line};
use crate::runtime::send_failure::{Destination, SendFailure, classify, code_of};

/// The offset of the last acknowledged record of each topic-partition, kept so that an
/// acknowledgement costs no allocation: topics are looked up by name once (the last one
/// is compared first), partitions by index.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    /// Topic names and, per partition, the last acknowledged offset (-1: none yet).
    topics: Vec<(String, Vec<i64>)>,
    index: HashMap<String, usize>,
    last: usize,
}

impl Acked {
    fn record(&mut self, topic: &str, partition: i32, offset: i64) {
        let Ok(p) = usize::try_from(partition) else {
            return;
        };
        let t = match self.topics.get(self.last) {
            Some((name, _)) if name == topic => self.last,
            _ => match self.index.get(topic) {
                Some(&t) => t,
                None => {
                    self.topics.push((topic.to_owned(), Vec::new()));
                    self.index.insert(topic.to_owned(), self.topics.len() - 1);
                    self.topics.len() - 1
                }
            },
        };
        self.last = t;
        let offsets = &mut self.topics[t].1;
        if offsets.len() <= p {
            offsets.resize(p + 1, -1);
        }
        offsets[p] = offsets[p].max(offset);
    }

    /// The last acknowledged offset of every partition with one.
    pub(crate) fn to_map(&self) -> HashMap<(String, i32), i64> {
        let mut map = HashMap::new();
        for (topic, offsets) in &self.topics {
            for (p, &offset) in offsets.iter().enumerate() {
                if offset >= 0
                    && let Ok(p) = i32::try_from(p)
                {
                    map.insert((topic.clone(), p), offset);
                }
            }
        }
        map
    }
}

/// Failures of one kind since they were last taken: how many, and the most severe with its
/// topic (the first among equals).
#[derive(Debug)]
pub(crate) struct Failed {
    /// The most severe class.
    pub(crate) class: SendFailure,
    /// The topic of the first failure of that class.
    pub(crate) topic: String,
    /// Its error.
    pub(crate) error: KafkaError,
    /// How many records failed.
    pub(crate) count: u64,
}

/// What the delivery reports said since the failures were last taken.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    /// The last acknowledged offsets.
    pub(crate) acked: Acked,
    /// Failures that stop the tasks: retriable, fenced or fatal.
    pub(crate) stopping: Option<Failed>,
    /// Outputs the brokers refused for good, for the production handler.
    pub(crate) refused: Option<Failed>,
    /// Copies of the refused outputs, kept only when they are to be dead-lettered.
    pub(crate) dead_letters: Vec<(KafkaError, OwnedMessage)>,
}

impl Deliveries {
    fn fail(&mut self, class: SendFailure, topic: &str, error: &KafkaError) {
        let slot = if class == SendFailure::Handled {
            &mut self.refused
        } else {
            &mut self.stopping
        };
        match slot {
            Some(f) => {
                f.count += 1;
                if class > f.class {
                    f.class = class;
                    topic.clone_into(&mut f.topic);
                    f.error = error.clone();
                }
            }
            None => {
                *slot = Some(Failed {
                    class,
                    topic: topic.to_owned(),
                    error: error.clone(),
                    count: 1,
                });
            }
        }
    }

    /// Forgets the failures reported so far.
    pub(crate) fn clear_failures(&mut self) {
        self.stopping = None;
        self.refused = None;
        self.dead_letters = Vec::new();
    }
}

/// The producer's context: records acknowledgements and failures.
pub(crate) struct DeliveryContext {
    client: String,
    /// Whether refused outputs are copied for dead-lettering: with the dead-letter handler
    /// outside transactions (inside one, a refused record dooms the transaction anyway).
    copy_refused: bool,
    /// What the reports said, for the collector to take.
    pub(crate) deliveries: Mutex<Deliveries>,
}

impl DeliveryContext {
    /// The context of the producer named `client`; `copy_refused` as the field says.
    pub(crate) fn new(client: String, copy_refused: bool) -> Self {
        DeliveryContext {
            client,
            copy_refused,
            deliveries: Mutex::new(Deliveries::default()),
        }
    }
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(&self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.client, &error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        // A failure must never be lost, even after a panic elsewhere poisoned the lock.
        let mut d = self
            .deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(m) => d.acked.record(m.topic(), m.partition(), m.offset()),
            Err((e, m)) => {
                let class = classify(code_of(e), Destination::of(m.topic()));
                // Copied here, on failure only, because the message is gone after the
                // callback; a success costs nothing.
                if class == SendFailure::Handled && self.copy_refused {
                    d.dead_letters.push((e.clone(), m.detach()));
                }
                d.fail(class, m.topic(), e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_keep_the_largest_offset_per_partition() {
        let mut acked = Acked::default();
        acked.record("out", 1, 7);
        acked.record("out", 1, 5);
        acked.record("changelog", 0, 3);
        acked.record("out", 0, 2);
        acked.record("out", 3, 9);
        acked.record("changelog", 0, 4);
        acked.record("out", -1, 100);
        let expected = HashMap::from([
            (("out".to_owned(), 0), 2),
            (("out".to_owned(), 1), 7),
            (("out".to_owned(), 3), 9),
            (("changelog".to_owned(), 0), 4),
        ]);
        assert_eq!(acked.to_map(), expected);
    }
}
