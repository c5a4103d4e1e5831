//! The record collector of a stream thread: an rdkafka producer that remembers what was
//! acknowledged, and decides what each failed send means (see [`KafkaCollector`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::config::ErrorHandling;
use crate::context::RecordCollector;
use crate::error::{Error, Result};
use crate::record::Headers;
use crate::retry::DEAD_LETTER_SUFFIX;
use crate::runtime::deliveries::DeliveryContext;
use crate::runtime::kafka_errors::{kafka_error, retry_transient};
use crate::runtime::send_failure::{Destination, SendFailure, classify, code_of, is_size_error};

/// How long a send waits for room in a full producer queue before failing.
const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a send refused because the transaction must be aborted waits for the delivery
/// report of the failure that caused it.
const STATE_CAUSE_WAIT: Duration = Duration::from_secs(2);
/// How long a metadata look-up for an unknown topic may take, retries included.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// How long each round of a producer flush serves delivery reports.
const FLUSH_POLL: Duration = Duration::from_millis(1);
/// How often a flush that is still waiting says so.
const FLUSH_WARNING: Duration = Duration::from_secs(5);

/// A record that could not be sent, as the dead-letter path needs it.
struct FailedRecord<'a> {
    topic: &'a str,
    /// -1 when no partition was chosen yet.
    partition: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    timestamp: i64,
    headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl<'a> FailedRecord<'a> {
    fn from_message(m: &'a OwnedMessage) -> Self {
        FailedRecord {
            topic: m.topic(),
            partition: m.partition(),
            key: m.key(),
            value: m.payload(),
            timestamp: m.timestamp().to_millis().unwrap_or(-1),
            headers: m
                .headers()
                .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                .unwrap_or_default(),
        }
    }
}

/// The headers of the dead letter of a record of `topic`/`partition` that failed with
/// `reason`: the record's own, then `dead-letter-reason`, `original-topic`,
/// `original-partition` and `failed-at` (as [`TaskContext::dead_letter`] writes them, without
/// `original-offset` since the record never had one), and `dead-letter-value-bytes` with the
/// length of a value left out because it was too large.
///
/// [`TaskContext::dead_letter`]: crate::context::TaskContext
fn dead_letter_headers(
    original: &[(&str, Option<&[u8]>)],
    reason: &str,
    topic: &str,
    partition: i32,
    failed_at: &str,
    dropped_value_bytes: Option<usize>,
) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(original.len() + 5);
    for &(key, value) in original {
        headers = headers.insert(Header { key, value });
    }
    let partition = partition.to_string();
    headers = headers
        .insert(Header {
            key: "dead-letter-reason",
            value: Some(reason.as_bytes()),
        })
        .insert(Header {
            key: "original-topic",
            value: Some(topic.as_bytes()),
        })
        .insert(Header {
            key: "original-partition",
            value: Some(partition.as_bytes()),
        })
        .insert(Header {
            key: "failed-at",
            value: Some(failed_at.as_bytes()),
        });
    if let Some(n) = dropped_value_bytes {
        let n = n.to_string();
        headers = headers.insert(Header {
            key: "dead-letter-value-bytes",
            value: Some(n.as_bytes()),
        });
    }
    headers
}

