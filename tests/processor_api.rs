//! The Processor API: punctuation rules, named forwarding, store access, type checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_dsl::prelude::*;

type Log = Arc<Mutex<Vec<String>>>;

/// Schedules a punctuator of the given type in `init` and logs each firing.
struct Ticker {
    kind: PunctuationType,
    interval: Duration,
    log: Log,
    cancel_after: Option<usize>,
    id: Option<PunctuatorId>,
    fired: usize,
}

impl Processor<String, String, String, String> for Ticker {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        self.id = Some(ctx.schedule(self.interval, self.kind)?);
        Ok(())
    }

    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("record@{}", r.timestamp));
        ctx.forward(r)
    }

    fn punctuate(
        &mut self,
        _id: PunctuatorId,
        ts: i64,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        self.fired += 1;
        self.log.lock().unwrap().push(format!("punctuate@{ts}"));
        if Some(self.fired) == self.cancel_after
            && let Some(id) = self.id
        {
            ctx.cancel(id);
        }
        ctx.forward(Record::new("tick".to_string(), ts.to_string(), ts))
    }
}

fn ticker_driver(
    kind: PunctuationType,
    interval_ms: u64,
    cancel_after: Option<usize>,
) -> Result<(TopologyTestDriver, Log)> {
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let mut t = Topology::new();
    t.add_source(
        "src",
        &["in"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )?
    .add_processor(
        "tick",
        move || Ticker {
            kind,
            interval: Duration::from_millis(interval_ms),
            log: Arc::clone(&l),
            cancel_after,
            id: None,
            fired: 0,
        },
        &["src"],
    )?
    .add_sink(
        "out",
        "out",
        Produced::with(Serdes::string(), Serdes::string()),
        &["tick"],
    )?;
    let driver = TopologyTestDriver::with_options(
        t,
        StreamsConfig::new(),
        DriverOptions::new().wall_clock_start(1_000),
    )?;
    Ok((driver, log))
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn stream_time_punctuation_is_aligned_to_zero_and_skips_missed_intervals() -> Result<()> {
    let (driver, log) = ticker_driver(PunctuationType::StreamTime, 10, None)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    driver.advance_wall_clock_time(Duration::from_secs(60))?;
    assert!(take(&log).is_empty(), "no stream time yet: nothing fires");
    input.pipe_input_at("k".into(), "v".into(), 3)?;
    assert_eq!(
        take(&log),
        vec!["record@3", "punctuate@3"],
        "fires as soon as there is data"
    );
    input.pipe_input_at("k".into(), "v".into(), 9)?;
    assert_eq!(take(&log), vec!["record@9"]);
    input.pipe_input_at("k".into(), "v".into(), 10)?;
    assert_eq!(take(&log), vec!["record@10", "punctuate@10"]);
    input.pipe_input_at("k".into(), "v".into(), 5)?;
    assert_eq!(
        take(&log),
        vec!["record@5"],
        "out-of-order records do not move stream time back"
    );
    input.pipe_input_at("k".into(), "v".into(), 47)?;
    assert_eq!(
        take(&log),
        vec!["record@47", "punctuate@47"],
        "a jump fires once"
    );
    input.pipe_input_at("k".into(), "v".into(), 49)?;
    assert_eq!(take(&log), vec!["record@49"], "next is aligned at 50");
    input.pipe_input_at("k".into(), "v".into(), 50)?;
    assert_eq!(take(&log), vec!["record@50", "punctuate@50"]);
    Ok(())
}

#[test]
fn wall_clock_punctuation_first_fires_one_interval_after_scheduling() -> Result<()> {
    let (driver, log) = ticker_driver(PunctuationType::WallClockTime, 100, Some(3))?;
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    driver.advance_wall_clock_time(Duration::from_millis(99))?;
    assert!(take(&log).is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1))?;
    assert_eq!(take(&log), vec!["punctuate@1100"]);
    driver.advance_wall_clock_time(Duration::from_millis(350))?;
    assert_eq!(
        take(&log),
        vec!["punctuate@1450"],
        "missed intervals are skipped"
    );
    driver.advance_wall_clock_time(Duration::from_millis(50))?;
    assert_eq!(take(&log), vec!["punctuate@1500"]);
    driver.advance_wall_clock_time(Duration::from_secs(10))?;
    assert!(take(&log).is_empty(), "cancelled after the third firing");
    assert_eq!(output.read_values_to_list()?, vec!["1100", "1450", "1500"]);
    Ok(())
}

/// Forwards to one named child by the record's value.
struct Router;

impl Processor<String, String, String, String> for Router {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let child = if r.value.starts_with('a') {
            "to-a"
        } else {
            "to-b"
        };
        ctx.forward_to(child, r)
    }
}

