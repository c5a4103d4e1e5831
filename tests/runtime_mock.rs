//! The Kafka runtime against rdkafka's embedded mock cluster: a topology from input to
//! output topic, state restored from its changelog after a restart, and two instances
//! splitting the partitions of one group.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::TaskId;
use streams_core::runtime::{KafkaStreams, State, StateListener};
use streams_core::serde::Serdes;
use support::{
    Cluster, Read, Reader, count_topology, latest, produce, unique, upper_topology, wait_until,
};

const TIMEOUT: Duration = Duration::from_secs(60);

struct Recorder(Arc<Mutex<Vec<State>>>);

impl StateListener for Recorder {
    fn on_change(&self, new: State, _old: State) {
        self.0.lock().unwrap().push(new);
    }
}

#[test]
fn a_topology_runs_from_input_topic_to_output_topic() {
    let cluster = Cluster::mock();
    let input = unique("in");
    let output = unique("out");
    cluster.create_topic(&input, 3);
    cluster.create_topic(&output, 3);
    let records: Vec<(String, String)> = (0..60)
        .map(|i| (format!("key-{}", i % 7), format!("value-{i}")))
        .collect();
    produce(&cluster.bootstrap(), &input, &records, 1_000);

    let dir = tempfile::tempdir().unwrap();
    let app = unique("upper-app");
    let mut streams = KafkaStreams::new(
        upper_topology(&input, &output),
        cluster.streams_config(&app, dir.path()),
    )
    .unwrap();
    let states = Arc::new(Mutex::new(Vec::new()));
    streams.set_state_listener(Recorder(Arc::clone(&states)));
    assert_eq!(streams.state(), State::Created);
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "not running: {:?}",
        streams.error()
    );

    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    assert!(
        reader.read_at_least(records.len(), TIMEOUT),
        "read {} of {} outputs",
        reader.records.len(),
        records.len()
    );
    let mut got: Vec<(String, String)> = reader
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
    assert_eq!(got, want);
    for r in &reader.records {
        assert_eq!(
            r.partition,
            streams_core::partitioner::default_partition(r.key.as_deref().unwrap(), 3),
            "outputs are placed by the Java partitioner"
        );
    }

    assert!(wait_until(TIMEOUT, || streams.metrics().records_processed == 60));
    let m = streams.metrics();
    assert_eq!(
        m.tasks.keys().copied().collect::<BTreeSet<_>>(),
        (0..3).map(|p| TaskId::new(0, p)).collect(),
        "one task per input partition"
    );
    streams.close().unwrap();
    assert_eq!(streams.state(), State::NotRunning);
    assert!(streams.metrics().commits > 0);
    let seen = states.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&State::Rebalancing));
    assert!(seen.contains(&State::Running));
    assert_eq!(
        &seen[seen.len() - 2..],
        &[State::PendingShutdown, State::NotRunning]
    );
}

