//! The foreign-key table joins (`KTable::join_on_foreign_key`,
//! `KTable::left_join_on_foreign_key`): each rule of Kafka Streams 4.x, checked against what
//! Java Kafka Streams 4.4 produces for the same scripts, in the test driver's single- and
//! multi-partition modes and in the runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{Cluster, Reader, latest, partition_count, produce, unique, wait_until};

use streams_core::partitioner::default_partition;
use streams_dsl::prelude::*;
use streams_dsl::state::ReadOnlyKeyValueStore;

type Fk = Option<String>;

/// The foreign key of a left value `"<fk>:<rest>"`; none (Kafka's null) for a value
/// starting with `-`.
// The join's closures take the tables' value types.
#[allow(clippy::ptr_arg)]
fn fk_of(v: &String) -> Fk {
    (!v.starts_with('-')).then(|| v.split(':').next().unwrap_or_default().to_owned())
}

// The join's closures take the tables' value types.
#[allow(clippy::ptr_arg)]
fn inner(l: &String, r: &String) -> String {
    format!("{l}/{r}")
}

// The join's closures take the tables' value types.
#[allow(clippy::ptr_arg)]
fn left(l: &String, r: Option<&String>) -> String {
    format!("{l}/{}", r.map_or("<none>", String::as_str))
}

/// `left`: order id -> "<customer>:<item>"; `right`: customer id (nullable key, so that
/// the extractor's `None` is Kafka's null) -> name.
fn tables(b: &StreamsBuilder) -> (KTable<String, String>, KTable<Fk, String>) {
    (
        b.table("left", Consumed::with(Serdes::string(), Serdes::string())),
        b.table(
            "right",
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        ),
    )
}

fn to_out(t: &KTable<String, String>) {
    t.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
}

fn topology(left_join: bool) -> Topology {
    let b = StreamsBuilder::new();
    let (l, r) = tables(&b);
    let joined = if left_join {
        l.left_join_on_foreign_key(&r, fk_of, left)
    } else {
        l.join_on_foreign_key(&r, fk_of, inner)
    };
    to_out(&joined);
    b.build().unwrap()
}

/// One piped record: side, key, value (`None` deletes), timestamp, and the records Java
/// Kafka Streams 4.4 emits for it: (key, value, timestamp).
type Step = (
    char,
    &'static str,
    Option<&'static str>,
    i64,
    &'static [(&'static str, Option<&'static str>, i64)],
);

/// The script both joins are checked on; the expected output is the inner join's, then
/// the left join's, as Java printed them.
fn script(left_join: bool) -> Vec<Step> {
    type Out = &'static [(&'static str, Option<&'static str>, i64)];
    let pick = |inner: Out, left: Out| if left_join { left } else { inner };
    vec![
        // A new row whose foreign key has no match: nothing (inner), joined with nothing (left).
        (
            'L',
            "o1",
            Some("c1:book"),
            10,
            pick(&[], &[("o1", Some("c1:book/<none>"), 10)]),
        ),
        // The right row arrives: the later timestamp.
        (
            'R',
            "c1",
            Some("Ann"),
            20,
            &[("o1", Some("c1:book/Ann"), 20)],
        ),
        // Same foreign key, new left value.
        (
            'L',
            "o1",
            Some("c1:pen"),
            30,
            &[("o1", Some("c1:pen/Ann"), 30)],
        ),
        // The foreign key changes to one without a match: the old result is retracted.
        (
            'L',
            "o1",
            Some("c2:pen"),
            40,
            pick(&[("o1", None, 40)], &[("o1", Some("c2:pen/<none>"), 40)]),
        ),
        // The old foreign key was unsubscribed.
        ('R', "c1", Some("Bob"), 50, &[]),
        ('R', "c2", Some("Cy"), 60, &[("o1", Some("c2:pen/Cy"), 60)]),
        // An earlier left timestamp: the right row's is later.
        (
            'L',
            "o1",
            Some("c2:ink"),
            25,
            &[("o1", Some("c2:ink/Cy"), 60)],
        ),
        // The foreign key turns null: a delete (inner), joined with nothing (left).
        (
            'L',
            "o1",
            Some("-none"),
            70,
            pick(&[("o1", None, 70)], &[("o1", Some("-none/<none>"), 70)]),
        ),
        // A new row with a null foreign key: dropped (inner).
        (
            'L',
            "o2",
            Some("-x"),
            80,
            pick(&[], &[("o2", Some("-x/<none>"), 80)]),
        ),
        ('L', "o2", None, 90, pick(&[], &[("o2", None, 90)])),
        (
            'L',
            "o3",
            Some("c2:cup"),
            100,
            &[("o3", Some("c2:cup/Cy"), 100)],
        ),
        // Deleting the right row: its subscribers only (o1 moved away from c2).
        (
            'R',
            "c2",
            None,
            110,
            pick(&[("o3", None, 110)], &[("o3", Some("c2:cup/<none>"), 110)]),
        ),
        ('L', "o3", None, 120, &[("o3", None, 120)]),
        // Deleting a left row emits a delete even when it never joined.
        (
            'L',
            "o4",
            Some("c3:x"),
            130,
            pick(&[], &[("o4", Some("c3:x/<none>"), 130)]),
        ),
        ('L', "o4", None, 140, &[("o4", None, 140)]),
        // A right value of no bytes reaches the join as no value.
        ('R', "c4", Some(""), 150, &[]),
        (
            'L',
            "o5",
            Some("c4:y"),
            160,
            pick(&[("o5", None, 160)], &[("o5", Some("c4:y/<none>"), 160)]),
        ),
        // Deleting a row the table never had: nothing.
        ('L', "o6", None, 170, &[]),
    ]
}

