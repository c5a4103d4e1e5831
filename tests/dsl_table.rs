//! Tables and their joins: KTable source, filter and map_values, KStream-KTable and
//! KTable-KTable joins, and the enrichment pattern in multi-partition mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use streams_dsl::prelude::*;

type S = Option<String>;

fn s(v: &str) -> S {
    Some(v.to_string())
}

fn str_topic_in(driver: &TopologyTestDriver, name: &str) -> TestInputTopic<String, S> {
    driver.create_input_topic(name, Serdes::string(), Serdes::option(Serdes::string()))
}

#[test]
fn table_source_deletes_on_null_and_drops_null_keys() -> Result<()> {
    let b = StreamsBuilder::new();
    b.table("t", Consumed::with(Serdes::string(), Serdes::string()))
        .to_stream()
        .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic(
        "t",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    input.pipe_record(TestRecord::new(s("a"), s("1"), 1))?;
    input.pipe_record(TestRecord::new(None, s("lost"), 2))?;
    input.pipe_record(TestRecord::new(s("a"), None, 3))?;
    assert_eq!(
        out.read_key_values_to_list()?,
        vec![("a".into(), s("1")), ("a".into(), None)]
    );
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(1),
        "the null key is counted"
    );
    Ok(())
}

#[test]
fn a_named_table_is_queryable_in_the_driver() -> Result<()> {
    use streams_dsl::state::{ReadOnlyKeyValueStore, TimestampedKeyValueStore};
    let b = StreamsBuilder::new();
    b.table_with(
        "t",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("customers-store"),
    );
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = str_topic_in(&driver, "t");
    input.pipe_input_at("c1".into(), s("Ann"), 5)?;
    input.pipe_input_at("c2".into(), s("Bob"), 6)?;
    input.pipe_input_at("c2".into(), None, 7)?;
    let store =
        driver.state_store::<TimestampedKeyValueStore<String, String>>("customers-store")?;
    let store = store.borrow();
    let c1 = store.get(&"c1".to_string())?;
    assert_eq!(
        c1.map(|v| (v.value, v.timestamp)),
        Some(("Ann".to_string(), 5))
    );
    assert!(store.get(&"c2".to_string())?.is_none(), "deleted");
    Ok(())
}

#[test]
fn stream_table_join_emits_only_for_stream_records_with_the_stream_timestamp() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = b.table("t", Consumed::with(Serdes::string(), Serdes::string()));
    let orders = b.stream("s", Consumed::with(Serdes::string(), Serdes::i64()));
    orders
        .join_table(&table, |v, t: &String| format!("{t}:{v}"))
        .to("inner", Produced::with(Serdes::string(), Serdes::string()));
    orders
        .left_join_table(&table, |v, t: Option<&String>| {
            format!("{}:{v}", t.map_or("-", String::as_str))
        })
        .to("left", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let t = str_topic_in(&driver, "t");
    let st = driver.create_input_topic("s", Serdes::string(), Serdes::i64());
    let inner = driver.create_output_topic("inner", Serdes::string(), Serdes::string());
    let left = driver.create_output_topic("left", Serdes::string(), Serdes::string());
    st.pipe_input_at("k".into(), 1, 100)?;
    t.pipe_input_at("k".into(), s("A"), 200)?;
    st.pipe_input_at("k".into(), 2, 150)?;
    t.pipe_input_at("k".into(), s("B"), 300)?;
    t.pipe_input_at("k".into(), None, 400)?;
    st.pipe_input_at("k".into(), 3, 500)?;
    let inner: Vec<_> = inner
        .read_records_to_list()?
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(
        inner,
        vec![("A:2".to_string(), 150)],
        "table updates emit nothing; the stream timestamp is kept"
    );
    let left: Vec<_> = left
        .read_records_to_list()?
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(
        left,
        vec![
            ("-:1".to_string(), 100),
            ("A:2".to_string(), 150),
            ("-:3".to_string(), 500)
        ]
    );
    Ok(())
}

