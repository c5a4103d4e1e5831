//! Throughput of the hourly-revenue shape: a 1-hour tumbling-window sum over 100,000 keys,
//! RocksDB-backed, in one task driven through the [`TopologyTestDriver`] (no broker), with
//! the record cache off and on, next to Java Kafka Streams 4.4.0's `TopologyTestDriver`
//! running the same topology over byte-identical input (`benches/peer/WindowSum.java`).
//!
//! ```sh
//! cargo bench -p streams-dsl --bench window_sum
//! ```
//!
//! Topology (both sides): `stream("sales", String, Long)` → `groupByKey` →
//! `windowedBy(TimeWindows.ofSizeWithNoGrace(1 h))` → `aggregate(0, sum + v)` with a
//! RocksDB window store (changelog on, caching as the mode says) → `toStream` →
//! `to("revenue", time-windowed String, Long)`.
//!
//! Input, record `i` of a pass: key `key-NNNNNN` with `NNNNNN = i * 7919 mod 100,000` (a
//! permutation of the 100,000 keys: the first 100,000 records each hit a new key), value
//! `i mod 1,000` (cents, 8-byte big-endian), timestamp `1_700_000_000_000 + 18 i` ms (a pass
//! of 100,000 records spans 30 minutes and crosses one hour boundary). Both sides pipe the
//! serialized bytes, so the topology's source deserializes them. The output topic is read
//! as raw bytes every 1,000 records.
//!
//! Both test drivers commit after every record; a commit flushes the record cache, so with
//! the cache on every update is still forwarded at its commit and both modes write the same
//! output. What a commit does differs: this crate's driver commits only as far as is
//! observable (caches flush; stores are not flushed to disk and no checkpoint is written,
//! since a driver never restarts from its state directory), while Java's driver runs Kafka
//! Streams' full task commit per record (cache flush, then each store's commit). Under a
//! real runtime both commit every
//! `commit.interval.ms` (30 s by default), not per record.
//!
//! The run has three parts:
//!
//! 1. criterion, over chunks of 100 records on one long-lived driver per mode;
//! 2. per mode, the same protocol on both sides, each in a fresh child process (a JVM for
//!    Java): one untimed warm-up pass of `WINDOW_SUM_WARMUP` records, then
//!    `WINDOW_SUM_PASSES` timed passes of `WINDOW_SUM_RECORDS` records, each on a fresh
//!    driver (driver creation not timed), each computing an FNV-1a 64 checksum over every
//!    output record's timestamp (8 bytes little-endian), key bytes and value bytes, in
//!    order; the median rate is reported with the process's peak resident set (`VmHWM`);
//! 3. a summary: both rates per mode and their ratio, peak RSS, and the checksum match.
//!    Every checksum must equal the one computed here directly from the input, or the run
//!    fails.
//!
//! Environment: `WINDOW_SUM_RECORDS` (default 100,000), `WINDOW_SUM_WARMUP` (default 5,000),
//! `WINDOW_SUM_PASSES` (default 1), `JAVA` (the `java` binary, with `javac` beside it; else
//! those of `$JAVA_HOME`, else those on the path). When Java or the Kafka jars
//! (`tests/conformance/lib/`, filled by `tests/conformance/fetch-jars.sh`) are missing, the
//! summary says the peer was not run and why. Under `cargo test` (no `--bench`), a short
//! self-check runs instead of parts 2 and 3.

// A benchmark stops at the first surprise, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FNV_OFFSET, JavaPeer, env_usize, fnv, mib, proc_status_kib};

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use streams_dsl::prelude::*;

/// Distinct keys.
const KEYS: u64 = 100_000;
/// Timestamp of the first record of a pass.
const TS_BASE: i64 = 1_700_000_000_000;
/// Milliseconds between two records.
const STEP_MS: i64 = 18;
/// The window size.
const HOUR_MS: i64 = 3_600_000;
/// Input records between two drains of the output topic.
const DRAIN_EVERY: usize = 1_000;
/// Records per criterion iteration.
const CHUNK: usize = 100;
/// Records per timed pass unless `WINDOW_SUM_RECORDS` says otherwise.
const DEFAULT_RECORDS: usize = 100_000;
/// Records of the warm-up pass unless `WINDOW_SUM_WARMUP` says otherwise.
const DEFAULT_WARMUP: usize = 5_000;
/// Timed passes per side and mode unless `WINDOW_SUM_PASSES` says otherwise.
const DEFAULT_PASSES: usize = 1;
/// Set to `on` or `off` (the caching mode) in the child process that runs the Rust side.
const CHILD_ENV: &str = "WINDOW_SUM_CHILD";
/// The line prefix both sides print their result with.
const RESULT_PREFIX: &str = "window_sum_result ";

