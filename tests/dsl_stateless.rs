//! Stateless DSL operators: their rules for null keys and values, branch order, fan-out,
//! and the errors a builder reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use streams_dsl::prelude::*;

type S = Option<String>;

fn nullable() -> Consumed<S, S> {
    Consumed::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn out() -> Produced<S, S> {
    Produced::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn s(v: &str) -> S {
    Some(v.to_string())
}

struct Harness {
    _driver: TopologyTestDriver,
    input: TestInputTopic<S, S>,
    output: TestOutputTopic<S, S>,
}

fn harness(f: impl FnOnce(KStream<S, S>) -> KStream<S, S>) -> Result<Harness> {
    let b = StreamsBuilder::new();
    f(b.stream("in", nullable())).to("out", out());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic(
        "in",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let output = driver.create_output_topic(
        "out",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    Ok(Harness {
        _driver: driver,
        input,
        output,
    })
}

#[test]
fn filter_sees_null_keys_and_values() -> Result<()> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let h = harness(move |s| {
        s.filter(move |k, v| {
            log.lock().unwrap().push((k.clone(), v.clone()));
            v.is_some()
        })
    })?;
    h.input.pipe_record(TestRecord::new(None, s("a"), 1))?;
    h.input.pipe_record(TestRecord::new(s("k"), None, 2))?;
    h.input.pipe_record(TestRecord::new(None, None, 3))?;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(None, s("a")), (s("k"), None), (None, None)]
    );
    assert_eq!(h.output.read_key_values_to_list()?, vec![(None, s("a"))]);
    Ok(())
}

#[test]
fn map_values_can_produce_tombstones_and_keeps_key_timestamp_headers() -> Result<()> {
    let h = harness(|s| s.map_values(|v: S| v.filter(|v| v != "drop")))?;
    let mut rec = TestRecord::new(s("k"), s("drop"), 42);
    rec.headers = Headers::new().with("trace", "t1");
    h.input.pipe_record(rec)?;
    h.input
        .pipe_record(TestRecord::new(s("k"), s("keep"), 43))?;
    let first = h.output.read_record()?;
    assert_eq!(
        (first.key.clone(), first.value.clone(), first.timestamp),
        (s("k"), None, 42)
    );
    assert_eq!(
        first.headers.last("trace").and_then(|h| h.value.clone()),
        Some(b"t1".to_vec())
    );
    assert_eq!(h.output.read_value()?, s("keep"));
    Ok(())
}

#[test]
fn map_and_select_key_may_produce_null_keys() -> Result<()> {
    let h = harness(|s| s.map(|k: S, v: S| (v, k)))?;
    h.input.pipe_record(TestRecord::new(s("k"), None, 1))?;
    assert_eq!(h.output.read_key_value()?, (None, s("k")));
    let h = harness(|s| s.select_key(|_, v: &S| v.clone()))?;
    h.input.pipe_record(TestRecord::new(s("k"), None, 1))?;
    h.input.pipe_record(TestRecord::new(None, s("v"), 2))?;
    assert_eq!(
        h.output.read_key_values_to_list()?,
        vec![(None, None), (s("v"), s("v"))]
    );
    Ok(())
}

#[test]
fn flat_map_with_zero_one_and_many_outputs() -> Result<()> {
    let h = harness(|s| {
        s.flat_map(|k: S, v: S| {
            let n = v.as_deref().map_or(0, |v| v.parse::<usize>().unwrap_or(0));
            (0..n)
                .map(move |i| (k.clone(), Some(i.to_string())))
                .collect::<Vec<_>>()
        })
    })?;
    h.input.pipe_record(TestRecord::new(s("a"), s("0"), 10))?;
    assert!(h.output.is_empty(), "zero outputs");
    h.input.pipe_record(TestRecord::new(s("b"), s("1"), 11))?;
    h.input.pipe_record(TestRecord::new(s("c"), s("3"), 12))?;
    h.input.pipe_record(TestRecord::new(s("d"), None, 13))?;
    let recs = h.output.read_records_to_list()?;
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.key.clone(), r.value.clone(), r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("b"), s("0"), 11),
            (s("c"), s("0"), 12),
            (s("c"), s("1"), 12),
            (s("c"), s("2"), 12)
        ]
    );
    Ok(())
}

