//! KStream-KStream joins: each rule of Kafka Streams' `KStreamKStreamJoin`, one test each,
//! through the test driver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use streams_dsl::prelude::*;

type S = Option<String>;

fn s(v: &str) -> S {
    Some(v.to_owned())
}

fn nullable() -> SerdeRef<S> {
    Serdes::option(Serdes::string())
}

fn side(v: Option<&S>) -> &str {
    v.and_then(|v| v.as_deref()).unwrap_or("<none>")
}

#[derive(Clone, Copy)]
enum Kind {
    Inner,
    Left,
    Outer,
}

/// A join of `left` and `right` (nullable strings) written to `out`; values are
/// `left|right` with `<none>` for a missing side.
struct Fixture {
    driver: TopologyTestDriver,
    left: TestInputTopic<S, S>,
    right: TestInputTopic<S, S>,
    out: TestOutputTopic<S, S>,
}

fn topology(kind: Kind, windows: JoinWindows, joined: StreamJoined<S, S, S>) -> Topology {
    let b = StreamsBuilder::new();
    let l = b.stream("left", Consumed::with(nullable(), nullable()));
    let r = b.stream("right", Consumed::with(nullable(), nullable()));
    let joined_stream = match kind {
        Kind::Inner => l.join(
            &r,
            |a: &S, b: &S| s(&format!("{}|{}", side(Some(a)), side(Some(b)))),
            windows,
            joined,
        ),
        Kind::Left => l.left_join(
            &r,
            |a: &S, b: Option<&S>| s(&format!("{}|{}", side(Some(a)), side(b))),
            windows,
            joined,
        ),
        Kind::Outer => l.outer_join(
            &r,
            |a: Option<&S>, b: Option<&S>| s(&format!("{}|{}", side(a), side(b))),
            windows,
            joined,
        ),
    };
    joined_stream.to("out", Produced::with(nullable(), nullable()));
    b.build().expect("the join topology builds")
}

impl Fixture {
    fn with_options(
        kind: Kind,
        windows: JoinWindows,
        joined: StreamJoined<S, S, S>,
        options: DriverOptions,
    ) -> Self {
        Self::with_config(
            kind,
            windows,
            joined,
            options,
            StreamsConfig::new().set("application.id", "join-test"),
        )
    }

    fn with_config(
        kind: Kind,
        windows: JoinWindows,
        joined: StreamJoined<S, S, S>,
        options: DriverOptions,
        config: StreamsConfig,
    ) -> Self {
        let driver =
            TopologyTestDriver::with_options(topology(kind, windows, joined), config, options)
                .expect("the driver starts");
        let left = driver.create_input_topic("left", nullable(), nullable());
        let right = driver.create_input_topic("right", nullable(), nullable());
        let out = driver.create_output_topic("out", nullable(), nullable());
        Fixture {
            driver,
            left,
            right,
            out,
        }
    }

    /// Held-back records are looked at on every record (the driver's emit interval is 0,
    /// as Java's).
    fn new(kind: Kind, windows: JoinWindows) -> Self {
        let joined = StreamJoined::inherit();
        Self::with_options(kind, windows, joined, DriverOptions::new())
    }

    fn l(&self, key: Option<&str>, value: Option<&str>, ts: i64) {
        self.left
            .pipe_record(TestRecord::new(
                key.map(str::to_owned),
                value.map(str::to_owned),
                ts,
            ))
            .expect("piping a left record");
    }

    fn r(&self, key: Option<&str>, value: Option<&str>, ts: i64) {
        self.right
            .pipe_record(TestRecord::new(
                key.map(str::to_owned),
                value.map(str::to_owned),
                ts,
            ))
            .expect("piping a right record");
    }

    /// Everything written since the last call: (key, value, timestamp).
    fn take(&self) -> Vec<(Option<String>, String, i64)> {
        self.out
            .read_records_to_list()
            .expect("reading the output")
            .into_iter()
            .map(|r| (r.key, r.value.unwrap_or_default(), r.timestamp))
            .collect()
    }
}

