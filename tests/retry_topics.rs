//! Retry topics under the `retry` processing handler: a record whose processing fails goes
//! to `<topic>.retry-1`, `<topic>.retry-2`, ... with headers saying why and when it is due,
//! is processed again by the same task once due, and after the last attempt goes to
//! `<topic>.dead-letter`. In the test driver, on the embedded cluster, and under
//! exactly-once on the real broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use streams_core::driver::{TestRecord, TopologyTestDriver};
use streams_core::processor::{Processor, ProcessorContext};
use streams_core::retry::{RETRY_ATTEMPT_HEADER, RETRY_DUE_AT_HEADER};
use streams_core::runtime::KafkaStreams;
use streams_core::serde::Serdes;
use streams_core::{Error, Headers, Record, Result, StreamsConfig, Topology};
use support::{Cluster, Read, Reader, produce, unique, wait_until};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Fails `flaky-*` values on their first two attempts and `poison-*` values always; passes
/// everything else on, tagged with the attempt it succeeded on (`value@attempt`).
struct Flaky;

fn attempt(headers: &Headers) -> u32 {
    headers
        .last(RETRY_ATTEMPT_HEADER)
        .and_then(|h| h.value.as_deref())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Processor<String, String, String, String> for Flaky {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let n = attempt(&r.headers);
        let fails = r.value.starts_with("poison") || (r.value.starts_with("flaky") && n < 2);
        if fails {
            return Err(Error::Processing {
                node: "flaky".into(),
                source: format!("downstream unavailable for {} (attempt {n})", r.value).into(),
            });
        }
        let v = format!("{}@{n}", r.value);
        ctx.forward(r.with_value(v))
    }
}

fn flaky_topology(input: &str, output: &str) -> Topology {
    support::string_processor_topology(input, output, "flaky", || Flaky)
}

fn header<'a>(h: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    h.get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("header {key} missing in {h:?}"))
}

fn rfc3339_millis(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("failed-at {s:?}: {e}"))
        .timestamp_millis()
}

/// Checks a record on a retry topic: its attempt, its origin, and that it is due exactly
/// the topic's delay after it failed.
fn check_retry_headers(r: &Read, attempt: u32, delay_ms: i64, input: &str) {
    let h = &r.headers;
    assert_eq!(
        header(h, RETRY_ATTEMPT_HEADER),
        attempt.to_string(),
        "{h:?}"
    );
    assert_eq!(header(h, "original-topic"), input);
    assert_eq!(header(h, "original-partition"), r.partition.to_string());
    assert!(header(h, "original-offset").parse::<i64>().is_ok());
    assert!(header(h, "retry-reason").contains("downstream unavailable"));
    let failed_at = rfc3339_millis(header(h, "failed-at"));
    let due: i64 = header(h, RETRY_DUE_AT_HEADER).parse().unwrap();
    assert_eq!(due - failed_at, delay_ms, "{h:?}");
}

