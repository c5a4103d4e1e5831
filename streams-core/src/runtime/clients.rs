//! The Kafka clients' configurations, derived from a [`StreamsConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use crate::config::{EOS_TRANSACTION_TIMEOUT_MS, ProcessingGuarantee, StreamsConfig, shown_value};
use crate::error::{Error, Result};
use crate::host_info::HostInfo;
use crate::memory::MemoryBudget;
use crate::runtime::discovery::member_client_id;

/// A setting the runtime owns on one client: overriding it would break the runtime's
/// guarantees, so an override is a configuration error that says why.
struct Owned {
    key: &'static str,
    why: &'static str,
    /// Whether a `consumer.` override, which is meant for the other consumers too, is
    /// passed over silently for this one instead of refused (`consumer.auto.offset.reset`
    /// is for the main consumer, not for the restore consumer).
    shared_prefix_skipped: bool,
}

const GROUP_ID: Owned = Owned {
    key: "group.id",
    why: "the group is application.id, which every instance and thread of the application joins",
    shared_prefix_skipped: false,
};
const AUTO_COMMIT: Owned = Owned {
    key: "enable.auto.commit",
    why: "the runtime commits offsets itself, only once the outputs they led to are written",
    shared_prefix_skipped: false,
};
const AUTO_OFFSET_STORE: Owned = Owned {
    key: "enable.auto.offset.store",
    why: "the runtime commits offsets itself, only once the outputs they led to are written",
    shared_prefix_skipped: false,
};
/// Only the main consumer joins the group; the others read by manual assignment, and a
/// shared instance id would make them fence the main consumer. Kafka Streams removes it from
/// them the same way.
const NO_GROUP_INSTANCE_ID: Owned = Owned {
    key: "group.instance.id",
    why: "static membership applies to the main consumer only (main.consumer.group.instance.id); \
          this consumer never joins the group",
    shared_prefix_skipped: true,
};

const OWNED_MAIN_CONSUMER_KEYS: &[Owned] = &[
    GROUP_ID,
    AUTO_COMMIT,
    AUTO_OFFSET_STORE,
    Owned {
        key: "partition.assignment.strategy",
        why: "the runtime assigns partitions by task with the eager 'range' assignor, which \
              keeps partition p of every co-partitioned topic on one member; another assignor \
              (roundrobin, cooperative-sticky) would split a task's partitions between members",
        shared_prefix_skipped: false,
    },
    Owned {
        key: "group.protocol",
        why: "the runtime needs the 'classic' protocol with its eager 'range' assignor to keep \
              each task's partitions together; the KIP-848 'consumer' protocol assigns \
              partitions on the broker and would split tasks between members",
        shared_prefix_skipped: false,
    },
];
const OWNED_RESTORE_CONSUMER_KEYS: &[Owned] = &[
    GROUP_ID,
    AUTO_COMMIT,
    AUTO_OFFSET_STORE,
    NO_GROUP_INSTANCE_ID,
    Owned {
        key: "auto.offset.reset",
        why: "the restore consumer uses 'error', so that a changelog offset out of range \
              fails the restore (the store is then rebuilt from the changelog) instead of \
              silently jumping to the beginning or the end of the changelog",
        shared_prefix_skipped: true,
    },
];
const OWNED_GLOBAL_CONSUMER_KEYS: &[Owned] = &[
    GROUP_ID,
    AUTO_COMMIT,
    AUTO_OFFSET_STORE,
    NO_GROUP_INSTANCE_ID,
];
const OWNED_PRODUCER_KEYS: &[Owned] = &[Owned {
    key: "transactional.id",
    why: "under exactly_once_v2 the runtime gives each stream thread its own, \
          <application.id>-<process id>-<thread index>",
    shared_prefix_skipped: false,
}];
/// The prefix whose keys apply to every consumer.
const SHARED_CONSUMER_PREFIX: &str = "consumer.";
/// How long a consumer whose prefetch queue is full waits before it looks again (see
/// [`KafkaClientConfigs`]).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// How many records per partition the main consumer keeps fetched ahead (librdkafka's
/// default is 100,000). librdkafka counts `queued.min.messages` per partition, so with its
/// default a thread reading four partitions buffers up to 400,000 records (55 MiB of
/// 100-byte records), where Java's consumer holds about one fetch, 1 MiB, per partition.
/// 10,000 is of that order: on the broker benchmark it took the stateless topology's peak
/// RSS from 95 MiB to 51 MiB (two threads: 150 to 56) at the same rate, since the fetcher
/// refills the queue within `fetch.queue.backoff.ms`. The restore consumer keeps librdkafka's
/// default: a restore reads as far ahead as it can.
const MAIN_QUEUED_MIN_MESSAGES: &str = "10000";