fn run_script(left_join: bool, partitions: i32) {
    let driver = TopologyTestDriver::with_options(
        topology(left_join),
        StreamsConfig::new().set("application.id", "fk"),
        DriverOptions::new().partitions(partitions),
    )
    .unwrap();
    let l = driver.create_input_topic("left", Serdes::string(), Serdes::option(Serdes::string()));
    let r = driver.create_input_topic(
        "right",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    for (n, (side, key, value, ts, expected)) in script(left_join).into_iter().enumerate() {
        let owned = value.map(str::to_owned);
        match side {
            'L' => l.pipe_input_at(key.to_owned(), owned, ts).unwrap(),
            _ => r.pipe_input_at(Some(key.to_owned()), owned, ts).unwrap(),
        }
        let got: Vec<(String, Option<String>, i64)> = out
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        let want: Vec<(String, Option<String>, i64)> = expected
            .iter()
            .map(|(k, v, t)| ((*k).to_owned(), v.map(str::to_owned), *t))
            .collect();
        assert_eq!(
            got,
            want,
            "step {} ({side} {key}={value:?} @{ts}), {partitions} partition(s)",
            n + 1
        );
    }
    // Java counts the inner join's two updates with a null foreign key as dropped.
    let dropped: u64 = driver
        .task_ids()
        .into_iter()
        .map(|id| driver.task_metrics(id).unwrap().dropped)
        .sum();
    assert_eq!(dropped, if left_join { 0 } else { 2 });
}

#[test]
fn inner_join_follows_kafka_streams() {
    run_script(false, 1);
}

#[test]
fn left_join_follows_kafka_streams() {
    run_script(true, 1);
}

#[test]
fn inner_join_is_the_same_over_several_partitions() {
    run_script(false, 4);
}

#[test]
fn left_join_is_the_same_over_several_partitions() {
    run_script(true, 4);
}

/// Emits `k=v` parts of the value as records, the last part first in time: the earlier
/// part is processed first but its subscription is answered after the later part's update.
struct Explode;

impl Processor<String, String, String, String> for Explode {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> streams_core::Result<()> {
        let parts: Vec<&str> = record.value.split(',').collect();
        let n = parts.len() as i64;
        for (i, part) in parts.iter().enumerate() {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            ctx.forward(Record::new(
                k.to_owned(),
                v.to_owned(),
                record.timestamp + n - 1 - i as i64,
            ))?;
        }
        Ok(())
    }
}

fn stale_topology() -> Topology {
    let b = StreamsBuilder::new();
    let right = b.table(
        "right",
        Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
    );
    let left = b
        .stream("src", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| Explode, &[])
        .to_table_with(Materialized::with(Serdes::string(), Serdes::string()));
    to_out(&left.join_on_foreign_key(&right, fk_of, inner));
    b.build().unwrap()
}

/// A response to a subscription whose left row has changed since is dropped: its hash is
/// not the hash of the row's current value. Java prints only the second update's result
/// and counts the first response as dropped, also when the foreign key did not change.
#[test]
fn stale_responses_are_dropped() {
    for partitions in [1, 3] {
        let driver = TopologyTestDriver::with_options(
            stale_topology(),
            StreamsConfig::new().set("application.id", "stale"),
            DriverOptions::new().partitions(partitions),
        )
        .unwrap();
        let src = driver.create_input_topic("src", Serdes::string(), Serdes::string());
        let right =
            driver.create_input_topic("right", Serdes::option(Serdes::string()), Serdes::string());
        let out =
            driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
        right
            .pipe_input_at(Some("c1".into()), "A".into(), 0)
            .unwrap();
        right
            .pipe_input_at(Some("c2".into()), "B".into(), 0)
            .unwrap();
        let dropped = |d: &TopologyTestDriver| -> u64 {
            d.task_ids()
                .into_iter()
                .map(|id| d.task_metrics(id).unwrap().dropped)
                .sum()
        };
        src.pipe_input_at("x".into(), "o1=c1:1,o1=c2:2".into(), 100)
            .unwrap();
        let got: Vec<_> = out
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        assert_eq!(
            got,
            vec![("o1".to_owned(), Some("c2:2/B".to_owned()), 100)],
            "{partitions} partition(s)"
        );
        assert_eq!(dropped(&driver), 1);
        src.pipe_input_at("x".into(), "o2=c1:1,o2=c1:2".into(), 200)
            .unwrap();
        let got: Vec<_> = out
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        assert_eq!(
            got,
            vec![("o2".to_owned(), Some("c1:2/A".to_owned()), 200)],
            "{partitions} partition(s)"
        );
        assert_eq!(dropped(&driver), 2);
    }
}

/// Responses go back to the partition the left row came from, and subscriptions live in
/// the right side's task of the foreign key's partition.
#[test]
fn subscriptions_and_responses_follow_the_keys_partitions() {
    const PARTITIONS: i32 = 4;
    let b = StreamsBuilder::new();
    let (l, r) = tables(&b);
    to_out(&l.join_on_foreign_key_with(
        &r,
        fk_of,
        inner,
        TableJoined::default(),
        Materialized::as_("result").with_value_serde(Serdes::string()),
    ));
    let driver = TopologyTestDriver::with_options(
        b.build().unwrap(),
        StreamsConfig::new().set("application.id", "parts"),
        DriverOptions::new().partitions(PARTITIONS),
    )
    .unwrap();
    let left_in = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let right_in =
        driver.create_input_topic("right", Serdes::option(Serdes::string()), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    let customers: Vec<String> = (0..6).map(|c| format!("c{c}")).collect();
    for c in &customers {
        right_in
            .pipe_input_at(Some(c.clone()), format!("name-{c}"), 1)
            .unwrap();
    }
    let mut expected = BTreeMap::new();
    for o in 0..24 {
        let (order, c) = (format!("o{o}"), &customers[o % customers.len()]);
        left_in
            .pipe_input_at(order.clone(), format!("{c}:item{o}"), 10)
            .unwrap();
        expected.insert(order, format!("{c}:item{o}/name-{c}"));
    }
    let got: BTreeMap<String, String> = out
        .read_key_values_to_list()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap()))
        .collect();
    assert_eq!(got, expected);
    let partition = |bytes: &[u8]| default_partition(bytes, PARTITIONS);
    for (order, value) in &expected {
        let home = partition(order.as_bytes());
        for p in 0..PARTITIONS {
            let store = driver
                .state_store_of::<TimestampedKeyValueStore<String, String>>(
                    TaskId::new(0, p),
                    "result",
                )
                .unwrap();
            let found = store.borrow().get(order).unwrap().map(|v| v.value);
            assert_eq!(
                found.as_ref(),
                (p == home).then_some(value),
                "{order} in partition {p}"
            );
        }
    }
    // Each right update is processed by the task of its key's partition, which must hold
    // the subscriptions to it: every order re-joins.
    for c in &customers {
        right_in
            .pipe_input_at(Some(c.clone()), format!("new-{c}"), 20)
            .unwrap();
    }
    let got: BTreeMap<String, (String, i64)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, (r.value.unwrap(), r.timestamp)))
        .collect();
    let renamed: BTreeMap<String, (String, i64)> = expected
        .iter()
        .map(|(k, v)| (k.clone(), (v.replace("/name-", "/new-"), 20)))
        .collect();
    assert_eq!(got, renamed);
    let topics = driver.produced_topic_names();
    for t in [
        "parts-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
        "parts-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
        "parts-result-changelog",
        "parts-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog",
    ] {
        assert!(topics.iter().any(|x| x == t), "{t} not in {topics:?}");
    }
}