#[test]
fn the_driver_retries_a_failing_record_when_the_wall_clock_reaches_its_delay() {
    let config = StreamsConfig::new()
        .set("application.id", "retry-driver")
        .set("processing.exception.handler", "retry")
        .set("retry.delays.ms", "1000,60000");
    let driver =
        TopologyTestDriver::new(flaky_topology("orders.placed", "orders.done"), config).unwrap();
    let input = driver.create_input_topic("orders.placed", Serdes::string(), Serdes::string());
    let out = |topic: &str| {
        driver.create_output_topic::<String, String>(topic, Serdes::string(), Serdes::string())
    };
    let retry1 = out("orders.placed.retry-1");
    let retry2 = out("orders.placed.retry-2");
    let done = out("orders.done");
    let dead = out("orders.placed.dead-letter");
    let text = |r: &TestRecord<String, String>, k: &str| {
        r.headers
            .last(k)
            .and_then(|h| h.value.clone())
            .map(|v| String::from_utf8(v).unwrap())
    };

    let traced = Headers::new().with("trace", b"t-1".to_vec());
    for (k, v) in [("a", "ok-1"), ("b", "flaky-1"), ("c", "poison-1")] {
        input
            .pipe_record(TestRecord {
                headers: traced.clone(),
                ..TestRecord::new(k.to_owned(), v.to_owned(), 5)
            })
            .unwrap();
    }
    input.pipe_input("d".into(), "ok-2".into()).unwrap();
    assert_eq!(done.read_values_to_list().unwrap(), ["ok-1@0", "ok-2@0"]);

    // First failures: both on retry-1, due a second later, with their origin.
    let first = retry1.read_records_to_list().unwrap();
    assert_eq!(
        first.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
        ["flaky-1", "poison-1"]
    );
    let start = driver.wall_clock_time();
    for (r, offset) in first.iter().zip([1, 2]) {
        assert_eq!(text(r, RETRY_ATTEMPT_HEADER).as_deref(), Some("1"));
        assert_eq!(
            text(r, RETRY_DUE_AT_HEADER),
            Some((start + 1000).to_string())
        );
        assert_eq!(text(r, "original-topic").as_deref(), Some("orders.placed"));
        assert_eq!(text(r, "original-offset"), Some(offset.to_string()));
        assert!(text(r, "retry-reason").is_some_and(|v| v.contains("attempt 0")));
        assert_eq!(text(r, "trace").as_deref(), Some("t-1"), "own headers stay");
        assert_eq!(r.timestamp, 5, "the record keeps its timestamp");
    }

    // Not due yet: nothing happens.
    driver
        .advance_wall_clock_time(Duration::from_millis(999))
        .unwrap();
    assert!(retry2.is_empty() && done.is_empty());

    // Due: the second attempt fails for both, on to retry-2, keeping the first origin.
    driver
        .advance_wall_clock_time(Duration::from_millis(1))
        .unwrap();
    let second = retry2.read_records_to_list().unwrap();
    assert_eq!(second.len(), 2);
    for r in &second {
        assert_eq!(text(r, RETRY_ATTEMPT_HEADER).as_deref(), Some("2"));
        assert_eq!(
            text(r, RETRY_DUE_AT_HEADER),
            Some((start + 61_000).to_string())
        );
        let origins = r
            .headers
            .iter()
            .filter(|h| h.key == "original-topic")
            .count();
        assert_eq!(origins, 1, "the first failure's origin is kept once");
    }
    assert!(retry1.is_empty() && done.is_empty());

    // Third attempt: the flaky record succeeds, the poison one is dead-lettered.
    driver
        .advance_wall_clock_time(Duration::from_secs(60))
        .unwrap();
    assert_eq!(done.read_values_to_list().unwrap(), ["flaky-1@2"]);
    let dead = dead.read_records_to_list().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value, "poison-1");
    assert!(text(&dead[0], "dead-letter-reason").is_some_and(|v| v.contains("attempt 2")));
    assert_eq!(text(&dead[0], "original-offset").as_deref(), Some("2"));
    assert!(text(&dead[0], RETRY_DUE_AT_HEADER).is_none());
    assert!(retry2.is_empty() && retry1.is_empty());
    let m = driver.task_metrics(driver.task_ids()[0]).unwrap();
    assert_eq!((m.retried, m.dead_lettered), (4, 1));
}

#[test]
fn retry_is_refused_for_deserialization_and_production_handlers() {
    for key in [
        "default.deserialization.exception.handler",
        "default.production.exception.handler",
    ] {
        let config = StreamsConfig::new()
            .set("application.id", "retry-refused")
            .set(key, "retry");
        let err = TopologyTestDriver::new(flaky_topology("a", "b"), config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(key) && err.contains("retry"), "{err}");
    }
}