/// Record `i` of a pass: (key bytes, value bytes, timestamp). `WindowSum.java` makes the
/// same.
fn record(i: usize) -> (Vec<u8>, [u8; 8], i64) {
    let i = i as u64;
    let key = format!("key-{:06}", (i * 7919) % KEYS).into_bytes();
    let value = ((i % 1_000) as i64).to_be_bytes();
    (key, value, TS_BASE + i as i64 * STEP_MS)
}

/// The input of a pass, serialized once.
struct Input {
    records: Vec<(Vec<u8>, [u8; 8], i64)>,
}

impl Input {
    fn new(n: usize) -> Self {
        Input {
            records: (0..n).map(record).collect(),
        }
    }

    fn checksum(&self) -> u64 {
        self.records
            .iter()
            .fold(FNV_OFFSET, |h, (k, v, _)| fnv(fnv(h, k), v))
    }

    /// What the topology must write, computed without it: (record count, checksum).
    fn expected_output(&self) -> (u64, u64) {
        let mut sums: HashMap<(&[u8], i64), i64> = HashMap::new();
        let mut h = FNV_OFFSET;
        for (k, v, ts) in &self.records {
            let start = ts - ts.rem_euclid(HOUR_MS);
            let sum = sums.entry((k.as_slice(), start)).or_insert(0);
            *sum += i64::from_be_bytes(*v);
            let mut key = k.clone();
            key.extend_from_slice(&start.to_be_bytes());
            h = fnv(fnv(fnv(h, &ts.to_le_bytes()), &key), &sum.to_be_bytes());
        }
        (self.records.len() as u64, h)
    }
}

/// The benchmarked topology.
fn topology(caching: bool) -> Topology {
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
                Serdes::time_windowed(Serdes::string(), HOUR_MS),
                Serdes::option(Serdes::i64()),
            ),
        );
    b.build().expect("topology builds")
}

/// A driver over a fresh topology, with its input and output topics as raw bytes.
struct Sum {
    // Kept alive for the topics, which hold its state.
    _driver: TopologyTestDriver,
    input: TestInputTopic<Vec<u8>, Vec<u8>>,
    output: TestOutputTopic<Vec<u8>, Vec<u8>>,
}

impl Sum {
    fn new(caching: bool) -> Self {
        let driver = TopologyTestDriver::new(
            topology(caching),
            StreamsConfig::new().set("application.id", "window-sum"),
        )
        .expect("driver starts");
        let input = driver.create_input_topic("sales", Serdes::bytes(), Serdes::bytes());
        let output = driver.create_output_topic("revenue", Serdes::bytes(), Serdes::bytes());
        Sum {
            _driver: driver,
            input,
            output,
        }
    }

    fn pipe(&self, key: &[u8], value: &[u8], timestamp: i64) {
        self.input
            .pipe_raw(Some(key), Some(value), timestamp)
            .expect("record processed");
    }

    /// Drains the output topic; folds the records into `checksum`.
    fn drain(&self, checksum: &mut u64) -> u64 {
        let records = self.output.read_records_to_list().expect("output readable");
        let n = records.len() as u64;
        for r in &records {
            *checksum = fnv(
                fnv(fnv(*checksum, &r.timestamp.to_le_bytes()), &r.key),
                &r.value,
            );
        }
        black_box(records);
        n
    }
}

/// One pass on a fresh driver: (elapsed, output records, checksum).
fn pass(input: &Input, caching: bool) -> (Duration, u64, u64) {
    let sum = Sum::new(caching);
    let mut h = FNV_OFFSET;
    let mut out = 0;
    let n = input.records.len();
    let start = Instant::now();
    for (i, (k, v, ts)) in input.records.iter().enumerate() {
        sum.pipe(k, v, *ts);
        if (i + 1) % DRAIN_EVERY == 0 || i + 1 == n {
            out += sum.drain(&mut h);
        }
    }
    (start.elapsed(), out, h)
}

