//! Windowed aggregation: window boundaries, grace, late records, sliding and session
//! windows, suppression, emit-on-close, windowed-key partitioning, and a seeded property
//! test of windowed count and sum against a naive model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use streams_dsl::prelude::*;
use streams_tests::SplitMix64;

fn config() -> StreamsConfig {
    StreamsConfig::new()
        .set("application.id", "win")
        .set("statestore.cache.max.bytes", "0")
}

type Out = (String, i64, i64, Option<i64>, i64);

fn read(out: &TestOutputTopic<Windowed<String>, Option<i64>>) -> Vec<Out> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.key.key,
                r.key.window.start,
                r.key.window.end,
                r.value,
                r.timestamp,
            )
        })
        .collect()
}

fn tumbling_count(size: u64, grace: u64) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(size),
            Duration::from_millis(grace),
        ))
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), size as i64),
                Serdes::option(Serdes::i64()),
            ),
        );
    TopologyTestDriver::new(b.build().unwrap(), config()).unwrap()
}

fn windowed_out(
    driver: &TopologyTestDriver,
    size: i64,
) -> TestOutputTopic<Windowed<String>, Option<i64>> {
    driver.create_output_topic(
        "out",
        Serdes::time_windowed(Serdes::string(), size),
        Serdes::option(Serdes::i64()),
    )
}

fn k(s: &str) -> String {
    s.to_owned()
}

#[test]
fn a_record_exactly_at_a_window_end_opens_the_next_window() {
    let driver = tumbling_count(100, 0);
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 99)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 100)).unwrap();
    assert_eq!(
        read(&out),
        vec![
            (k("a"), 0, 100, Some(1), 99),
            (k("a"), 100, 200, Some(1), 100)
        ]
    );
}

#[test]
fn grace_limit_accepts_the_last_millisecond_and_drops_the_next() {
    let driver = tumbling_count(100, 20);
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    // Stream time 119: window [0, 100) closes at 120, so a record for it is still accepted.
    input.pipe_record(TestRecord::new(k("b"), 1, 119)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 50)).unwrap();
    // Stream time 120: the window is closed; the late record is dropped and counted.
    input.pipe_record(TestRecord::new(k("b"), 1, 120)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 60)).unwrap();
    assert_eq!(
        read(&out),
        vec![
            (k("a"), 0, 100, Some(1), 10),
            (k("b"), 100, 200, Some(1), 119),
            (k("a"), 0, 100, Some(2), 50),
            (k("b"), 100, 200, Some(2), 120),
        ]
    );
    assert_eq!(driver.task_metrics(TaskId::new(0, 0)).unwrap().dropped, 1);
}

#[test]
fn a_late_record_still_updates_its_open_hopping_windows() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(
            TimeWindows::of_size_with_no_grace(Duration::from_millis(100))
                .advance_by(Duration::from_millis(50)),
        )
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 100),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("x"), 1, 120)).unwrap();
    let _ = read(&out);
    // 70 falls into [0, 100) (closed: end 100 <= 120) and [50, 150) (open).
    input.pipe_record(TestRecord::new(k("a"), 1, 70)).unwrap();
    assert_eq!(read(&out), vec![(k("a"), 50, 150, Some(1), 70)]);
    assert_eq!(driver.task_metrics(TaskId::new(0, 0)).unwrap().dropped, 1);
}

#[test]
fn observed_stream_time_only_counts_records_that_reach_the_aggregation() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .filter(|k, _| k != "skip")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            100,
        )))
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 100),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    // The task's stream time moves to 500, but the aggregation never sees this record.
    input
        .pipe_record(TestRecord::new(k("skip"), 1, 500))
        .unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 20)).unwrap();
    assert_eq!(
        read(&out),
        vec![(k("a"), 0, 100, Some(1), 10), (k("a"), 0, 100, Some(2), 20)]
    );
}

/// A session-windowed sum (gap 10 ms, grace `grace` ms) written to "out".
fn session_sum(grace: u64) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(grace),
        ))
        .aggregate(
            || 0i64,
            |_k, v, sum| sum + v,
            |_k, a, b| a + b,
            Serdes::i64(),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::session_windowed(Serdes::string()),
                Serdes::option(Serdes::i64()),
            ),
        );
    TopologyTestDriver::new(b.build().unwrap(), config()).unwrap()
}

