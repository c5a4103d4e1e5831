//! Helpers shared by the runtime tests: clusters (rdkafka's mock cluster or the real broker
//! started by `tests/broker/kafka-broker.sh`), producing and reading records, waiting on
//! conditions, and the topologies under test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code, unused_imports)]

mod names;
mod reader;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use streams_core::partitioner::default_partition;
use streams_core::processor::{Processor, ProcessorContext};
use streams_core::runtime::{AdminTopicCreator, KafkaClientConfigs, TopicCreator};
use streams_core::serde::Serdes;
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore};
use streams_core::{Consumed, Produced, Record, Result, StreamsConfig, Topology};
use streams_state::{Stores, TypedKeyValueStore};

pub(crate) use names::unique;
pub(crate) use reader::{Read, Reader, partition_count};

/// The environment variable naming the file the broker script writes the bootstrap address
/// to.
pub(crate) const BOOTSTRAP_FILE_ENV: &str = "KAFKA_BOOTSTRAP_FILE";

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A cluster to run against.
pub(crate) enum Cluster {
    /// rdkafka's in-process mock cluster.
    Mock(MockCluster<'static, DefaultProducerContext>),
    /// A real broker.
    Broker {
        /// Its bootstrap address.
        bootstrap: String,
        /// An admin client creating topics.
        creator: AdminTopicCreator,
    },
}

impl Cluster {
    /// A fresh one-broker mock cluster.
    pub(crate) fn mock() -> Cluster {
        Cluster::Mock(MockCluster::new(1).expect("mock cluster"))
    }

    /// The broker started by `tests/broker/kafka-broker.sh start`. Fails loudly, saying how
    /// to start it, when it is not running.
    pub(crate) fn broker() -> Cluster {
        let how = "start it with `tests/broker/kafka-broker.sh start` (tests/run.sh does this and exports \
                   KAFKA_BOOTSTRAP_FILE)";
        let file = std::env::var(BOOTSTRAP_FILE_ENV).unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/broker/.run/bootstrap").to_owned()
        });
        let bootstrap = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no Kafka broker: cannot read {file} ({e}); {how}"))
            .trim()
            .to_owned();
        assert!(
            !bootstrap.is_empty(),
            "no Kafka broker: {file} is empty; {how}"
        );
        let mut admin = ClientConfig::new();
        admin.set("bootstrap.servers", &bootstrap);
        let probe: BaseConsumer = admin.create().expect("metadata client");
        if let Err(e) = probe.fetch_metadata(None, Duration::from_secs(10)) {
            panic!("no Kafka broker answers at {bootstrap} (from {file}): {e}; {how}");
        }
        let creator = AdminTopicCreator::new(&admin).expect("admin client");
        Cluster::Broker { bootstrap, creator }
    }

    /// The bootstrap servers.
    pub(crate) fn bootstrap(&self) -> String {
        match self {
            Cluster::Mock(m) => m.bootstrap_servers(),
            Cluster::Broker { bootstrap, .. } => bootstrap.clone(),
        }
    }

    /// What creates the application's internal topics.
    pub(crate) fn creator(&self) -> &dyn TopicCreator {
        match self {
            Cluster::Mock(m) => m,
            Cluster::Broker { creator, .. } => creator,
        }
    }

    /// Creates a topic and waits until its metadata is visible.
    pub(crate) fn create_topic(&self, name: &str, partitions: i32) {
        match self {
            Cluster::Mock(m) => m.create_topic(name, partitions, 1).expect("create topic"),
            Cluster::Broker { bootstrap, .. } => {
                let mut cfg = ClientConfig::new();
                cfg.set("bootstrap.servers", bootstrap);
                let admin: AdminClient<DefaultClientContext> = cfg.create().expect("admin");
                let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
                let r = futures::executor::block_on(
                    admin.create_topics(&[topic], &AdminOptions::new()),
                )
                .expect("create topics");
                for x in r {
                    x.expect("topic created");
                }
            }
        }
        let bootstrap = self.bootstrap();
        assert!(
            wait_until(Duration::from_secs(30), || partition_count(
                &bootstrap, name
            ) == partitions),
            "topic {name} did not appear"
        );
    }

    /// A streams config for this cluster: quick rebalances and commits.
    pub(crate) fn streams_config(
        &self,
        application_id: &str,
        state_dir: &std::path::Path,
    ) -> StreamsConfig {
        StreamsConfig::new()
            .set("application.id", application_id)
            .set("bootstrap.servers", self.bootstrap())
            .set("state.dir", state_dir.display().to_string())
            .set("commit.interval.ms", "200")
            .set("session.timeout.ms", "6000")
            .set("poll.ms", "50")
    }
}