/// Sends a stream thread's records (outputs, repartition and changelog records, dead
/// letters) through one producer, transactional under exactly-once, and decides what each
/// failed send means, as Kafka Streams' `RecordCollectorImpl`.
///
/// A failure, reported by `send` at once or later by the delivery report, is classified
/// ([`classify`]):
///
/// - **retriable** (a timeout once librdkafka's retries ran out, brokers down, not the
///   leader, purged): [`Error::TaskCorrupted`]; the production handler is not consulted.
/// - **fenced** (`ProducerFenced`, `InvalidProducerEpoch`, ...): [`Error::TaskMigrated`].
/// - **fatal** (authorization, a producer in a fatal state), and any non-retriable failure
///   of a changelog, repartition or dead-letter topic's record: [`Error::Kafka`].
/// - **refused** (non-retriable) **output records**: the production handler. `fail` gives
///   [`Error::Kafka`] naming the topic and count; `continue` counts the record in
///   [`dropped`](Self::dropped); `dead-letter` sends the record (key, value, headers) to
///   `<topic>.dead-letter` on its partition number modulo that topic's count, with headers
///   `dead-letter-reason`, `original-topic`, `original-partition` and `failed-at`; a record
///   refused for its size goes without its value, with `dead-letter-value-bytes` giving the
///   value's length, so that the dead letter itself can be written. A dead letter that
///   cannot be written is [`Error::Kafka`] (or [`Error::TaskCorrupted`] when retriable).
///
/// Under each guarantee:
///
/// - **at_least_once:** [`flush`](Self::flush) returns only once every record is
///   acknowledged, skipped by the handler, or dead-lettered with its dead letter
///   acknowledged, so offsets committed after it never pass a record that was lost.
/// - **exactly_once_v2:** [`commit_transaction`](Self::commit_transaction) does the same
///   before the consumed offsets join the transaction. A record refused when `send` is
///   called (for example one above the producer's `message.max.bytes`) is handled as above,
///   its dead letter inside the transaction. A record the brokers refuse later, in its
///   delivery report, makes librdkafka's transaction abortable, so nothing can be skipped
///   or dead-lettered for it: a retriable cause is [`Error::TaskCorrupted`] (abort, process
///   again), a non-retriable one is a fatal [`Error::Kafka`] saying so, since processing
///   again would fail the same way. Keep the producer's `message.max.bytes` (a `producer.`
///   setting) no higher than the outputs' `max.message.bytes` to have oversized records
///   refused at `send`, where the handler applies.
///
/// librdkafka does not split a batch the brokers refuse as too large (Java's producer does),
/// so records batched with an oversized one share its failure and its handling.
pub(crate) struct KafkaCollector {
    producer: BaseProducer<DeliveryContext>,
    partitions: HashMap<String, i32>,
    transactional: bool,
    in_transaction: bool,
    production: ErrorHandling,
    /// Output records the brokers refused and the production handler let go.
    pub(crate) dropped: u64,
    /// Output records the brokers refused that went to their dead-letter topics.
    pub(crate) dead_lettered: u64,
}

impl KafkaCollector {
    /// Creates the producer; a transactional one is initialised (fencing any predecessor
    /// with the same `transactional.id`), retrying while the broker is unavailable.
    pub(crate) fn new(
        config: &ClientConfig,
        production: ErrorHandling,
        known_partitions: HashMap<String, i32>,
        init_timeout: Duration,
    ) -> Result<Self> {
        let client = config.get("client.id").unwrap_or("producer").to_owned();
        let transactional = config.get("transactional.id").is_some();
        let producer: BaseProducer<DeliveryContext> = config
            .create_with_context(DeliveryContext::new(
                client,
                production == ErrorHandling::DeadLetter && !transactional,
            ))
            .map_err(|e| kafka_error("creating the producer", e))?;
        if transactional {
            retry_transient(init_timeout, "initialising transactions", || {
                producer.init_transactions(Duration::from_secs(10))
            })?;
        }
        Ok(KafkaCollector {
            producer,
            partitions: known_partitions,
            transactional,
            in_transaction: false,
            production,
            dropped: 0,
            dead_lettered: 0,
        })
    }

    /// Serves delivery reports without blocking.
    pub(crate) fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Whether a transaction is open.
    pub(crate) fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Whether this collector's producer is transactional.
    pub(crate) fn transactional(&self) -> bool {
        self.transactional
    }