fn session_out(driver: &TopologyTestDriver) -> TestOutputTopic<Windowed<String>, Option<i64>> {
    driver.create_output_topic(
        "out",
        Serdes::session_windowed(Serdes::string()),
        Serdes::option(Serdes::i64()),
    )
}

/// Java Kafka Streams 4.4 gives exactly these records (checked with its TopologyTestDriver):
/// the session store keeps sessions for gap + grace = 15 ms by their end, so at stream
/// time 120 the session [100, 100] (end 100 < 120 - 15 + 1) is no longer found, and the
/// record at 110 only merges with [120, 120].
#[test]
fn a_session_past_the_store_retention_is_not_merged() {
    let driver = session_sum(5);
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = session_out(&driver);
    input.pipe_record(TestRecord::new(k("s"), 1, 100)).unwrap();
    input.pipe_record(TestRecord::new(k("s"), 2, 120)).unwrap();
    // Within the gap of both sessions, but [100, 100] has expired from the store.
    input.pipe_record(TestRecord::new(k("s"), 4, 110)).unwrap();
    assert_eq!(
        read(&out),
        vec![
            (k("s"), 100, 100, Some(1), 100),
            (k("s"), 120, 120, Some(2), 120),
            (k("s"), 120, 120, None, 120),
            (k("s"), 110, 120, Some(6), 120),
        ]
    );
    // Stream time 136: sessions ending before 136 - grace 5 - gap 10 = 121 are closed, so
    // a new record at 120 (its own session [120, 120]) is dropped and counted.
    input.pipe_record(TestRecord::new(k("t"), 1, 136)).unwrap();
    assert_eq!(read(&out), vec![(k("t"), 136, 136, Some(1), 136)]);
    input.pipe_record(TestRecord::new(k("u"), 1, 120)).unwrap();
    assert!(read(&out).is_empty());
    assert_eq!(driver.task_metrics(TaskId::new(0, 0)).unwrap().dropped, 1);
}

/// With grace 20 the store keeps sessions for 30 ms, so a bridging record merges both
/// sessions: each is retracted (timestamp = its end), then the merged session comes out.
/// The outputs are Java Kafka Streams 4.4's for the same input.
#[test]
fn a_bridging_record_merges_two_sessions_within_retention() {
    let driver = session_sum(20);
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = session_out(&driver);
    for (v, ts) in [(1, 100), (2, 120), (4, 110), (8, 131), (16, 125)] {
        input.pipe_record(TestRecord::new(k("s"), v, ts)).unwrap();
    }
    assert_eq!(
        read(&out),
        vec![
            (k("s"), 100, 100, Some(1), 100),
            (k("s"), 120, 120, Some(2), 120),
            (k("s"), 100, 100, None, 100),
            (k("s"), 120, 120, None, 120),
            (k("s"), 100, 120, Some(7), 120),
            (k("s"), 131, 131, Some(8), 131),
            (k("s"), 100, 120, None, 120),
            (k("s"), 131, 131, None, 131),
            (k("s"), 100, 131, Some(31), 131),
        ]
    );
    assert_eq!(driver.task_metrics(TaskId::new(0, 0)).unwrap().dropped, 0);
}

#[test]
fn sliding_windows_include_both_ends() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(
            Duration::from_millis(10),
        ))
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 10),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 10);
    input.pipe_record(TestRecord::new(k("a"), 1, 100)).unwrap();
    // Exactly the time difference later: both records are in [100, 110].
    input.pipe_record(TestRecord::new(k("a"), 1, 110)).unwrap();
    assert_eq!(
        read(&out),
        vec![
            (k("a"), 90, 100, Some(1), 100),
            (k("a"), 101, 111, Some(1), 110),
            (k("a"), 100, 110, Some(2), 110),
        ]
    );
}

fn suppressed_counts(flush: Option<Duration>) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    let mut s = Suppressed::until_window_closes(BufferConfig::unbounded());
    if let Some(d) = flush {
        s = s.with_wall_clock_flush(d);
    }
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(100),
            Duration::from_millis(10),
        ))
        .count()
        .suppress(s)
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 100),
                Serdes::option(Serdes::i64()),
            ),
        );
    TopologyTestDriver::new(b.build().unwrap(), config()).unwrap()
}

