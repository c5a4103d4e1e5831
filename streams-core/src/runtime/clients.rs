//! The Kafka clients' configurations, derived from a [`StreamsConfig`].

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use crate::config::{ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};

/// Settings the runtime owns: overriding them through `consumer.`/`producer.` keys would
/// break its guarantees, so such an override is a configuration error.
const OWNED_CONSUMER_KEYS: &[&str] =
    &["group.id", "enable.auto.commit", "enable.auto.offset.store"];
const OWNED_PRODUCER_KEYS: &[&str] = &["transactional.id"];
/// How long a consumer whose prefetch queue is full waits before it looks again (see
/// [`KafkaClientConfigs`]).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// The librdkafka configurations of the clients a stream thread uses, derived from a
/// [`StreamsConfig`] as Kafka Streams derives its clients' configs.
///
/// - **Main consumer:** `group.id` = `application.id`, offsets committed by the runtime only
///   (`enable.auto.commit=false`), `auto.offset.reset=earliest`, the `range` assignor (it
///   keeps partition `p` of every co-partitioned topic on one member), `session.timeout.ms`
///   from the config, and `isolation.level=read_committed` under exactly-once.
///   Every consumer checks its prefetch queue every 10 ms when it is full
///   (`fetch.queue.backoff.ms=10`; see below).
/// - **Restore consumer:** no group; reads changelogs by manual assignment.
/// - **Global consumer:** no group; reads every partition of the global stores' topics by
///   manual assignment (`isolation.level=read_committed` under exactly-once, as the other
///   consumers).
/// - **Producer:** idempotent, `acks=all`, lz4, `linger.ms=10`, Java-compatible murmur2 for
///   keyed records the sinks did not place; under exactly-once a `transactional.id` per
///   thread and `transaction.timeout.ms=10000`, as Kafka Streams sets.
/// - **Admin:** creates internal topics.
///
/// librdkafka's own default for `fetch.queue.backoff.ms` is 1000 ms: once its prefetch queue
/// holds `queued.min.messages` (100,000) records, it stops fetching every partition for a
/// whole second. The queue is shared by all the partitions of a consumer, and a stream
/// thread drains 100,000 records in well under that second, then waits for the fetcher
/// (1 M records on 4 partitions: 146k records/s with 1000 ms, 638k with 10 ms). With 10 ms
/// the fetcher resumes as soon as the queue has room again; the queue still holds at most
/// about `queued.min.messages` records (or `queued.max.messages.kbytes`), so memory stays
/// as it was.
///
/// Keys prefixed `consumer.` apply to every consumer, `main.consumer.`,
/// `restore.consumer.` and `global.consumer.` to one of them, `producer.` to the producer and `admin.` to the
/// admin client; they are applied last and override the defaults above.
///
/// # Examples
///
/// ```
/// use streams_core::StreamsConfig;
/// use streams_core::runtime::KafkaClientConfigs;
///
/// let config = StreamsConfig::new()
///     .set("application.id", "orders")
///     .set("bootstrap.servers", "localhost:9092")
///     .set("producer.linger.ms", "50");
/// let clients = KafkaClientConfigs::new(&config)?;
/// assert_eq!(clients.main_consumer.get("group.id"), Some("orders"));
/// assert_eq!(clients.producer.get("linger.ms"), Some("50"));
/// assert_eq!(clients.producer.get("acks"), Some("all"));
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KafkaClientConfigs {
    /// The group member that reads source and repartition topics.
    pub main_consumer: ClientConfig,
    /// The consumer that reads changelogs to restore stores.
    pub restore_consumer: ClientConfig,
    /// The consumer of the global thread, which keeps the global stores up to date.
    pub global_consumer: ClientConfig,
    /// The producer of outputs, repartition and changelog records.
    pub producer: ClientConfig,
    /// The admin client that creates internal topics.
    pub admin: ClientConfig,
    guarantee: ProcessingGuarantee,
    application_id: String,
}