#[test]
fn stream_table_join_drops_null_values_and_left_join_keeps_null_keys() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = b.table(
        "t",
        Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
    );
    let stream = b.stream(
        "s",
        Consumed::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::string()),
        ),
    );
    stream
        .left_join_table(&table, |v: S, t: Option<&String>| {
            Some(format!(
                "{}+{}",
                v.unwrap_or_default(),
                t.map_or("<none>", String::as_str)
            ))
        })
        .to(
            "out",
            Produced::inherit().or_serdes(
                Some(Serdes::option(Serdes::string())),
                Some(Serdes::option(Serdes::string())),
            ),
        );
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let si = driver.create_input_topic(
        "s",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let out = driver.create_output_topic(
        "out",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    si.pipe_record(TestRecord::new(s("k"), None, 1))?;
    si.pipe_record(TestRecord::new(None, s("v"), 2))?;
    assert_eq!(out.read_key_values_to_list()?, vec![(None, s("v+<none>"))]);
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(1)
    );
    Ok(())
}

#[test]
fn table_filter_turns_failing_updates_into_deletes() -> Result<()> {
    let b = StreamsBuilder::new();
    b.table("t", Consumed::with(Serdes::string(), Serdes::i64()))
        .filter(|_, v| *v > 0)
        .to_stream()
        .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let t = driver.create_input_topic("t", Serdes::string(), Serdes::option(Serdes::i64()));
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::i64()));
    t.pipe_input("a".into(), Some(5))?;
    t.pipe_input("a".into(), Some(-1))?;
    t.pipe_input("b".into(), Some(-2))?;
    assert_eq!(
        out.read_key_values_to_list()?,
        vec![
            ("a".into(), Some(5)),
            ("a".into(), None),
            ("b".into(), None)
        ]
    );
    Ok(())
}

#[test]
fn table_table_joins_follow_kafka_streams_tombstone_rules() -> Result<()> {
    fn run(kind: &str) -> Result<Vec<(S, i64)>> {
        let b = StreamsBuilder::new();
        let l = b.table("l", Consumed::with(Serdes::string(), Serdes::string()));
        let r = b.table("r", Consumed::with(Serdes::string(), Serdes::string()));
        let show = |a: Option<&String>, b: Option<&String>| {
            format!(
                "{}/{}",
                a.map_or("-", String::as_str),
                b.map_or("-", String::as_str)
            )
        };
        let joined = match kind {
            "inner" => l.join(&r, move |a, b| show(Some(a), Some(b))),
            "left" => l.left_join(&r, move |a, b| show(Some(a), b)),
            _ => l.outer_join(&r, show),
        };
        joined.to_stream().to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
        let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
        let li = str_topic_in(&driver, "l");
        let ri = str_topic_in(&driver, "r");
        let out =
            driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
        li.pipe_input_at("k".into(), s("a"), 10)?;
        ri.pipe_input_at("k".into(), s("b"), 5)?;
        ri.pipe_input_at("k".into(), None, 30)?;
        li.pipe_input_at("k".into(), None, 40)?;
        Ok(out
            .read_records_to_list()?
            .into_iter()
            .map(|r| (r.value, r.timestamp))
            .collect())
    }
    assert_eq!(run("inner")?, vec![(s("a/b"), 10), (None, 30)]);
    assert_eq!(
        run("left")?,
        vec![(s("a/-"), 10), (s("a/b"), 10), (s("a/-"), 30), (None, 40)]
    );
    assert_eq!(
        run("outer")?,
        vec![(s("a/-"), 10), (s("a/b"), 10), (s("a/-"), 30), (None, 40)]
    );
    Ok(())
}