#[test]
fn suppress_emits_one_final_result_when_the_window_closes() {
    let driver = suppressed_counts(None);
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    for (key, ts) in [("a", 10), ("b", 20), ("a", 30), ("a", 109)] {
        input.pipe_record(TestRecord::new(k(key), 1, ts)).unwrap();
    }
    assert!(read(&out).is_empty());
    input.pipe_record(TestRecord::new(k("c"), 1, 110)).unwrap();
    // Equal window ends come out in key order.
    assert_eq!(
        read(&out),
        vec![(k("a"), 0, 100, Some(2), 30), (k("b"), 0, 100, Some(1), 20)]
    );
    // A quiet partition never flushes without the wall-clock option.
    driver
        .advance_wall_clock_time(Duration::from_secs(3600))
        .unwrap();
    assert!(read(&out).is_empty());
}

#[test]
fn wall_clock_flush_releases_the_final_results_of_a_quiet_partition() {
    let driver = suppressed_counts(Some(Duration::from_millis(50)));
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 90)).unwrap();
    driver
        .advance_wall_clock_time(Duration::from_millis(10))
        .unwrap();
    assert!(read(&out).is_empty());
    // 110 ms of quiet: stream time is taken to be 90 + 110 = 200 >= 100 + 10.
    driver
        .advance_wall_clock_time(Duration::from_millis(100))
        .unwrap();
    assert_eq!(read(&out), vec![(k("a"), 0, 100, Some(2), 90)]);
}

#[test]
fn suppress_buffer_limits_emit_early_or_fail() {
    let build = |config: BufferConfig| {
        let b = StreamsBuilder::new();
        b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .count()
            .suppress(Suppressed::until_time_limit(
                Duration::from_secs(60),
                config,
            ))
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
            );
        TopologyTestDriver::new(b.build().unwrap(), config_app()).unwrap()
    };
    fn config_app() -> StreamsConfig {
        config()
    }
    let driver = build(BufferConfig::max_records(2));
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::i64()));
    for key in ["a", "b", "a", "c"] {
        input.pipe_record(TestRecord::new(k(key), 1, 5)).unwrap();
    }
    // The third distinct key overflows the buffer: the oldest ("a", 2) comes out early.
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![(k("a"), Some(2))]
    );
    let driver = build(BufferConfig::max_records(1).shut_down_when_full());
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    input.pipe_record(TestRecord::new(k("a"), 1, 5)).unwrap();
    let err = input
        .pipe_record(TestRecord::new(k("b"), 1, 5))
        .unwrap_err();
    let err = format!("{err} / {err:?}");
    assert!(err.contains("buffer exceeded its max capacity"), "{err}");
}

/// Which store an emit-on-close test aggregates into.
fn materialized(store: StoreType) -> Materialized<String, i64> {
    Materialized::with(Serdes::string(), Serdes::i64()).with_store_type(store)
}

/// An emit-on-close tumbling count, with `interval_ms` between two looks for closed windows
/// ("1000" is the production default; the driver's own default is 0, as Java's).
fn tumbling_on_close(store: StoreType, interval_ms: &str) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            100,
        )))
        .emit_strategy(EmitStrategy::on_window_close())
        .count_with(materialized(store))
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 100),
                Serdes::option(Serdes::i64()),
            ),
        );
    TopologyTestDriver::new(
        b.build().unwrap(),
        config().set(WINDOWED_AGGREGATION_EMIT_INTERVAL, interval_ms),
    )
    .unwrap()
}

/// Java Kafka Streams 4.4 emits `(a, [0, 100)) = 2 @20` here. Its RocksDB time-ordered
/// store still finds window 0 when the record at 150 closes it, although the put at window
/// start 100 made the store's observed time 100 = window start + retention.
#[test]
fn emit_on_window_close_forwards_only_final_results() {
    let driver = tumbling_on_close(StoreType::RocksDb, "1000");
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 20)).unwrap();
    assert!(read(&out).is_empty());
    // Closed windows are looked for at most once per second of wall-clock time.
    driver
        .advance_wall_clock_time(Duration::from_secs(1))
        .unwrap();
    input.pipe_record(TestRecord::new(k("b"), 1, 150)).unwrap();
    assert_eq!(read(&out), vec![(k("a"), 0, 100, Some(2), 20)]);
    // Stream time jumps to 300: window [100, 200) closed, but the put at window start 300
    // cut the store's reads at 300 - 100 = 200 before the look, so it is never emitted
    // (Java: the same).
    input.pipe_record(TestRecord::new(k("a"), 1, 160)).unwrap();
    driver
        .advance_wall_clock_time(Duration::from_secs(1))
        .unwrap();
    input.pipe_record(TestRecord::new(k("c"), 1, 300)).unwrap();
    assert!(read(&out).is_empty());
}