/// The most bytes the main consumer asks for per partition in one fetch (librdkafka's and
/// Java's default is 1 MiB). librdkafka keeps a fetch response's buffer until its last
/// record is processed, plus a queue entry per record, and it sends the next fetch of a
/// partition as soon as its queue is below `queued.min.messages`: with 1 MiB fetches a
/// thread of four partitions held several responses and their records' entries at once.
/// 256 KiB responses took the broker benchmark's peak RSS from 52–58 MiB to 36–39 MiB for
/// the stateless topology and from 87–92 MiB to 64–68 MiB for the stream-stream join, at the
/// same rate. The restore consumer keeps the default.
const MAIN_MAX_PARTITION_FETCH_BYTES: &str = "262144";

/// How long the broker holds a restore consumer's fetch that finds nothing (librdkafka's
/// default is 500 ms). A restore reads a changelog partition to its end and then looks up
/// the next one's offsets; the broker answers the requests of one connection in order, so
/// that look-up waits behind the fetch the consumer sent after the last record, and with
/// the default every restored partition would cost half a second more.
const RESTORE_FETCH_WAIT_MS: &str = "20";

/// The librdkafka configurations of the clients a stream thread uses, derived from a
/// [`StreamsConfig`] as Kafka Streams derives its clients' configs.
///
/// - **Main consumer:** `group.id` = `application.id`, offsets committed by the runtime only
///   (`enable.auto.commit=false`), `auto.offset.reset=earliest`, the classic group protocol
///   with the eager `range` assignor (it keeps partition `p` of every co-partitioned topic on
///   one member, so every partition of a task goes to one member), `session.timeout.ms`
///   from the config, and `isolation.level=read_committed` under exactly-once. A
///   `group.instance.id` (static membership, `consumer.group.instance.id` or
///   `main.consumer.group.instance.id`) gets each thread's number as a suffix, as in Kafka
///   Streams: thread `i` (counted from 0) uses `<group.instance.id>-<i + 1>`, so the ids match
///   Java's, whose threads count from 1, and threads of one instance do not fence each other.
///   Every consumer checks its prefetch queue every 10 ms when it is full
///   (`fetch.queue.backoff.ms=10`; see below). The main consumer keeps 10,000 records per
///   partition fetched ahead (`queued.min.messages`; librdkafka's default is 100,000), in
///   fetches of at most 256 KiB per partition (`max.partition.fetch.bytes`; 1 MiB by default).
/// - **Restore consumer:** no group; reads changelogs by manual assignment, with
///   `auto.offset.reset=error`: a checkpointed changelog offset that is no longer in the log
///   (compacted or deleted away) surfaces as a consumer error, so the store is wiped and
///   rebuilt from the changelog instead of silently jumping to the beginning or the end (Kafka
///   Streams sets `none` for the same reason). The runtime owns this setting:
///   `restore.consumer.auto.offset.reset` is refused, and `consumer.auto.offset.reset` applies
///   to the main and global consumers only. `fetch.wait.max.ms=20`, so that the offset
///   look-up of the next changelog partition does not wait behind a fetch the broker holds
///   for half a second (standby tasks read with the same settings).
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
/// admin client; they are applied last and override the defaults above. Settings the runtime
/// owns are refused with the reason: `group.id`, `enable.auto.commit`,
/// `enable.auto.offset.store`, and on the main consumer `partition.assignment.strategy` and
/// `group.protocol` (another assignor or the KIP-848 protocol would split tasks between
/// members); `transactional.id` on the producer.
///
/// `Debug` output and error messages never show secret values (passwords, `sasl.jaas.config`,
/// inline private keys and the like): they read `[redacted]`.
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
#[derive(Clone)]
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
    /// `application.server`, which the stream threads' group members carry.
    server: Option<HostInfo>,
    /// `client.tag.*`, which the stream threads' group members carry too.
    tags: BTreeMap<String, String>,
}

/// Shows a client config with its secret values redacted. rust-rdkafka's own `Debug` only
/// knows a few librdkafka keys, and not the Java-style ones (`sasl.jaas.config`) users carry
/// over.
struct RedactedClientConfig<'a>(&'a ClientConfig);