#[test]
fn enrichment_with_customer_updates_and_deletes_in_multi_partition_mode() -> Result<()> {
    // Orders keyed by customer id, joined with the customers table; customers change and
    // one is deleted in between. Four partitions, one task per partition.
    let b = StreamsBuilder::new();
    let customers = b.table(
        "customers",
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    b.stream(
        "orders.placed",
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .join_table(&customers, |total, name: &String| {
        format!("{name} spent {total}")
    })
    .to(
        "orders.enriched",
        Produced::with(Serdes::string(), Serdes::string()),
    );
    let driver = TopologyTestDriver::with_options(
        b.build()?,
        StreamsConfig::new(),
        DriverOptions::new().partitions(4),
    )?;
    assert_eq!(driver.task_ids().len(), 4);
    let c = str_topic_in(&driver, "customers");
    let o = driver.create_input_topic("orders.placed", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("orders.enriched", Serdes::string(), Serdes::string());
    for (id, name) in [
        ("alice", "Alice"),
        ("bob", "Bob"),
        ("carol", "Carol"),
        ("frank", "Frank"),
    ] {
        c.pipe_input(id.into(), s(name))?;
    }
    o.pipe_input("alice".into(), 10)?;
    o.pipe_input("frank".into(), 20)?;
    c.pipe_input("alice".into(), s("Alice B."))?;
    c.pipe_input("frank".into(), None)?;
    o.pipe_input("alice".into(), 30)?;
    o.pipe_input("frank".into(), 40)?;
    o.pipe_input("dave".into(), 50)?;
    o.pipe_input("carol".into(), 60)?;
    let got: Vec<(String, String, i32)> = out
        .read_records_to_list()?
        .into_iter()
        .map(|r| (r.key, r.value, r.partition))
        .collect();
    // Partitions as Kafka's Java client places these keys over 4 partitions.
    assert_eq!(
        got,
        vec![
            ("alice".into(), "Alice spent 10".into(), 1),
            ("frank".into(), "Frank spent 20".into(), 3),
            ("alice".into(), "Alice B. spent 30".into(), 1),
            ("carol".into(), "Carol spent 60".into(), 2),
        ]
    );
    Ok(())
}

/// A re-keyed stream is repartitioned before a stream-table join (Kafka Streams'
/// `repartitionForJoin`); the repartition topic needs serdes, which `select_key` cannot carry
/// over, so without `Joined` serdes the build names the topic.
#[test]
fn a_rekeyed_stream_is_repartitioned_before_a_table_join() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = b.table("t", Consumed::with(Serdes::string(), Serdes::string()));
    b.stream("s", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .join_table(&table, |v, t: &String| format!("{v}{t}"));
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("KSTREAM-KEY-SELECT-0000000004-repartition") && err.contains("key serde"),
        "{err}"
    );

    let b = StreamsBuilder::new();
    let table = b.table("t", Consumed::with(Serdes::string(), Serdes::string()));
    b.stream("s", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .join_table_with(
            &table,
            |v, t: &String| format!("{v}:{t}"),
            Joined::with(Serdes::string(), Serdes::string()).with_name("by-value"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build()?;
    let text = topology.describe().to_string();
    assert!(
        text.contains("Sink: by-value-repartition-sink (topic: by-value-repartition)"),
        "{text}"
    );
    assert!(
        text.contains("Processor: by-value (stores: [t-STATE-STORE-0000000000])"),
        "{text}"
    );
    let driver = TopologyTestDriver::with_options(
        topology,
        StreamsConfig::new(),
        DriverOptions::new().partitions(3),
    )?;
    let t = driver.create_input_topic("t", Serdes::string(), Serdes::string());
    let s = driver.create_input_topic("s", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    for key in ["x", "y", "z"] {
        t.pipe_input(key.to_string(), key.to_uppercase())?;
    }
    for (i, v) in ["x", "y", "z", "w"].into_iter().enumerate() {
        s.pipe_input(format!("k{i}"), v.to_string())?;
    }
    let mut got = out.read_key_values_to_list()?;
    got.sort();
    assert_eq!(
        got,
        vec![
            ("x".to_string(), "x:X".to_string()),
            ("y".to_string(), "y:Y".to_string()),
            ("z".to_string(), "z:Z".to_string()),
        ]
    );
    Ok(())
}

#[test]
fn a_zero_cache_strips_caching_so_deleting_an_absent_key_still_flows_through_a_join() -> Result<()>
{
    // Kafka Streams removes every caching layer when `statestore.cache.max.bytes` is 0. A
    // table source without a cache forwards the delete of an absent key as a change from
    // nothing to nothing, and an inner join whose other side has the key forwards it as a
    // tombstone. A caching layer drops such a delete (nothing to write, nothing to forward).
    // Checked against Kafka Streams 4.4's TopologyTestDriver for both settings.
    fn run(cache: &str) -> Result<Vec<(S, i64)>> {
        let b = StreamsBuilder::new();
        let l = b.table("l", Consumed::with(Serdes::string(), Serdes::string()));
        let r = b.table("r", Consumed::with(Serdes::string(), Serdes::string()));
        l.join(&r, |a, b| format!("{a}/{b}")).to_stream().to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
        let config = StreamsConfig::new().set("statestore.cache.max.bytes", cache);
        let driver = TopologyTestDriver::new(b.build()?, config)?;
        let li = str_topic_in(&driver, "l");
        let ri = str_topic_in(&driver, "r");
        let out =
            driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
        li.pipe_input_at("k".into(), s("a"), 10)?;
        ri.pipe_input_at("k".into(), None, 20)?;
        ri.pipe_input_at("k".into(), s("b"), 30)?;
        ri.pipe_input_at("k".into(), s("b"), 40)?;
        Ok(out
            .read_records_to_list()?
            .into_iter()
            .map(|r| (r.value, r.timestamp))
            .collect())
    }
    assert_eq!(run("0")?, vec![(None, 20), (s("a/b"), 30), (s("a/b"), 40)]);
    assert_eq!(run("10485760")?, vec![(s("a/b"), 30), (s("a/b"), 40)]);
    Ok(())
}

/// `KTable.groupBy` by region, with `count` and a `reduce` whose subtractor returns null
/// at 0, over a named grouping (both aggregations share its repartition topic).
fn users_by_region() -> Result<Topology> {
    let b = StreamsBuilder::new();
    let grouped = b
        .table("users", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_with(
            |_user: &String, row: String| {
                let (region, score) = row.split_once(':').unwrap_or(("", "0"));
                let region = (!region.is_empty()).then(|| region.to_string());
                (region, Some(score.parse::<i64>().unwrap_or(0)))
            },
            Grouped::with(
                Serdes::option(Serdes::string()),
                Serdes::option(Serdes::i64()),
            )
            .with_name("by-region"),
        );
    let key = || Serdes::option(Serdes::string());
    grouped.count().to_stream().to(
        "counts",
        Produced::with(key(), Serdes::option(Serdes::i64())),
    );
    grouped
        .reduce(
            |a: Option<i64>, v: Option<i64>| Some(a.unwrap_or(0) + v.unwrap_or(0)),
            |a: Option<i64>, v: Option<i64>| {
                Some(a.unwrap_or(0) - v.unwrap_or(0)).filter(|r| *r != 0)
            },
        )
        .to_stream()
        .to(
            "sums",
            Produced::with(key(), Serdes::option(Serdes::option(Serdes::i64()))),
        );
    b.build()
}

#[test]
fn table_group_by_moves_rows_between_groups_as_kafka_streams_does() -> Result<()> {
    // Every expected value below is what Kafka Streams 4.4's TopologyTestDriver produced
    // for the same topology and input, with statestore.cache.max.bytes 0 and the default.
    let topology = users_by_region()?;
    assert_eq!(
        topology.describe().to_string().trim_end(),
        "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [users])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [users-STATE-STORE-0000000000])
      --> by-region
      <-- KSTREAM-SOURCE-0000000001
    Processor: by-region (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KTABLE-SOURCE-0000000002
    Sink: KSTREAM-SINK-0000000005 (topic: by-region-repartition)
      <-- by-region

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000006 (topics: [by-region-repartition])
      --> KTABLE-AGGREGATE-0000000007, KTABLE-REDUCE-0000000013
    Processor: KTABLE-AGGREGATE-0000000007 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000004])
      --> KTABLE-TOSTREAM-0000000008
      <-- KSTREAM-SOURCE-0000000006
    Processor: KTABLE-REDUCE-0000000013 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000010])
      --> KTABLE-TOSTREAM-0000000014
      <-- KSTREAM-SOURCE-0000000006
    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])
      --> KSTREAM-SINK-0000000009
      <-- KTABLE-AGGREGATE-0000000007
    Processor: KTABLE-TOSTREAM-0000000014 (stores: [])
      --> KSTREAM-SINK-0000000015
      <-- KTABLE-REDUCE-0000000013
    Sink: KSTREAM-SINK-0000000009 (topic: counts)
      <-- KTABLE-TOSTREAM-0000000008
    Sink: KSTREAM-SINK-0000000015 (topic: sums)
      <-- KTABLE-TOSTREAM-0000000014"
    );
    // The same with the record cache on: the driver commits after each record, which
    // flushes the caches, so each update still comes out (as in Kafka Streams).
    for cache in ["0", "10485760"] {
        run_users_by_region(cache)?;
    }
    Ok(())
}

fn run_users_by_region(cache: &str) -> Result<()> {
    let config = StreamsConfig::new()
        .set("application.id", "app")
        .set("statestore.cache.max.bytes", cache);
    let driver = TopologyTestDriver::new(users_by_region()?, config)?;
    let users = str_topic_in(&driver, "users");
    let counts = driver.create_output_topic(
        "counts",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::i64()),
    );
    let sums = driver.create_output_topic(
        "sums",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::i64()),
    );
    users.pipe_input_at("ann".into(), s("eu:10"), 10)?;
    users.pipe_input_at("bob".into(), s("eu:5"), 20)?;
    // Same group: one change with the old and the new value, so one update (subtract 10,
    // add 12), timestamped with the later of the record and the aggregate.
    users.pipe_input_at("ann".into(), s("eu:12"), 15)?;
    // Another group: the old group's subtraction first, then the new group's addition.
    users.pipe_input_at("ann".into(), s("us:12"), 40)?;
    // A delete only subtracts; the reduce reaches 0, which its subtractor makes null: a delete.
    users.pipe_input_at("bob".into(), None, 50)?;
    // A null group key is never sent: a new row with one adds nothing ...
    users.pipe_input_at("cid".into(), s(":7"), 60)?;
    // ... and a row moving to one only leaves its old group.
    users.pipe_input_at("ann".into(), s(":12"), 70)?;
    // A deleted group starts again from nothing.
    users.pipe_input_at("dan".into(), s("us:3"), 80)?;
    let read = |t: TestOutputTopic<S, Option<i64>>| -> Result<Vec<(String, Option<i64>, i64)>> {
        Ok(t.read_records_to_list()?
            .into_iter()
            .map(|r| (r.key.unwrap_or_default(), r.value, r.timestamp))
            .collect())
    };
    let row = |k: &str, v: Option<i64>, t: i64| (k.to_string(), v, t);
    assert_eq!(
        read(counts)?,
        vec![
            row("eu", Some(1), 10),
            row("eu", Some(2), 20),
            row("eu", Some(2), 20),
            row("eu", Some(1), 40),
            row("us", Some(1), 40),
            row("eu", Some(0), 50),
            row("us", Some(0), 70),
            row("us", Some(1), 80),
        ]
    );
    assert_eq!(
        read(sums)?,
        vec![
            row("eu", Some(10), 10),
            row("eu", Some(15), 20),
            row("eu", Some(17), 20),
            row("eu", Some(5), 40),
            row("us", Some(12), 40),
            row("eu", None, 50),
            row("us", None, 70),
            row("us", Some(3), 80),
        ]
    );
    assert!(
        driver
            .produced_topic_names()
            .contains(&"app-by-region-repartition".to_string())
    );
    Ok(())
}

