//! Throughput of the hourly-revenue shape: a 1-hour tumbling-window sum over 100,000 keys,
//! RocksDB-backed, in one task driven through the [`TopologyTestDriver`] (no broker), with
//! the record cache on and off.
//!
//! ```sh
//! cargo bench -p streams-dsl --bench window_sum
//! ```
//!
//! Input: `WINDOW_SUM_RECORDS` records (default 2,000), key `i * 7919 mod 100,000` for
//! record `i` (a permutation of the 100,000 keys: each new record hits a new key until all
//! 100,000 are used), value `i mod 1,000` cents, timestamps 18 ms apart from
//! `1_700_000_000_000`. The driver commits after every record, as Kafka's does, and a
//! commit flushes the RocksDB memtable, so the figures are dominated by that flush; with
//! the cache on every update is still forwarded at its commit.
//!
//! Part 1 is criterion over chunks of 100 records on one long-lived driver per mode; part
//! 2 times one full pass per mode on a fresh driver and prints records/s for each. Under
//! `cargo test` (no `--bench`), a short self-check runs instead.

// A benchmark stops at the first surprise, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use streams_dsl::prelude::*;

const KEYS: u64 = 100_000;
const TS_BASE: i64 = 1_700_000_000_000;
const STEP_MS: i64 = 18;
const CHUNK: usize = 100;

fn records(n: usize) -> Vec<(String, i64, i64)> {
    (0..n as u64)
        .map(|i| {
            (
                format!("key-{:06}", (i * 7919) % KEYS),
                (i % 1_000) as i64,
                TS_BASE + i as i64 * STEP_MS,
            )
        })
        .collect()
}

struct Run {
    driver: TopologyTestDriver,
    input: TestInputTopic<String, i64>,
    output: TestOutputTopic<Windowed<String>, Option<i64>>,
}

fn driver(caching: bool) -> Run {
    let b = StreamsBuilder::new();
    let m = Materialized::with(Serdes::string(), Serdes::i64());
    let m = if caching {
        m.with_caching_enabled()
    } else {
        m.with_caching_disabled()
    };
    b.stream("sales", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(
            3600,
        )))
        .aggregate_with(|| 0i64, |_k, v, sum| sum + v, m)
        .to_stream()
        .to(
            "revenue",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 3_600_000),
                Serdes::option(Serdes::i64()),
            ),
        );
    let config = StreamsConfig::new().set("application.id", "window-sum");
    let driver = TopologyTestDriver::new(b.build().unwrap(), config).unwrap();
    let input = driver.create_input_topic("sales", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic(
        "revenue",
        Serdes::time_windowed(Serdes::string(), 3_600_000),
        Serdes::option(Serdes::i64()),
    );
    Run {
        driver,
        input,
        output,
    }
}

fn pipe(run: &Run, chunk: &[(String, i64, i64)]) -> usize {
    for (k, v, ts) in chunk {
        run.input
            .pipe_record(TestRecord::new(k.clone(), *v, *ts))
            .unwrap();
    }
    run.output.read_records_to_list().unwrap().len()
}

fn rate(caching: bool, input: &[(String, i64, i64)]) -> f64 {
    let run = driver(caching);
    let start = Instant::now();
    let mut out = 0;
    for chunk in input.chunks(CHUNK) {
        out += pipe(&run, chunk);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out, input.len(), "one update per record");
    drop(run.driver);
    input.len() as f64 / secs
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        // Self-check: sums per window are right in both modes.
        for caching in [false, true] {
            let run = driver(caching);
            run.input
                .pipe_record(TestRecord::new("a".to_owned(), 5, TS_BASE))
                .unwrap();
            run.input
                .pipe_record(TestRecord::new("a".to_owned(), 7, TS_BASE + 1))
                .unwrap();
            let values = run.output.read_values_to_list().unwrap();
            assert_eq!(values, vec![Some(5), Some(12)], "caching {caching}");
        }
        return;
    }
    let n: usize = std::env::var("WINDOW_SUM_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let input = records(n);

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut group = c.benchmark_group("window_sum");
    group.throughput(Throughput::Elements(CHUNK as u64));
    for caching in [false, true] {
        let run = driver(caching);
        let mut chunks = input.chunks(CHUNK).cycle();
        let mut shift = 0i64;
        let mut passes = 0usize;
        let label = if caching { "caching_on" } else { "caching_off" };
        group.bench_function(label, |b| {
            b.iter(|| {
                let chunk = chunks.next().unwrap();
                passes += 1;
                if passes.is_multiple_of((n / CHUNK).max(1)) {
                    shift += n as i64 * STEP_MS;
                }
                for (k, v, ts) in chunk {
                    run.input
                        .pipe_record(TestRecord::new(k.clone(), *v, ts + shift))
                        .unwrap();
                }
                black_box(run.output.read_records_to_list().unwrap().len())
            });
        });
    }
    group.finish();

    let off = rate(false, &input);
    let on = rate(true, &input);
    println!();
    println!("window_sum: 1 h tumbling sum, {KEYS} keys, {n} records, RocksDB, one task");
    println!("  caching off: {off:>12.0} records/s");
    println!("  caching on:  {on:>12.0} records/s");
}