const NAMED_DESCRIBE: &str = r#"Topologies:
   Sub-topology: 0
    Source: fkj-subscription-response-source (topics: [fkj-subscription-response-topic])
      --> fkj-subscription-response-resolver
    Source: KSTREAM-SOURCE-0000000001 (topics: [input])
      --> KTABLE-SOURCE-0000000002
    Processor: fkj-subscription-response-resolver (stores: [input-STATE-STORE-0000000000])
      --> fkj-result
      <-- fkj-subscription-response-source
    Processor: KTABLE-SOURCE-0000000002 (stores: [input-STATE-STORE-0000000000])
      --> fkj-subscription-registration-processor
      <-- KSTREAM-SOURCE-0000000001
    Processor: fkj-result (stores: [])
      --> KTABLE-TOSTREAM-0000000020
      <-- fkj-subscription-response-resolver
    Processor: KTABLE-TOSTREAM-0000000020 (stores: [])
      --> KSTREAM-SINK-0000000021
      <-- fkj-result
    Processor: fkj-subscription-registration-processor (stores: [])
      --> fkj-subscription-registration-sink
      <-- KTABLE-SOURCE-0000000002
    Sink: KSTREAM-SINK-0000000021 (topic: output)
      <-- KTABLE-TOSTREAM-0000000020
    Sink: fkj-subscription-registration-sink (topic: fkj-subscription-registration-topic)
      <-- fkj-subscription-registration-processor

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000004 (topics: [input2])
      --> KTABLE-SOURCE-0000000005
    Source: fkj-subscription-registration-source (topics: [fkj-subscription-registration-topic])
      --> fkj-subscription-receive
    Processor: KTABLE-SOURCE-0000000005 (stores: [input2-STATE-STORE-0000000003])
      --> fkj-foreign-join-subscription
      <-- KSTREAM-SOURCE-0000000004
    Processor: fkj-subscription-receive (stores: [fkj-subscription-store])
      --> fkj-subscription-join-foreign
      <-- fkj-subscription-registration-source
    Processor: fkj-foreign-join-subscription (stores: [fkj-subscription-store])
      --> fkj-subscription-response-sink
      <-- KTABLE-SOURCE-0000000005
    Processor: fkj-subscription-join-foreign (stores: [input2-STATE-STORE-0000000003])
      --> fkj-subscription-response-sink
      <-- fkj-subscription-receive
    Sink: fkj-subscription-response-sink (topic: fkj-subscription-response-topic)
      <-- fkj-subscription-join-foreign, fkj-foreign-join-subscription
