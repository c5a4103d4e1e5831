//! Production failures against a real Apache Kafka broker: an output record the broker
//! refuses goes where `default.production.exception.handler` says, a changelog record is
//! never skipped, and no commit passes a record that was neither written nor dead-lettered.
//!
//! The broker refuses records above a topic's `max.message.bytes`; these tests create output
//! (or changelog) topics with `max.message.bytes=1024` and send 4 KiB values to them.
//! librdkafka does not split a batch the broker refuses as too large, so the refused
//! deliveries run with `producer.batch.num.messages=1` to keep each record's fate its own.
//!
//! The broker is the one `tests/broker/kafka-broker.sh start` runs (`tests/run.sh` starts
//! it and exports `KAFKA_BOOTSTRAP_FILE`). Without it these tests fail, saying how to
//! start it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use streams_core::processor::{Processor, ProcessorContext};
use streams_core::runtime::{KafkaStreams, State};
use streams_core::serde::Serdes;
use streams_core::state::KeyValueStore;
use streams_core::{Consumed, Produced, Record, Result, StreamsConfig, Topology};
use streams_state::{Stores, TypedKeyValueStore};
use support::{Cluster, Read, Reader, partition_count, produce, unique, wait_until};

const TIMEOUT: Duration = Duration::from_secs(90);
/// The size of the values the broker refuses.
const BIG: usize = 4096;
/// The `max.message.bytes` of the topics that refuse them.
const SMALL_TOPIC: &str = "1024";

/// Creates `name` with topic configuration `configs` and waits until it is visible.
fn create_topic_with(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let admin: AdminClient<DefaultClientContext> = cfg.create().expect("admin");
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let results = futures::executor::block_on(admin.create_topics(&[topic], &AdminOptions::new()))
        .expect("create topics");
    for r in results {
        r.expect("topic created");
    }
    assert!(
        wait_until(Duration::from_secs(30), || partition_count(bootstrap, name)
            == partitions),
        "topic {name} did not appear"
    );
}

/// The offset committed by group `group` on partition 0 of `topic`, if any.
fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let offsets = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    offsets.elements().first().and_then(|e| match e.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    })
}

/// [`BIG`] characters that lz4 (the producer's compression) cannot shrink below the
/// topic's limit: a repetitive value would compress to a few bytes and be accepted.
fn big_value() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..BIG)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % 64) as usize])
        })
        .collect()
}

fn header<'a>(r: &'a Read, key: &str) -> &'a str {
    r.headers
        .get(key)
        .map_or_else(|| panic!("no header {key} in {r:?}"), String::as_str)
}

/// Replaces the value `big` by [`big_value`] and adds a header `seen-by`.
struct Inflate;

impl Processor<String, String, String, String> for Inflate {
    fn process(
        &mut self,
        mut r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        if r.value == "big" {
            r.value = big_value();
        }
        r.headers.add("seen-by", Some(b"inflate".to_vec()));
        ctx.forward(r)
    }
}

/// `input` → [`Inflate`] → `output`.
fn inflate_topology(input: &str, output: &str) -> Topology {
    support::string_processor_topology(input, output, "inflate", || Inflate)
}

type Store = std::rc::Rc<std::cell::RefCell<TypedKeyValueStore<String, String>>>;

/// Keeps each key's inflated value in store `remembered`, so it goes to the changelog.
struct Remember(Option<Store>);

impl Processor<String, String, String, String> for Remember {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        self.0 = Some(ctx.state_store::<TypedKeyValueStore<String, String>>("remembered")?);
        Ok(())
    }

    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let value = if r.value == "big" {
            big_value()
        } else {
            r.value.clone()
        };
        self.0
            .as_ref()
            .expect("initialised")
            .borrow_mut()
            .put(&r.key, &value)?;
        ctx.forward(r)
    }
}

/// `input` → [`Remember`] (logged in-memory store `remembered`) → `output`.
fn remember_topology(input: &str, output: &str) -> Topology {
    let store: Arc<dyn streams_core::state::StoreBuilder> =
        Arc::new(Stores::key_value_store_builder(
            Stores::in_memory_key_value_store("remembered"),
            Serdes::string(),
            Serdes::string(),
        ));
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[input],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_processor("remember", || Remember(None), &["in"])
    .unwrap()
    .add_state_store(store, &["remember"])
    .unwrap()
    .add_sink(
        "out",
        output,
        Produced::with(Serdes::string(), Serdes::string()),
        &["remember"],
    )
    .unwrap();
    t
}