#[test]
fn table_group_by_in_multi_partition_mode_meets_every_group_in_one_task() -> Result<()> {
    // Rows spread over four partitions move between groups; each group's count is kept by
    // the task of its key's partition, so the final counts are the same as in one task.
    let b = StreamsBuilder::new();
    b.table("rows", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_with(
            |_k: &String, v: String| (v, 1i64),
            Grouped::with(Serdes::string(), Serdes::i64()),
        )
        .count()
        .to_stream()
        .to(
            "counts",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let config = StreamsConfig::new()
        .set("application.id", "app")
        .set("statestore.cache.max.bytes", "0");
    let driver =
        TopologyTestDriver::with_options(b.build()?, config, DriverOptions::new().partitions(4))?;
    assert_eq!(
        driver.task_ids().len(),
        8,
        "two sub-topologies of four tasks"
    );
    let rows = str_topic_in(&driver, "rows");
    let out = driver.create_output_topic("counts", Serdes::string(), Serdes::option(Serdes::i64()));
    let groups = ["red", "green", "blue"];
    for i in 0..30 {
        rows.pipe_input(format!("row-{}", i % 10), s(groups[i % 3]))?;
    }
    rows.pipe_input("row-0".into(), None)?;
    let mut last = std::collections::BTreeMap::new();
    for r in out.read_records_to_list()? {
        let partition = streams_dsl::partitioner::default_partition(r.key.as_bytes(), 4);
        assert_eq!(r.partition, partition, "{} in its key's partition", r.key);
        last.insert(r.key, r.value);
    }
    // Rows 1..=9 end in groups[(20 + i) % 3]; row-0 was deleted.
    let mut expected = std::collections::BTreeMap::new();
    for i in 1..10 {
        *expected
            .entry(groups[(20 + i) % 3].to_string())
            .or_insert(0) += 1;
    }
    let expected: std::collections::BTreeMap<_, _> =
        expected.into_iter().map(|(k, v)| (k, Some(v))).collect();
    let mut got = last;
    got.retain(|_, v| *v != Some(0));
    assert_eq!(got, expected);
    Ok(())
}

#[test]
fn to_table_drops_null_keys_deletes_on_null_values_and_repartitions_a_rekeyed_stream() -> Result<()>
{
    let b = StreamsBuilder::new();
    let stream = b.stream(
        "status",
        Consumed::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::string()),
        ),
    );
    stream
        .to_table()
        .to_stream()
        .to("latest", Produced::inherit());
    stream
        .select_key(|k: &S, _| k.as_deref().map(str::to_uppercase))
        .to_table_with(
            Materialized::as_("upper-store")
                .with_key_serde(Serdes::option(Serdes::string()))
                .with_value_serde(Serdes::option(Serdes::string())),
        )
        .to_stream()
        .to("upper", Produced::inherit());
    let config = StreamsConfig::new()
        .set("application.id", "app")
        .set("statestore.cache.max.bytes", "0");
    let driver = TopologyTestDriver::new(b.build()?, config)?;
    let input = driver.create_input_topic(
        "status",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let nullable = || Serdes::option(Serdes::option(Serdes::string()));
    let latest = driver.create_output_topic("latest", Serdes::option(Serdes::string()), nullable());
    let upper = driver.create_output_topic("upper", Serdes::option(Serdes::string()), nullable());
    input.pipe_record(TestRecord::new(s("a"), s("1"), 1))?;
    input.pipe_record(TestRecord::new(None, s("lost"), 2))?;
    input.pipe_record(TestRecord::new(s("a"), None, 3))?;
    // Deleting a key the table never had: without a store it is forwarded; the stored table
    // forwards it too (no caching layer at cache size 0).
    input.pipe_record(TestRecord::new(s("b"), None, 4))?;
    assert_eq!(
        latest.read_key_values_to_list()?,
        vec![(s("a"), Some(s("1"))), (s("a"), None), (s("b"), None)]
    );
    assert_eq!(
        upper.read_key_values_to_list()?,
        vec![(s("A"), Some(s("1"))), (s("A"), None), (s("B"), None)]
    );
    let m = driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped);
    assert_eq!(
        m,
        Some(1),
        "the null key is dropped by the table, and counted"
    );
    let topics = driver.produced_topic_names();
    assert!(
        topics.contains(&"app-KSTREAM-TOTABLE-0000000006-repartition".to_string()),
        "{topics:?}"
    );
    assert!(
        topics.contains(&"app-upper-store-changelog".to_string()),
        "{topics:?}"
    );
    Ok(())
}