fn out(key: &str, value: &str, ts: i64) -> (Option<String>, String, i64) {
    (Some(key.to_owned()), value.to_owned(), ts)
}

fn five_and_two() -> JoinWindows {
    JoinWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(2))
}

#[test]
fn window_edges_are_inclusive_on_both_sides_and_the_output_has_the_larger_timestamp() {
    // A left record at t1 joins right records in [t1 - 2 s, t1 + 3 s].
    let windows = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(3))
        .before(Duration::from_secs(2));
    let f = Fixture::new(Kind::Inner, windows);
    f.l(Some("a"), Some("a@10"), 10_000);
    f.r(Some("a"), Some("A@8"), 8_000);
    f.r(Some("a"), Some("A@7.999"), 7_999);
    f.r(Some("a"), Some("A@13"), 13_000);
    f.r(Some("a"), Some("A@13.001"), 13_001);
    assert_eq!(
        f.take(),
        vec![out("a", "a@10|A@8", 10_000), out("a", "a@10|A@13", 13_000)]
    );

    // The mirror: a right record at t2 joins left records in [t2 - 3 s, t2 + 2 s].
    f.r(Some("b"), Some("B@20"), 20_000);
    f.l(Some("b"), Some("b@22"), 22_000);
    f.l(Some("b"), Some("b@22.001"), 22_001);
    f.l(Some("b"), Some("b@17"), 17_000);
    f.l(Some("b"), Some("b@16.999"), 16_999);
    assert_eq!(
        f.take(),
        vec![out("b", "b@22|B@20", 22_000), out("b", "b@17|B@20", 20_000)]
    );
}

#[test]
fn records_with_a_null_key_or_value_are_dropped_and_counted_by_an_inner_join() {
    let f = Fixture::new(Kind::Inner, five_and_two());
    f.r(Some("k"), Some("K"), 1_000);
    f.l(None, Some("no-key"), 1_000);
    f.l(Some("k"), None, 1_000);
    f.r(None, Some("NO-KEY"), 1_000);
    f.r(Some("k"), None, 1_000);
    f.l(Some("k"), Some("k"), 1_000);
    assert_eq!(f.take(), vec![out("k", "k|K", 1_000)]);
    let metrics = f
        .driver
        .task_metrics(TaskId {
            subtopology: 0,
            partition: 0,
        })
        .expect("task 0_0");
    assert_eq!(metrics.dropped, 4);
}

#[test]
fn a_left_join_joins_a_record_without_key_against_nothing_at_once() {
    let f = Fixture::new(Kind::Left, five_and_two());
    f.l(None, Some("no-key"), 1_000);
    assert_eq!(f.take(), vec![(None, "no-key|<none>".to_owned(), 1_000)]);
    f.r(None, Some("NO-KEY"), 1_000); // the right side of a left join drops it
    f.l(Some("k"), None, 1_000); // a null value is dropped on either side
    f.r(Some("k"), None, 1_000);
    f.l(Some("z"), Some("far"), 100_000); // closes every window
    assert_eq!(f.take(), vec![]);

    let f = Fixture::new(Kind::Outer, five_and_two());
    f.r(None, Some("NO-KEY"), 1_000);
    assert_eq!(f.take(), vec![(None, "<none>|NO-KEY".to_owned(), 1_000)]);
}

#[test]
fn a_left_join_holds_non_matches_back_until_window_end_plus_grace_and_never_before() {
    let f = Fixture::new(Kind::Left, five_and_two());
    f.l(Some("a"), Some("a@0"), 0);
    f.r(Some("x"), Some("X"), 6_999);
    f.r(Some("x"), Some("X"), 7_000); // 0 + 5 s + 2 s: still within grace
    assert_eq!(f.take(), vec![]);
    f.r(Some("x"), Some("X"), 7_001);
    assert_eq!(f.take(), vec![out("a", "a@0|<none>", 0)]);

    // A partner arriving out of order within grace removes the held-back record: no
    // spurious (v, None) result, before or after the real one.
    f.l(Some("c"), Some("c@10"), 10_000);
    f.r(Some("x"), Some("X"), 16_000);
    f.r(Some("c"), Some("C@14.5"), 14_500);
    assert_eq!(f.take(), vec![out("c", "c@10|C@14.5", 14_500)]);
    f.r(Some("x"), Some("X"), 30_000);
    assert_eq!(f.take(), vec![]);
}