impl fmt::Debug for RedactedClientConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: BTreeMap<&str, &str> = self
            .0
            .config_map()
            .into_keys()
            .map(|k| (k, shown_value(k, self.0.get(k).unwrap_or_default())))
            .collect();
        f.debug_struct("ClientConfig")
            .field("log_level", &self.0.log_level)
            .field("conf_map", &values)
            .finish()
    }
}

impl fmt::Debug for KafkaClientConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaClientConfigs")
            .field("main_consumer", &RedactedClientConfig(&self.main_consumer))
            .field(
                "restore_consumer",
                &RedactedClientConfig(&self.restore_consumer),
            )
            .field(
                "global_consumer",
                &RedactedClientConfig(&self.global_consumer),
            )
            .field("producer", &RedactedClientConfig(&self.producer))
            .field("admin", &RedactedClientConfig(&self.admin))
            .field("guarantee", &self.guarantee)
            .field("application_id", &self.application_id)
            .finish()
    }
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
        let mut clients = Self::defaults(config, application_id, &bootstrap, guarantee);
        clients.server = config.application_server()?;
        clients.tags = config.rack_awareness()?.client_tags;
        if let Some(budget) = config.memory_budget()? {
            clients.bound_queues(&budget);
        }
        clients.apply_user_overrides(config)?;
        if guarantee == ProcessingGuarantee::ExactlyOnceV2 {
            clients.check_exactly_once()?;
        }
        clients.check_with_librdkafka(config)?;
        Ok(clients)
    }

    /// The runtime's own settings of every client, before the user's overrides.
    fn defaults(
        config: &StreamsConfig,
        application_id: String,
        bootstrap: &str,
        guarantee: ProcessingGuarantee,
    ) -> Self {
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
        base.set("bootstrap.servers", bootstrap)
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
            .set("group.protocol", "classic")
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", heartbeat_ms.to_string())
            .set("queued.min.messages", MAIN_QUEUED_MIN_MESSAGES)
            .set("max.partition.fetch.bytes", MAIN_MAX_PARTITION_FETCH_BYTES);
        let mut global_consumer = consumer.clone();
        let mut restore_consumer = consumer;
        // librdkafka needs a group id even for manual assignment; these groups never join
        // or commit.
        restore_consumer
            .set("client.id", format!("{client_id}-restore"))
            .set("group.id", format!("{application_id}-restore-consumer"))
            .set("auto.offset.reset", "error")
            .set("fetch.wait.max.ms", RESTORE_FETCH_WAIT_MS);
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
            producer.set(
                "transaction.timeout.ms",
                EOS_TRANSACTION_TIMEOUT_MS.to_string(),
            );
        }
        let mut admin = base;
        admin.set("client.id", format!("{client_id}-admin"));

        KafkaClientConfigs {
            main_consumer,
            restore_consumer,
            global_consumer,
            producer,
            admin,
            guarantee,
            application_id,
            server: None,
            tags: BTreeMap::new(),
        }
    }

    /// Gives every client's queue its share of `memory.budget.bytes`: the consumers'
    /// prefetch queues and the producer's send queue. The settings are the budget's alone
    /// (the config refuses them next to it), so no override comes after.
    fn bound_queues(&mut self, budget: &MemoryBudget) {
        let kbytes = budget.client_queue_kbytes().to_string();
        for consumer in [
            &mut self.main_consumer,
            &mut self.restore_consumer,
            &mut self.global_consumer,
        ] {
            consumer.set("queued.max.messages.kbytes", &kbytes);
        }
        self.producer.set("queue.buffering.max.kbytes", &kbytes);
    }

    /// Applies the user's prefixed overrides to each client, refusing the settings the
    /// runtime owns.
    fn apply_user_overrides(&mut self, config: &StreamsConfig) -> Result<()> {
        apply_overrides(
            config,
            &mut self.main_consumer,
            &[SHARED_CONSUMER_PREFIX, "main.consumer."],
            OWNED_MAIN_CONSUMER_KEYS,
        )?;
        apply_overrides(
            config,
            &mut self.restore_consumer,
            &[SHARED_CONSUMER_PREFIX, "restore.consumer."],
            OWNED_RESTORE_CONSUMER_KEYS,
        )?;
        apply_overrides(
            config,
            &mut self.global_consumer,
            &[SHARED_CONSUMER_PREFIX, "global.consumer."],
            OWNED_GLOBAL_CONSUMER_KEYS,
        )?;
        apply_overrides(
            config,
            &mut self.producer,
            &["producer."],
            OWNED_PRODUCER_KEYS,
        )?;
        apply_overrides(config, &mut self.admin, &["admin."], &[])
    }

    /// Refuses overrides that contradict exactly-once: consumers reading uncommitted
    /// records, a producer that is not idempotent.
    fn check_exactly_once(&self) -> Result<()> {
        for (cfg, prefix) in [
            (&self.main_consumer, "consumer."),
            (&self.restore_consumer, "consumer."),
            (&self.global_consumer, "consumer."),
        ] {
            if cfg.get("isolation.level") != Some("read_committed") {
                return Err(Error::Config {
                    key: format!("{prefix}isolation.level"),
                    reason: "must be read_committed under exactly_once_v2".into(),
                });
            }
        }
        if self.producer.get("enable.idempotence") != Some("true") {
            return Err(Error::Config {
                key: "producer.enable.idempotence".into(),
                reason: "must be true under exactly_once_v2".into(),
            });
        }
        Ok(())
    }

    /// Lets librdkafka check every client's keys and values.
    fn check_with_librdkafka(&self, config: &StreamsConfig) -> Result<()> {
        for (cfg, prefixes) in [
            (&self.main_consumer, &["main.consumer.", "consumer."][..]),
            (
                &self.restore_consumer,
                &["restore.consumer.", "consumer."][..],
            ),
            (
                &self.global_consumer,
                &["global.consumer.", "consumer."][..],
            ),
            (&self.producer, &["producer."][..]),
            (&self.admin, &["admin."][..]),
        ] {
            check_librdkafka(config, cfg, prefixes)?;
        }
        Ok(())
    }

    /// The processing guarantee the configs were derived for.
    pub fn guarantee(&self) -> ProcessingGuarantee {
        self.guarantee
    }

    /// The configs of stream thread `index` of the instance `process_id`: client ids name
    /// the thread, and under exactly-once the producer's `transactional.id` is
    /// `<application.id>-<process_id>-<index>`, stable across restarts of the instance so
    /// that a restarted thread fences its predecessor's open transaction.
    ///
    /// The consumer's client id also carries the process id (`<name>@<process id>`), so
    /// that the group's description tells which members are one instance (standby
    /// placement), then the instance's client tags (rack-aware placement), and with
    /// `application.server` set the server too (`<name>@<process id>@<host>:<port>`), for
    /// query routing (see [`member_client_id`]).
    ///
    /// A configured `group.instance.id` becomes `<group.instance.id>-<index + 1>`, as Kafka
    /// Streams' `getMainConsumerConfigs` suffixes it with its 1-based thread index: the
    /// broker fences a static member when another joins with the same id, so threads sharing
    /// one would keep fencing each other. Stable across restarts, as static membership needs.
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
        let member = name(&self.main_consumer, "consumer");
        // The group's description then tells every instance where this one answers queries.
        let member = member_client_id(&member, process_id, &self.tags, self.server.as_ref());
        consumer.set("client.id", member);
        if let Some(id) = self
            .main_consumer
            .get("group.instance.id")
            .filter(|id| !id.is_empty())
        {
            consumer.set("group.instance.id", format!("{id}-{}", index + 1));
        }
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

    /// The config of the standby thread's consumer: the restore consumer's, named
    /// `<client.id>-StandbyThread-restore-consumer`.
    pub(crate) fn standby_consumer(&self, process_id: &str) -> ClientConfig {
        let mut standby = self.restore_consumer.clone();
        let base = standby
            .get("client.id")
            .unwrap_or(&self.application_id)
            .to_owned();
        standby.set(
            "client.id",
            format!("{base}-{process_id}-StandbyThread-restore-consumer"),
        );
        standby
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
    owned: &[Owned],
) -> Result<()> {
    for prefix in prefixes {
        for (key, value) in config.with_prefix(prefix) {
            if let Some(o) = owned.iter().find(|o| o.key == key) {
                if o.shared_prefix_skipped && *prefix == SHARED_CONSUMER_PREFIX {
                    continue;
                }
                return Err(Error::Config {
                    key: format!("{prefix}{key}"),
                    reason: format!("is set by the runtime and cannot be overridden: {}", o.why),
                });
            }
            target.set(key, value);
        }
    }
    Ok(())
}