/// The event time tests call `t`, shifted to this run's recent past.
///
/// A broker deletes log segments whose newest record is older than the topic's retention
/// (7 days by default) at every retention check, so records stamped in 1970 can vanish
/// between being produced and being consumed.
pub(crate) fn event_time(t: i64) -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        // Hour-aligned and an hour back, so windowed tests keep their window boundaries.
        now - now % 3_600_000 - 3_600_000
    });
    base + t
}

/// Produces string records, each placed with the Java default partitioner, and waits
/// until all are acknowledged. `timestamp` is an [`event_time`] offset.
pub(crate) fn produce<K: AsRef<str>, V: AsRef<str>>(
    bootstrap: &str,
    topic: &str,
    records: &[(K, V)],
    timestamp: i64,
) {
    let raw: Vec<(Vec<u8>, Vec<u8>)> = records
        .iter()
        .map(|(k, v)| {
            (
                k.as_ref().as_bytes().to_vec(),
                v.as_ref().as_bytes().to_vec(),
            )
        })
        .collect();
    produce_bytes(bootstrap, topic, &raw, timestamp);
}

/// Produces byte records, placed with the Java default partitioner. `timestamp` is an
/// [`event_time`] offset.
pub(crate) fn produce_bytes(
    bootstrap: &str,
    topic: &str,
    records: &[(Vec<u8>, Vec<u8>)],
    timestamp: i64,
) {
    let partitions = partition_count(bootstrap, topic);
    assert!(partitions > 0, "topic {topic} does not exist");
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    let producer: BaseProducer = cfg.create().expect("producer");
    for (i, (k, v)) in records.iter().enumerate() {
        let p = default_partition(k, partitions);
        let mut rec = BaseRecord::to(topic)
            .key(k)
            .payload(v)
            .partition(p)
            .timestamp(event_time(timestamp) + i as i64);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    producer.poll(Duration::from_millis(50));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// Headers for a produced record.
pub(crate) fn owned_headers(pairs: &[(&str, &str)]) -> OwnedHeaders {
    pairs.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
        h.insert(Header {
            key: k,
            value: Some(v.as_bytes()),
        })
    })
}

/// Upper-cases values.
struct Upper;

impl Processor<String, String, String, String> for Upper {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let v = r.value.to_uppercase();
        ctx.forward(r.with_value(v))
    }
}

/// `input` → upper-case values → `output`.
pub(crate) fn upper_topology(input: &str, output: &str) -> Topology {
    string_processor_topology(input, output, "upper", || Upper)
}

/// `input` → the processor `supplier` makes, named `name` → `output`, string keys and
/// values throughout.
pub(crate) fn string_processor_topology<P, F>(
    input: &str,
    output: &str,
    name: &str,
    supplier: F,
) -> Topology
where
    P: Processor<String, String, String, String> + 'static,
    F: Fn() -> P + Send + Sync + 'static,
{
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[input],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_processor(name, supplier, &["in"])
    .unwrap()
    .add_sink(
        "out",
        output,
        Produced::with(Serdes::string(), Serdes::string()),
        &[name],
    )
    .unwrap();
    t
}