/// With a buffer bound of one record per partition the thread keeps stopping its polling
/// until the task has drained: every record is still processed exactly once, in order per
/// partition.
#[test]
fn a_tiny_buffer_bound_still_processes_every_record_once() {
    let cluster = Cluster::mock();
    let input = unique("tiny-in");
    let output = unique("tiny-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let keys = 5;
    let n = 400;
    let records: Vec<(String, String)> = (0..n)
        .map(|i| (format!("key-{}", i % keys), format!("v{i}")))
        .collect();
    produce(&cluster.bootstrap(), &input, &records, 1_000);

    let dir = tempfile::tempdir().unwrap();
    let app = unique("tiny-app");
    let mut streams = KafkaStreams::new(
        count_topology(&input, &output, "tiny-counts", false),
        cluster
            .streams_config(&app, dir.path())
            .set("buffered.records.per.partition", "1"),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    assert!(
        reader.read_at_least(n, TIMEOUT),
        "read {} of {n} outputs: {:?}",
        reader.records.len(),
        streams.error()
    );
    assert!(wait_until(TIMEOUT, || streams.metrics().records_processed == n as u64));
    reader.poll(Duration::from_millis(300));
    assert_eq!(reader.records.len(), n, "no record processed twice");
    for k in 0..keys {
        let key = format!("key-{k}");
        let counts: Vec<String> = reader
            .records
            .iter()
            .filter(|r| r.key_str() == key)
            .map(Read::value_str)
            .collect();
        let want: Vec<String> = (1..=n / keys).map(|c| c.to_string()).collect();
        assert_eq!(counts, want, "counts of {key}, in order");
    }
    streams.close().unwrap();
}

#[test]
fn a_restarted_instance_restores_its_state_from_the_changelog() {
    let cluster = Cluster::mock();
    let input = unique("words");
    let output = unique("counts");
    let store = "word-counts";
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let bootstrap = cluster.bootstrap();
    let app = unique("count-app");

    produce(
        &bootstrap,
        &input,
        &[("a", "1"), ("b", "1"), ("a", "2"), ("c", "1")],
        1_000,
    );
    let first_dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        count_topology(&input, &output, store, false),
        cluster.streams_config(&app, first_dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(
        reader.read_at_least(4, TIMEOUT),
        "first run: {:?}",
        reader.records
    );
    streams.close().unwrap();
    assert_eq!(latest(&reader.records)["a"], "2");

    let changelog = format!("{app}-{store}-changelog");
    assert_eq!(
        support::partition_count(&bootstrap, &changelog),
        2,
        "the changelog has one partition per task"
    );

    // A new instance on a new state directory: the in-memory store can only come back
    // from the changelog.
    produce(
        &bootstrap,
        &input,
        &[("a", "3"), ("c", "2"), ("d", "1")],
        2_000,
    );
    let second_dir = tempfile::tempdir().unwrap();
    let mut restarted = KafkaStreams::new(
        count_topology(&input, &output, store, false),
        cluster.streams_config(&app, second_dir.path()),
    )
    .unwrap();
    restarted.start_with(cluster.creator()).unwrap();
    assert!(
        reader.read_at_least(7, TIMEOUT),
        "second run: {:?}",
        reader.records
    );
    reader.poll(Duration::from_millis(300));
    assert_eq!(
        reader.records.len(),
        7,
        "committed input is not processed again"
    );
    let counts = latest(&reader.records);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("a".to_owned(), "3".to_owned()),
            ("b".to_owned(), "1".to_owned()),
            ("c".to_owned(), "2".to_owned()),
            ("d".to_owned(), "1".to_owned()),
        ])
    );
    assert!(
        restarted.metrics().records_restored >= 3,
        "restored {}",
        restarted.metrics().records_restored
    );
    restarted.close().unwrap();
}

#[test]
fn two_instances_in_one_group_split_the_partitions() {
    let cluster = Cluster::mock();
    let input = unique("events");
    let output = unique("events-out");
    cluster.create_topic(&input, 4);
    cluster.create_topic(&output, 4);
    let bootstrap = cluster.bootstrap();
    let app = unique("split-app");

    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut a = KafkaStreams::new(
        upper_topology(&input, &output),
        cluster.streams_config(&app, dir_a.path()),
    )
    .unwrap();
    a.start_with(cluster.creator()).unwrap();
    assert!(a.wait_for_state(State::Running, TIMEOUT));
    assert!(
        wait_until(TIMEOUT, || a.metrics().tasks.len() == 4),
        "a alone owns every task"
    );

    let mut b = KafkaStreams::new(
        upper_topology(&input, &output),
        cluster.streams_config(&app, dir_b.path()),
    )
    .unwrap();
    b.start_with(cluster.creator()).unwrap();
    let split = wait_until(TIMEOUT, || {
        let (ta, tb) = (a.metrics().tasks, b.metrics().tasks);
        a.state() == State::Running && b.state() == State::Running && ta.len() == 2 && tb.len() == 2
    });
    assert!(
        split,
        "tasks a={:?} b={:?} states {} {}",
        a.metrics().tasks.keys(),
        b.metrics().tasks.keys(),
        a.state(),
        b.state()
    );
    let ta: BTreeSet<TaskId> = a.metrics().tasks.keys().copied().collect();
    let tb: BTreeSet<TaskId> = b.metrics().tasks.keys().copied().collect();
    assert!(ta.is_disjoint(&tb));
    assert_eq!(ta.union(&tb).count(), 4);

    let records: Vec<(String, String)> = (0..40)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    produce(&bootstrap, &input, &records, 5_000);
    let mut reader = Reader::new(&bootstrap, &output, false);
    assert!(reader.read_at_least(40, TIMEOUT));
    assert!(wait_until(TIMEOUT, || a.metrics().records_processed
        + b.metrics().records_processed
        == 40));
    assert!(a.metrics().records_processed > 0 && b.metrics().records_processed > 0);

    b.close().unwrap();
    assert!(
        wait_until(TIMEOUT, || a.metrics().tasks.len() == 4
            && a.state() == State::Running),
        "a takes every task back when b leaves"
    );
    a.close().unwrap();
}