#[test]
fn flat_map_values_keeps_the_key_for_each_output() -> Result<()> {
    let h = harness(|s| {
        s.flat_map_values(|v: S| {
            v.unwrap_or_default()
                .chars()
                .map(|c| Some(c.to_string()))
                .collect::<Vec<_>>()
        })
    })?;
    h.input.pipe_record(TestRecord::new(s("k"), s("xy"), 5))?;
    h.input.pipe_record(TestRecord::new(s("e"), s(""), 6))?;
    assert_eq!(
        h.output.read_key_values_to_list()?,
        vec![(s("k"), s("x")), (s("k"), s("y"))]
    );
    Ok(())
}

#[test]
fn branch_first_match_wins_and_unmatched_records_are_dropped_without_default() -> Result<()> {
    let b = StreamsBuilder::new();
    let branches = b
        .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .split()
        .branch(|_, v| *v > 10, Branched::as_("big"))
        .branch(|_, v| *v > 0, Branched::as_("positive"))
        .no_default_branch();
    assert_eq!(
        branches.keys().cloned().collect::<Vec<_>>(),
        vec![
            "KSTREAM-BRANCH-0000000001big".to_string(),
            "KSTREAM-BRANCH-0000000001positive".to_string()
        ]
    );
    branches["KSTREAM-BRANCH-0000000001big"].to("big", Produced::inherit());
    branches["KSTREAM-BRANCH-0000000001positive"].to("positive", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let big = driver.create_output_topic("big", Serdes::string(), Serdes::i64());
    let positive = driver.create_output_topic("positive", Serdes::string(), Serdes::i64());
    input.pipe_key_value_list([50, 5, -5, 11, 10].map(|v| ("k".to_string(), v)))?;
    assert_eq!(
        big.read_values_to_list()?,
        vec![50, 11],
        "a record matching both goes to the first"
    );
    assert_eq!(positive.read_values_to_list()?, vec![5, 10]);
    Ok(())
}

#[test]
fn fan_out_forwards_to_children_in_the_order_they_were_added() -> Result<()> {
    let b = StreamsBuilder::new();
    let src = b.stream("in", Consumed::with(Serdes::string(), Serdes::string()));
    src.map_values(|v| format!("first:{v}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    src.map_values(|v| format!("second:{v}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::with_options(
        b.build()?,
        StreamsConfig::new(),
        DriverOptions::new().output_log(true),
    )?;
    driver
        .create_input_topic("in", Serdes::string(), Serdes::string())
        .pipe_input("k".to_string(), "v".to_string())?;
    let values: Vec<_> = driver
        .take_output_log()
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).unwrap())
        .collect();
    assert_eq!(values, vec!["first:v", "second:v"]);
    Ok(())
}

#[test]
fn key_changing_operators_mark_the_stream_for_repartitioning() {
    let b = StreamsBuilder::new();
    let src = b.stream("in", nullable());
    assert!(!src.is_repartition_required());
    assert!(!src.filter(|_, _| true).is_repartition_required());
    assert!(!src.map_values(|v: S| v).is_repartition_required());
    assert!(
        !src.flat_map_values(|v: S| vec![v])
            .is_repartition_required()
    );
    assert!(!src.peek(|_, _| {}).is_repartition_required());
    assert!(src.map(|k: S, v: S| (k, v)).is_repartition_required());
    assert!(
        src.select_key(|k: &S, _| k.clone())
            .is_repartition_required()
    );
    assert!(
        src.flat_map(|k: S, v: S| vec![(k, v)])
            .is_repartition_required()
    );
    let keyed = src.select_key(|k: &S, _| k.clone());
    assert!(
        keyed.filter(|_, _| true).is_repartition_required(),
        "the mark carries downstream"
    );
    assert!(
        src.merge(&keyed).is_repartition_required(),
        "a merge with a re-keyed stream needs it"
    );
}

#[test]
fn build_reports_a_sink_without_serdes_by_name() {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map(|k, v| (v, k))
        .to("out", Produced::inherit());
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("KSTREAM-SINK-0000000002") && err.contains("serde"),
        "{err}"
    );
}