#[test]
fn an_outer_join_emits_non_matches_of_both_sides_after_their_own_windows() {
    // Left records look 3 s ahead, right records 1 s ahead; no grace. The right-side
    // records with key "t" only move stream time (their own non-matches are ignored here).
    let windows = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(3))
        .before(Duration::from_secs(1));
    let f = Fixture::new(Kind::Outer, windows);
    let take = || -> Vec<_> {
        f.take()
            .into_iter()
            .filter(|(k, _, _)| k.as_deref() != Some("t"))
            .collect()
    };
    f.l(Some("a"), Some("a@0"), 0);
    f.r(Some("b"), Some("B@0"), 0);
    f.r(Some("t"), Some("tick"), 1_000);
    assert_eq!(take(), vec![]);
    f.r(Some("t"), Some("tick"), 1_001); // the right window of B@0 ends at 0 + 1 s
    assert_eq!(take(), vec![out("b", "<none>|B@0", 0)]);
    f.r(Some("t"), Some("tick"), 3_000);
    assert_eq!(take(), vec![]);
    f.r(Some("t"), Some("tick"), 3_001); // the left window of a@0 ends at 0 + 3 s
    assert_eq!(take(), vec![out("a", "a@0|<none>", 0)]);
}

#[test]
fn held_back_records_come_out_by_time_then_right_before_left_then_key() {
    let f = Fixture::new(Kind::Outer, five_and_two());
    f.l(Some("m"), Some("m@1"), 1_000);
    f.l(Some("b"), Some("b@1"), 1_000);
    f.r(Some("z"), Some("Z@1"), 1_000);
    f.r(Some("a"), Some("A@0.5"), 500);
    f.l(Some("e"), Some("e1"), 800);
    f.l(Some("e"), Some("e2"), 800);
    f.r(Some("y"), Some("END"), 50_000);
    assert_eq!(
        f.take(),
        vec![
            out("a", "<none>|A@0.5", 500),
            out("e", "e1|<none>", 800),
            out("e", "e2|<none>", 800),
            out("z", "<none>|Z@1", 1_000),
            out("b", "b@1|<none>", 1_000),
            out("m", "m@1|<none>", 1_000),
        ]
    );
}

#[test]
fn duplicates_are_kept_and_each_one_joins() {
    let f = Fixture::new(Kind::Inner, five_and_two());
    f.r(Some("d"), Some("D"), 1_000);
    f.r(Some("d"), Some("D"), 1_000);
    f.l(Some("d"), Some("d"), 2_000);
    f.l(Some("d"), Some("d"), 2_000);
    assert_eq!(f.take(), vec![out("d", "d|D", 2_000); 4]);
}

#[test]
fn a_record_older_than_the_retention_finds_no_partner() {
    // Retention 5 s + 5 s + 2 s = 12 s.
    let f = Fixture::new(Kind::Inner, five_and_two());
    f.r(Some("k"), Some("K@0"), 0);
    f.r(Some("s"), Some("S@20"), 20_000); // the right store now returns records >= 8.001 s
    f.l(Some("k"), Some("k@1"), 1_000); // would join K@0, but K@0 has expired
    assert_eq!(f.take(), vec![]);
    // Still within retention (though past its window end + grace): joins.
    f.r(Some("j"), Some("J@10"), 10_000);
    f.l(Some("j"), Some("j@9"), 9_000);
    assert_eq!(f.take(), vec![out("j", "j@9|J@10", 10_000)]);

    // A left join emits such a late non-match at once: its window closed long ago.
    let f = Fixture::new(Kind::Left, five_and_two());
    f.r(Some("s"), Some("S@20"), 20_000);
    f.l(Some("k"), Some("k@1"), 1_000);
    assert_eq!(f.take(), vec![out("k", "k@1|<none>", 1_000)]);
}