fn config(cluster: &Cluster, app: &str, dir: &std::path::Path, handler: &str) -> StreamsConfig {
    cluster
        .streams_config(app, dir)
        .set("default.production.exception.handler", handler)
        .set("producer.batch.num.messages", "1")
}

fn values(reader: &Reader) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = reader
        .records
        .iter()
        .map(|r| (r.key_str(), r.value_str()))
        .collect();
    v.sort();
    v
}

const INPUT: [(&str, &str); 5] = [
    ("k0", "a"),
    ("k1", "big"),
    ("k2", "b"),
    ("k3", "big"),
    ("k4", "c"),
];

fn small_outputs() -> Vec<(String, String)> {
    ["k0:a", "k2:b", "k4:c"]
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn continue_lets_go_of_refused_outputs_but_never_of_changelog_records() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();

    // Outputs the broker refuses are dropped and counted; the rest is written and the
    // input committed to its end.
    let input = unique("prod-cont-in");
    let output = unique("prod-cont-out");
    cluster.create_topic(&input, 1);
    create_topic_with(
        &bootstrap,
        &output,
        1,
        &[("max.message.bytes", SMALL_TOPIC)],
    );
    let app = unique("prod-cont-app");
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        inflate_topology(&input, &output),
        config(&cluster, &app, dir.path(), "continue"),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    produce(&bootstrap, &input, &INPUT, 1_000);
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(reader.read_at_least(3, TIMEOUT), "{:?}", values(&reader));
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_dropped == 2),
        "dropped {}, error {:?}",
        streams.metrics().records_dropped,
        streams.error()
    );
    assert!(
        wait_until(TIMEOUT, || committed(&bootstrap, &app, &input) == Some(5)),
        "committed {:?}",
        committed(&bootstrap, &app, &input)
    );
    reader.poll(Duration::from_secs(1));
    assert_eq!(values(&reader), small_outputs());
    assert_eq!(streams.state(), State::Running);
    streams.close().unwrap();

    // A changelog record the broker refuses stops the instance, whatever the handler says,
    // and the input is never committed past it (offset 1).
    let input = unique("prod-cl-in");
    let output = unique("prod-cl-out");
    cluster.create_topic(&input, 1);
    cluster.create_topic(&output, 1);
    let app = unique("prod-cl-app");
    create_topic_with(
        &bootstrap,
        &format!("{app}-remembered-changelog"),
        1,
        &[
            ("max.message.bytes", SMALL_TOPIC),
            ("cleanup.policy", "compact"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        remember_topology(&input, &output),
        config(&cluster, &app, dir.path(), "continue"),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    produce(&bootstrap, &input, &INPUT[..3], 1_000);
    assert!(
        streams.wait_for_state(State::Error, TIMEOUT),
        "state {}, dropped {}",
        streams.state(),
        streams.metrics().records_dropped
    );
    let error = streams.error().unwrap_or_default();
    assert!(
        error.contains("remembered-changelog") && error.contains("internal topic"),
        "{error}"
    );
    assert!(
        committed(&bootstrap, &app, &input).is_none_or(|o| o <= 1),
        "committed past the lost changelog record: {:?}",
        committed(&bootstrap, &app, &input)
    );
    assert!(streams.close().is_err(), "close reports the failure");
}

#[test]
fn dead_letter_sends_refused_outputs_to_the_output_dead_letter_topic() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("prod-dlq-in");
    let output = unique("prod-dlq-out");
    cluster.create_topic(&input, 1);
    create_topic_with(
        &bootstrap,
        &output,
        2,
        &[("max.message.bytes", SMALL_TOPIC)],
    );
    let app = unique("prod-dlq-app");
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        inflate_topology(&input, &output),
        config(&cluster, &app, dir.path(), "dead-letter"),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let dead_letter_topic = format!("{output}.dead-letter");
    assert_eq!(
        partition_count(&bootstrap, &dead_letter_topic),
        2,
        "created at start with the output's partition count"
    );

    produce(&bootstrap, &input, &INPUT, 1_000);
    let mut dead = Reader::new(&bootstrap, &dead_letter_topic, false);
    assert!(
        dead.read_at_least(2, TIMEOUT),
        "dead letters {:?}, error {:?}",
        dead.records,
        streams.error()
    );
    assert!(
        wait_until(TIMEOUT, || committed(&bootstrap, &app, &input) == Some(5)),
        "committed {:?}",
        committed(&bootstrap, &app, &input)
    );
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(reader.read_at_least(3, TIMEOUT));
    reader.poll(Duration::from_secs(1));
    assert_eq!(values(&reader), small_outputs());

    dead.poll(Duration::from_secs(1));
    let mut keys: Vec<String> = dead.records.iter().map(Read::key_str).collect();
    keys.sort();
    assert_eq!(keys, ["k1", "k3"]);
    for r in &dead.records {
        assert_eq!(r.value, None, "the oversized value is left out: {r:?}");
        assert_eq!(header(r, "dead-letter-value-bytes"), BIG.to_string());
        assert_eq!(header(r, "original-topic"), output);
        assert_eq!(header(r, "original-partition"), r.partition.to_string());
        assert_eq!(header(r, "seen-by"), "inflate", "the record's own headers");
        let reason = header(r, "dead-letter-reason").to_lowercase();
        assert!(reason.contains("too large"), "{reason}");
        let failed_at = header(r, "failed-at");
        assert!(
            failed_at.len() == 24 && failed_at.ends_with('Z') && &failed_at[10..11] == "T",
            "RFC 3339 in UTC with milliseconds: {failed_at}"
        );
    }
    assert_eq!(streams.state(), State::Running);
    assert_eq!(streams.metrics().records_dropped, 0);
    streams.close().unwrap();
}

#[test]
fn exactly_once_dead_letters_records_refused_at_send_inside_the_transaction() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("prod-eos-dlq-in");
    let output = unique("prod-eos-dlq-out");
    cluster.create_topic(&input, 1);
    cluster.create_topic(&output, 1);
    let app = unique("prod-eos-dlq-app");
    let dir = tempfile::tempdir().unwrap();
    // The producer refuses what is larger than its message.max.bytes when the record is
    // sent, before anything reaches the transaction.
    let config = config(&cluster, &app, dir.path(), "dead-letter")
        .set("processing.guarantee", "exactly_once_v2")
        .set("producer.message.max.bytes", "1000");
    let mut streams = KafkaStreams::new(inflate_topology(&input, &output), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    produce(&bootstrap, &input, &INPUT, 1_000);

    let mut dead = Reader::new(&bootstrap, &format!("{output}.dead-letter"), true);
    assert!(
        dead.read_at_least(2, TIMEOUT),
        "dead letters {:?}, error {:?}",
        dead.records,
        streams.error()
    );
    let mut reader = Reader::new(&bootstrap, &output, true);
    assert!(reader.read_at_least(3, TIMEOUT));
    assert!(
        wait_until(TIMEOUT, || committed(&bootstrap, &app, &input) == Some(5)),
        "committed {:?}",
        committed(&bootstrap, &app, &input)
    );
    reader.poll(Duration::from_secs(1));
    assert_eq!(values(&reader), small_outputs());
    dead.poll(Duration::from_secs(1));
    let mut keys: Vec<String> = dead.records.iter().map(Read::key_str).collect();
    keys.sort();
    assert_eq!(keys, ["k1", "k3"]);
    for r in &dead.records {
        assert_eq!(r.value, None);
        assert_eq!(header(r, "dead-letter-value-bytes"), BIG.to_string());
        assert_eq!(header(r, "original-topic"), output);
    }
    streams.close().unwrap();
}

#[test]
fn exactly_once_stops_on_an_output_the_broker_refuses_and_commits_nothing() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("prod-eos-in");
    let output = unique("prod-eos-out");
    cluster.create_topic(&input, 1);
    create_topic_with(
        &bootstrap,
        &output,
        1,
        &[("max.message.bytes", SMALL_TOPIC)],
    );
    let app = unique("prod-eos-app");
    let dir = tempfile::tempdir().unwrap();
    let config = config(&cluster, &app, dir.path(), "continue")
        .set("processing.guarantee", "exactly_once_v2");
    let mut streams = KafkaStreams::new(inflate_topology(&input, &output), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    produce(&bootstrap, &input, &INPUT, 1_000);

    assert!(
        streams.wait_for_state(State::Error, TIMEOUT),
        "state {}",
        streams.state()
    );
    let error = streams.error().unwrap_or_default();
    assert!(
        error.contains("exactly_once_v2") && error.contains(&output),
        "the error says why the handler could not skip the record: {error}"
    );
    // Only what a transaction committed before k1's may be visible (nothing, when all five
    // records were polled at once).
    let mut reader = Reader::new(&bootstrap, &output, true);
    reader.poll(Duration::from_secs(2));
    assert!(
        reader.records.iter().all(|r| r.key_str() == "k0"),
        "aborted output visible: {:?}",
        reader.records
    );
    assert!(
        committed(&bootstrap, &app, &input).is_none_or(|o| o <= 1),
        "committed past the refused record: {:?}",
        committed(&bootstrap, &app, &input)
    );
    assert!(streams.close().is_err(), "close reports the failure");
}