#[test]
fn build_rejects_duplicate_and_invalid_names() {
    let b = StreamsBuilder::new();
    let s = b.stream("in", Consumed::with(Serdes::string(), Serdes::string()));
    s.named("dup").filter(|_, _| true);
    s.named("dup").filter(|_, _| false);
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("'dup' already exists"), "{err}");

    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .named("bad name!")
        .peek(|_, _| {});
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("bad name!"), "{err}");
}

#[test]
fn names_burn_indexes_like_kafka_streams() -> Result<()> {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .named("custom")
        .filter(|_, _| true)
        .map_values(|v| v)
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let d = b.build()?.describe().to_string();
    // source 0, the named filter burns 1, map-values is 2, the sink 3.
    assert!(d.contains("Processor: KSTREAM-MAPVALUES-0000000002"), "{d}");
    assert!(
        d.contains("Sink: KSTREAM-SINK-0000000003 (topic: out)"),
        "{d}"
    );
    Ok(())
}

#[test]
fn a_non_nullable_serde_rejects_null_with_a_clear_error() -> Result<()> {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let err = input.pipe_value("v".to_string()).unwrap_err();
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(chain.contains("in") && chain.contains("option"), "{chain}");
    Ok(())
}

#[test]
fn deserialization_errors_follow_the_configured_handler() -> Result<()> {
    let topology = || -> Result<Topology> {
        let b = StreamsBuilder::new();
        b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .to("out", Produced::inherit());
        b.build()
    };
    // Fail (the default): the error reaches the caller.
    let driver = TopologyTestDriver::new(topology()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    assert!(
        input
            .pipe_raw(Some(b"k"), Some(b"not eight bytes"), 1)
            .is_err()
    );

    // Continue: the record is dropped and counted; later records go on.
    let cfg = StreamsConfig::new().set("default.deserialization.exception.handler", "continue");
    let driver = TopologyTestDriver::new(topology()?, cfg)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_raw(Some(b"k"), Some(b"bad"), 1)?;
    input.pipe_input("k".to_string(), 7)?;
    assert_eq!(output.read_values_to_list()?, vec![7]);
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(1)
    );

    // Dead letter: the original bytes go to `<topic>.dead-letter` with the reason.
    let cfg = StreamsConfig::new().set("default.deserialization.exception.handler", "dead-letter");
    let driver = TopologyTestDriver::new(topology()?, cfg)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let dlq = driver.create_output_topic("in.dead-letter", Serdes::bytes(), Serdes::bytes());
    input.pipe_raw(Some(b"k"), Some(b"bad"), 1)?;
    input.pipe_input("k".to_string(), 8)?;
    let dead = dlq.read_record()?;
    assert_eq!(
        (dead.key.as_slice(), dead.value.as_slice(), dead.timestamp),
        (&b"k"[..], &b"bad"[..], 1)
    );
    let header = |name: &str| {
        dead.headers
            .last(name)
            .and_then(|h| h.value.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(header("original-topic").as_deref(), Some("in"));
    assert_eq!(header("original-partition").as_deref(), Some("0"));
    assert_eq!(header("original-offset").as_deref(), Some("0"));
    assert!(
        header("dead-letter-reason").is_some_and(|r| r.contains("LongDeserializer")),
        "{:?}",
        header("dead-letter-reason")
    );
    assert!(header("failed-at").is_some_and(|t| t.starts_with("1970-01-01T00:00:00")));
    assert_eq!(
        driver
            .create_output_topic("out", Serdes::string(), Serdes::i64())
            .read_values_to_list()?,
        vec![8]
    );
    Ok(())
}

/// Fails on negative values.
struct RejectNegative;

impl Processor<String, i64, String, i64> for RejectNegative {
    fn process(
        &mut self,
        r: Record<String, i64>,
        ctx: &mut ProcessorContext<'_, String, i64>,
    ) -> Result<()> {
        if r.value < 0 {
            return Err(Error::Processing {
                node: "reject-negative".into(),
                source: format!("negative amount {}", r.value).into(),
            });
        }
        ctx.forward(r)
    }
}

#[test]
fn processing_errors_follow_the_configured_handler() -> Result<()> {
    let topology = || -> Result<Topology> {
        let b = StreamsBuilder::new();
        b.stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .process(|| RejectNegative, &[])
            .to("out", Produced::with(Serdes::string(), Serdes::i64()));
        b.build()
    };
    // Fail (the default): the error reaches the caller.
    let driver = TopologyTestDriver::new(topology()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    assert!(input.pipe_input("k".to_string(), -1).is_err());

    // Continue: dropped and counted.
    let cfg = StreamsConfig::new().set("processing.exception.handler", "continue");
    let driver = TopologyTestDriver::new(topology()?, cfg)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_input("k".to_string(), -1)?;
    input.pipe_input("k".to_string(), 2)?;
    assert_eq!(output.read_values_to_list()?, vec![2]);
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(1)
    );

    // Dead letter: the failed input record's bytes, headers kept, go to
    // `<topic>.dead-letter` with the processor's error; later records go on.
    let cfg = StreamsConfig::new().set("processing.exception.handler", "dead-letter");
    let driver = TopologyTestDriver::new(topology()?, cfg)?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    let dlq = driver.create_output_topic("in.dead-letter", Serdes::bytes(), Serdes::bytes());
    input.pipe_input_at("a".to_string(), 1, 10)?;
    let mut bad = TestRecord::new("b".to_string(), -5, 20);
    bad.headers.add("trace", Some(b"t-1".to_vec()));
    input.pipe_record(bad)?;
    input.pipe_input_at("c".to_string(), 3, 30)?;
    assert_eq!(output.read_values_to_list()?, vec![1, 3]);
    let dead = dlq.read_record()?;
    assert!(dlq.is_empty());
    assert_eq!(
        (dead.key.as_slice(), dead.value.as_slice(), dead.timestamp),
        (&b"b"[..], &(-5i64).to_be_bytes()[..], 20)
    );
    let header = |name: &str| {
        dead.headers
            .last(name)
            .and_then(|h| h.value.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(header("trace").as_deref(), Some("t-1"));
    assert_eq!(header("original-offset").as_deref(), Some("1"));
    assert!(
        header("dead-letter-reason").is_some_and(|r| r.contains("negative amount -5")),
        "{:?}",
        header("dead-letter-reason")
    );
    assert_eq!(
        driver
            .task_metrics(TaskId::new(0, 0))
            .map(|m| m.dead_lettered),
        Some(1)
    );
    Ok(())
}

#[test]
fn timestamp_extractor_reads_event_time_from_the_value() -> Result<()> {
    let b = StreamsBuilder::new();
    b.stream(
        "in",
        Consumed::with(Serdes::string(), Serdes::i64())
            .with_timestamp_extractor(|_: &String, v: &i64, _ts: i64| *v * 1000),
    )
    .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_input_at("k".to_string(), 7, 1)?;
    assert_eq!(output.read_record()?.timestamp, 7000);
    Ok(())
}

#[test]
fn a_negative_timestamp_fails_by_default_and_is_skipped_on_request() -> Result<()> {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let err = input
        .pipe_input_at("k".to_string(), "v".to_string(), -1)
        .unwrap_err();
    assert!(format!("{err:?}").contains("negative"), "{err:?}");

    let b = StreamsBuilder::new();
    b.stream(
        "in",
        Consumed::with(Serdes::string(), Serdes::string())
            .with_timestamp_extractor(LogAndSkipOnInvalidTimestamp),
    )
    .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_input_at("k".to_string(), "skipped".to_string(), -1)?;
    input.pipe_input_at("k".to_string(), "kept".to_string(), 5)?;
    assert_eq!(output.read_values_to_list()?, vec!["kept"]);
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(1)
    );
    Ok(())
}

#[test]
fn unknown_input_topic_is_an_error() -> Result<()> {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .to("out", Produced::inherit());
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let err = driver
        .create_input_topic("nope", Serdes::string(), Serdes::string())
        .pipe_input("k".to_string(), "v".to_string())
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    Ok(())
}