#[test]
fn the_emit_interval_bounds_how_often_held_back_records_are_looked_at() {
    // The production interval is 1 s of wall-clock time, which the driver only moves on
    // demand (its own default is 0, as Java's driver).
    let f = Fixture::with_config(
        Kind::Left,
        five_and_two(),
        StreamJoined::inherit(),
        DriverOptions::new(),
        StreamsConfig::new()
            .set("application.id", "join-test")
            .set(OUTER_JOIN_EMIT_INTERVAL, "1000"),
    );
    f.l(Some("a"), Some("a@0"), 0); // the first look (nothing held yet) starts the interval
    f.l(Some("b"), Some("b@10"), 10_000); // a@0's window closed, but the interval has not passed
    assert_eq!(f.take(), vec![]);
    f.driver
        .advance_wall_clock_time(Duration::from_secs(1))
        .expect("advancing the clock");
    f.l(Some("c"), Some("c@10.001"), 10_001);
    assert_eq!(f.take(), vec![out("a", "a@0|<none>", 0)]);
}

#[test]
fn each_task_has_its_own_stream_time_in_multi_partition_mode() {
    let joined = StreamJoined::inherit();
    let f = Fixture::with_options(
        Kind::Left,
        five_and_two(),
        joined,
        DriverOptions::new().partitions(4),
    );
    let keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    for (i, k) in keys.iter().enumerate() {
        f.l(Some(k), Some(&format!("{k}@0")), i as i64);
    }
    for k in &keys[..4] {
        f.r(Some(k), Some("R"), 3_000);
    }
    let mut joined: Vec<_> = f.take();
    joined.sort();
    assert_eq!(joined.len(), 4);
    // A far-ahead record on every partition closes the windows of the other keys.
    for k in keys {
        f.r(Some(k), Some("late"), 60_000);
    }
    let mut rest: Vec<String> = f.take().into_iter().map(|(_, v, _)| v).collect();
    rest.sort();
    assert_eq!(
        rest,
        ["k4@0|<none>", "k5@0|<none>", "k6@0|<none>", "k7@0|<none>"]
    );
}