/// Runs the flaky topology on `cluster` and checks the whole pattern: records that fail
/// twice come out on the third attempt, after the records produced behind them; records
/// that always fail end in the dead-letter topic with every header; every record is
/// output once; the retry topics are created with the input's partition count and
/// committed to their end.
fn retry_chain_on(cluster: &Cluster, guarantee: &str) {
    let bootstrap = cluster.bootstrap();
    let input = unique("orders.placed");
    let output = unique("orders.done");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&output, 2);
    let (d1, d2) = (300, 600);
    let dir = tempfile::tempdir().unwrap();
    let app = unique("retry-app");
    let config = cluster
        .streams_config(&app, dir.path())
        .set("processing.guarantee", guarantee)
        .set("processing.exception.handler", "retry")
        .set("retry.delays.ms", format!("{d1},{d2}"));
    let mut streams = KafkaStreams::new(flaky_topology(&input, &output), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();

    // Failing records first, then plain ones behind them on the same keys.
    let keys = ["k0", "k1", "k2", "k3"];
    let mut records: Vec<(String, String)> = Vec::new();
    for k in keys {
        records.push((k.into(), format!("flaky-{k}")));
    }
    records.push(("k0".into(), "poison-k0".into()));
    for i in 0..200 {
        records.push((keys[i % 4].into(), format!("ok-{i}")));
    }
    produce(&bootstrap, &input, &records, 1_000);

    let read_committed = guarantee == "exactly_once_v2";
    let mut out = Reader::new(&bootstrap, &output, read_committed);
    assert!(
        out.read_at_least(204, TIMEOUT),
        "outputs: {}",
        out.records.len()
    );
    let mut dead = Reader::new(&bootstrap, &format!("{input}.dead-letter"), read_committed);
    assert!(dead.read_at_least(1, TIMEOUT), "no dead letter");
    assert!(
        wait_until(TIMEOUT, || streams.metrics().records_retried == 10),
        "{:?}",
        streams.metrics()
    );
    // Everything settles: nothing more is written anywhere.
    assert!(out.read_to_end(TIMEOUT));
    assert!(dead.read_to_end(TIMEOUT));

    // Every output once; the flaky ones on their third attempt, after every plain record
    // of their partition (the plain ones did not wait for them).
    let mut values: Vec<String> = out.records.iter().map(Read::value_str).collect();
    values.sort();
    let mut expected: Vec<String> = (0..200).map(|i| format!("ok-{i}@0")).collect();
    expected.extend(keys.iter().map(|k| format!("flaky-{k}@2")));
    expected.sort();
    assert_eq!(values, expected);
    for r in out
        .records
        .iter()
        .filter(|r| r.value_str().starts_with("flaky"))
    {
        let later_plain = out
            .records
            .iter()
            .filter(|o| o.partition == r.partition && o.offset > r.offset)
            .filter(|o| o.value_str().starts_with("ok"))
            .count();
        assert_eq!(
            later_plain,
            0,
            "{} came before plain records",
            r.value_str()
        );
    }

    // The dead letter: the poison record with its origin and why.
    assert_eq!(dead.records.len(), 1);
    let d = &dead.records[0];
    assert_eq!(d.value_str(), "poison-k0");
    assert_eq!(header(&d.headers, "original-topic"), input);
    assert_eq!(
        header(&d.headers, "original-partition"),
        d.partition.to_string()
    );
    assert!(header(&d.headers, "dead-letter-reason").contains("attempt 2"));

    // The retry topics: each failure once, with its headers, on the input's partition;
    // each attempt made no earlier than the previous one was due.
    let mut due_of: BTreeMap<String, i64> = BTreeMap::new();
    for (n, delay) in [(1, d1), (2, d2)] {
        let topic = format!("{input}.retry-{n}");
        assert_eq!(support::partition_count(&bootstrap, &topic), 2);
        let mut retry = Reader::new(&bootstrap, &topic, read_committed);
        assert!(retry.read_to_end(TIMEOUT));
        let mut seen: Vec<String> = retry.records.iter().map(Read::value_str).collect();
        seen.sort();
        assert_eq!(
            seen,
            ["flaky-k0", "flaky-k1", "flaky-k2", "flaky-k3", "poison-k0"],
            "{topic}"
        );
        for r in &retry.records {
            check_retry_headers(r, n, delay, &input);
            let failed_at = rfc3339_millis(header(&r.headers, "failed-at"));
            if let Some(due) = due_of.get(&r.value_str()) {
                assert!(
                    failed_at >= *due,
                    "attempt {n} of {} came early",
                    r.value_str()
                );
            }
            due_of.insert(
                r.value_str(),
                header(&r.headers, RETRY_DUE_AT_HEADER).parse().unwrap(),
            );
        }
    }
    assert!(rfc3339_millis(header(&d.headers, "failed-at")) >= due_of["poison-k0"]);
    let m = streams.metrics();
    assert_eq!((m.records_retried, m.records_dead_lettered), (10, 1));
    streams.close().unwrap();
}