/// One side's result for one mode, as printed on its result line.
#[derive(Debug)]
struct SideResult {
    rate: f64,
    rates: String,
    out_records: u64,
    in_checksum: String,
    out_checksum: String,
    vm_hwm_kib: i64,
}

impl SideResult {
    fn parse(stdout: &str) -> Result<Self, String> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(RESULT_PREFIX))
            .ok_or_else(|| format!("no '{RESULT_PREFIX}' line in:\n{stdout}"))?;
        let field = |name: &str| -> Result<&str, String> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| format!("no {name}= in result line: {line}"))
        };
        let num = |name: &str| -> Result<f64, String> {
            field(name)?
                .parse::<f64>()
                .map_err(|e| format!("{name}: {e} in result line: {line}"))
        };
        Ok(SideResult {
            rate: num("rate")?,
            rates: field("rates")?.to_owned(),
            out_records: num("out_records")? as u64,
            in_checksum: field("in_checksum")?.to_owned(),
            out_checksum: field("out_checksum")?.to_owned(),
            vm_hwm_kib: num("vm_hwm_kib")? as i64,
        })
    }
}

fn mode(caching: bool) -> &'static str {
    if caching { "on" } else { "off" }
}

/// The Rust side of the protocol for one mode, in its own process so that `VmHWM` is its
/// own.
fn child(caching: bool, records: usize, warmup: usize, passes: usize) {
    if warmup > 0 {
        pass(&Input::new(warmup), caching);
    }
    let input = Input::new(records);
    let mut checksums = Vec::new();
    let mut rates: Vec<f64> = (0..passes)
        .map(|_| {
            let (elapsed, n, h) = pass(&input, caching);
            checksums.push((n, h));
            records as f64 / elapsed.as_secs_f64()
        })
        .collect();
    assert!(
        checksums.windows(2).all(|w| w[0] == w[1]),
        "passes differ: {checksums:?}"
    );
    let (out_records, checksum) = checksums[0];
    let listed: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{RESULT_PREFIX}impl=rust caching={} records={records} passes={passes} rate={:.0} \
         rates={} out_records={out_records} in_checksum={:016x} out_checksum={checksum:016x} \
         vm_hwm_kib={}",
        mode(caching),
        rates[passes / 2],
        listed.join(","),
        input.checksum(),
        proc_status_kib("VmHWM"),
    );
}