/// Between two looks (1 s of wall clock), closed windows wait; a look emits every window
/// closed since the previous one.
#[test]
fn emit_on_window_close_waits_for_the_emit_interval() {
    let driver = tumbling_on_close(StoreType::RocksDb, "1000");
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    // The first record looks (nothing is closed), the next look is 1 s of wall clock later.
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    input.pipe_record(TestRecord::new(k("b"), 1, 150)).unwrap();
    assert!(read(&out).is_empty());
    driver
        .advance_wall_clock_time(Duration::from_millis(999))
        .unwrap();
    input.pipe_record(TestRecord::new(k("b"), 1, 160)).unwrap();
    assert!(read(&out).is_empty());
    driver
        .advance_wall_clock_time(Duration::from_millis(1))
        .unwrap();
    input.pipe_record(TestRecord::new(k("b"), 1, 170)).unwrap();
    assert_eq!(read(&out), vec![(k("a"), 0, 100, Some(1), 10)]);
}

/// With an emit interval of 0 (what Java's TopologyTestDriver configures) every record
/// looks; the outputs are Java Kafka Streams 4.4's for the same input.
#[test]
fn emit_on_window_close_with_a_zero_interval_looks_on_every_record() {
    let driver = tumbling_on_close(StoreType::RocksDb, "0");
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    let mut got = Vec::new();
    for (key, ts) in [
        ("a", 10),
        ("a", 120),
        ("b", 150),
        ("c", 199),
        ("c", 220),
        ("d", 300),
    ] {
        input.pipe_record(TestRecord::new(k(key), 1, ts)).unwrap();
        got.push(read(&out));
    }
    assert_eq!(
        got,
        vec![
            vec![],
            vec![(k("a"), 0, 100, Some(1), 10)],
            vec![],
            vec![],
            vec![
                (k("a"), 100, 200, Some(1), 120),
                (k("b"), 100, 200, Some(1), 150),
                (k("c"), 100, 200, Some(1), 199),
            ],
            vec![(k("c"), 200, 300, Some(1), 220)],
        ]
    );
}

/// Kafka Streams' in-memory window store has no time-ordered variant: its reads skip
/// windows starting before `observed - retention + 1`, so a tumbling window without grace
/// is already unreadable when it closes and nothing is emitted (Java: the same).
#[test]
fn emit_on_window_close_with_an_in_memory_store_misses_windows_at_the_retention_edge() {
    let driver = tumbling_on_close(StoreType::InMemory, "1000");
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let out = windowed_out(&driver, 100);
    input.pipe_record(TestRecord::new(k("a"), 1, 10)).unwrap();
    input.pipe_record(TestRecord::new(k("a"), 1, 20)).unwrap();
    driver
        .advance_wall_clock_time(Duration::from_secs(1))
        .unwrap();
    input.pipe_record(TestRecord::new(k("b"), 1, 150)).unwrap();
    assert!(read(&out).is_empty());
}

/// Hopping windows with grace: both stores emit the same final counts, since the store's
/// cut stays behind the closing windows (Java: the same for both).
#[test]
fn emit_on_window_close_of_hopping_windows_with_grace() {
    for store in [StoreType::RocksDb, StoreType::InMemory] {
        let b = StreamsBuilder::new();
        b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .windowed_by(
                TimeWindows::of_size_and_grace(
                    Duration::from_millis(100),
                    Duration::from_millis(20),
                )
                .advance_by(Duration::from_millis(50)),
            )
            .emit_strategy(EmitStrategy::on_window_close())
            .count_with(materialized(store))
            .to_stream()
            .to(
                "out",
                Produced::with(
                    Serdes::time_windowed(Serdes::string(), 100),
                    Serdes::option(Serdes::i64()),
                ),
            );
        let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
        let out = windowed_out(&driver, 100);
        for (key, ts) in [
            ("k1", 10),
            ("k2", 60),
            ("k1", 110),
            ("k2", 169),
            ("k1", 170),
            ("k2", 171),
            ("k1", 230),
            ("k2", 500),
        ] {
            input.pipe_record(TestRecord::new(k(key), 1, ts)).unwrap();
        }
        assert_eq!(
            read(&out),
            vec![
                (k("k1"), 50, 150, Some(1), 110),
                (k("k2"), 50, 150, Some(1), 60),
                (k("k1"), 100, 200, Some(2), 170),
                (k("k2"), 100, 200, Some(2), 171),
            ],
            "{store:?}"
        );
    }
}