"#;
const MATERIALIZED_FOR_A_JOIN: &str = r#"Topologies:
   Sub-topology: 0
    Source: KTABLE-SOURCE-0000000019 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000017-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000020
    Source: KSTREAM-SOURCE-0000000007 (topics: [third])
      --> KTABLE-SOURCE-0000000008
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000020 (stores: [left-STATE-STORE-0000000000])
      --> KTABLE-FK-JOIN-OUTPUT-0000000021
      <-- KTABLE-SOURCE-0000000019
    Processor: KTABLE-FK-JOIN-OUTPUT-0000000021 (stores: [KTABLE-FK-JOIN-OUTPUT-STATE-STORE-0000000022])
      --> KTABLE-JOINTHIS-0000000024
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000020
    Processor: KTABLE-SOURCE-0000000008 (stores: [third-STATE-STORE-0000000006])
      --> KTABLE-JOINOTHER-0000000025
      <-- KSTREAM-SOURCE-0000000007
    Source: KSTREAM-SOURCE-0000000001 (topics: [left])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-JOINOTHER-0000000025 (stores: [KTABLE-FK-JOIN-OUTPUT-STATE-STORE-0000000022])
      --> KTABLE-MERGE-0000000023
      <-- KTABLE-SOURCE-0000000008
    Processor: KTABLE-JOINTHIS-0000000024 (stores: [third-STATE-STORE-0000000006])
      --> KTABLE-MERGE-0000000023
      <-- KTABLE-FK-JOIN-OUTPUT-0000000021
    Processor: KTABLE-MERGE-0000000023 (stores: [])
      --> KTABLE-TOSTREAM-0000000026
      <-- KTABLE-JOINTHIS-0000000024, KTABLE-JOINOTHER-0000000025
    Processor: KTABLE-SOURCE-0000000002 (stores: [left-STATE-STORE-0000000000])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000010
      <-- KSTREAM-SOURCE-0000000001
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000010 (stores: [])
      --> KTABLE-SINK-0000000011
      <-- KTABLE-SOURCE-0000000002
    Processor: KTABLE-TOSTREAM-0000000026 (stores: [])
      --> KSTREAM-SINK-0000000027
      <-- KTABLE-MERGE-0000000023
    Sink: KSTREAM-SINK-0000000027 (topic: out)
      <-- KTABLE-TOSTREAM-0000000026
    Sink: KTABLE-SINK-0000000011 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000009-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000010

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000004 (topics: [right])
      --> KTABLE-SOURCE-0000000005
    Source: KTABLE-SOURCE-0000000012 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000009-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000014
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000014 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000013])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000015
      <-- KTABLE-SOURCE-0000000012
    Processor: KTABLE-SOURCE-0000000005 (stores: [right-STATE-STORE-0000000003])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000016
      <-- KSTREAM-SOURCE-0000000004
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000015 (stores: [right-STATE-STORE-0000000003])
      --> KTABLE-SINK-0000000018
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000014
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000016 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000013])
      --> KTABLE-SINK-0000000018
      <-- KTABLE-SOURCE-0000000005
    Sink: KTABLE-SINK-0000000018 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000017-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000015, KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000016
