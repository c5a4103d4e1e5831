//! Grouping and non-windowed aggregation: count, reduce, aggregate, group_by_key and
//! group_by with their repartition topics, null handling, timestamps and caching.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use streams_core::state::ReadOnlyKeyValueStore;
use streams_dsl::prelude::*;
use streams_state::TimestampedKeyValueStore;

type S = Option<String>;

fn s() -> SerdeRef<S> {
    Serdes::option(Serdes::string())
}

fn no_cache() -> StreamsConfig {
    StreamsConfig::new()
        .set("application.id", "agg")
        .set("statestore.cache.max.bytes", "0")
}

fn rec(k: Option<&str>, v: Option<&str>, ts: i64) -> TestRecord<S, S> {
    TestRecord::new(k.map(str::to_owned), v.map(str::to_owned), ts)
}

fn count_topology() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(s(), s()))
        .group_by_key()
        .count()
        .to_stream()
        .to("out", Produced::with(s(), Serdes::option(Serdes::i64())));
    b.build().unwrap()
}

#[test]
fn null_keys_and_values_are_dropped_and_counted() {
    let driver = TopologyTestDriver::new(count_topology(), no_cache()).unwrap();
    let input = driver.create_input_topic("in", s(), s());
    let out = driver.create_output_topic("out", s(), Serdes::option(Serdes::i64()));
    input.pipe_record(rec(Some("a"), Some("x"), 1)).unwrap();
    input.pipe_record(rec(None, Some("x"), 2)).unwrap();
    input.pipe_record(rec(Some("a"), None, 3)).unwrap();
    input.pipe_record(rec(Some("a"), Some("y"), 4)).unwrap();
    let got: Vec<_> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("a".to_owned()), Some(1), 1),
            (Some("a".to_owned()), Some(2), 4)
        ]
    );
    let metrics = driver.task_metrics(TaskId::new(0, 0)).unwrap();
    assert_eq!(metrics.dropped, 2);
}

#[test]
fn output_timestamp_is_the_largest_record_timestamp() {
    let driver = TopologyTestDriver::new(count_topology(), no_cache()).unwrap();
    let input = driver.create_input_topic("in", s(), s());
    let out = driver.create_output_topic("out", s(), Serdes::option(Serdes::i64()));
    for ts in [100, 50, 200, 10] {
        input.pipe_record(rec(Some("k"), Some("v"), ts)).unwrap();
    }
    let ts: Vec<i64> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(ts, vec![100, 100, 200, 200]);
}

/// Two updates of one key within one input record (a flat_map) are merged by the cache
/// until the commit that follows the record; without caching both come out.
#[test]
fn caching_merges_updates_of_a_key_until_commit() {
    for (caching, expected) in [(true, vec![Some(2)]), (false, vec![Some(1), Some(2)])] {
        let b = StreamsBuilder::new();
        let m = Materialized::with(Serdes::string(), Serdes::i64());
        let m = if caching {
            m.with_caching_enabled()
        } else {
            m.with_caching_disabled()
        };
        b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
            .flat_map_values(|v: String| vec![v.clone(), v])
            .group_by_key()
            .count_with(m)
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
            );
        let config = StreamsConfig::new().set("application.id", "cache");
        let driver = TopologyTestDriver::new(b.build().unwrap(), config).unwrap();
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
        let out =
            driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::i64()));
        input.pipe_input("k".to_owned(), "v".to_owned()).unwrap();
        assert_eq!(
            out.read_values_to_list().unwrap(),
            expected,
            "caching {caching}"
        );
    }
}

#[test]
fn reduce_uses_the_first_value_as_it_is() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .reduce(|agg, v| format!("{agg}+{v}"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), no_cache()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    for v in ["a", "b", "c"] {
        input.pipe_input("k".to_owned(), v.to_owned()).unwrap();
    }
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec![
            Some("a".to_owned()),
            Some("a+b".to_owned()),
            Some("a+b+c".to_owned())
        ]
    );
}

#[test]
fn group_by_key_repartitions_only_after_a_key_change() {
    let b = StreamsBuilder::new();
    let src = b.stream("in", Consumed::with(Serdes::string(), Serdes::string()));
    src.group_by_key().count();
    let text = {
        let t = b.build().unwrap();
        t.describe().to_string()
    };
    assert!(!text.contains("repartition"), "{text}");

    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::string()).with_name("by-value"))
        .count();
    let text = b.build().unwrap().describe().to_string();
    assert!(
        text.contains("Sink: by-value-repartition-sink (topic: by-value-repartition)"),
        "{text}"
    );
    assert!(text.contains("Source: by-value-repartition-source (topics: [by-value-repartition])"));
}

#[test]
fn group_by_needs_the_new_key_serde() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by(|_, v| v.len() as i64)
        .count();
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("repartition"), "{err}");
}

/// With four partitions, the repartition topic puts all records of a new key in one task,
/// so each key's count is complete there; records are placed by murmur2 of the new key.
#[test]
fn group_by_routes_each_new_key_to_one_partition() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_with(
            |_, v: &String| v.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::with_options(
        b.build().unwrap(),
        no_cache(),
        DriverOptions::new().partitions(4).output_log(true),
    )
    .unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let values = ["red", "green", "blue", "red", "blue", "red"];
    for (i, v) in values.iter().enumerate() {
        input
            .pipe_input(format!("user-{i}"), (*v).to_owned())
            .unwrap();
    }
    let log = driver.take_output_log();
    let topic = "agg-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition";
    for r in log.iter().filter(|r| r.topic == topic) {
        let key = r.key.as_deref().unwrap();
        assert_eq!(
            r.partition,
            streams_core_partition(key, 4),
            "{}",
            String::from_utf8_lossy(key)
        );
    }
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::i64()));
    let mut last = std::collections::BTreeMap::new();
    for (k, v) in out.read_key_values_to_list().unwrap() {
        last.insert(k, v);
    }
    assert_eq!(last["red"], Some(3));
    assert_eq!(last["blue"], Some(2));
    assert_eq!(last["green"], Some(1));
}

fn streams_core_partition(key: &[u8], n: i32) -> i32 {
    streams_core::partitioner::default_partition(key, n)
}

#[test]
fn aggregate_sums_per_key_with_its_own_serde() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .aggregate(|| 0i64, |_k, v, sum| sum + v, Serdes::i64())
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), no_cache()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::i64()));
    for (k, v) in [("a", 10), ("b", 1), ("a", -3)] {
        input.pipe_input(k.to_owned(), v).unwrap();
    }
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![
            ("a".to_owned(), Some(10)),
            ("b".to_owned(), Some(1)),
            ("a".to_owned(), Some(7))
        ]
    );
    let store = driver
        .state_store::<TimestampedKeyValueStore<String, i64>>(
            "KSTREAM-AGGREGATE-STATE-STORE-0000000001",
        )
        .unwrap();
    let stored = store.borrow().get(&"a".to_owned()).unwrap();
    assert_eq!(stored.map(|v| (v.value, v.timestamp)), Some((7, 0)));
}