    fn ensure_transaction(&mut self) -> Result<()> {
        if self.transactional && !self.in_transaction {
            if let Err(e) = self.producer.begin_transaction() {
                return Err(self.transaction_error("beginning a transaction", e));
            }
            self.in_transaction = true;
        }
        Ok(())
    }

    /// The offset of the last acknowledged record of every partition written so far.
    pub(crate) fn written_offsets(&self) -> HashMap<(String, i32), i64> {
        self.producer
            .context()
            .deliveries
            .lock()
            .map(|d| d.acked.to_map())
            .unwrap_or_default()
    }

    /// Waits until every record sent so far is acknowledged or handled, dead letters
    /// included: flushes, applies [`check_deliveries`](Self::check_deliveries) (which may
    /// send dead letters), and flushes again until no dead letter was sent. A broker outage
    /// is ridden out until `timeout`.
    ///
    /// # Errors
    ///
    /// As [`check_deliveries`](Self::check_deliveries); [`Error::Kafka`] when records are
    /// still unacknowledged at `timeout`.
    pub(crate) fn flush(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.flush_producer(deadline)?;
            let dead_lettered = self.dead_lettered;
            self.check_deliveries()?;
            if self.dead_lettered == dead_lettered {
                return Ok(());
            }
        }
    }

    /// Waits until every record sent is acknowledged (or failed), serving the delivery
    /// reports meanwhile.
    ///
    /// rust-rdkafka's `flush` with a timeout serves the reports in polls that each last
    /// 100 ms whatever arrives, which added up to 100 ms to every commit. Here each round
    /// asks librdkafka (timeout 0, which also sends what `linger.ms` holds back) and serves
    /// the reports for [`FLUSH_POLL`] only.
    fn flush_producer(&mut self, deadline: Instant) -> Result<()> {
        let mut next_warning = Instant::now() + FLUSH_WARNING;
        loop {
            match self.producer.flush(Duration::ZERO) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                    if Instant::now() < deadline => {}
                Err(e) => {
                    // A failure already reported says more than the timeout it led to.
                    self.check_deliveries()?;
                    return Err(kafka_error("flushing the producer", e));
                }
            }
            if Instant::now() >= next_warning {
                tracing::warn!(
                    in_flight = self.producer.in_flight_count(),
                    "records not acknowledged yet; waiting for the brokers"
                );
                next_warning = Instant::now() + FLUSH_WARNING;
            }
            self.producer.poll(FLUSH_POLL);
        }
    }

    /// Applies what failed deliveries reported so far mean (see [`KafkaCollector`]): sends
    /// dead letters, counts skipped records, or returns the error of the most severe
    /// failure.
    ///
    /// # Errors
    ///
    /// [`Error::TaskCorrupted`], [`Error::TaskMigrated`] or [`Error::Kafka`] by the
    /// failure's class; [`Error::IllegalState`] when the delivery state is poisoned.
    pub(crate) fn check_deliveries(&mut self) -> Result<()> {
        let (stopping, refused, dead_letters) = {
            let Ok(mut d) = self.producer.context().deliveries.lock() else {
                return Err(Error::IllegalState(
                    "the producer's delivery state is poisoned".into(),
                ));
            };
            (
                d.stopping.take(),
                d.refused.take(),
                std::mem::take(&mut d.dead_letters),
            )
        };
        // Inside a transaction a refused record is fatal, and the records after it fail
        // because of it (out of sequence, purged): it is the one to report.
        if let Some(f) = stopping.filter(|_| !(self.transactional && refused.is_some())) {
            let what = format!(
                "{} record(s) could not be delivered, the first to '{}'",
                f.count, f.topic
            );
            return Err(self.failure_error(f.class, what, &f.topic, f.error));
        }
        let Some(f) = refused else {
            return Ok(());
        };
        if self.transactional {
            return Err(Error::Kafka {
                context: format!(
                    "{} output record(s) were refused by the brokers, the first to '{}'; under \
                     exactly_once_v2 that aborts the transaction, so the production handler \
                     cannot skip or dead-letter them, and processing them again would fail the \
                     same way. Make such records fit the topic's max.message.bytes, or set the \
                     producer's message.max.bytes no higher than it so that they are refused \
                     when sent, where the handler applies",
                    f.count, f.topic
                ),
                source: Box::new(f.error),
            });
        }
        match self.production {
            // The production handler is never `retry` (the config refuses it).
            ErrorHandling::Fail | ErrorHandling::Retry => Err(kafka_error(
                format!(
                    "{} record(s) could not be delivered, the first to '{}'",
                    f.count, f.topic
                ),
                f.error,
            )),
            ErrorHandling::Continue => {
                tracing::warn!(topic = %f.topic, failed = f.count, error = %f.error,
                    "records could not be delivered; skipping them");
                self.dropped += f.count;
                Ok(())
            }
            ErrorHandling::DeadLetter => {
                for (error, message) in &dead_letters {
                    self.dead_letter(&FailedRecord::from_message(message), error)?;
                }
                Ok(())
            }
        }
    }

    /// The error a failure of `class` stands for; `what` says what failed.
    fn failure_error(
        &self,
        class: SendFailure,
        what: String,
        topic: &str,
        error: KafkaError,
    ) -> Error {
        let (class, fatal) = self.resolve_fatal(class, &error);
        match class {
            SendFailure::Retriable => Error::TaskCorrupted {
                context: format!(
                    "{what}: a retriable error outlasted the producer's retries \
                     (delivery.timeout.ms); the work since the last commit is processed again"
                ),
                source: Box::new(error),
            },
            SendFailure::Fenced => Error::TaskMigrated {
                context: format!(
                    "{what}: the producer was fenced, another instance owns the tasks now{fatal}"
                ),
                source: Box::new(error),
            },
            SendFailure::Fatal | SendFailure::Handled => {
                let whose = match Destination::of(topic) {
                    Destination::Internal => {
                        " (an internal topic, whose records no handler may skip)"
                    }
                    Destination::DeadLetter => {
                        " (a dead letter: its record was neither written nor dead-lettered)"
                    }
                    Destination::Output => "",
                };
                Error::Kafka {
                    context: format!("{what}{whose}{fatal}"),
                    source: Box::new(error),
                }
            }
        }
    }

    /// A producer in a fatal state reports `_FATAL`; the underlying error says whether it
    /// was fenced. Returns the class to use and the fatal error's description, if any.
    fn resolve_fatal(&self, class: SendFailure, error: &KafkaError) -> (SendFailure, String) {
        let fatal_code = match error {
            KafkaError::Transaction(e) if e.is_fatal() => true,
            e => code_of(e) == RDKafkaErrorCode::Fatal,
        };
        if !fatal_code {
            return (class, String::new());
        }
        match self.producer.client().fatal_error() {
            Some((code, reason)) => {
                let class = if classify(code, Destination::Output) == SendFailure::Fenced {
                    SendFailure::Fenced
                } else {
                    SendFailure::Fatal
                };
                (class, format!(" (fatal producer error {code:?}: {reason})"))
            }
            None => (class, String::new()),
        }
    }

    /// What a failed transactional call means: a delivery failure behind it first, then
    /// fenced ([`Error::TaskMigrated`]), abortable ([`Error::TaskCorrupted`]), or else fatal.
    fn transaction_error(&mut self, context: &str, error: KafkaError) -> Error {
        self.poll();
        if let Err(e) = self.check_deliveries() {
            return e;
        }
        let KafkaError::Transaction(t) = &error else {
            return kafka_error(context, error);
        };
        let (class, fatal) = self.resolve_fatal(classify(t.code(), Destination::Output), &error);
        if class == SendFailure::Fenced {
            return Error::TaskMigrated {
                context: format!(
                    "{context}: the producer was fenced, another instance owns the tasks now{fatal}"
                ),
                source: Box::new(error),
            };
        }
        if t.is_fatal() {
            return Error::Kafka {
                context: format!("{context}: the producer failed for good{fatal}"),
                source: Box::new(error),
            };
        }
        if t.txn_requires_abort() {
            return Error::TaskCorrupted {
                context: format!(
                    "{context}: the transaction must be aborted; the work since the last \
                     commit is processed again"
                ),
                source: Box::new(error),
            };
        }
        kafka_error(context, error)
    }

    /// Commits the open transaction (beginning one if none is open) with the consumer
    /// offsets, as one atomic unit. Every record of the transaction is first acknowledged
    /// or handled, its dead letter written in the transaction ([`flush`](Self::flush)),
    /// since the offsets may only join once nothing before them is lost.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush); for the transactional calls, [`Error::TaskMigrated`]
    /// when fenced, [`Error::TaskCorrupted`] when the transaction must be aborted,
    /// [`Error::Kafka`] otherwise. The transaction stays open (to be aborted) on error.
    pub(crate) fn commit_transaction(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        self.ensure_transaction()?;
        self.flush(timeout)?;
        if offsets.count() > 0 {
            let sent = resume_transactional(timeout, |t| {
                self.producer.send_offsets_to_transaction(offsets, group, t)
            });
            if let Err(e) = sent {
                return Err(
                    self.transaction_error("adding the consumed offsets to the transaction", e)
                );
            }
        }
        if let Err(e) = resume_transactional(timeout, |t| self.producer.commit_transaction(t)) {
            return Err(self.transaction_error("committing the transaction", e));
        }
        self.in_transaction = false;
        self.check_deliveries()
    }

    /// Aborts the open transaction, if any.
    pub(crate) fn abort_transaction(&mut self, timeout: Duration) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.producer
            .abort_transaction(timeout)
            .map_err(|e| kafka_error("aborting the transaction", e))?;
        // Records of an aborted transaction fail with a purge error; they are not lost
        // output but discarded on purpose, and will be produced again.
        self.poll();
        if let Ok(mut d) = self.producer.context().deliveries.lock() {
            d.clear_failures();
        }
        Ok(())
    }

    /// Enqueues `record`, waiting for room while the queue is full.
    fn enqueue(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), KafkaError> {
        let started = Instant::now();
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if started.elapsed() < QUEUE_FULL_TIMEOUT =>
                {
                    // The queue drains as the brokers acknowledge; serving delivery
                    // reports is what frees it.
                    record = back;
                    self.producer.poll(Duration::from_millis(100));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Whether a failed delivery waits to be checked.
    fn failure_reported(&self) -> bool {
        self.producer
            .context()
            .deliveries
            .lock()
            .map_or(true, |d| d.stopping.is_some() || d.refused.is_some())
    }

    /// What a record refused by `send` itself means (see [`KafkaCollector`]).
    fn send_failed(&mut self, record: &FailedRecord<'_>, error: KafkaError) -> Result<()> {
        let code = code_of(&error);
        if code == RDKafkaErrorCode::State && self.transactional {
            // The transaction must be aborted, most likely because a record already sent
            // failed, whose delivery report may not be served yet. That failure explains it
            // better, and reporting the consequence instead would have the transaction
            // aborted, the failure forgotten and the same record fail again, forever.
            let deadline = Instant::now() + STATE_CAUSE_WAIT;
            while !self.failure_reported() && Instant::now() < deadline {
                self.producer.poll(Duration::from_millis(50));
            }
            self.check_deliveries()?;
        }
        let what = format!("sending a record to '{}'", record.topic);
        let class = classify(code, Destination::of(record.topic));
        if class != SendFailure::Handled {
            return Err(self.failure_error(class, what, record.topic, error));
        }
        match self.production {
            ErrorHandling::Fail | ErrorHandling::Retry => Err(kafka_error(what, error)),
            ErrorHandling::Continue => {
                tracing::warn!(topic = record.topic, error = %error, "record could not be sent; skipping it");
                self.dropped += 1;
                Ok(())
            }
            ErrorHandling::DeadLetter => self.dead_letter(record, &error),
        }
    }

    /// Sends `record`, refused with `error`, to `<topic>.dead-letter`.
    fn dead_letter(&mut self, record: &FailedRecord<'_>, error: &KafkaError) -> Result<()> {
        let dlq = format!("{}{DEAD_LETTER_SUFFIX}", record.topic);
        let n = self.partition_count(&dlq)?;
        let too_large = is_size_error(code_of(error));
        let (value, dropped_value_bytes) = if too_large {
            (None, record.value.map(<[u8]>::len))
        } else {
            (record.value, None)
        };
        let reason = error.to_string();
        let failed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let headers = dead_letter_headers(
            &record.headers,
            &reason,
            record.topic,
            record.partition,
            &failed_at,
            dropped_value_bytes,
        );
        tracing::warn!(
            topic = record.topic,
            partition = record.partition,
            reason,
            "sending refused record to dead-letter topic {dlq}"
        );
        let mut dead: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&dlq).headers(headers);
        if record.partition >= 0 {
            dead = dead.partition(record.partition % n.max(1));
        }
        if let Some(k) = record.key {
            dead = dead.key(k);
        }
        if let Some(v) = value {
            dead = dead.payload(v);
        }
        if record.timestamp >= 0 {
            dead = dead.timestamp(record.timestamp);
        }
        if let Err(e) = self.enqueue(dead) {
            let class = classify(code_of(&e), Destination::DeadLetter);
            let what = format!(
                "sending the dead letter of a record of '{}' to '{dlq}'",
                record.topic
            );
            return Err(self.failure_error(class, what, &dlq, e));
        }
        self.dead_lettered += 1;
        Ok(())
    }
}