"#;

/// With a name, every node, store and topic is named after it, as Kafka Streams names them
/// (Java's `describe()` of the same topology).
#[test]
fn a_named_join_describes_as_kafka_streams() {
    let b = StreamsBuilder::new();
    let l = b.table("input", Consumed::with(Serdes::string(), Serdes::string()));
    let r = b.table("input2", Consumed::with(Serdes::string(), Serdes::string()));
    l.join_on_foreign_key_with(
        &r,
        |v: &String| v.clone(),
        inner,
        TableJoined::as_("fkj"),
        Materialized::default(),
    )
    .to_stream()
    .to(
        "output",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    let t = b.build().unwrap();
    assert_eq!(
        t.describe().to_string().trim_end(),
        NAMED_DESCRIBE.trim_end()
    );
}

/// An unnamed result gets its store (`KTABLE-FK-JOIN-OUTPUT-STATE-STORE-<n>`) only when an
/// operator downstream needs its values, here a table-table join.
#[test]
fn the_result_is_materialized_when_a_join_needs_it() {
    let b = StreamsBuilder::new();
    let l = b.table("left", Consumed::with(Serdes::string(), Serdes::string()));
    let r = b.table("right", Consumed::with(Serdes::string(), Serdes::string()));
    let third = b.table("third", Consumed::with(Serdes::string(), Serdes::string()));
    let fk = l.join_on_foreign_key_with(
        &r,
        |v: &String| v.split(':').next().unwrap_or_default().to_owned(),
        inner,
        TableJoined::default(),
        Materialized::with(Serdes::string(), Serdes::string()),
    );
    to_out(&fk.join(&third, |x: &String, y: &String| format!("{x}+{y}")));
    let t = b.build().unwrap();
    assert_eq!(
        t.describe().to_string().trim_end(),
        MATERIALIZED_FOR_A_JOIN.trim_end()
    );
    let driver =
        TopologyTestDriver::new(t, StreamsConfig::new().set("application.id", "fk")).unwrap();
    let pipe = |topic: &str, k: &str, v: &str, ts: i64| {
        driver
            .create_input_topic(topic, Serdes::string(), Serdes::string())
            .pipe_input_at(k.to_owned(), v.to_owned(), ts)
            .unwrap();
    };
    pipe("third", "o1", "T", 1);
    pipe("right", "c1", "Ann", 2);
    pipe("left", "o1", "c1:x", 3);
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![("o1".to_owned(), Some("c1:x/Ann+T".to_owned()))]
    );
}