fn session_count_on_close(store: StoreType) -> TopologyTestDriver {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(
            Duration::from_millis(10),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count_with(materialized(store))
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::session_windowed(Serdes::string()),
                Serdes::option(Serdes::i64()),
            ),
        );
    // The production interval, which the wall-clock moves below step through.
    TopologyTestDriver::new(
        b.build().unwrap(),
        config().set(WINDOWED_AGGREGATION_EMIT_INTERVAL, "1000"),
    )
    .unwrap()
}

/// Emit-on-close sessions come out once closed (end < stream time - gap - grace), time-
/// stamped with their end. Kafka Streams' time-ordered RocksDB session store finds closed
/// sessions by segment, whatever the retention; its in-memory session store cuts at
/// `observed end - retention + 1` and so never finds them. Java 4.4 gives these outputs
/// for both stores.
#[test]
fn emit_on_window_close_of_sessions() {
    for (store, want) in [
        (
            StoreType::RocksDb,
            vec![
                (k("k"), 100, 105, Some(2), 105),
                (k("j"), 150, 150, Some(1), 150),
                (k("x"), 200, 200, Some(1), 200),
            ],
        ),
        (StoreType::InMemory, vec![]),
    ] {
        let driver = session_count_on_close(store);
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
        let out = session_out(&driver);
        input.pipe_record(TestRecord::new(k("k"), 1, 100)).unwrap();
        input.pipe_record(TestRecord::new(k("k"), 1, 105)).unwrap();
        input.pipe_record(TestRecord::new(k("j"), 1, 150)).unwrap();
        driver
            .advance_wall_clock_time(Duration::from_secs(1))
            .unwrap();
        input.pipe_record(TestRecord::new(k("x"), 1, 200)).unwrap();
        driver
            .advance_wall_clock_time(Duration::from_secs(1))
            .unwrap();
        input.pipe_record(TestRecord::new(k("x"), 1, 400)).unwrap();
        assert_eq!(read(&out), want, "{store:?}");
    }
}

/// Emit-on-close sliding windows (difference 10, no grace): a window `[s, s + 10]` comes
/// out once stream time passes `s + 10`; Java 4.4 gives these outputs (with its driver's
/// emit interval of 0) for both stores.
#[test]
fn emit_on_window_close_of_sliding_windows() {
    for store in [StoreType::RocksDb, StoreType::InMemory] {
        let b = StreamsBuilder::new();
        b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .windowed_by(SlidingWindows::of_time_difference_with_no_grace(
                Duration::from_millis(10),
            ))
            .emit_strategy(EmitStrategy::on_window_close())
            .count_with(materialized(store))
            .to_stream()
            .to(
                "out",
                Produced::with(
                    Serdes::time_windowed(Serdes::string(), 10),
                    Serdes::option(Serdes::i64()),
                ),
            );
        let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
        let out = windowed_out(&driver, 10);
        let mut got = Vec::new();
        for (key, ts) in [("a", 100), ("b", 105), ("a", 106), ("a", 200)] {
            input.pipe_record(TestRecord::new(k(key), 1, ts)).unwrap();
            got.push(read(&out));
        }
        assert_eq!(
            got,
            vec![
                vec![],
                vec![(k("a"), 90, 100, Some(1), 100)],
                vec![(k("b"), 95, 105, Some(1), 105)],
                vec![],
            ],
            "{store:?}"
        );
    }
}

/// Every window of a key is written to the key's partition: windowed keys are partitioned
/// on their base key, as Java's `WindowedStreamPartitioner` does.
#[test]
fn windowed_results_land_in_the_partition_of_their_base_key() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            10,
        )))
        .count()
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 10),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::with_options(
        b.build().unwrap(),
        config(),
        DriverOptions::new().partitions(8).output_log(true),
    )
    .unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    for i in 0..50 {
        input
            .pipe_record(TestRecord::new(format!("key-{}", i % 5), 1, i * 7))
            .unwrap();
    }
    let log = driver.take_output_log();
    let mut seen = 0;
    for r in log.iter().filter(|r| r.topic == "out") {
        let key = r.key.as_deref().unwrap();
        let base = &key[..key.len() - 8];
        assert_eq!(
            r.partition,
            streams_core::partitioner::default_partition(base, 8)
        );
        seen += 1;
    }
    assert_eq!(seen, 50);
}