type CountStore = std::rc::Rc<std::cell::RefCell<TypedKeyValueStore<String, i64>>>;

/// Counts records per key in a store and forwards `key -> count` (as a decimal string).
struct Count {
    store_name: String,
    store: Option<CountStore>,
}

impl Processor<String, String, String, String> for Count {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        self.store = Some(ctx.state_store::<TypedKeyValueStore<String, i64>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let store = self.store.as_ref().expect("initialised");
        let n = store.borrow().get(&r.key)?.unwrap_or(0) + 1;
        store.borrow_mut().put(&r.key, &n)?;
        ctx.forward(r.with_value(n.to_string()))
    }
}

/// `input` → count per key in store `store` (logged to its changelog) → `output`.
pub(crate) fn count_topology(input: &str, output: &str, store: &str, persistent: bool) -> Topology {
    count_topology_of(&[input], output, store, persistent)
}

/// As [`count_topology`], reading every topic of `inputs` in one source.
pub(crate) fn count_topology_of(
    inputs: &[&str],
    output: &str,
    store: &str,
    persistent: bool,
) -> Topology {
    let builder: Arc<dyn streams_core::state::StoreBuilder> = if persistent {
        Arc::new(Stores::key_value_store_builder(
            Stores::persistent_key_value_store(store),
            Serdes::string(),
            Serdes::i64(),
        ))
    } else {
        Arc::new(Stores::key_value_store_builder(
            Stores::in_memory_key_value_store(store),
            Serdes::string(),
            Serdes::i64(),
        ))
    };
    let name = store.to_owned();
    let mut t = Topology::new();
    t.add_source(
        "in",
        inputs,
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_processor(
        "count",
        move || Count {
            store_name: name.clone(),
            store: None,
        },
        &["in"],
    )
    .unwrap()
    .add_state_store(builder, &["count"])
    .unwrap()
    .add_sink(
        "out",
        output,
        Produced::with(Serdes::string(), Serdes::string()),
        &["count"],
    )
    .unwrap();
    t
}

/// The latest value per key among `records`.
pub(crate) fn latest(records: &[Read]) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|r| (r.key_str(), r.value_str()))
        .collect()
}

/// Derived client configs, for tests that check them.
pub(crate) fn client_configs(config: &StreamsConfig) -> KafkaClientConfigs {
    KafkaClientConfigs::new(config).expect("valid config")
}

/// Upper-cases values and fails on the value `poison`.
struct PoisonUpper;

impl Processor<String, String, String, String> for PoisonUpper {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        if r.value == "poison" {
            return Err(streams_core::Error::Processing {
                node: "poison-upper".into(),
                source: "poisoned record".into(),
            });
        }
        let v = r.value.to_uppercase();
        ctx.forward(r.with_value(v))
    }
}

/// `input` → upper-case values, failing on `poison` → `output`.
pub(crate) fn poison_topology(input: &str, output: &str) -> Topology {
    string_processor_topology(input, output, "poison-upper", || PoisonUpper)
}

/// Formats `i64` values as strings.
struct Show;

impl Processor<String, i64, String, String> for Show {
    fn process(
        &mut self,
        r: Record<String, i64>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let v = r.value.to_string();
        ctx.forward(r.with_value(v))
    }
}

/// `input` (string keys, 8-byte big-endian `i64` values) → decimal strings → `output`.
pub(crate) fn long_values_topology(input: &str, output: &str) -> Topology {
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[input],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .unwrap()
    .add_processor("show", || Show, &["in"])
    .unwrap()
    .add_sink(
        "out",
        output,
        Produced::with(Serdes::string(), Serdes::string()),
        &["show"],
    )
    .unwrap();
    t
}

/// Forwards records unchanged.
pub(crate) struct Pass;

impl Processor<String, String, String, String> for Pass {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        ctx.forward(r)
    }
}