impl RecordCollector for KafkaCollector {
    fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()> {
        self.ensure_transaction()?;
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        if timestamp >= 0 {
            record = record.timestamp(timestamp);
        }
        if !headers.is_empty() {
            let mut owned = OwnedHeaders::new_with_capacity(headers.len());
            for h in headers {
                owned = owned.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                });
            }
            record = record.headers(owned);
        }
        match self.enqueue(record) {
            Ok(()) => Ok(()),
            Err(e) => {
                let failed = FailedRecord {
                    topic,
                    partition: partition.unwrap_or(-1),
                    key,
                    value,
                    timestamp,
                    headers: headers
                        .iter()
                        .map(|h| (h.key.as_str(), h.value.as_deref()))
                        .collect(),
                };
                self.send_failed(&failed, e)
            }
        }
    }

    fn partition_count(&mut self, topic: &str) -> Result<i32> {
        if let Some(&n) = self.partitions.get(topic) {
            return Ok(n);
        }
        let metadata = retry_transient(METADATA_TIMEOUT, "fetching topic metadata", || {
            self.producer
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
        })?;
        let n = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len());
        if n == 0 {
            return Err(Error::UnknownTopic(topic.to_owned()));
        }
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        self.partitions.insert(topic.to_owned(), n);
        Ok(n)
    }
}