#[test]
fn on_the_embedded_cluster_failing_records_are_retried_after_their_delays() {
    retry_chain_on(&Cluster::mock(), "at_least_once");
}

#[test]
fn on_the_broker_retries_under_exactly_once_duplicate_nothing() {
    retry_chain_on(&Cluster::broker(), "exactly_once_v2");
}

#[test]
fn a_retry_topic_with_another_partition_count_is_refused_by_name() {
    let cluster = Cluster::mock();
    let input = unique("orders.placed");
    cluster.create_topic(&input, 2);
    cluster.create_topic(&format!("{input}.retry-1"), 3);
    let dir = tempfile::tempdir().unwrap();
    let config = cluster
        .streams_config(&unique("retry-bad"), dir.path())
        .set("processing.exception.handler", "retry")
        .set("retry.delays.ms", "10");
    let mut streams = KafkaStreams::new(flaky_topology(&input, "out"), config).unwrap();
    let err = streams
        .start_with(cluster.creator())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(&format!("{input}.retry-1")) && err.contains("3 partitions"),
        "{err}"
    );
}

/// A retried record waiting for its due time is not committed past: an instance closed
/// while it waits leaves it to the next one, which processes it once due, exactly once.
#[test]
fn a_record_waiting_when_the_instance_closes_is_retried_by_the_next_one() {
    let cluster = Cluster::mock();
    let bootstrap = cluster.bootstrap();
    let input = unique("orders.placed");
    let output = unique("orders.done");
    cluster.create_topic(&input, 1);
    cluster.create_topic(&output, 1);
    let dir = tempfile::tempdir().unwrap();
    let app = unique("retry-restart");
    let config = cluster
        .streams_config(&app, dir.path())
        .set("processing.exception.handler", "retry")
        .set("retry.delays.ms", "5000,10");
    let start = || {
        let mut s = KafkaStreams::new(flaky_topology(&input, &output), config.clone()).unwrap();
        s.start_with(cluster.creator()).unwrap();
        s
    };

    let mut first = start();
    produce(
        &bootstrap,
        &input,
        &[("k", "flaky-1"), ("k", "ok-1")],
        1_000,
    );
    let mut out = Reader::new(&bootstrap, &output, false);
    assert!(out.read_at_least(1, TIMEOUT));
    assert!(wait_until(TIMEOUT, || first.metrics().records_retried == 1));
    // The record is on retry-1, due in five seconds; the instance goes before that.
    first.close().unwrap();
    out.poll(Duration::from_millis(200));
    assert_eq!(
        out.records.iter().map(Read::value_str).collect::<Vec<_>>(),
        ["ok-1@0"],
        "the retried record was processed before it was due"
    );

    let mut second = start();
    assert!(out.read_at_least(2, TIMEOUT), "{:?}", out.records);
    assert!(wait_until(TIMEOUT, || second.metrics().records_retried == 1));
    assert!(out.read_to_end(TIMEOUT));
    assert_eq!(
        out.records.iter().map(Read::value_str).collect::<Vec<_>>(),
        ["ok-1@0", "flaky-1@2"]
    );
    second.close().unwrap();
}
