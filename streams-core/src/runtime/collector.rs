//! The record collector of a stream thread: an rdkafka producer that remembers what was
//! acknowledged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::config::ErrorHandling;
use crate::error::{Error, Result};
use crate::record::Headers;
use crate::runtime::kafka_error;
use crate::task::RecordCollector;

/// How long a send waits for room in a full producer queue before failing.
const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a metadata look-up for an unknown topic may take, retries included.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// Routes a client's librdkafka log lines and errors to `tracing`.
pub(crate) fn log_line(client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(client, fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(client, fac, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(client, fac, "librdkafka: {message}");
        }
        RDKafkaLogLevel::Debug => tracing::debug!(client, fac, "librdkafka: {message}"),
    }
}

/// A client error librdkafka reports outside any call. Transport errors while a broker is
/// down are expected and retried by librdkafka, so they are warnings.
pub(crate) fn client_error(client: &str, error: &KafkaError, reason: &str) {
    tracing::warn!(client, error = %error, "Kafka client error: {reason}");
}

/// A client context that only logs through `tracing`.
#[derive(Debug, Clone)]
pub(crate) struct LogContext {
    pub(crate) client: String,
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(&self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.client, &error, reason);
    }
}

/// The offset of the last acknowledged record of each topic-partition, kept so that an
/// acknowledgement costs no allocation: topics are looked up by name once (the last one
/// is compared first), partitions by index.
#[derive(Debug, Default)]
struct Acked {
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

    fn to_map(&self) -> HashMap<(String, i32), i64> {
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

#[derive(Debug, Default)]
struct Deliveries {
    acked: Acked,
    /// The first failure since it was last taken, with its topic.
    first_failure: Option<(String, KafkaError)>,
    failed: u64,
}

/// The producer's context: records acknowledgements and failures.
pub(crate) struct DeliveryContext {
    client: String,
    deliveries: Mutex<Deliveries>,
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
        let Ok(mut d) = self.deliveries.lock() else {
            return;
        };
        match result {
            Ok(m) => d.acked.record(m.topic(), m.partition(), m.offset()),
            Err((e, m)) => {
                d.failed += 1;
                if d.first_failure.is_none() {
                    d.first_failure = Some((m.topic().to_owned(), e.clone()));
                }
            }
        }
    }
}

/// Sends a stream thread's records (outputs, repartition and changelog records) through one
/// producer, transactional under exactly-once.
pub(crate) struct KafkaCollector {
    producer: BaseProducer<DeliveryContext>,
    partitions: HashMap<String, i32>,
    transactional: bool,
    in_transaction: bool,
    production: ErrorHandling,
    /// Records whose delivery failed and that the production handler let go.
    pub(crate) dropped: u64,
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
            .create_with_context(DeliveryContext {
                client,
                deliveries: Mutex::new(Deliveries::default()),
            })
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
            self.producer
                .begin_transaction()
                .map_err(|e| kafka_error("beginning a transaction", e))?;
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

    /// Waits until every record sent so far is acknowledged, then applies the production
    /// handler to failures. A broker outage is ridden out until `timeout`.
    pub(crate) fn flush(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.producer.flush(Duration::from_secs(5)) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                    if Instant::now() < deadline =>
                {
                    tracing::warn!(
                        in_flight = self.producer.in_flight_count(),
                        "records not acknowledged yet; waiting for the brokers"
                    );
                }
                Err(e) => return Err(kafka_error("flushing the producer", e)),
            }
        }
        self.check_deliveries()
    }

    /// Applies the production handler to delivery failures reported so far.
    pub(crate) fn check_deliveries(&mut self) -> Result<()> {
        let failure = {
            let Ok(mut d) = self.producer.context().deliveries.lock() else {
                return Err(Error::IllegalState(
                    "the producer's delivery state is poisoned".into(),
                ));
            };
            let failed = std::mem::take(&mut d.failed);
            d.first_failure.take().map(|f| (f, failed))
        };
        let Some(((topic, error), failed)) = failure else {
            return Ok(());
        };
        match self.production {
            ErrorHandling::Fail => Err(kafka_error(
                format!("{failed} record(s) could not be delivered, the first to '{topic}'"),
                error,
            )),
            ErrorHandling::Continue | ErrorHandling::DeadLetter => {
                tracing::warn!(topic, failed, error = %error, "records could not be delivered; skipping them");
                self.dropped += failed;
                Ok(())
            }
        }
    }

    /// Commits the open transaction (beginning one if none is open) with the consumer
    /// offsets, as one atomic unit.
    pub(crate) fn commit_transaction(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        self.ensure_transaction()?;
        if offsets.count() > 0 {
            self.producer
                .send_offsets_to_transaction(offsets, group, timeout)
                .map_err(|e| kafka_error("adding the consumed offsets to the transaction", e))?;
        }
        self.producer
            .commit_transaction(timeout)
            .map_err(|e| kafka_error("committing the transaction", e))?;
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
        // output but discarded on purpose.
        if let Ok(mut d) = self.producer.context().deliveries.lock() {
            d.first_failure = None;
            d.failed = 0;
        }
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
                Err((e, _)) => {
                    return Err(kafka_error(format!("sending a record to '{topic}'"), e));
                }
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

/// Whether an error is worth retrying: the broker is unreachable or busy, not a refusal.
pub(crate) fn is_transient(error: &KafkaError) -> bool {
    if let KafkaError::Transaction(e) = error {
        return e.is_retriable();
    }
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::WaitingForCoordinator
                | RDKafkaErrorCode::TimedOutQueue
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::ConcurrentTransactions
        )
    )
}

/// Runs `op` until it succeeds, fails for good, or `timeout` passes, backing off
/// exponentially (100 ms up to 2 s) between transient failures.
pub(crate) fn retry_transient<T>(
    timeout: Duration,
    what: &str,
    mut op: impl FnMut() -> std::result::Result<T, KafkaError>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(100);
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) && Instant::now() + backoff < deadline => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "{what} failed; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(kafka_error(what, e)),
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
