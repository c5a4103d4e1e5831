//! The Kafka runtime against a real Apache Kafka broker: exactly-once, rebalancing with
//! state following through changelogs, internal topic configs, and dead-lettering.
//!
//! The broker is the one `tests/broker/kafka-broker.sh start` runs (`tests/run.sh` starts
//! it and exports `KAFKA_BOOTSTRAP_FILE`). Without it these tests fail, saying how to
//! start it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use streams_core::partitioner::default_partition;
use streams_core::runtime::{KafkaStreams, State};
use streams_core::serde::Serdes;
use streams_core::state::StoreBuilder;
use streams_core::topology::{InternalTopic, InternalTopicKind, OutputTopic};
use streams_core::{Consumed, Produced, Topology};
use streams_state::Stores;
use support::{
    Cluster, Reader, count_topology, count_topology_of, latest, long_values_topology,
    partition_count, poison_topology, produce, produce_bytes, unique, wait_until,
};

const TIMEOUT: Duration = Duration::from_secs(90);

#[test]
fn exactly_once_hides_open_and_aborted_transactions_and_reprocesses_once() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("eos-in");
    let output = unique("eos-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let app = unique("eos-app");
    let records: Vec<(String, String)> = (0..10)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    produce(&bootstrap, &input, &records, 1_000);

    // No periodic commit: the outputs stay in an open transaction.
    let dir = tempfile::tempdir().unwrap();
    let config = cluster
        .streams_config(&app, dir.path())
        .set("processing.guarantee", "exactly_once_v2")
        .set("commit.interval.ms", "600000")
        // A transaction must be allowed to stay open for a whole commit interval.
        .set("producer.transaction.timeout.ms", "700000");
    let mut streams = KafkaStreams::new(poison_topology(&input, &output), config.clone()).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(wait_until(TIMEOUT, || streams.metrics().records_processed == 10));

    let mut uncommitted = Reader::new(&bootstrap, &output, false);
    assert!(
        uncommitted.read_at_least(10, TIMEOUT),
        "the outputs are in the log"
    );
    let mut committed = Reader::new(&bootstrap, &output, true);
    committed.poll(Duration::from_secs(2));
    assert!(
        committed.records.is_empty(),
        "open transaction visible: {:?}",
        committed.records
    );

    // A poisoned record fails the thread: its transaction is aborted.
    produce(&bootstrap, &input, &[("k0", "poison")], 2_000);
    assert!(
        streams.wait_for_state(State::Error, TIMEOUT),
        "state {}",
        streams.state()
    );
    assert!(
        streams
            .error()
            .unwrap_or_default()
            .contains("poisoned record")
    );
    assert!(streams.close().is_err(), "close reports the failure");
    committed.poll(Duration::from_secs(2));
    assert!(
        committed.records.is_empty(),
        "aborted output visible: {:?}",
        committed.records
    );

    // A new instance skipping the poison processes everything again, exactly once.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = cluster
        .streams_config(&app, dir2.path())
        .set("processing.guarantee", "exactly_once_v2")
        .set("processing.exception.handler", "continue");
    let mut again = KafkaStreams::new(poison_topology(&input, &output), config2).unwrap();
    again.start_with(cluster.creator()).unwrap();
    assert!(
        committed.read_at_least(10, TIMEOUT),
        "committed {:?}",
        committed.records
    );
    assert!(wait_until(TIMEOUT, || again.metrics().records_processed == 11));
    again.close().unwrap();
    committed.poll(Duration::from_secs(1));
    let mut got: Vec<(String, String)> = committed
        .records
        .iter()
        .map(|r| (r.key_str(), r.value_str()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = records
        .iter()
        .map(|(k, v)| (k.clone(), v.to_uppercase()))
        .collect();
    want.sort();
    assert_eq!(got, want, "each output exactly once");
}

#[test]
fn a_joining_instance_takes_partitions_and_their_state_follows() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("rb-in");
    let output = unique("rb-out");
    cluster.create_topic(&input, 4);
    cluster.create_topic(&output, 4);
    let app = unique("rb-app");
    let keys: Vec<String> = (0..16).map(|i| format!("user-{i}")).collect();
    let round = |n: usize| -> Vec<(String, String)> {
        keys.iter().map(|k| (k.clone(), format!("r{n}"))).collect()
    };
    let send = |batch: &[(String, String)], ts: i64| {
        produce(&bootstrap, &input, batch, ts);
    };
    let mut reader = Reader::new(&bootstrap, &output, false);
    let expect = |reader: &mut Reader, n: usize, count: &str| {
        assert!(
            reader.read_at_least(keys.len() * n, TIMEOUT),
            "round {n}: {} outputs",
            reader.records.len()
        );
        let counts = latest(&reader.records);
        for k in &keys {
            assert_eq!(
                counts.get(k).map(String::as_str),
                Some(count),
                "count of {k} after round {n}"
            );
        }
    };

    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut a = KafkaStreams::new(
        count_topology(&input, &output, "visits", true),
        cluster.streams_config(&app, dir_a.path()),
    )
    .unwrap();
    a.start_with(cluster.creator()).unwrap();
    send(&round(1), 1_000);
    expect(&mut reader, 1, "1");
    assert_eq!(a.metrics().tasks.len(), 4);

    let mut b = KafkaStreams::new(
        count_topology(&input, &output, "visits", true),
        cluster.streams_config(&app, dir_b.path()),
    )
    .unwrap();
    b.start_with(cluster.creator()).unwrap();
    assert!(
        wait_until(TIMEOUT, || {
            a.state() == State::Running
                && b.state() == State::Running
                && a.metrics().tasks.len() == 2
                && b.metrics().tasks.len() == 2
        }),
        "partitions did not split: a={:?} b={:?}",
        a.metrics().tasks.keys(),
        b.metrics().tasks.keys()
    );
    // b warmed its future tasks up before joining (or restored them once it had joined).
    let m = b.metrics();
    assert!(
        m.standby_records_applied + m.records_restored > 0,
        "b restored its tasks' counts from the changelog: {m:?}"
    );
    send(&round(2), 2_000);
    expect(&mut reader, 2, "2");

    b.close().unwrap();
    assert!(wait_until(TIMEOUT, || a.state() == State::Running
        && a.metrics().tasks.len() == 4));
    send(&round(3), 3_000);
    expect(&mut reader, 3, "3");
    a.close().unwrap();
}

/// A sub-topology reading a 4-partition and a 2-partition topic has four tasks; task
/// `0_1` reads partition 1 of both. librdkafka's range assignor alone would give `a-1` to
/// one instance and `b-1` to the other, running the task twice. Assigned by task, each
/// task lives on one instance, and every record is counted once.
#[test]
fn a_task_reading_topics_of_different_widths_lives_on_one_instance() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let wide = unique("rb-wide");
    let narrow = unique("rb-narrow");
    let output = unique("rb-out");
    cluster.create_topic(&wide, 4);
    cluster.create_topic(&narrow, 2);
    cluster.create_topic(&output, 4);
    let app = unique("rb-app");
    let topology = || count_topology_of(&[&wide, &narrow], &output, "seen", true);
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut a = KafkaStreams::new(topology(), cluster.streams_config(&app, dir_a.path())).unwrap();
    a.start_with(cluster.creator()).unwrap();
    assert!(wait_until(TIMEOUT, || a.state() == State::Running));
    let mut b = KafkaStreams::new(topology(), cluster.streams_config(&app, dir_b.path())).unwrap();
    b.start_with(cluster.creator()).unwrap();
    let tasks = |s: &KafkaStreams| -> Vec<String> {
        s.metrics().tasks.keys().map(ToString::to_string).collect()
    };
    assert!(
        wait_until(TIMEOUT, || {
            a.state() == State::Running
                && b.state() == State::Running
                && a.metrics().tasks.len() + b.metrics().tasks.len() == 4
                && !a.metrics().tasks.is_empty()
                && !b.metrics().tasks.is_empty()
        }),
        "tasks did not settle: a={:?} b={:?}",
        tasks(&a),
        tasks(&b)
    );
    let (ta, tb) = (tasks(&a), tasks(&b));
    assert!(
        ta.iter().all(|t| !tb.contains(t)),
        "a task runs on both instances: a={ta:?} b={tb:?}"
    );
    let keys: Vec<String> = (0..24).map(|i| format!("k{i}")).collect();
    let batch: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), "x".into())).collect();
    produce(&bootstrap, &wide, &batch, 1_000);
    produce(&bootstrap, &narrow, &batch, 1_000);
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(reader.read_at_least(keys.len() * 2, TIMEOUT));
    // A key whose partition number is the same in both topics is counted by one task, up
    // to 2; otherwise by two tasks, once each. A task running twice counts 1 twice.
    for k in &keys {
        let same = default_partition(k.as_bytes(), 4) == default_partition(k.as_bytes(), 2);
        let mut seen: Vec<String> = reader
            .records
            .iter()
            .filter(|r| r.key_str() == *k)
            .map(|r| r.value_str())
            .collect();
        seen.sort();
        let expected = if same { ["1", "2"] } else { ["1", "1"] };
        assert_eq!(seen, expected, "counts of {k}");
    }
    assert!(keys.iter().any(|k| {
        default_partition(k.as_bytes(), 4) == 1 && default_partition(k.as_bytes(), 2) == 1
    }));
    a.close().unwrap();
    b.close().unwrap();
}