/// The join hashes serialized left values and writes both sides' keys and the right
/// values to its topics: a table without serdes fails the build, unless `TableJoined`
/// gives them.
#[test]
fn missing_serdes_fail_the_build_and_table_joined_supplies_them() {
    let build = |with_serde: bool| {
        let b = StreamsBuilder::new();
        let (l, r) = tables(&b);
        let mapped = l.map_values(|_, v| v.to_uppercase());
        let joined = if with_serde {
            TableJoined::default().with_value_serde(Serdes::string())
        } else {
            TableJoined::default()
        };
        to_out(&mapped.join_on_foreign_key_with(
            &r,
            |v: &String| {
                Some(
                    v.to_lowercase()
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                )
            },
            inner,
            joined,
            Materialized::default(),
        ));
        b.build()
    };
    let err = build(false).unwrap_err().to_string();
    assert!(err.contains("serdes"), "{err}");
    let driver = TopologyTestDriver::new(build(true).unwrap(), StreamsConfig::new()).unwrap();
    driver
        .create_input_topic("right", Serdes::option(Serdes::string()), Serdes::string())
        .pipe_input_at(Some("c1".into()), "Ann".into(), 1)
        .unwrap();
    driver
        .create_input_topic("left", Serdes::string(), Serdes::string())
        .pipe_input_at("o1".into(), "c1:x".into(), 2)
        .unwrap();
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![("o1".to_owned(), Some("C1:X/Ann".to_owned()))]
    );
}

const SELF_JOIN_DESCRIBE: &str = r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [emp])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [emp-STATE-STORE-0000000000])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010, KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004
      <-- KSTREAM-SOURCE-0000000001
    Source: KTABLE-SOURCE-0000000013 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000011-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000014
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000014 (stores: [emp-STATE-STORE-0000000000])
      --> KTABLE-FK-JOIN-OUTPUT-0000000015
      <-- KTABLE-SOURCE-0000000013
    Source: KTABLE-SOURCE-0000000006 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000003-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000008
    Processor: KTABLE-FK-JOIN-OUTPUT-0000000015 (stores: [])
      --> KTABLE-TOSTREAM-0000000017
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000014
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000008 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000007])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009
      <-- KTABLE-SOURCE-0000000006
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009 (stores: [emp-STATE-STORE-0000000000])
      --> KTABLE-SINK-0000000012
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000008
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000007])
      --> KTABLE-SINK-0000000012
      <-- KTABLE-SOURCE-0000000002
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004 (stores: [])
      --> KTABLE-SINK-0000000005
      <-- KTABLE-SOURCE-0000000002
    Processor: KTABLE-TOSTREAM-0000000017 (stores: [])
      --> KSTREAM-SINK-0000000018
      <-- KTABLE-FK-JOIN-OUTPUT-0000000015
    Sink: KSTREAM-SINK-0000000018 (topic: out)
      <-- KTABLE-TOSTREAM-0000000017
    Sink: KTABLE-SINK-0000000005 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000003-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004
    Sink: KTABLE-SINK-0000000012 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000011-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009, KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010
"#;