/// A naive model of tumbling/hopping windowed count and sum with grace.
#[derive(Default)]
struct Model {
    observed: i64,
    windows: BTreeMap<(String, i64), (i64, i64, i64)>,
    emitted: Vec<(String, i64, i64, i64, i64)>,
    dropped: u64,
}

impl Model {
    fn process(&mut self, size: i64, advance: i64, grace: i64, key: &str, v: i64, ts: i64) {
        self.observed = self.observed.max(ts);
        let mut start = (ts - size + advance).max(0) / advance * advance;
        while start <= ts {
            if start + size > self.observed - grace {
                let e = self
                    .windows
                    .entry((key.to_owned(), start))
                    .or_insert((0, 0, ts));
                e.0 += 1;
                e.1 += v;
                e.2 = e.2.max(ts);
                self.emitted.push((key.to_owned(), start, e.0, e.1, e.2));
            } else {
                self.dropped += 1;
            }
            start += advance;
        }
    }
}

#[test]
fn windowed_count_and_sum_match_a_naive_model_on_seeded_random_input() {
    for seed in [1u64, 7, 42, 2024] {
        let mut rng = SplitMix64::new(seed);
        let size = 50 + rng.below(100) as i64;
        let advance = if rng.below(2) == 0 {
            size
        } else {
            1 + rng.below(size as u64) as i64
        };
        let grace = rng.below(40) as i64;
        let b = StreamsBuilder::new();
        let windowed = b
            .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .windowed_by(
                TimeWindows::of_size_and_grace(
                    Duration::from_millis(size as u64),
                    Duration::from_millis(grace as u64),
                )
                .advance_by(Duration::from_millis(advance as u64)),
            );
        let produced = || {
            Produced::with(
                Serdes::time_windowed(Serdes::string(), size),
                Serdes::option(Serdes::i64()),
            )
        };
        windowed.count().to_stream().to("counts", produced());
        windowed
            .aggregate(|| 0i64, |_k, v, s| s + v, Serdes::i64())
            .to_stream()
            .to("sums", produced());
        let driver = TopologyTestDriver::new(b.build().unwrap(), config()).unwrap();
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
        let counts = driver.create_output_topic(
            "counts",
            Serdes::time_windowed(Serdes::string(), size),
            Serdes::option(Serdes::i64()),
        );
        let sums = driver.create_output_topic(
            "sums",
            Serdes::time_windowed(Serdes::string(), size),
            Serdes::option(Serdes::i64()),
        );
        let mut model = Model::default();
        let mut clock = 0i64;
        for _ in 0..600 {
            clock += rng.below(20) as i64;
            let ts = (clock - rng.below(80) as i64).max(0);
            let key = format!("k{}", rng.below(6));
            let v = rng.below(1000) as i64 - 300;
            model.process(size, advance, grace, &key, v, ts);
            input
                .pipe_record(TestRecord::new(key.clone(), v, ts))
                .unwrap();
        }
        let got_counts: Vec<_> = counts
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key.key, r.key.window.start, r.value, r.timestamp))
            .collect();
        let got_sums: Vec<_> = sums
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key.key, r.key.window.start, r.value, r.timestamp))
            .collect();
        let want_counts: Vec<_> = model
            .emitted
            .iter()
            .map(|(k, s, c, _, ts)| (k.clone(), *s, Some(*c), *ts))
            .collect();
        let want_sums: Vec<_> = model
            .emitted
            .iter()
            .map(|(k, s, _, sum, ts)| (k.clone(), *s, Some(*sum), *ts))
            .collect();
        assert_eq!(got_counts, want_counts, "seed {seed}: counts");
        assert_eq!(got_sums, want_sums, "seed {seed}: sums");
        // Both aggregations drop the same late windows.
        let dropped = driver.task_metrics(TaskId::new(0, 0)).unwrap().dropped;
        assert_eq!(dropped, 2 * model.dropped, "seed {seed}");
    }
}
