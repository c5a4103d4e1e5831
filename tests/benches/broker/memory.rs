//! Peak memory with a million keys in windowed stores, the `memory` contestants of the
//! broker benchmark: does `memory.budget.bytes` bound the instance, whatever the number of
//! stores?
//!
//! Input: 1,000,000 records with distinct keys and 100-byte values, all in one hour, on a
//! topic of 4 and one of 16 partitions. The topology keeps each key's latest value per
//! 1-hour tumbling window (`group_by_key` → `windowed_by` → `reduce` → `to_stream` → `to`),
//! so the window stores end up holding every key: about 130 MB of keys and values, more than
//! the smaller budget, in 4 or 16 RocksDB stores.
//!
//! Contestants `memory-<budget>-p<partitions>`: a budget of 64 or 256 MiB, or `default`
//! (no budget: each part sized by its own setting, as before the budget existed), each in
//! its own process reading the whole input with one stream thread. The table gives each
//! one's peak resident set (`VmHWM`) and what it uses beyond its budget: the fixed overhead
//! the budget leaves out (code, thread stacks, connections, RocksDB's table readers, the
//! allocator's slack).

use std::time::{Duration, Instant};

use streams_dsl::prelude::*;

use super::{
    Figures, JavaPeer, contestant, create_topic, finish, now_ms, produce_distinct_keys, watch,
};

/// The memory contestants, Rust only: Java Kafka Streams has no single budget.
pub(crate) const MEMORY_KINDS: [&str; 6] = [
    "memory-default-p4",
    "memory-default-p16",
    "memory-256-p4",
    "memory-256-p16",
    "memory-64-p4",
    "memory-64-p16",
];

const RECORDS: u64 = 1_000_000;
const HOUR_MS: i64 = 3_600_000;

/// The budget in MiB (`None` for `default`) and the partition count of `kind`.
fn parse(kind: &str) -> (Option<u64>, i32) {
    let rest = kind.strip_prefix("memory-").expect("a memory kind");
    let (budget, partitions) = rest
        .split_once("-p")
        .expect("memory-<budget>-p<partitions>");
    (
        budget.parse().ok(),
        partitions.parse().expect("a partition count"),
    )
}

/// The input topic of `partitions` partitions, named after `base`.
fn input_topic(base: &str, partitions: i32) -> String {
    format!("{base}-memory-p{partitions}")
}

/// Writes the input: [`RECORDS`] distinct keys, one record each, stamped within one hour.
fn produce(bootstrap: &str, topic: &str, partitions: i32) {
    create_topic(bootstrap, topic, partitions);
    let now = now_ms();
    let hour = now - now % HOUR_MS - 2 * HOUR_MS;
    produce_distinct_keys(bootstrap, topic, partitions, RECORDS, |i| {
        hour + i64::try_from(i).expect("fits") * (HOUR_MS - 1) / RECORDS as i64
    });
}

/// The contestant's side: runs the topology over `input` until it has processed `records`.
pub(crate) fn run_streams(bootstrap: &str, kind: &str, input: &str, records: u64) -> Figures {
    let (budget, partitions) = parse(kind);
    let dir = tempfile::tempdir().expect("state dir");
    let output = format!("{input}-{kind}-out");
    create_topic(bootstrap, &output, partitions);
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::bytes()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(
            3600,
        )))
        .reduce(|_, latest| latest)
        .to_stream()
        .to(
            &output,
            Produced::with(
                Serdes::time_windowed(Serdes::string(), HOUR_MS),
                Serdes::option(Serdes::bytes()),
            ),
        );
    let mut config = StreamsConfig::new()
        .set("application.id", format!("{output}-app"))
        .set("bootstrap.servers", bootstrap)
        .set("state.dir", dir.path().display().to_string())
        .set("commit.interval.ms", "1000");
    if let Some(mib) = budget {
        config = config.set("memory.budget.bytes", (mib << 20).to_string());
    }
    let start = Instant::now();
    let mut streams =
        KafkaStreams::new(builder.build().expect("topology"), config).expect("streams");
    streams.start().expect("start");
    let figures = watch(&streams, start, records, |m| {
        (m.records_processed > 0, m.records_processed)
    });
    streams.close().expect("close");
    figures
}

/// Runs the memory contestants `chosen` picks, on input topics named after `base`, and
/// prints their table. Returns each contestant's figures, or why it was not measured.
pub(crate) fn run(
    bootstrap: &str,
    base: &str,
    chosen: &dyn Fn(&str) -> bool,
) -> Vec<(String, Result<Figures, String>)> {
    let kinds: Vec<&str> = MEMORY_KINDS.into_iter().filter(|k| chosen(k)).collect();
    let mut partitions: Vec<i32> = kinds.iter().map(|k| parse(k).1).collect();
    partitions.sort_unstable();
    partitions.dedup();
    for &p in &partitions {
        let t = Instant::now();
        produce(bootstrap, &input_topic(base, p), p);
        println!(
            "memory input: {RECORDS} distinct keys on {} ({p} partitions), produced in {:.1} s",
            input_topic(base, p),
            t.elapsed().as_secs_f64()
        );
    }
    let no_java: Result<JavaPeer, String> = Err("the memory contestants are Rust only".into());
    let mut rows = Vec::new();
    for kind in kinds {
        let input = input_topic(base, parse(kind).1);
        let r = contestant("rust", kind, bootstrap, (&input, ""), RECORDS, &no_java)
            .and_then(|c| finish("rust", kind, c, RECORDS));
        if let Err(e) = &r {
            println!("rust {kind}: not measured: {e}");
        }
        rows.push((format!("rust {kind}"), r));
    }
    println!();
    println!(
        "{:<26} {:>11} {:>10} {:>14} {:>16}",
        "contestant", "budget MiB", "records/s", "peak RSS MiB", "RSS − budget MiB"
    );
    for (name, r) in &rows {
        let kind = name.trim_start_matches("rust ");
        let budget = parse(kind).0;
        match r {
            Ok(f) => {
                let rss = f.rss_kib as f64 / 1024.0;
                println!(
                    "{name:<26} {:>11} {:>10.0} {:>14.1} {:>16}",
                    budget.map_or("none".to_owned(), |b| b.to_string()),
                    f.rate(),
                    rss,
                    budget.map_or("-".to_owned(), |b| format!("{:.1}", rss - b as f64)),
                );
            }
            Err(_) => println!("{name:<26} {:>11}", "not measured"),
        }
    }
    rows
}