#[test]
fn internal_topics_are_created_with_their_configs() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("it-in");
    let output = unique("it-out");
    cluster.create_topic(&input, 3);
    cluster.create_topic(&output, 1);
    let app = unique("it-app");

    let kv: Arc<dyn StoreBuilder> = Arc::new(Stores::key_value_store_builder(
        Stores::persistent_key_value_store("totals"),
        Serdes::string(),
        Serdes::string(),
    ));
    let window_retention = Duration::from_secs(3_600);
    let window: Arc<dyn StoreBuilder> = Arc::new(Stores::window_store_builder(
        Stores::persistent_window_store(
            "per-minute",
            window_retention,
            Duration::from_secs(60),
            false,
        )
        .unwrap(),
        Serdes::string(),
        Serdes::string(),
    ));
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[input.as_str()],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_sink(
        "to-rep",
        "by-user-repartition",
        Produced::with(Serdes::string(), Serdes::string()),
        &["in"],
    )
    .unwrap()
    .add_source(
        "from-rep",
        &["by-user-repartition"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_processor("pass", || support::Pass, &["from-rep"])
    .unwrap()
    .add_state_store(kv, &["pass"])
    .unwrap()
    .add_state_store(window, &["pass"])
    .unwrap()
    .add_sink(
        "out",
        output.as_str(),
        Produced::with(Serdes::string(), Serdes::string()),
        &["pass"],
    )
    .unwrap();
    t.add_internal_topic(InternalTopic {
        name: "by-user-repartition".into(),
        kind: InternalTopicKind::Repartition,
        partitions: None,
    });
    let config = cluster
        .streams_config(&app, tempfile::tempdir().unwrap().path())
        .set("default.deserialization.exception.handler", "dead-letter");
    let dir = tempfile::tempdir().unwrap();
    let config = config.set("state.dir", dir.path().display().to_string());
    let mut streams = KafkaStreams::new(t, config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "{:?}",
        streams.error()
    );

    let repartition = format!("{app}-by-user-repartition");
    let kv_changelog = format!("{app}-totals-changelog");
    let window_changelog = format!("{app}-per-minute-changelog");
    let dead_letter = format!("{input}.dead-letter");
    for topic in [&repartition, &kv_changelog, &window_changelog, &dead_letter] {
        assert_eq!(
            partition_count(&bootstrap, topic),
            3,
            "{topic} has the input's partition count"
        );
    }
    let configs = describe(
        &bootstrap,
        &[&repartition, &kv_changelog, &window_changelog],
    );
    assert_eq!(configs[&repartition]["cleanup.policy"], "delete");
    assert_eq!(configs[&repartition]["retention.ms"], "-1");
    assert_eq!(configs[&kv_changelog]["cleanup.policy"], "compact");
    assert_eq!(
        configs[&window_changelog]["cleanup.policy"],
        "compact,delete"
    );
    assert_eq!(
        configs[&window_changelog]["retention.ms"],
        (window_retention.as_millis() as i64 + 86_400_000).to_string()
    );

    produce(&bootstrap, &input, &[("u1", "a"), ("u2", "b")], 1_000);
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(
        reader.read_at_least(2, TIMEOUT),
        "records flow through the repartition topic"
    );
    streams.close().unwrap();
}

#[test]
fn declared_output_topics_are_created_with_their_settings_and_existing_ones_kept() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("decl-in");
    let created = unique("decl-out");
    let kept = unique("decl-kept");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&kept, 1);
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[input.as_str()],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_sink(
        "out",
        created.as_str(),
        Produced::with(Serdes::string(), Serdes::string()),
        &["in"],
    )
    .unwrap()
    .add_sink(
        "copy",
        kept.as_str(),
        Produced::with(Serdes::string(), Serdes::string()),
        &["in"],
    )
    .unwrap();
    t.add_output_topic(
        OutputTopic::new(created.as_str(), 5)
            .compacted()
            .retention(Duration::from_secs(7_200)),
    );
    t.add_output_topic(OutputTopic::new(kept.as_str(), 4));
    let dir = tempfile::tempdir().unwrap();
    let mut streams =
        KafkaStreams::new(t, cluster.streams_config(&unique("decl-app"), dir.path())).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert_eq!(partition_count(&bootstrap, &created), 5);
    assert_eq!(
        partition_count(&bootstrap, &kept),
        1,
        "an existing topic is left as it is"
    );
    let configs = describe(&bootstrap, &[&created]);
    assert_eq!(configs[&created]["cleanup.policy"], "compact");
    assert_eq!(configs[&created]["retention.ms"], "7200000");
    produce(&bootstrap, &input, &[("k1", "a"), ("k2", "b")], 1_000);
    let mut reader = Reader::new(&bootstrap, &created, false);
    assert!(reader.read_at_least(2, TIMEOUT), "{:?}", reader.records);
    streams.close().unwrap();
}