#[test]
fn start_refuses_missing_sources_and_unequal_copartitions() {
    let cluster = Cluster::mock();
    let dir = tempfile::tempdir().unwrap();
    let missing = unique("missing");
    let mut streams = KafkaStreams::new(
        upper_topology(&missing, &unique("out")),
        cluster.streams_config(&unique("app"), dir.path()),
    )
    .unwrap();
    let err = streams
        .start_with(cluster.creator())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing), "{err}");

    let left = unique("left");
    let right = unique("right");
    cluster.create_topic(&left, 2);
    cluster.create_topic(&right, 3);
    let mut t = streams_core::Topology::new();
    t.add_source(
        "l",
        &[left.as_str()],
        streams_core::Consumed::with(
            streams_core::serde::Serdes::string(),
            streams_core::serde::Serdes::string(),
        ),
    )
    .unwrap()
    .add_source(
        "r",
        &[right.as_str()],
        streams_core::Consumed::with(
            streams_core::serde::Serdes::string(),
            streams_core::serde::Serdes::string(),
        ),
    )
    .unwrap();
    t.add_copartition_group(&[left.as_str(), right.as_str()]);
    let mut streams =
        KafkaStreams::new(t, cluster.streams_config(&unique("app"), dir.path())).unwrap();
    let err = streams
        .start_with(cluster.creator())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("{left} (2 partitions)")), "{err}");
    assert!(err.contains(&format!("{right} (3 partitions)")), "{err}");
}