#[test]
fn group_by_after_a_filter_subtracts_rows_the_filter_turns_into_deletes() -> Result<()> {
    // Grouping makes the filter send old values: a row failing the filter leaves its group.
    // The output is what Kafka Streams 4.4 gives for the same topology and input.
    let b = StreamsBuilder::new();
    b.table("t", Consumed::with(Serdes::string(), Serdes::i64()))
        .filter(|_, v| *v > 0)
        .group_by_with(
            |_k: &String, v: i64| (v % 2 == 0, v),
            Grouped::with(Serdes::bool(), Serdes::i64()),
        )
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::bool(), Serdes::option(Serdes::i64())),
        );
    let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    let driver = TopologyTestDriver::new(b.build()?, config)?;
    let t = driver.create_input_topic("t", Serdes::string(), Serdes::option(Serdes::i64()));
    let out = driver.create_output_topic("out", Serdes::bool(), Serdes::option(Serdes::i64()));
    t.pipe_input("a".into(), Some(4))?;
    t.pipe_input("b".into(), Some(6))?;
    t.pipe_input("a".into(), Some(-1))?;
    t.pipe_input("c".into(), Some(-3))?;
    t.pipe_input("a".into(), Some(3))?;
    assert_eq!(
        out.read_key_values_to_list()?,
        vec![
            (true, Some(1)),
            (true, Some(2)),
            (true, Some(1)),
            (false, Some(1))
        ]
    );
    Ok(())
}