#[test]
fn malformed_records_go_to_the_dead_letter_topic_and_processing_continues() {
    let cluster = Cluster::broker();
    let bootstrap = cluster.bootstrap();
    let input = unique("dlq-in");
    let output = unique("dlq-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let app = unique("dlq-app");
    let records: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"a".to_vec(), 1i64.to_be_bytes().to_vec()),
        (b"b".to_vec(), b"not a long".to_vec()),
        (b"c".to_vec(), 3i64.to_be_bytes().to_vec()),
        (b"d".to_vec(), vec![1, 2, 3]),
        (b"e".to_vec(), 5i64.to_be_bytes().to_vec()),
    ];
    produce_bytes(&bootstrap, &input, &records, 1_000);

    let dir = tempfile::tempdir().unwrap();
    let config = cluster
        .streams_config(&app, dir.path())
        .set("default.deserialization.exception.handler", "dead-letter");
    let mut streams = KafkaStreams::new(long_values_topology(&input, &output), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();

    let mut out = Reader::new(&bootstrap, &output, false);
    assert!(
        out.read_at_least(3, TIMEOUT),
        "good records processed: {:?}",
        out.records
    );
    assert_eq!(
        latest(&out.records),
        BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("c".to_owned(), "3".to_owned()),
            ("e".to_owned(), "5".to_owned()),
        ])
    );
    let dead_letter = format!("{input}.dead-letter");
    let mut dlq = Reader::new(&bootstrap, &dead_letter, false);
    assert!(
        dlq.read_at_least(2, TIMEOUT),
        "dead letters: {:?}",
        dlq.records
    );
    let mut bad: Vec<_> = dlq.records.clone();
    bad.sort_by_key(support::Read::key_str);
    assert_eq!(bad[0].key_str(), "b");
    assert_eq!(bad[0].value.as_deref(), Some(&b"not a long"[..]));
    assert_eq!(bad[1].key_str(), "d");
    for r in &bad {
        let h = &r.headers;
        assert!(h["dead-letter-reason"].contains("deserialize"), "{h:?}");
        assert_eq!(h["original-topic"], input);
        let p: i32 = h["original-partition"].parse().unwrap();
        assert_eq!(p, r.partition, "dead letters keep their partition");
        let offset: i64 = h["original-offset"].parse().unwrap();
        assert!(offset >= 0);
        assert!(h["failed-at"].ends_with('Z'), "{h:?}");
    }
    assert!(wait_until(TIMEOUT, || streams
        .metrics()
        .records_dead_lettered
        == 2));
    streams.close().unwrap();
}

/// Each topic's non-default and default configs, read back with the admin API.
fn describe(bootstrap: &str, topics: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    let admin: AdminClient<DefaultClientContext> = cfg.create().unwrap();
    let specs: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results =
        futures::executor::block_on(admin.describe_configs(&specs, &AdminOptions::new())).unwrap();
    let mut out = BTreeMap::new();
    for (topic, r) in topics.iter().zip(results) {
        let resource = r.unwrap();
        let entries = resource
            .entries
            .iter()
            .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
            .collect();
        out.insert((*topic).to_owned(), entries);
    }
    out
}