/// A stream re-keyed before a stream-table join goes through a repartition topic, which
/// takes the table's partition count (2), not the stream's (4), so that both sides stay
/// co-partitioned.
#[test]
fn a_rekeyed_stream_is_repartitioned_to_the_tables_partition_count_before_a_join() {
    use streams_dsl::prelude::*;

    let cluster = Cluster::mock();
    let orders = unique("orders");
    let customers = unique("customers");
    let output = unique("enriched");
    cluster.create_topic(&orders, 4);
    cluster.create_topic(&customers, 2);
    cluster.create_topic(&output, 2);
    let names: Vec<(String, String)> = (0..6)
        .map(|i| (format!("c{i}"), format!("name-{i}")))
        .collect();
    produce(&cluster.bootstrap(), &customers, &names, 1_000);

    let builder = StreamsBuilder::new();
    let table = builder.table(
        customers.as_str(),
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    builder
        .stream(
            orders.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .select_key(|_, v: &String| v.split(':').next().unwrap_or_default().to_owned())
        .join_table_with(
            &table,
            |order, name| format!("{name}/{order}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to(
            output.as_str(),
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let dir = tempfile::tempdir().unwrap();
    let app = unique("rekey-join-app");
    let mut streams = KafkaStreams::new(
        builder.build().unwrap(),
        cluster.streams_config(&app, dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let repartition = format!("{app}-KSTREAM-KEY-SELECT-0000000004-repartition");
    assert_eq!(
        support::partition_count(&cluster.bootstrap(), &repartition),
        2
    );
    // The table is loaded before any order is produced, so every order finds its customer.
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_processed
            >= names.len() as u64),
        "customers not loaded: {:?}",
        streams.error()
    );
    let order_records: Vec<(String, String)> = (0..20)
        .map(|i| (format!("o{i}"), format!("c{}:{i}", i % 6)))
        .collect();
    produce(&cluster.bootstrap(), &orders, &order_records, 2_000);

    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    assert!(
        reader.read_at_least(order_records.len(), TIMEOUT),
        "read {} of {} joined orders: {:?}",
        reader.records.len(),
        order_records.len(),
        streams.error()
    );
    let mut got: Vec<(String, String)> = reader
        .records
        .iter()
        .map(|r| (r.key_str(), r.value_str()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = order_records
        .iter()
        .map(|(_, v)| {
            let c = v.split(':').next().unwrap().to_owned();
            let name = format!("name-{}", &c[1..]);
            (c, format!("{name}/{v}"))
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    streams.close().unwrap();
}

/// A source read with `OffsetReset::Latest` skips what its topic held before the first
/// start, while the other source, on the consumer's default (earliest), reads it all.
#[test]
fn a_source_with_its_own_offset_reset_starts_from_the_end() {
    use streams_dsl::prelude::*;

    let cluster = Cluster::mock();
    let early = unique("early");
    let late = unique("late");
    let output = unique("merged");
    cluster.create_topic(&early, 1);
    cluster.create_topic(&late, 1);
    cluster.create_topic(&output, 1);
    produce(
        &cluster.bootstrap(),
        &early,
        &[("a", "a1"), ("a", "a2")],
        1_000,
    );
    produce(&cluster.bootstrap(), &late, &[("b", "b-old")], 1_000);

    let builder = StreamsBuilder::new();
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    builder
        .stream(early.as_str(), strings())
        .merge(&builder.stream(
            late.as_str(),
            strings().with_offset_reset(OffsetReset::Latest),
        ))
        .to(
            output.as_str(),
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let dir = tempfile::tempdir().unwrap();
    let app = unique("reset-app");
    let mut streams = KafkaStreams::new(
        builder.build().unwrap(),
        cluster.streams_config(&app, dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_processed >= 2),
        "early records not processed: {:?}",
        streams.error()
    );
    // The late partition's position is at its end once its lag reads 0.
    assert!(
        wait_until(TIMEOUT, || streams
            .metrics()
            .consumer_lag
            .get(&(late.clone(), 0))
            == Some(&0)),
        "late partition lag: {:?}",
        streams.metrics().consumer_lag
    );
    produce(&cluster.bootstrap(), &late, &[("b", "b-new")], 2_000);
    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    assert!(reader.read_at_least(3, TIMEOUT), "{:?}", reader.records);
    let values: Vec<String> = reader.records.iter().map(|r| r.value_str()).collect();
    assert_eq!(values, vec!["a1", "a2", "b-new"]);
    streams.close().unwrap();
}

/// The group's committed offsets of `topic`, per partition (-1 when none).
fn committed_offsets(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// Kafka Streams commits the consumer position past records skipped on arrival
/// (KAFKA-6502): a partition holding only dead-lettered records, and one ending in them, are
/// both committed to their end.
#[test]
fn partitions_ending_in_dead_lettered_records_are_committed_to_their_end() {
    let cluster = Cluster::mock();
    let bootstrap = cluster.bootstrap();
    let input = unique("skip-in");
    let output = unique("skip-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    // Keys placed on partition 0 and partition 1 by the Java partitioner.
    let key_on = |p: i32| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| streams_core::partitioner::default_partition(k.as_bytes(), 2) == p)
            .unwrap()
    };
    let (k0, k1) = (key_on(0).into_bytes(), key_on(1).into_bytes());
    let long = |v: i64| v.to_be_bytes().to_vec();
    let records: Vec<(Vec<u8>, Vec<u8>)> = vec![
        // Partition 0: nothing but malformed values.
        (k0.clone(), b"bad".to_vec()),
        (k0.clone(), b"worse".to_vec()),
        // Partition 1: good records, then malformed ones at the end.
        (k1.clone(), long(1)),
        (k1.clone(), long(2)),
        (k1.clone(), b"bad".to_vec()),
        (k1.clone(), vec![1, 2, 3]),
    ];
    support::produce_bytes(&bootstrap, &input, &records, 1_000);

    let dir = tempfile::tempdir().unwrap();
    let app = unique("skip-app");
    let config = cluster
        .streams_config(&app, dir.path())
        .set("default.deserialization.exception.handler", "dead-letter");
    let mut streams =
        KafkaStreams::new(support::long_values_topology(&input, &output), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let mut committed = Vec::new();
    let done = wait_until(TIMEOUT, || {
        committed = committed_offsets(&bootstrap, &app, &input, 2);
        committed == [2, 4]
    });
    assert!(done, "committed offsets {committed:?}, expected [2, 4]");
    assert!(
        wait_until(TIMEOUT, || {
            let m = streams.metrics();
            m.records_dead_lettered == 4 && m.records_processed == 2
        }),
        "{:?}",
        streams.metrics()
    );
    streams.close().unwrap();
}

/// A broker outage shorter than the session timeout is ridden out: commits that fail while
/// the broker is down are retried, the instance stays out of the error state, and records
/// produced once the broker is back are processed.
#[test]
fn a_broker_outage_is_ridden_out() {
    let cluster = Cluster::mock();
    let input = unique("outage-in");
    let output = unique("outage-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    produce(&cluster.bootstrap(), &input, &[("a", "before")], 1_000);
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        upper_topology(&input, &output),
        cluster.streams_config(&unique("outage-app"), dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    assert!(reader.read_at_least(1, TIMEOUT), "{:?}", streams.error());

    let Cluster::Mock(mock) = &cluster else {
        unreachable!("a mock cluster")
    };
    mock.broker_down(1).unwrap();
    // The outage lasts several commit intervals (200 ms) and poll timeouts, but stays under
    // the 6 s session timeout, so the group keeps its members.
    std::thread::sleep(Duration::from_secs(3));
    assert_ne!(streams.state(), State::Error, "{:?}", streams.error());
    mock.broker_up(1).unwrap();

    produce(
        &cluster.bootstrap(),
        &input,
        &[("b", "after"), ("c", "later")],
        2_000,
    );
    assert!(
        reader.read_at_least(3, TIMEOUT),
        "outputs after the outage: {:?}; error {:?}",
        reader.records,
        streams.error()
    );
    let values: BTreeSet<String> = reader.records.iter().map(|r| r.value_str()).collect();
    assert_eq!(
        values,
        BTreeSet::from(["BEFORE".to_owned(), "AFTER".to_owned(), "LATER".to_owned()])
    );
    assert_eq!(streams.state(), State::Running);
    streams.close().unwrap();
}

/// Interactive queries: a running instance answers reads of its stores, task by task, from
/// the stream threads that own them.
#[test]
fn a_running_instance_answers_queries_of_its_stores() {
    use streams_dsl::prelude::*;

    let cluster = Cluster::mock();
    let input = unique("iq-in");
    let output = unique("iq-out");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let records: Vec<(String, String)> = (0..30)
        .map(|i| (format!("user-{}", i % 6), format!("click-{i}")))
        .collect();
    produce(&cluster.bootstrap(), &input, &records, 1_000);

    let builder = StreamsBuilder::new();
    builder
        .stream(
            input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .group_by_key()
        .count_with(Materialized::as_("clicks"))
        .to_stream()
        .to(
            output.as_str(),
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        builder.build().unwrap(),
        cluster.streams_config(&unique("iq-app"), dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_processed >= 30),
        "{:?}",
        streams.error()
    );

    let counts = streams
        .query::<TimestampedKeyValueStore<String, i64>, _, _>(
            "clicks",
            |store| {
                store
                    .all()?
                    .map(|entry| entry.map(|(k, v)| (k, v.value)))
                    .collect::<Result<Vec<_>>>()
            },
            TIMEOUT,
        )
        .unwrap();
    assert_eq!(counts.len(), 2, "one answer per task: {counts:?}");
    let all: BTreeMap<String, i64> = counts.into_iter().flat_map(|(_, kv)| kv).collect();
    let want: BTreeMap<String, i64> = (0..6).map(|u| (format!("user-{u}"), 5)).collect();
    assert_eq!(all, want);

    let one = streams
        .query::<TimestampedKeyValueStore<String, i64>, _, _>(
            "clicks",
            |store| Ok(store.get(&"user-3".to_owned())?.map(|v| v.value)),
            TIMEOUT,
        )
        .unwrap();
    let found: Vec<i64> = one.into_iter().filter_map(|(_, v)| v).collect();
    assert_eq!(found, vec![5], "the key lives in exactly one task");

    let wrong_type = streams.query::<TimestampedKeyValueStore<String, String>, _, _>(
        "clicks",
        |_| Ok(()),
        TIMEOUT,
    );
    assert!(
        wrong_type
            .as_ref()
            .is_err_and(|e| e.to_string().contains("clicks")),
        "{wrong_type:?}"
    );
    streams.close().unwrap();
    assert!(
        streams
            .query::<TimestampedKeyValueStore<String, i64>, _, _>("clicks", |_| Ok(()), TIMEOUT)
            .is_err(),
        "a closed instance answers no queries"
    );
}

#[test]
fn max_task_idle_waits_for_an_empty_partition_then_processes_without_it() {
    let cluster = Cluster::mock();
    let (a, b, output) = (unique("idle-a"), unique("idle-b"), unique("idle-out"));
    for t in [&a, &b, &output] {
        cluster.create_topic(t, 1);
    }
    let bootstrap = cluster.bootstrap();
    // One source over both topics: one task reading two partitions.
    let mut topology = streams_core::Topology::new();
    topology
        .add_source(
            "in",
            &[a.as_str(), b.as_str()],
            streams_core::Consumed::with(Serdes::string(), Serdes::string()),
        )
        .unwrap()
        .add_sink(
            "out",
            &output,
            streams_core::Produced::with(Serdes::string(), Serdes::string()),
            &["in"],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = cluster
        .streams_config(&unique("idle-app"), dir.path())
        .set("max.task.idle.ms", "4000");
    let mut streams = KafkaStreams::new(topology, config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(streams.wait_for_state(State::Running, TIMEOUT));

    // A record on `a`, none on `b`: once both partitions are known to be caught up, the
    // task still holds the record back, waiting for `b`.
    produce(&bootstrap, &a, &[("k", "late-on-a")], 2_000);
    let caught_up = |s: &KafkaStreams| {
        let lag = s.metrics().consumer_lag;
        lag.get(&(a.clone(), 0)) == Some(&0) && lag.get(&(b.clone(), 0)) == Some(&0)
    };
    assert!(wait_until(TIMEOUT, || caught_up(&streams)));
    let mut reader = Reader::new(&bootstrap, &output, false);
    reader.poll(Duration::from_millis(500));
    assert!(
        reader.records.is_empty(),
        "processed without waiting: {:?}",
        reader.records
    );
    // An earlier record on `b` arrives within the wait: it goes first.
    produce(&bootstrap, &b, &[("k", "early-on-b")], 1_000);
    assert!(reader.read_at_least(2, TIMEOUT), "{:?}", reader.records);
    let values: Vec<String> = reader.records.iter().map(|r| r.value_str()).collect();
    assert_eq!(values, ["early-on-b", "late-on-a"]);

    // `b` stays empty: after the idle time the task processes `a` without it.
    produce(&bootstrap, &a, &[("k", "alone-on-a")], 3_000);
    assert!(reader.read_at_least(3, TIMEOUT), "{:?}", reader.records);
    assert_eq!(reader.records[2].value_str(), "alone-on-a");
    streams.close().unwrap();
}

/// Panics on the value `boom`.
struct PanicsOnBoom;

impl streams_core::processor::Processor<String, String, String, String> for PanicsOnBoom {
    fn process(
        &mut self,
        r: streams_core::Record<String, String>,
        ctx: &mut streams_core::processor::ProcessorContext<'_, String, String>,
    ) -> streams_core::Result<()> {
        assert_ne!(r.value, "boom", "the processor met a boom");
        ctx.forward(r)
    }
}

#[test]
fn a_panicking_processor_fails_the_instance_while_it_runs() {
    let cluster = Cluster::mock();
    let (input, output) = (unique("panic-in"), unique("panic-out"));
    cluster.create_topic(&input, 1);
    cluster.create_topic(&output, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        support::string_processor_topology(&input, &output, "panics", || PanicsOnBoom),
        cluster.streams_config(&unique("panic-app"), dir.path()),
    )
    .unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "{:?}",
        streams.error()
    );
    produce(&cluster.bootstrap(), &input, &[("k", "boom")], 1_000);
    // Without the instance being closed: the failure shows while it runs.
    assert!(
        streams.wait_for_state(State::Error, TIMEOUT),
        "{:?}",
        streams.state()
    );
    let error = streams.error().unwrap();
    assert!(
        error.contains("panicked") && error.contains("the processor met a boom"),
        "{error}"
    );
    assert!(streams.close().is_err());
}