fn run_rust_child(caching: bool, records: usize, warmup: usize, passes: usize) -> SideResult {
    let exe = std::env::current_exe().expect("own executable path");
    let out = Command::new(exe)
        .env(CHILD_ENV, mode(caching))
        .env("WINDOW_SUM_RECORDS", records.to_string())
        .env("WINDOW_SUM_WARMUP", warmup.to_string())
        .env("WINDOW_SUM_PASSES", passes.to_string())
        .output()
        .expect("Rust child starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Rust child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    SideResult::parse(&stdout).unwrap_or_else(|e| panic!("Rust child: {e}"))
}

/// Part 1: criterion over chunks of [`CHUNK`] records on one long-lived driver per mode;
/// the input repeats with timestamps shifted past the previous round, so every chunk
/// updates windows as the real stream would.
/// Runs the compiled Java peer for one mode.
fn run_java_peer(
    peer: &JavaPeer,
    caching: bool,
    records: usize,
    warmup: usize,
    passes: usize,
) -> Result<SideResult, String> {
    let stdout = peer.run(&[
        records.to_string(),
        warmup.to_string(),
        passes.to_string(),
        mode(caching).to_owned(),
    ])?;
    Ok(SideResult::parse(&stdout).unwrap_or_else(|e| panic!("Java peer: {e}")))
}

fn criterion_bench(c: &mut Criterion, input: &Input) {
    let mut group = c.benchmark_group("window_sum");
    group.throughput(Throughput::Elements(CHUNK as u64));
    let span = input.records.len() as i64 * STEP_MS;
    for caching in [false, true] {
        let label = if caching { "caching_on" } else { "caching_off" };
        group.bench_function(label, |b| {
            let sum = Sum::new(caching);
            let mut h = FNV_OFFSET;
            let mut chunks = input.records.chunks(CHUNK).cycle();
            let rounds_per_pass = input.records.len().div_ceil(CHUNK);
            let mut done = 0usize;
            b.iter(|| {
                let shift = (done / rounds_per_pass) as i64 * span;
                for (k, v, ts) in chunks.next().expect("input is not empty") {
                    sum.pipe(k, v, ts + shift);
                }
                done += 1;
                sum.drain(&mut h)
            });
        });
    }
    group.finish();
}

fn main() {
    let records = env_usize("WINDOW_SUM_RECORDS", DEFAULT_RECORDS);
    let warmup = env_usize("WINDOW_SUM_WARMUP", DEFAULT_WARMUP);
    let passes = env_usize("WINDOW_SUM_PASSES", DEFAULT_PASSES);
    assert!(
        records > 0 && passes > 0,
        "WINDOW_SUM_RECORDS and WINDOW_SUM_PASSES must be positive"
    );
    if let Some(m) = std::env::var_os(CHILD_ENV) {
        child(m == "on", records, warmup, passes);
        return;
    }
    // As criterion decides: benchmarks under `cargo bench`, a quick test under `cargo test`.
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");

    if !bench_mode {
        // Self-check: both modes write exactly the expected output, repeated keys included.
        let input = Input::new(1_203);
        for caching in [false, true] {
            let (_, n, h) = pass(&input, caching);
            assert_eq!((n, h), input.expected_output(), "caching {caching}");
        }
        println!("window_sum: self-check passed; peer not run (test mode, no --bench)");
        return;
    }

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    criterion_bench(&mut c, &Input::new(2_000));
    c.final_summary();

    let input = Input::new(records);
    let (expected_records, expected) = input.expected_output();
    let expected = format!("{expected:016x}");
    let input_checksum = format!("{:016x}", input.checksum());
    drop(input);

    // Compiled once for both modes.
    let peer = JavaPeer::compile("WindowSum");
    let mut rows = Vec::new();
    for caching in [false, true] {
        let rust = run_rust_child(caching, records, warmup, passes);
        assert_eq!(
            (rust.out_records, rust.out_checksum.as_str()),
            (expected_records, expected.as_str()),
            "Rust output differs from the expected output (caching {})",
            mode(caching)
        );
        let java = peer
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|peer| run_java_peer(peer, caching, records, warmup, passes));
        if let Ok(java) = &java {
            assert_eq!(
                java.in_checksum, input_checksum,
                "the Java peer generated different input (input checksums differ)"
            );
            assert_eq!(
                (java.out_records, java.out_checksum.as_str()),
                (expected_records, expected.as_str()),
                "Java output differs from the expected output: the sides did not do the same work"
            );
        }
        rows.push((caching, rust, java));
    }

    println!();
    println!(
        "window_sum: 1 h tumbling sum, {KEYS} keys, RocksDB, one task, TopologyTestDriver \
         (commit after every record); {records} records/pass, {warmup}-record warm-up, \
         {passes} timed pass(es) per side and mode, median"
    );
    for (caching, rust, java) in &rows {
        let m = mode(*caching);
        match java {
            Ok(java) => println!(
                "window_sum: caching {m:<3}: rust {:>9.0} records/s (passes {}) | java \
                 kafka-streams 4.4.0 {:>9.0} records/s (passes {}) | rust/java {:.2}x | peak \
                 RSS rust {} java {}",
                rust.rate,
                rust.rates,
                java.rate,
                java.rates,
                rust.rate / java.rate,
                mib(rust.vm_hwm_kib),
                mib(java.vm_hwm_kib),
            ),
            Err(_) => println!(
                "window_sum: caching {m:<3}: rust {:>9.0} records/s (passes {}) | peak RSS {}",
                rust.rate,
                rust.rates,
                mib(rust.vm_hwm_kib),
            ),
        }
    }
    match &peer {
        Ok(_) => println!(
            "window_sum: output checksum {expected} ({expected_records} records): rust = java = \
             expected in both modes"
        ),
        Err(why) => {
            println!(
                "window_sum: output checksum {expected} ({expected_records} records): rust = \
                 expected in both modes"
            );
            println!("window_sum: java peer NOT RUN: {why}");
        }
    }
}