#[test]
fn in_memory_stores_give_the_same_results() {
    let joined = StreamJoined::inherit()
        .with_store_type(StoreType::InMemory)
        .with_logging_disabled();
    let f = Fixture::with_options(Kind::Outer, five_and_two(), joined, DriverOptions::new());
    f.l(Some("a"), Some("a"), 0);
    f.r(Some("a"), Some("A"), 5_000);
    f.r(Some("b"), Some("B"), 5_000);
    f.l(Some("z"), Some("z"), 20_000);
    assert_eq!(
        f.take(),
        vec![out("a", "a|A", 5_000), out("b", "<none>|B", 5_000)]
    );
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn joined_strings() -> StreamJoined<String, String, String> {
    StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
}

#[test]
fn describe_matches_kafka_streams_for_a_named_outer_join() {
    let b = StreamsBuilder::new();
    let l = b.stream("left", strings());
    let r = b.stream("right", strings());
    l.outer_join(
        &r,
        |x: Option<&String>, y: Option<&String>| format!("{x:?}{y:?}"),
        five_and_two(),
        joined_strings().with_name("j").with_store_name("st"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [left])
      --> j-this-windowed
    Source: KSTREAM-SOURCE-0000000001 (topics: [right])
      --> j-other-windowed
    Processor: j-other-windowed (stores: [st-outer-other-join-store])
      --> j-outer-other-join
      <-- KSTREAM-SOURCE-0000000001
    Processor: j-this-windowed (stores: [st-outer-this-join-store])
      --> j-outer-this-join
      <-- KSTREAM-SOURCE-0000000000
    Processor: j-outer-other-join (stores: [st-outer-shared-join-store, st-outer-this-join-store])
      --> j-merge
      <-- j-other-windowed
    Processor: j-outer-this-join (stores: [st-outer-shared-join-store, st-outer-other-join-store])
      --> j-merge
      <-- j-this-windowed
    Processor: j-merge (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- j-outer-this-join, j-outer-other-join
    Sink: KSTREAM-SINK-0000000007 (topic: out)
      <-- j-merge

";
    let topology = b.build().expect("builds");
    assert_eq!(topology.describe().to_string(), expected);
    let changelogs: Vec<String> = topology
        .changelog_topics("app")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert!(
        changelogs.contains(&"app-st-outer-shared-join-store-changelog".to_owned()),
        "{changelogs:?}"
    );
    let window_config = topology
        .changelog_topics("app")
        .into_iter()
        .find(|(t, _)| t == "app-st-outer-this-join-store-changelog")
        .map(|(_, c)| c)
        .expect("the window store's changelog");
    assert_eq!(window_config["cleanup.policy"], "delete");
    assert_eq!(
        window_config["retention.ms"],
        (12_000 + 86_400_000).to_string()
    );
}

#[test]
fn a_key_changing_left_stream_is_repartitioned_and_co_partitioned() {
    let b = StreamsBuilder::new();
    let l = b.stream("left", strings());
    let r = b.stream("right", strings());
    l.select_key(|_k: &String, v: &String| v.clone())
        .left_join(
            &r,
            |x: &String, y: Option<&String>| format!("{x}+{}", y.map_or("-", String::as_str)),
            five_and_two(),
            joined_strings(),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().expect("builds");
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [left])
      --> KSTREAM-KEY-SELECT-0000000002
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> KSTREAM-FILTER-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-KEY-SELECT-0000000002-repartition)
      <-- KSTREAM-FILTER-0000000004

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000001 (topics: [right])
      --> KSTREAM-WINDOWED-0000000007
    Source: KSTREAM-SOURCE-0000000005 (topics: [KSTREAM-KEY-SELECT-0000000002-repartition])
      --> KSTREAM-WINDOWED-0000000006
    Processor: KSTREAM-WINDOWED-0000000006 (stores: [KSTREAM-JOINTHIS-0000000008-store])
      --> KSTREAM-JOINTHIS-0000000008
      <-- KSTREAM-SOURCE-0000000005
    Processor: KSTREAM-WINDOWED-0000000007 (stores: [KSTREAM-OUTEROTHER-0000000009-store])
      --> KSTREAM-OUTEROTHER-0000000009
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINTHIS-0000000008 (stores: [KSTREAM-OUTERSHARED-0000000008-store, KSTREAM-OUTEROTHER-0000000009-store])
      --> KSTREAM-MERGE-0000000010
      <-- KSTREAM-WINDOWED-0000000006
    Processor: KSTREAM-OUTEROTHER-0000000009 (stores: [KSTREAM-JOINTHIS-0000000008-store, KSTREAM-OUTERSHARED-0000000008-store])
      --> KSTREAM-MERGE-0000000010
      <-- KSTREAM-WINDOWED-0000000007
    Processor: KSTREAM-MERGE-0000000010 (stores: [])
      --> KSTREAM-SINK-0000000011
      <-- KSTREAM-JOINTHIS-0000000008, KSTREAM-OUTEROTHER-0000000009
    Sink: KSTREAM-SINK-0000000011 (topic: out)
      <-- KSTREAM-MERGE-0000000010

";
    assert_eq!(topology.describe().to_string(), expected);
    assert!(
        topology.copartition_groups().iter().any(|g| g.len() == 2
            && g.contains("right")
            && g.contains("KSTREAM-KEY-SELECT-0000000002-repartition")),
        "{:?}",
        topology.copartition_groups()
    );

    // Records flow through the repartition topic and join under their new key.
    let driver =
        TopologyTestDriver::new(topology, StreamsConfig::new().set("application.id", "rp"))
            .expect("starts");
    let left = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let right = driver.create_input_topic("right", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    right
        .pipe_record(TestRecord::new("apple".to_owned(), "red".to_owned(), 1_000))
        .expect("pipes");
    left.pipe_record(TestRecord::new(
        "order-1".to_owned(),
        "apple".to_owned(),
        2_000,
    ))
    .expect("pipes");
    assert_eq!(
        out.read_key_values_to_list().expect("reads"),
        vec![("apple".to_owned(), "apple+red".to_owned())]
    );
    assert!(
        driver
            .produced_topic_names()
            .contains(&"rp-KSTREAM-KEY-SELECT-0000000002-repartition".to_owned())
    );
}

#[test]
fn a_named_join_names_its_repartition_topic_after_the_join() {
    let b = StreamsBuilder::new();
    let l = b.stream("left", strings());
    let r = b.stream("right", strings());
    l.join(
        &r.select_key(|_k: &String, v: &String| v.clone()),
        |x: &String, y: &String| format!("{x}{y}"),
        five_and_two(),
        joined_strings().with_name("pay"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [left])
      --> pay-this-windowed
    Source: pay-right-repartition-source (topics: [pay-right-repartition])
      --> pay-other-windowed
    Processor: pay-other-windowed (stores: [KSTREAM-JOINOTHER-0000000009-store])
      --> pay-other-join
      <-- pay-right-repartition-source
    Processor: pay-this-windowed (stores: [KSTREAM-JOINTHIS-0000000008-store])
      --> pay-this-join
      <-- KSTREAM-SOURCE-0000000000
    Processor: pay-other-join (stores: [KSTREAM-JOINTHIS-0000000008-store])
      --> pay-merge
      <-- pay-other-windowed
    Processor: pay-this-join (stores: [KSTREAM-JOINOTHER-0000000009-store])
      --> pay-merge
      <-- pay-this-windowed
    Processor: pay-merge (stores: [])
      --> KSTREAM-SINK-0000000011
      <-- pay-this-join, pay-other-join
    Sink: KSTREAM-SINK-0000000011 (topic: out)
      <-- pay-merge

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000001 (topics: [right])
      --> KSTREAM-KEY-SELECT-0000000002
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> pay-right-repartition-filter
      <-- KSTREAM-SOURCE-0000000001
    Processor: pay-right-repartition-filter (stores: [])
      --> pay-right-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: pay-right-repartition-sink (topic: pay-right-repartition)
      <-- pay-right-repartition-filter

";
    assert_eq!(b.build().expect("builds").describe().to_string(), expected);
}

#[test]
fn a_join_without_serdes_for_its_stores_fails_the_build_naming_it() {
    let b = StreamsBuilder::new();
    let l = b
        .stream("left", strings())
        .map_values(|v: String| v.len() as i64);
    let r = b.stream("right", strings());
    l.join(
        &r,
        |a: &i64, b: &String| format!("{a}{b}"),
        five_and_two(),
        StreamJoined::inherit(),
    );
    let err = b
        .build()
        .expect_err("no value serde for the left store")
        .to_string();
    assert!(
        err.contains("KSTREAM-MERGE-") && err.contains("StreamJoined::with"),
        "{err}"
    );
}

#[test]
fn streams_of_different_builders_cannot_be_joined() {
    let a = StreamsBuilder::new();
    let b = StreamsBuilder::new();
    let l = a.stream("left", strings());
    let r = b.stream("right", strings());
    l.join(
        &r,
        |x: &String, y: &String| format!("{x}{y}"),
        five_and_two(),
        StreamJoined::inherit(),
    );
    let err = a.build().expect_err("different builders").to_string();
    assert!(err.contains("different builders"), "{err}");
}