#[test]
fn forward_to_reaches_only_the_named_child() -> Result<()> {
    let strings = || Produced::with(Serdes::string(), Serdes::string());
    let mut t = Topology::new();
    t.add_source(
        "src",
        &["in"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )?
    .add_processor("router", || Router, &["src"])?
    .add_sink("to-a", "a", strings(), &["router"])?
    .add_sink("to-b", "b", strings(), &["router"])?;
    let driver = TopologyTestDriver::new(t, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_key_value_list(vec![
        ("1".into(), "apple".into()),
        ("2".into(), "banana".into()),
    ])?;
    assert_eq!(
        driver
            .create_output_topic("a", Serdes::string(), Serdes::string())
            .read_values_to_list()?,
        vec!["apple"]
    );
    assert_eq!(
        driver
            .create_output_topic("b", Serdes::string(), Serdes::string())
            .read_values_to_list()?,
        vec!["banana"]
    );
    Ok(())
}

struct WantsStore;

impl Processor<String, String, String, String> for WantsStore {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        ctx.state_store::<Vec<u8>>("missing").map(|_| ())
    }
    fn process(
        &mut self,
        _r: Record<String, String>,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_store_not_connected_to_the_processor_is_an_error_at_init() -> Result<()> {
    let mut t = Topology::new();
    t.add_source(
        "src",
        &["in"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )?
    .add_processor("p", || WantsStore, &["src"])?;
    let err = TopologyTestDriver::new(t, StreamsConfig::new()).unwrap_err();
    assert!(
        matches!(err, Error::StoreNotAvailable(ref s) if s == "missing"),
        "{err}"
    );
    Ok(())
}

#[test]
fn connecting_nodes_of_different_types_is_rejected_with_both_types_named() -> Result<()> {
    let mut t = Topology::new();
    t.add_source(
        "src",
        &["in"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )?;
    let err = t
        .add_processor("p", || Router, &["src"])
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'p'") && err.contains("i64") && err.contains("String"),
        "{err}"
    );
    let err = t
        .add_sink(
            "s",
            "out",
            Produced::with(Serdes::string(), Serdes::string()),
            &["nope"],
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("'nope' of node 's' does not exist"), "{err}");
    let err = t
        .add_source(
            "src2",
            &["in"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("already read by source 'src'"), "{err}");
    Ok(())
}

#[test]
fn describe_matches_kafka_streams_for_a_merge_and_two_subtopologies() -> Result<()> {
    let b = StreamsBuilder::new();
    let a = b.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    let c = b.stream("c", Consumed::with(Serdes::string(), Serdes::string()));
    a.merge(&c)
        .to("merged", Produced::with(Serdes::string(), Serdes::string()));
    b.stream("other", Consumed::with(Serdes::string(), Serdes::string()))
        .foreach(|_, _| {});
    // The text Kafka Streams 4.x prints for the same DSL calls.
    let expected = "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [a])\n      --> KSTREAM-MERGE-0000000002\n    Source: KSTREAM-SOURCE-0000000001 (topics: [c])\n      --> KSTREAM-MERGE-0000000002\n    Processor: KSTREAM-MERGE-0000000002 (stores: [])\n      --> KSTREAM-SINK-0000000003\n      <-- KSTREAM-SOURCE-0000000000, KSTREAM-SOURCE-0000000001\n    Sink: KSTREAM-SINK-0000000003 (topic: merged)\n      <-- KSTREAM-MERGE-0000000002\n\n  Sub-topology: 1\n    Source: KSTREAM-SOURCE-0000000004 (topics: [other])\n      --> KSTREAM-FOREACH-0000000005\n    Processor: KSTREAM-FOREACH-0000000005 (stores: [])\n      --> none\n      <-- KSTREAM-SOURCE-0000000004\n\n";
    assert_eq!(b.build()?.describe().to_string(), expected);
    Ok(())
}