/// Lets librdkafka check every key and value, naming the offending key as the user wrote it.
/// librdkafka's messages may quote the value, so secret values are redacted from them.
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
    // librdkafka's NUL-byte error names neither the key nor the value: find the key here.
    for key in client.config_map().into_keys() {
        if client.get(key).is_some_and(|v| v.contains('\0')) {
            return Err(Error::Config {
                key: user_key(key),
                reason: "the value contains a NUL byte".into(),
            });
        }
    }
    match client.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, description, key, value)) => Err(Error::Config {
            key: user_key(&key),
            reason: config.redact_secrets(&format!(
                "librdkafka rejects '{}': {description}",
                shown_value(&key, &value)
            )),
        }),
        Err(e) => Err(Error::Config {
            key: prefixes
                .first()
                .map_or("", |p| p.trim_end_matches('.'))
                .to_owned(),
            reason: config.redact_secrets(&e.to_string()),
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
        assert_eq!(c.main_consumer.get("queued.min.messages"), Some("10000"));
        assert_eq!(c.restore_consumer.get("queued.min.messages"), None);
        assert_eq!(
            c.main_consumer.get("max.partition.fetch.bytes"),
            Some("262144")
        );
        assert_eq!(c.restore_consumer.get("max.partition.fetch.bytes"), None);
        let tuned =
            KafkaClientConfigs::new(&base().set("main.consumer.queued.min.messages", "500"))?;
        assert_eq!(tuned.main_consumer.get("queued.min.messages"), Some("500"));
        let (_, _, producer) = c.for_thread("p1", 0);
        assert_eq!(producer.get("transactional.id"), None);
        Ok(())
    }

    #[test]
    fn a_memory_budget_bounds_every_client_queue() -> Result<()> {
        let unbounded = KafkaClientConfigs::new(&base())?;
        assert_eq!(
            unbounded.main_consumer.get("queued.max.messages.kbytes"),
            None
        );
        // 256 MiB: a quarter for 3 clients of one thread, the global and the standby consumer.
        let c = KafkaClientConfigs::new(&base().set("memory.budget.bytes", "268435456"))?;
        let share = ((64 << 10) / 5).to_string();
        for consumer in [&c.main_consumer, &c.restore_consumer, &c.global_consumer] {
            assert_eq!(consumer.get("queued.max.messages.kbytes"), Some(&*share));
        }
        assert_eq!(c.producer.get("queue.buffering.max.kbytes"), Some(&*share));
        let (consumer, restore, producer) = c.for_thread("p1", 0);
        assert_eq!(consumer.get("queued.max.messages.kbytes"), Some(&*share));
        assert_eq!(restore.get("queued.max.messages.kbytes"), Some(&*share));
        assert_eq!(producer.get("queue.buffering.max.kbytes"), Some(&*share));
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
            Some("app-StreamThread-2-consumer@p1")
        );
        let served = KafkaClientConfigs::new(&base().set("application.server", "h:7070"))?;
        let (consumer, restore, _) = served.for_thread("p1", 2);
        assert_eq!(
            consumer.get("client.id"),
            Some("app-StreamThread-2-consumer@p1@h:7070")
        );
        assert_eq!(
            restore.get("client.id"),
            Some("app-restore-StreamThread-2-restore-consumer")
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

    const SECRET_KEYS: &[&str] = &[
        "sasl.jaas.config",
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "ssl.key.pem",
        "sasl.oauthbearer.client.secret",
        "basic.auth.user.info",
    ];
    const CLIENT_PREFIXES: &[&str] = &[
        "producer.",
        "consumer.",
        "main.consumer.",
        "restore.consumer.",
        "global.consumer.",
        "admin.",
    ];

    #[test]
    fn secrets_are_redacted_from_errors_and_debug() -> Result<()> {
        for key in SECRET_KEYS {
            for prefix in CLIENT_PREFIXES {
                let user_key = format!("{prefix}{key}");
                // A NUL byte makes librdkafka's checks reject even the keys it knows.
                for value in ["hunter2-secret", "hunter2-secret\0"] {
                    let config = base().set(&user_key, value);
                    assert!(!format!("{config:?}").contains("hunter2"), "{user_key}");
                    match KafkaClientConfigs::new(&config) {
                        Ok(clients) => {
                            let debug = format!("{clients:?}");
                            assert!(!debug.contains("hunter2"), "{user_key}: {debug}");
                            assert!(debug.contains(key), "{user_key}: {debug}");
                        }
                        Err(e) => {
                            let (shown, debug) = (e.to_string(), format!("{e:?}"));
                            assert!(!shown.contains("hunter2"), "{user_key}: {shown}");
                            assert!(!debug.contains("hunter2"), "{user_key}: {debug}");
                            assert!(shown.contains(&user_key), "{user_key}: {shown}");
                        }
                    }
                }
            }
        }
        // The Java-style keys librdkafka does not know are rejected, naming the key only.
        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"u\" password=\"hunter2\";";
        let err = KafkaClientConfigs::new(&base().set("consumer.sasl.jaas.config", jaas))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("consumer.sasl.jaas.config"), "{err}");
        assert!(err.contains("[redacted]"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // Values that are not secret are still quoted, which is what makes errors useful.
        let err = KafkaClientConfigs::new(&base().set("producer.acks", "most"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("most"), "{err}");
        Ok(())
    }

    #[test]
    fn group_instance_id_is_suffixed_per_thread() -> Result<()> {
        for key in [
            "consumer.group.instance.id",
            "main.consumer.group.instance.id",
        ] {
            let c = KafkaClientConfigs::new(&base().set(key, "orders-host-a"))?;
            let ids: Vec<Option<String>> = (0..3)
                .map(|i| {
                    let (consumer, restore, _) = c.for_thread("p1", i);
                    assert_eq!(restore.get("group.instance.id"), None, "{key}");
                    consumer.get("group.instance.id").map(str::to_owned)
                })
                .collect();
            assert_eq!(
                ids,
                vec![
                    Some("orders-host-a-1".to_owned()),
                    Some("orders-host-a-2".to_owned()),
                    Some("orders-host-a-3".to_owned()),
                ],
                "{key}"
            );
            // Only the main consumer joins the group.
            assert_eq!(c.global_consumer.get("group.instance.id"), None, "{key}");
        }
        let (consumer, _, _) = KafkaClientConfigs::new(&base())?.for_thread("p1", 0);
        assert_eq!(consumer.get("group.instance.id"), None);
        for key in [
            "restore.consumer.group.instance.id",
            "global.consumer.group.instance.id",
        ] {
            let err = KafkaClientConfigs::new(&base().set(key, "x"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(key), "{err}");
        }
        Ok(())
    }

    #[test]
    fn assignment_strategy_and_group_protocol_are_owned() -> Result<()> {
        let c = KafkaClientConfigs::new(&base())?;
        assert_eq!(
            c.main_consumer.get("partition.assignment.strategy"),
            Some("range")
        );
        assert_eq!(c.main_consumer.get("group.protocol"), Some("classic"));
        for (key, value) in [
            (
                "consumer.partition.assignment.strategy",
                "cooperative-sticky",
            ),
            ("main.consumer.partition.assignment.strategy", "roundrobin"),
            ("consumer.group.protocol", "consumer"),
            ("main.consumer.group.protocol", "consumer"),
        ] {
            let err = KafkaClientConfigs::new(&base().set(key, value))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(key), "{key}: {err}");
            assert!(err.contains("split"), "{key}: says why: {err}");
        }
        Ok(())
    }

    #[test]
    fn restore_consumer_never_resets_silently() -> Result<()> {
        let c = KafkaClientConfigs::new(&base())?;
        assert_eq!(c.restore_consumer.get("auto.offset.reset"), Some("error"));
        assert_eq!(c.main_consumer.get("auto.offset.reset"), Some("earliest"));
        let (_, restore, _) = c.for_thread("p1", 0);
        assert_eq!(restore.get("auto.offset.reset"), Some("error"));

        // `consumer.` is for the main (and global) consumer; the restore consumer keeps `error`.
        let c = KafkaClientConfigs::new(&base().set("consumer.auto.offset.reset", "latest"))?;
        assert_eq!(c.main_consumer.get("auto.offset.reset"), Some("latest"));
        assert_eq!(c.global_consumer.get("auto.offset.reset"), Some("latest"));
        assert_eq!(c.restore_consumer.get("auto.offset.reset"), Some("error"));
        let c = KafkaClientConfigs::new(&base().set("main.consumer.auto.offset.reset", "latest"))?;
        assert_eq!(c.main_consumer.get("auto.offset.reset"), Some("latest"));
        assert_eq!(c.restore_consumer.get("auto.offset.reset"), Some("error"));

        let err =
            KafkaClientConfigs::new(&base().set("restore.consumer.auto.offset.reset", "earliest"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
        assert!(err.contains("restore.consumer.auto.offset.reset"), "{err}");
        Ok(())
    }
}