/// A table joined with itself (employee -> manager): one sub-topology; an update of a row
/// answers its subscribers before its own subscription is answered, as in Java.
#[test]
fn a_table_joins_itself() {
    let b = StreamsBuilder::new();
    // A nullable key type, so that "no manager" is Kafka's null foreign key.
    let emp = b.table(
        "emp",
        Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
    );
    let name = |v: &String| v.split(':').next().unwrap_or_default().to_owned();
    emp.join_on_foreign_key(
        &emp,
        |v: &String| v.split(':').nth(1).map(str::to_owned),
        move |e: &String, m: &String| format!("{} reports to {}", name(e), name(m)),
    )
    .to_stream()
    .to(
        "out",
        Produced::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::string()),
        ),
    );
    let t = b.build().unwrap();
    assert_eq!(
        t.describe().to_string().trim_end(),
        SELF_JOIN_DESCRIBE.trim_end()
    );
    let driver = TopologyTestDriver::new(t, StreamsConfig::new()).unwrap();
    let input =
        driver.create_input_topic("emp", Serdes::option(Serdes::string()), Serdes::string());
    for (k, v, ts) in [
        ("e1", "Ann", 1),
        ("e2", "Bob:e1", 2),
        ("e3", "Cy:e2", 3),
        ("e1", "Anna", 4),
        ("e2", "Bobby:e1", 5),
    ] {
        input
            .pipe_input_at(Some(k.to_owned()), v.to_owned(), ts)
            .unwrap();
    }
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    let got: Vec<(String, String, i64)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect();
    let want = [
        ("e2", "Bob reports to Ann", 2),
        ("e3", "Cy reports to Bob", 3),
        ("e2", "Bob reports to Anna", 4),
        ("e3", "Cy reports to Bobby", 5),
        ("e2", "Bobby reports to Anna", 5),
    ];
    let want: Vec<(String, String, i64)> = want
        .iter()
        .map(|(k, v, t)| ((*k).to_owned(), (*v).to_owned(), *t))
        .collect();
    assert_eq!(got, want);
}

/// In the runtime, the subscription topic takes the right table's partition count and the
/// response topic the left table's (Kafka Streams' co-partitioning), and the join gives
/// the same results.
#[test]
fn runs_in_the_runtime_with_kafka_streams_partition_counts() {
    const TIMEOUT: Duration = Duration::from_secs(60);
    let cluster = Cluster::mock();
    let bootstrap = cluster.bootstrap();
    let (left_topic, right_topic, out_topic) =
        (unique("fk-left"), unique("fk-right"), unique("fk-out"));
    cluster.create_topic(&left_topic, 3);
    cluster.create_topic(&right_topic, 2);
    cluster.create_topic(&out_topic, 1);
    let b = StreamsBuilder::new();
    let l = b.table(
        &left_topic,
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    let r = b.table(
        &right_topic,
        Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
    );
    l.left_join_on_foreign_key(&r, fk_of, left).to_stream().to(
        &out_topic,
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    let app = unique("fk-app");
    let dir = tempfile::tempdir().unwrap();
    let mut streams =
        KafkaStreams::new(b.build().unwrap(), cluster.streams_config(&app, dir.path())).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "not running: {:?}",
        streams.error()
    );
    assert_eq!(
        partition_count(
            &bootstrap,
            &format!("{app}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic")
        ),
        2
    );
    assert_eq!(
        partition_count(
            &bootstrap,
            &format!("{app}-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic")
        ),
        3
    );

    produce(&bootstrap, &right_topic, &[("c1", "Ann"), ("c2", "Bob")], 0);
    produce(
        &bootstrap,
        &left_topic,
        &[
            ("o1", "c1:a"),
            ("o2", "c2:b"),
            ("o3", "c3:c"),
            ("o4", "c1:d"),
            ("o5", "-none"),
        ],
        1_000,
    );
    let mut reader = Reader::new(&bootstrap, &out_topic, false);
    let want = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let first = want(&[
        ("o1", "c1:a/Ann"),
        ("o2", "c2:b/Bob"),
        ("o3", "c3:c/<none>"),
        ("o4", "c1:d/Ann"),
        ("o5", "-none/<none>"),
    ]);
    assert!(
        wait_until(TIMEOUT, || {
            reader.poll(Duration::from_millis(100));
            latest(&reader.records) == first
        }),
        "got {:?}",
        latest(&reader.records)
    );
    produce(&bootstrap, &right_topic, &[("c3", "Cy")], 2_000);
    produce(&bootstrap, &left_topic, &[("o1", "c2:z")], 3_000);
    let second = want(&[
        ("o1", "c2:z/Bob"),
        ("o2", "c2:b/Bob"),
        ("o3", "c3:c/Cy"),
        ("o4", "c1:d/Ann"),
        ("o5", "-none/<none>"),
    ]);
    assert!(
        wait_until(TIMEOUT, || {
            reader.poll(Duration::from_millis(100));
            latest(&reader.records) == second
        }),
        "got {:?}",
        latest(&reader.records)
    );
    streams.close().unwrap();
}