/// Runs a transactional call, calling it again while it fails with a retriable error (a
/// timeout: librdkafka goes on in the background and the call resumes it) until `timeout`
/// passes. Each call gets the time left, at least a second.
fn resume_transactional(
    timeout: Duration,
    mut op: impl FnMut(Duration) -> std::result::Result<(), KafkaError>,
) -> std::result::Result<(), KafkaError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        match op(left) {
            Err(KafkaError::Transaction(e)) if e.is_retriable() && Instant::now() < deadline => {
                tracing::warn!(error = %e, "transactional call not complete yet; resuming it");
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;
    use rdkafka::topic_partition_list::Offset;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    #[test]
    fn a_dead_letter_says_why_and_where_and_how_large_the_dropped_value_was() {
        let headers = dead_letter_headers(
            &[("trace", Some(b"t-1".as_slice())), ("empty", None)],
            "Message production error: MessageSizeTooLarge",
            "out",
            3,
            "2026-01-02T03:04:05.678Z",
            Some(4096),
        );
        let got: Vec<(String, Option<String>)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            got,
            vec![
                ("trace".to_owned(), s("t-1")),
                ("empty".to_owned(), None),
                (
                    "dead-letter-reason".to_owned(),
                    s("Message production error: MessageSizeTooLarge")
                ),
                ("original-topic".to_owned(), s("out")),
                ("original-partition".to_owned(), s("3")),
                ("failed-at".to_owned(), s("2026-01-02T03:04:05.678Z")),
                ("dead-letter-value-bytes".to_owned(), s("4096")),
            ]
        );
    }

    /// A mock cluster with topics `out`, `out.dead-letter` and `app-counts-changelog`.
    fn mock() -> MockCluster<'static, DefaultProducerContext> {
        let mock = MockCluster::new(1).expect("mock cluster");
        for t in ["out", "out.dead-letter", "app-counts-changelog"] {
            mock.create_topic(t, 1, 1).expect("topic");
        }
        mock
    }

    fn collector(
        mock: &MockCluster<'static, DefaultProducerContext>,
        production: ErrorHandling,
        settings: &[(&str, &str)],
    ) -> KafkaCollector {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("message.timeout.ms", "5000");
        for (k, v) in settings {
            config.set(*k, *v);
        }
        let partitions = HashMap::from([
            ("out".to_owned(), 1),
            ("out.dead-letter".to_owned(), 1),
            ("app-counts-changelog".to_owned(), 1),
        ]);
        KafkaCollector::new(&config, production, partitions, Duration::from_secs(30))
            .expect("collector")
    }

    fn send(c: &mut KafkaCollector, topic: &str, key: &str, value: &[u8], headers: &Headers) {
        c.send(
            topic,
            Some(0),
            Some(key.as_bytes()),
            Some(value),
            1_000,
            headers,
        )
        .expect("send");
    }

    /// The records of partition 0 of `topic`: key, value, headers.
    type Read = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, String)>);

    fn read_all(
        mock: &MockCluster<'static, DefaultProducerContext>,
        topic: &str,
        n: usize,
    ) -> Vec<Read> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("group.id", "reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .expect("tpl");
        consumer.assign(&tpl).expect("assign");
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while out.len() < n && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().map(<[u8]>::to_vec),
                    headers,
                ));
            }
        }
        out
    }

    fn header<'a>(read: &'a Read, key: &str) -> Option<&'a str> {
        read.2
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_output_the_broker_refuses_is_dead_lettered_before_flush_returns() {
        let mock = mock();
        let mut c = collector(&mock, ErrorHandling::DeadLetter, &[]);
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        let headers = Headers::new().with("trace", "t-1");
        send(&mut c, "out", "big", &[b'x'; 4096], &headers);
        c.flush(Duration::from_secs(20)).expect("flush");
        assert_eq!((c.dead_lettered, c.dropped), (1, 0));
        assert!(
            c.written_offsets()
                .contains_key(&("out.dead-letter".to_owned(), 0)),
            "the dead letter is acknowledged when flush returns"
        );
        let read = read_all(&mock, "out.dead-letter", 1);
        assert_eq!(read.len(), 1);
        let dead = &read[0];
        assert_eq!(dead.0.as_deref(), Some(b"big".as_slice()));
        assert_eq!(dead.1, None, "the oversized value is left out");
        assert_eq!(header(dead, "trace"), Some("t-1"));
        assert_eq!(header(dead, "original-topic"), Some("out"));
        assert_eq!(header(dead, "original-partition"), Some("0"));
        assert_eq!(header(dead, "dead-letter-value-bytes"), Some("4096"));
        assert!(
            header(dead, "dead-letter-reason").is_some_and(|r| r.contains("MessageSizeTooLarge")),
            "{dead:?}"
        );
        assert!(
            header(dead, "failed-at")
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
            "{dead:?}"
        );
    }

    #[test]
    fn an_output_refused_at_send_is_dead_lettered_at_once() {
        let mock = mock();
        let mut c = collector(
            &mock,
            ErrorHandling::DeadLetter,
            &[("message.max.bytes", "1000")],
        );
        send(&mut c, "out", "big", &[b'x'; 4096], &Headers::new());
        assert_eq!(c.dead_lettered, 1);
        send(&mut c, "out", "small", b"v", &Headers::new());
        c.flush(Duration::from_secs(20)).expect("flush");
        let dead = read_all(&mock, "out.dead-letter", 1);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1, None);
        assert_eq!(header(&dead[0], "dead-letter-value-bytes"), Some("4096"));
        let out = read_all(&mock, "out", 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.as_deref(), Some(b"v".as_slice()));
    }

    #[test]
    fn a_dead_letter_that_cannot_be_written_is_fatal() {
        let mock = mock();
        let mut c = collector(&mock, ErrorHandling::DeadLetter, &[]);
        // The output, then its dead letter, are refused.
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_RECORD,
            ],
        );
        send(&mut c, "out", "k", b"v", &Headers::new());
        let err = c.flush(Duration::from_secs(20)).err();
        assert!(
            matches!(&err, Some(Error::Kafka { context, .. }) if context.contains("dead letter")),
            "{err:?}"
        );
    }

    #[test]
    fn continue_skips_refused_outputs_only() {
        let mock = mock();
        let mut c = collector(&mock, ErrorHandling::Continue, &[]);

        // A refused output is let go.
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        send(&mut c, "out", "k", b"v", &Headers::new());
        c.flush(Duration::from_secs(20)).expect("flush");
        assert_eq!(c.dropped, 1);

        // A refused changelog record is not.
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        send(&mut c, "app-counts-changelog", "k", b"v", &Headers::new());
        let err = c.flush(Duration::from_secs(20)).err();
        assert!(
            matches!(&err, Some(Error::Kafka { context, .. }) if context.contains("internal topic")),
            "{err:?}"
        );

        // Nor is an output that timed out: nothing is wrong with it.
        mock.broker_down(1).expect("broker down");
        let mut c = collector(
            &mock,
            ErrorHandling::Continue,
            &[("message.timeout.ms", "500")],
        );
        send(&mut c, "out", "k", b"v", &Headers::new());
        let err = c.flush(Duration::from_secs(20)).err();
        assert!(matches!(err, Some(Error::TaskCorrupted { .. })), "{err:?}");
        assert_eq!(c.dropped, 0);
    }

    #[test]
    fn under_exactly_once_a_refused_delivery_fails_the_commit_with_the_reason() {
        let mock = mock();
        let mut c = collector(
            &mock,
            ErrorHandling::DeadLetter,
            &[("transactional.id", "collector-test")],
        );
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("group.id", "app")
            .create()
            .expect("consumer");
        let group = consumer.group_metadata().expect("group metadata");
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset("in", 0, Offset::Offset(1))
            .expect("tpl");

        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
        );
        send(&mut c, "out", "k", b"v", &Headers::new());
        let err = c
            .commit_transaction(&offsets, &group, Duration::from_secs(20))
            .err();
        assert!(
            matches!(&err, Some(Error::Kafka { context, .. }) if context.contains("exactly_once_v2")),
            "{err:?}"
        );
        assert!(c.in_transaction(), "left open, to be aborted");
        c.abort_transaction(Duration::from_secs(20)).expect("abort");
        assert_eq!(c.dead_lettered, 0);
    }
}