impl KafkaClientConfigs {
    /// Derives the client configurations.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid streams config, a missing `bootstrap.servers`, an
    /// override of a setting the runtime owns, an override contradicting exactly-once, or
    /// a key librdkafka does not know (named with its prefix).
    pub fn new(config: &StreamsConfig) -> Result<Self> {
        config.validate()?;
        let application_id = config.application_id()?.to_owned();
        let bootstrap = config.bootstrap_servers()?.to_owned();
        let guarantee = config.processing_guarantee()?;
        let eos = guarantee == ProcessingGuarantee::ExactlyOnceV2;
        let client_id = match config.get("client.id") {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => application_id.clone(),
        };
        let session_ms = config
            .get("session.timeout.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(45_000);
        let heartbeat_ms = (session_ms / 3).clamp(100, 3_000);

        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", &bootstrap)
            .set("client.id", &client_id);

        let mut consumer = base.clone();
        consumer
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
            .set(
                "isolation.level",
                if eos {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            );

        let mut main_consumer = consumer.clone();
        main_consumer
            .set("group.id", &application_id)
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", heartbeat_ms.to_string());
        let mut global_consumer = consumer.clone();
        let mut restore_consumer = consumer;
        // librdkafka needs a group id even for manual assignment; these groups never join
        // or commit.
        restore_consumer
            .set("client.id", format!("{client_id}-restore"))
            .set("group.id", format!("{application_id}-restore-consumer"));
        global_consumer
            .set("client.id", format!("{client_id}-global-consumer"))
            .set("group.id", format!("{application_id}-global-consumer"));

        let mut producer = base.clone();
        producer
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "10")
            .set("partitioner", "murmur2_random");
        if eos {
            producer.set("transaction.timeout.ms", "10000");
        }
        let mut admin = base;
        admin.set("client.id", format!("{client_id}-admin"));

        apply_overrides(
            config,
            &mut main_consumer,
            &["consumer.", "main.consumer."],
            OWNED_CONSUMER_KEYS,
        )?;
        apply_overrides(
            config,
            &mut restore_consumer,
            &["consumer.", "restore.consumer."],
            OWNED_CONSUMER_KEYS,
        )?;
        apply_overrides(
            config,
            &mut global_consumer,
            &["consumer.", "global.consumer."],
            OWNED_CONSUMER_KEYS,
        )?;
        apply_overrides(config, &mut producer, &["producer."], OWNED_PRODUCER_KEYS)?;
        apply_overrides(config, &mut admin, &["admin."], &[])?;

        if eos {
            for (cfg, prefix) in [
                (&main_consumer, "consumer."),
                (&restore_consumer, "consumer."),
                (&global_consumer, "consumer."),
            ] {
                if cfg.get("isolation.level") != Some("read_committed") {
                    return Err(Error::Config {
                        key: format!("{prefix}isolation.level"),
                        reason: "must be read_committed under exactly_once_v2".into(),
                    });
                }
            }
            if producer.get("enable.idempotence") != Some("true") {
                return Err(Error::Config {
                    key: "producer.enable.idempotence".into(),
                    reason: "must be true under exactly_once_v2".into(),
                });
            }
        }

        for (cfg, prefixes) in [
            (&main_consumer, &["main.consumer.", "consumer."][..]),
            (&restore_consumer, &["restore.consumer.", "consumer."][..]),
            (&global_consumer, &["global.consumer.", "consumer."][..]),
            (&producer, &["producer."][..]),
            (&admin, &["admin."][..]),
        ] {
            check_librdkafka(config, cfg, prefixes)?;
        }

        Ok(KafkaClientConfigs {
            main_consumer,
            restore_consumer,
            global_consumer,
            producer,
            admin,
            guarantee,
            application_id,
        })
    }

    /// The processing guarantee the configs were derived for.
    pub fn guarantee(&self) -> ProcessingGuarantee {
        self.guarantee
    }

    /// The configs of stream thread `index` of the instance `process_id`: client ids name
    /// the thread, and under exactly-once the producer's `transactional.id` is
    /// `<application.id>-<process_id>-<index>`, stable across restarts of the instance so
    /// that a restarted thread fences its predecessor's open transaction.
    pub(crate) fn for_thread(
        &self,
        process_id: &str,
        index: usize,
    ) -> (ClientConfig, ClientConfig, ClientConfig) {
        let name = |cfg: &ClientConfig, role: &str| {
            let base = cfg.get("client.id").unwrap_or(&self.application_id);
            format!("{base}-StreamThread-{index}-{role}")
        };
        let mut consumer = self.main_consumer.clone();
        consumer.set("client.id", name(&self.main_consumer, "consumer"));
        let mut restore = self.restore_consumer.clone();
        restore.set(
            "client.id",
            name(&self.restore_consumer, "restore-consumer"),
        );
        let mut producer = self.producer.clone();
        producer.set("client.id", name(&self.producer, "producer"));
        if self.guarantee == ProcessingGuarantee::ExactlyOnceV2 {
            producer.set(
                "transactional.id",
                format!("{}-{process_id}-{index}", self.application_id),
            );
        }
        (consumer, restore, producer)
    }

    /// How long the group may go without hearing from a member.
    pub(crate) fn session_timeout(&self) -> Duration {
        let ms = self
            .main_consumer
            .get("session.timeout.ms")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(45_000);
        Duration::from_millis(ms)
    }
}

fn apply_overrides(
    config: &StreamsConfig,
    target: &mut ClientConfig,
    prefixes: &[&str],
    owned: &[&str],
) -> Result<()> {
    for prefix in prefixes {
        for (key, value) in config.with_prefix(prefix) {
            if owned.contains(&key) {
                return Err(Error::Config {
                    key: format!("{prefix}{key}"),
                    reason: "is set by the runtime and cannot be overridden".into(),
                });
            }
            target.set(key, value);
        }
    }
    Ok(())
}

/// Lets librdkafka check every key and value, naming the offending key as the user wrote it.
fn check_librdkafka(
    config: &StreamsConfig,
    client: &ClientConfig,
    prefixes: &[&str],
) -> Result<()> {
    let user_key = |key: &str| {
        prefixes
            .iter()
            .map(|p| format!("{p}{key}"))
            .find(|k| config.get(k).is_some())
            .unwrap_or_else(|| key.to_owned())
    };
    match client.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, description, key, value)) => Err(Error::Config {
            key: user_key(&key),
            reason: format!("librdkafka rejects '{value}': {description}"),
        }),
        Err(e) => Err(Error::Config {
            key: prefixes
                .first()
                .map_or("", |p| p.trim_end_matches('.'))
                .to_owned(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> StreamsConfig {
        StreamsConfig::new()
            .set("application.id", "app")
            .set("bootstrap.servers", "127.0.0.1:9")
    }

    #[test]
    fn defaults_follow_kafka_streams() -> Result<()> {
        let c = KafkaClientConfigs::new(&base())?;
        assert_eq!(c.main_consumer.get("group.id"), Some("app"));
        assert_eq!(c.main_consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(
            c.main_consumer.get("isolation.level"),
            Some("read_uncommitted")
        );
        assert_eq!(
            c.restore_consumer.get("group.id"),
            Some("app-restore-consumer")
        );
        assert_eq!(c.producer.get("enable.idempotence"), Some("true"));
        assert_eq!(c.producer.get("compression.type"), Some("lz4"));
        for consumer in [&c.main_consumer, &c.restore_consumer, &c.global_consumer] {
            assert_eq!(consumer.get("fetch.queue.backoff.ms"), Some("10"));
        }
        let (_, _, producer) = c.for_thread("p1", 0);
        assert_eq!(producer.get("transactional.id"), None);
        Ok(())
    }

    #[test]
    fn exactly_once_reads_committed_and_is_transactional() -> Result<()> {
        let c = KafkaClientConfigs::new(&base().set("processing.guarantee", "exactly_once_v2"))?;
        assert_eq!(
            c.main_consumer.get("isolation.level"),
            Some("read_committed")
        );
        assert_eq!(
            c.restore_consumer.get("isolation.level"),
            Some("read_committed")
        );
        let (consumer, _, producer) = c.for_thread("p1", 2);
        assert_eq!(producer.get("transactional.id"), Some("app-p1-2"));
        assert_eq!(
            consumer.get("client.id"),
            Some("app-StreamThread-2-consumer")
        );
        let bad = base()
            .set("processing.guarantee", "exactly_once_v2")
            .set("consumer.isolation.level", "read_uncommitted");
        assert!(KafkaClientConfigs::new(&bad).is_err());
        Ok(())
    }

    #[test]
    fn overrides_apply_and_owned_or_unknown_keys_are_rejected() -> Result<()> {
        let c = KafkaClientConfigs::new(
            &base()
                .set("consumer.fetch.min.bytes", "10")
                .set("restore.consumer.fetch.min.bytes", "20")
                .set("consumer.fetch.queue.backoff.ms", "1000"),
        )?;
        assert_eq!(c.main_consumer.get("fetch.min.bytes"), Some("10"));
        assert_eq!(c.main_consumer.get("fetch.queue.backoff.ms"), Some("1000"));
        assert_eq!(c.restore_consumer.get("fetch.min.bytes"), Some("20"));

        let owned = KafkaClientConfigs::new(&base().set("consumer.group.id", "other"));
        let msg = owned.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("consumer.group.id"), "{msg}");

        let unknown = KafkaClientConfigs::new(&base().set("producer.max.poll.recordz", "1"));
        let msg = unknown.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("producer.max.poll.recordz"), "{msg}");

        assert!(
            KafkaClientConfigs::new(&StreamsConfig::new().set("application.id", "a")).is_err(),
            "bootstrap.servers is required"
        );
        Ok(())
    }
}
