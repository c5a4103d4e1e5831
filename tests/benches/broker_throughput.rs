//! Throughput on a real Kafka broker: a stateless topology, a windowed aggregation and two
//! joins, next to a raw rdkafka consume→produce loop and to Java Kafka Streams 4.4.0 running the same
//! topologies (`tests/benches/peer/BrokerPeer.java`), all over the same input topic in the
//! same run; and the restore of a store from its changelog by both runtimes.
//!
//! ```sh
//! tests/broker/kafka-broker.sh start
//! cargo bench --workspace --bench broker_throughput
//! ```
//!
//! The broker is the one named by the file in `KAFKA_BOOTSTRAP_FILE` (default
//! `tests/broker/.run/bootstrap`, written by `tests/broker/kafka-broker.sh start`); without
//! it the run fails.
//!
//! Input: `BROKER_BENCH_RECORDS` records (default 1,000,000) on a 4-partition topic, keys
//! `key-NNNNNN` drawn from 100,000 keys by SplitMix64, 100-byte lowercase values of which about
//! 1 in 16 starts with `#`, timestamps spread evenly over two hours of the recent past.
//!
//! Contestants, each in its own process (so that its peak resident set, `VmHWM`, is its own),
//! each reading the whole input from the beginning with one thread:
//!
//! - `raw`, the ceiling: an rdkafka `BaseConsumer` (partitions assigned) and `BaseProducer`
//!   made from the runtime's own client configs, taking records in batches of up to 1,000
//!   as a stream thread does, dropping values starting with `#`, upper-casing the rest and
//!   producing them, and committing every second as the runtime does under at-least-once;
//! - `stateless`: `stream` → `filter` → `map_values` (the same work) → `to`, as
//!   [`KafkaStreams`] and as Java `KafkaStreams`;
//! - `window`: `group_by_key` → 1 h tumbling windows → `count` → `to_stream` → `to`, RocksDB
//!   store with the default 10 MiB cache, as [`KafkaStreams`] and as Java `KafkaStreams`;
//! - `join`: a stream-table join of the input with a 100,000-key table (`<input>-customers`,
//!   one 20-byte value per key, stamped before the input), RocksDB, as [`KafkaStreams`] and
//!   as Java `KafkaStreams`; its record count includes the table's records;
//! - `streamjoin`: a stream-stream join within 5 minutes (no grace) of the input's records
//!   whose value's second byte is before `n` with those whose second byte is not, both
//!   branches of the one input stream (so co-partitioned), RocksDB window stores, as
//!   [`KafkaStreams`] and as Java `KafkaStreams`;
//! - each again with two stream threads (`-2t`) and under `exactly_once_v2` (`-eos`), for
//!   both runtimes (the joins under exactly-once only);
//! - `restore` and `restore-eos` (see [`restore`]): a RocksDB key-value store restored from
//!   a changelog of `BROKER_BENCH_RECORDS` records with distinct keys, on 4 partitions,
//!   filled by this process before the contestant starts, as [`KafkaStreams`] and as Java
//!   `KafkaStreams`; their start-up ends when the first task's restore starts, and their
//!   records are those restored.
//!
//! Each reports the time from start to its first processed record and to its last; the rate
//! is records / (last − first), so that start-up (group join, topic creation) is reported
//! apart, as `first_ms`. Both runtimes commit every second, with their default client
//! settings otherwise. Each also reports its process's CPU time (user + system, start-up
//! included) per input record: on a small machine the broker, sharing the cores, is often
//! the bottleneck, and the raw loop's rate shows that ceiling, while CPU per record shows
//! what each runtime itself costs.
//!
//! Then the latency contestants (`latency`, `latency-eos`, see [`latency`]): the stateless
//! topology with each runtime's default commit interval, fed at a fixed rate (half of Java's
//! stateless records/s in the same run) for 15 s, reporting p50, p99 and p99.9 of the time
//! from send to visibility in the output.
//!
//! Last the memory contestants (`memory-<budget>-p<partitions>`, see [`memory`]): a million
//! keys in windowed stores with and without `memory.budget.bytes`, reporting peak RSS
//! against the budget.
//!
//! `BROKER_BENCH_JAVA=0` skips the Java peer; `BROKER_BENCH_KINDS=window,join-eos` runs only
//! those contestants (and `raw`).

// A benchmark stops at the first surprise, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "broker/latency.rs"]
mod latency;
#[path = "broker/memory.rs"]
mod memory;
#[path = "broker/restore.rs"]
mod restore;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use streams_dsl::prelude::*;
use streams_tests::SplitMix64;

const PARTITIONS: i32 = 4;
const KEYS: u64 = 100_000;
const VALUE_LEN: usize = 100;
const DEFAULT_RECORDS: u64 = 1_000_000;
const CHILD_ENV: &str = "BROKER_BENCH_CHILD";
const RESULT_PREFIX: &str = "broker_result ";
/// Lines a contestant prints besides its result, echoed by the parent (commit latencies).
const DETAIL_PREFIX: &str = "broker_detail ";
const TIMEOUT: Duration = Duration::from_secs(600);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn bootstrap() -> String {
    let file = std::env::var("KAFKA_BOOTSTRAP_FILE").map_or_else(
        |_| workspace_root().join("tests/broker/.run/bootstrap"),
        PathBuf::from,
    );
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| {
            panic!(
                "no Kafka broker: cannot read {} ({e}); start one with tests/broker/kafka-broker.sh start",
                file.display()
            )
        })
        .trim()
        .to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn proc_status_kib(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(-1)
}

/// User plus system CPU time of this process so far, in milliseconds (`/proc/self/stat`,
/// clock ticks of 10 ms), -1 where unavailable.
fn cpu_ms() -> i64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: i64 = fields.get(11)?.parse().ok()?;
            let stime: i64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) * 10)
        })
        .unwrap_or(-1)
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_topic_with(bootstrap, name, partitions, &[]);
}

/// Creates topic `name` with the topic `config` given, unless it exists.
fn create_topic_with(bootstrap: &str, name: &str, partitions: i32, config: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let topic = config.iter().fold(
        NewTopic::new(name, partitions, TopicReplication::Fixed(1)),
        |t, (k, v)| t.set(k, v),
    );
    let results = futures::executor::block_on(admin.create_topics(&[topic], &AdminOptions::new()))
        .expect("create topics");
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err(e) => panic!("creating topic {name}: {e:?}"),
        }
    }
}

/// Writes `records` records to `topic` of `partitions` partitions, each placed by its key
/// with the default partitioner: `record(i, key, value)` fills record `i`'s key and value
/// and returns its timestamp.
fn produce(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    mut record: impl FnMut(u64, &mut String, &mut Vec<u8>) -> i64,
) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("compression.type", "none")
        .create()
        .expect("producer");
    let (mut key, mut value) = (String::new(), Vec::new());
    for i in 0..records {
        let ts = record(i, &mut key, &mut value);
        let partition = streams_core::partitioner::default_partition(key.as_bytes(), partitions);
        let rec = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(&value)
            .partition(partition)
            .timestamp(ts);
        send_retrying(&producer, rec);
    }
    producer
        .flush(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("flushing {topic}: {e}"));
}

/// Sends `rec`, waiting for room in the producer's queue while it is full.
fn send_retrying<K, P>(producer: &BaseProducer, mut rec: BaseRecord<'_, K, P>)
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(rec) {
            Ok(()) => return,
            Err((_, back)) => {
                rec = back;
                producer.poll(Duration::from_millis(10));
            }
        }
    }
}

/// One input record into `key` and `value`: a key of the [`KEYS`] key space and a
/// [`VALUE_LEN`]-byte lowercase value, about 1 in 16 starting with `#` (dropped by the
/// stateless topology). Returns whether the stateless topology has an output for it.
fn input_record(rng: &mut SplitMix64, key: &mut String, value: &mut [u8]) -> bool {
    use std::fmt::Write as _;
    key.clear();
    let _ = write!(key, "key-{:06}", rng.below(KEYS));
    let r = rng.next_u64();
    for (j, b) in value.iter_mut().enumerate() {
        *b = b'a' + ((r >> (j % 60)) % 26) as u8;
    }
    if r.is_multiple_of(16) {
        value[0] = b'#';
        false
    } else {
        true
    }
}

/// The figures of contestant `name` among `rows`, when it was measured.
fn measured<'a, T>(rows: &'a [(String, Result<T, String>)], name: &str) -> Option<&'a T> {
    rows.iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, r)| r.as_ref().ok())
}

/// Writes `records` records with distinct keys (`key-NNNNNNN`) and [`VALUE_LEN`]-byte
/// lowercase values to `topic`, record `i` stamped `timestamp(i)`.
fn produce_distinct_keys(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    timestamp: impl Fn(u64) -> i64,
) {
    use std::fmt::Write as _;
    let mut rng = SplitMix64::new(0x5EED_2E57_02E0_0001);
    produce(bootstrap, topic, partitions, records, |i, key, value| {
        key.clear();
        let _ = write!(key, "key-{i:07}");
        let r = rng.next_u64();
        value.clear();
        value.extend((0..VALUE_LEN).map(|j| b'a' + ((r >> (j % 60)) % 26) as u8));
        timestamp(i)
    });
}

fn produce_input(bootstrap: &str, topic: &str, records: u64) {
    let now = now_ms();
    let base = now - now % 3_600_000 - 3 * 3_600_000;
    let span = 2 * 3_600_000_i64;
    let mut rng = SplitMix64::new(0x5EED_B20C_E200_0001);
    produce(bootstrap, topic, PARTITIONS, records, |i, key, value| {
        value.resize(VALUE_LEN, 0);
        input_record(&mut rng, key, value);
        base + i64::try_from(i).unwrap() * span / i64::try_from(records).unwrap()
    });
}

/// One contestant's figures.
#[derive(Debug)]
struct Figures {
    records: u64,
    first_ms: f64,
    done_ms: f64,
    rss_kib: i64,
    cpu_ms: i64,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.records as f64 / ((self.done_ms - self.first_ms).max(1.0) / 1000.0)
    }

    fn line(&self, side: &str, kind: &str) -> String {
        format!(
            "{RESULT_PREFIX}{side} {kind} records={} first_ms={:.1} done_ms={:.1} rss_kib={} cpu_ms={}",
            self.records, self.first_ms, self.done_ms, self.rss_kib, self.cpu_ms
        )
    }

    fn parse(line: &str) -> Option<Figures> {
        let field = |name: &str| -> Option<&str> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Figures {
            records: field("records")?.parse().ok()?,
            first_ms: field("first_ms")?.parse().ok()?,
            done_ms: field("done_ms")?.parse().ok()?,
            rss_kib: field("rss_kib")?.parse().ok()?,
            cpu_ms: field("cpu_ms")?.parse().ok()?,
        })
    }
}

fn upper(v: &[u8]) -> Vec<u8> {
    v.to_ascii_uppercase()
}

/// The ceiling: what a hand-written client loop doing the stateless topology's work gets
/// with the runtime's own client settings (`KafkaClientConfigs` of the same config), taking
/// records in batches of up to 1,000 as the stream thread does, and committing every second
/// the way the runtime commits under at-least-once (flush the producer, then commit the
/// consumed offsets synchronously).
fn raw_loop(bootstrap: &str, input: &str, output: &str, records: u64) -> Figures {
    use rdkafka::consumer::CommitMode;
    let start = Instant::now();
    let config = StreamsConfig::new()
        .set("application.id", format!("{output}-raw"))
        .set("bootstrap.servers", bootstrap)
        .set("commit.interval.ms", "1000");
    let clients = streams_core::runtime::KafkaClientConfigs::new(&config).expect("client configs");
    let consumer: BaseConsumer = clients.main_consumer.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(input, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let producer: BaseProducer = clients.producer.create().expect("producer");
    let mut seen = 0u64;
    let mut first = None;
    let mut next_offsets = [0i64; PARTITIONS as usize];
    let mut last_commit = Instant::now();
    let commit = |next_offsets: &[i64]| {
        producer.flush(Duration::from_secs(60)).expect("flush");
        let mut offsets = TopicPartitionList::new();
        for (p, &o) in next_offsets.iter().enumerate() {
            if o > 0 {
                offsets
                    .add_partition_offset(input, p as i32, Offset::Offset(o))
                    .expect("offset");
            }
        }
        if offsets.count() > 0 {
            consumer.commit(&offsets, CommitMode::Sync).expect("commit");
        }
    };
    while seen < records && start.elapsed() < TIMEOUT {
        let mut timeout = Duration::from_millis(100);
        for _ in 0..1_000 {
            let Some(m) = consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let m = m.expect("consume");
            if first.is_none() {
                first = Some(start.elapsed());
            }
            seen += 1;
            next_offsets[m.partition() as usize] = m.offset() + 1;
            let value = m.payload().unwrap_or_default();
            if value.first() != Some(&b'#') {
                let out = upper(value);
                let mut rec = BaseRecord::to(output)
                    .payload(&out)
                    .partition(m.partition());
                if let Some(k) = m.key() {
                    rec = rec.key(k);
                }
                loop {
                    match producer.send(rec) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            rec = back;
                            producer.poll(Duration::from_millis(1));
                        }
                    }
                }
            }
        }
        producer.poll(Duration::ZERO);
        if last_commit.elapsed() >= Duration::from_secs(1) {
            commit(&next_offsets);
            last_commit = Instant::now();
        }
    }
    let done = start.elapsed();
    let rss_kib = proc_status_kib("VmHWM");
    let cpu_ms = cpu_ms();
    commit(&next_offsets);
    Figures {
        records: seen,
        first_ms: first.unwrap_or(done).as_secs_f64() * 1000.0,
        done_ms: done.as_secs_f64() * 1000.0,
        rss_kib,
        cpu_ms,
    }
}

/// A contestant's topology (`stateless`, `window`, `join`, `streamjoin`, `restore` or
/// `latency`) and settings: `-eos` runs it under `exactly_once_v2`, `-2t` with two stream
/// threads.
fn parse_kind(kind: &str) -> (&str, bool, u32) {
    let eos = kind.contains("-eos");
    let threads = if kind.contains("-2t") { 2 } else { 1 };
    let base = kind.split('-').next().unwrap_or(kind);
    (base, eos, threads)
}

/// The contestants both runtimes run, after `raw` (see [`parse_kind`]).
const KINDS: [&str; 12] = [
    "stateless",
    "stateless-2t",
    "stateless-eos",
    "window",
    "window-2t",
    "window-eos",
    "join",
    "join-eos",
    "streamjoin",
    "streamjoin-eos",
    "restore",
    "restore-eos",
];

/// Which side of the `streamjoin` contestants a value joins on: the left when its second
/// byte is before `n`.
fn left_side(value: &[u8]) -> bool {
    value.get(1).is_some_and(|b| *b < b'n')
}

/// The joiners of both join contestants: the two values one after the other.
fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// The customers table of the `join` contestants: `input` with this suffix.
const TABLE_SUFFIX: &str = "-customers";

/// Produces the `join` contestants' table: every one of the [`KEYS`] keys once, a 20-byte
/// value each, stamped an hour before the first input record so that both runtimes, which
/// pick the earliest record first, load it before joining.
fn produce_table(bootstrap: &str, topic: &str) {
    use std::fmt::Write as _;
    let now = now_ms();
    let ts = now - now % 3_600_000 - 4 * 3_600_000;
    produce(bootstrap, topic, PARTITIONS, KEYS, |i, key, value| {
        key.clear();
        let _ = write!(key, "key-{i:06}");
        value.clear();
        value.extend_from_slice(format!("customer-{i:011}").as_bytes());
        ts
    });
}

fn streams_topology(kind: &str, input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    if kind == "join" {
        let customers = builder.table(
            &format!("{input}{TABLE_SUFFIX}"),
            Consumed::with(Serdes::bytes(), Serdes::bytes()),
        );
        builder
            .stream(input, Consumed::with(Serdes::bytes(), Serdes::bytes()))
            .join_table(&customers, |order: Vec<u8>, customer: &Vec<u8>| {
                concat(&order, customer)
            })
            .to(output, Produced::with(Serdes::bytes(), Serdes::bytes()));
    } else if kind == "streamjoin" {
        let input = builder.stream(input, Consumed::with(Serdes::bytes(), Serdes::bytes()));
        let left = input.filter(|_, v| left_side(v));
        let right = input.filter_not(|_, v| left_side(v));
        left.join(
            &right,
            |l: &Vec<u8>, r: &Vec<u8>| concat(l, r),
            JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(300)),
            StreamJoined::with(Serdes::bytes(), Serdes::bytes(), Serdes::bytes()),
        )
        .to(output, Produced::with(Serdes::bytes(), Serdes::bytes()));
    } else if kind == "stateless" || kind == "latency" {
        builder
            .stream(input, Consumed::with(Serdes::bytes(), Serdes::bytes()))
            .filter(|_, v| v.first() != Some(&b'#'))
            .map_values(|v| upper(&v))
            .to(output, Produced::with(Serdes::bytes(), Serdes::bytes()));
    } else {
        builder
            .stream(input, Consumed::with(Serdes::string(), Serdes::bytes()))
            .group_by_key()
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(
                3_600,
            )))
            .count()
            .to_stream()
            .to(
                output,
                Produced::with(
                    Serdes::time_windowed(Serdes::string(), 3_600_000),
                    Serdes::option(Serdes::i64()),
                ),
            );
    }
    builder.build().expect("topology builds")
}

/// The configuration of contestant `kind` as `application_id`, keeping its state in
/// `state_dir`.
fn streams_config(
    application_id: &str,
    bootstrap: &str,
    kind: &str,
    state_dir: &Path,
) -> StreamsConfig {
    let (topology, eos, threads) = parse_kind(kind);
    let mut config = StreamsConfig::new()
        .set("application.id", application_id)
        .set("bootstrap.servers", bootstrap)
        .set("state.dir", state_dir.display().to_string())
        .set("num.stream.threads", threads.to_string())
        .set(
            "processing.guarantee",
            if eos {
                "exactly_once_v2"
            } else {
                "at_least_once"
            },
        );
    // The latency contestants keep the default commit interval (30 s, or 100 ms under
    // exactly-once), as Java's peer does.
    if topology != "latency" {
        config = config.set("commit.interval.ms", "1000");
    }
    // `BROKER_BENCH_CONFIG=key=value,key=value` adds settings, for tuning experiments.
    std::env::var("BROKER_BENCH_CONFIG")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .fold(config, |c, (k, v)| c.set(k.trim(), v.trim()))
}

fn run_streams(bootstrap: &str, kind: &str, input: &str, output: &str, records: u64) -> Figures {
    let dir = tempfile::tempdir().expect("state dir");
    let topology = parse_kind(kind).0;
    let config = streams_config(&format!("{output}-app"), bootstrap, kind, dir.path());
    let start = Instant::now();
    let mut streams =
        KafkaStreams::new(streams_topology(topology, input, output), config).expect("streams");
    streams.start().expect("start");
    // The join contestants process the table's records too.
    let records = if topology == "join" {
        records + KEYS
    } else {
        records
    };
    let figures = watch(&streams, start, records, |m| {
        (m.records_processed > 0, m.records_processed)
    });
    let m = streams.metrics();
    println!(
        "{DETAIL_PREFIX}rust {kind} commits={} commit_avg_ms={:.1} commit_max_ms={:.1}",
        m.commits,
        m.commit_latency_avg.as_secs_f64() * 1000.0,
        m.commit_latency_max.as_secs_f64() * 1000.0
    );
    streams.close().expect("close");
    figures
}

/// Watches running `streams`, started at `start`, until `progress` counts `target` records
/// (or, for `target` 0, until this process's standard input closes), and returns its
/// figures. `progress` says from its metrics whether the measured work has begun (which
/// ends start-up) and how many records it has done.
fn watch(
    streams: &KafkaStreams,
    start: Instant,
    target: u64,
    progress: impl Fn(&StreamsMetrics) -> (bool, u64),
) -> Figures {
    let until_stdin_closes = (target == 0).then(stdin_closed);
    let running = |done: u64| match &until_stdin_closes {
        Some(closed) => !closed.load(std::sync::atomic::Ordering::Acquire),
        None => done < target,
    };
    let (mut begun, mut done) = (None, 0);
    while running(done) && start.elapsed() < TIMEOUT {
        let (started, count) = progress(&streams.metrics());
        done = count;
        if started && begun.is_none() {
            begun = Some(start.elapsed());
        }
        assert!(
            streams.state() != State::Error,
            "streams failed: {:?}",
            streams.error()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let end = start.elapsed();
    Figures {
        records: done,
        first_ms: begun.unwrap_or(end).as_secs_f64() * 1000.0,
        done_ms: end.as_secs_f64() * 1000.0,
        rss_kib: proc_status_kib("VmHWM"),
        cpu_ms: cpu_ms(),
    }
}

/// A flag that turns true once this process's standard input closes: how the parent stops
/// a contestant that runs for as long as it is measured.
fn stdin_closed() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = closed.clone();
    std::thread::spawn(move || {
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        flag.store(true, std::sync::atomic::Ordering::Release);
    });
    closed
}

fn child(kind: &str) {
    let bootstrap = bootstrap();
    let input = std::env::var("BROKER_BENCH_INPUT").expect("input topic");
    let records: u64 = std::env::var("BROKER_BENCH_N")
        .expect("records")
        .parse()
        .expect("records is a number");
    let figures = if parse_kind(kind).0 == "restore" {
        restore::run_streams(&bootstrap, kind, &input, records)
    } else if kind.starts_with("memory-") {
        memory::run_streams(&bootstrap, kind, &input, records)
    } else {
        let output = std::env::var("BROKER_BENCH_OUTPUT").expect("output topic");
        create_topic(&bootstrap, &output, PARTITIONS);
        if kind == "raw" {
            raw_loop(&bootstrap, &input, &output, records)
        } else {
            run_streams(&bootstrap, kind, &input, &output, records)
        }
    };
    println!("{}", figures.line("rust", kind));
}

/// The Java peer, compiled once per run and run from its class files: launched as a single
/// source file, the JVM would also hold the Java compiler, which would count in its resident
/// set.
struct JavaPeer {
    classpath: std::ffi::OsString,
    _classes: tempfile::TempDir,
}

impl JavaPeer {
    fn compile() -> Result<JavaPeer, String> {
        let root = workspace_root();
        let lib = root.join("tests/conformance/lib");
        if !lib.join("kafka-streams-4.4.0.jar").is_file() {
            return Err(format!(
                "{} has no Kafka jars (run tests/conformance/fetch-jars.sh)",
                lib.display()
            ));
        }
        let classes = tempfile::tempdir().map_err(|e| format!("classes dir: {e}"))?;
        let compiled = Command::new("javac")
            .arg("-d")
            .arg(classes.path())
            .arg("-cp")
            .arg(lib.join("*"))
            .arg(root.join("tests/benches/peer/BrokerPeer.java"))
            .output()
            .map_err(|e| format!("cannot start javac: {e}"))?;
        if !compiled.status.success() {
            return Err(format!(
                "javac failed: {}",
                String::from_utf8_lossy(&compiled.stderr)
            ));
        }
        let mut classpath = std::ffi::OsString::from(lib.join("*"));
        classpath.push(":");
        classpath.push(classes.path());
        Ok(JavaPeer {
            classpath,
            _classes: classes,
        })
    }
}

/// The command that runs one contestant on `input` → `output`: this executable as a child
/// for `rust`, the Java peer for `java`. `records` 0 runs it until its standard input closes.
fn contestant(
    side: &str,
    kind: &str,
    bootstrap: &str,
    (input, output): (&str, &str),
    records: u64,
    java: &Result<JavaPeer, String>,
) -> Result<Command, String> {
    if side == "rust" {
        let mut c = Command::new(std::env::current_exe().expect("own path"));
        c.env(CHILD_ENV, kind)
            .env("BROKER_BENCH_INPUT", input)
            .env("BROKER_BENCH_OUTPUT", output)
            .env("BROKER_BENCH_N", records.to_string());
        return Ok(c);
    }
    let peer = java.as_ref().map_err(Clone::clone)?;
    let mut c = Command::new("java");
    c.arg("-cp")
        .arg(&peer.classpath)
        .arg("BrokerPeer")
        .args([bootstrap, input, &records.to_string(), kind, output])
        .arg(format!("{input}{TABLE_SUFFIX}"));
    Ok(c)
}

fn run_child(
    side: &str,
    kind: &str,
    bootstrap: &str,
    input: &str,
    records: u64,
    java: &Result<JavaPeer, String>,
) -> Result<Figures, String> {
    if parse_kind(kind).0 == "restore" {
        return restore::run(side, kind, bootstrap, input, records, java);
    }
    let output = format!("{input}-{side}-{kind}-out");
    if side == "java" {
        create_topic(bootstrap, &output, PARTITIONS);
    }
    let command = contestant(side, kind, bootstrap, (input, &output), records, java)?;
    finish(side, kind, command, records)
}

/// Runs contestant `side kind` with `command` to its end and reads its figures, which must
/// cover `records` records.
fn finish(side: &str, kind: &str, mut command: Command, records: u64) -> Result<Figures, String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot start the {side} {kind} process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{side} {kind} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for detail in stdout.lines().filter(|l| l.starts_with(DETAIL_PREFIX)) {
        println!("{detail}");
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with(RESULT_PREFIX))
        .ok_or_else(|| format!("{side} {kind} printed no result:\n{stdout}"))?;
    let figures = Figures::parse(line).ok_or_else(|| format!("unreadable result: {line}"))?;
    if figures.records < records {
        return Err(format!(
            "{side} {kind} processed {} of {records} records in time",
            figures.records
        ));
    }
    Ok(figures)
}

/// Runs the latency contestants chosen, at half of Java's stateless rate when it was
/// measured (`BROKER_BENCH_LATENCY_RATE` otherwise, default 50,000 records/s) for
/// `BROKER_BENCH_LATENCY_SECONDS` (default 15), and prints their table.
fn run_latency(
    bootstrap: &str,
    java: &Result<JavaPeer, String>,
    with_java: bool,
    java_stateless: Option<f64>,
    chosen: &dyn Fn(&str) -> bool,
) -> Vec<(String, Result<latency::Latency, String>)> {
    let rate = std::env::var("BROKER_BENCH_LATENCY_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(java_stateless.map(|r| (r / 2.0) as u64))
        .unwrap_or(50_000);
    let seconds = std::env::var("BROKER_BENCH_LATENCY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let mut rows = Vec::new();
    for kind in latency::LATENCY_KINDS.into_iter().filter(|k| chosen(k)) {
        for side in ["rust", "java"]
            .into_iter()
            .filter(|s| *s == "rust" || with_java)
        {
            let (input, output) = latency::topics(bootstrap, side, kind);
            let r = contestant(side, kind, bootstrap, (&input, &output), 0, java)
                .and_then(|mut c| {
                    latency::piped(&mut c)
                        .spawn()
                        .map_err(|e| format!("cannot start the {side} {kind} process: {e}"))
                })
                .and_then(|child| {
                    latency::measure(bootstrap, child, &input, &output, rate, seconds)
                });
            match &r {
                Ok(l) => println!(
                    "{RESULT_PREFIX}{side} {kind} rate={:.0} measured={} p50_ms={} p99_ms={} p999_ms={} max_ms={}",
                    l.rate, l.measured, l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
                ),
                Err(e) => println!("{side} {kind}: not measured: {e}"),
            }
            rows.push((format!("{side} {kind}"), r));
        }
    }
    if rows.is_empty() {
        return rows;
    }
    println!();
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>10} {:>9} {:>13} {:>14}",
        "latency contestant",
        "records/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "CPU µs/record",
        "peak RSS MiB"
    );
    for (name, r) in &rows {
        match r {
            Ok(l) => println!(
                "{:<22} {:>10.0} {:>9.0} {:>9.0} {:>10.0} {:>9.0} {:>13.2} {:>14.1}",
                name,
                l.rate,
                l.p50_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                l.figures.cpu_ms as f64 * 1000.0 / l.figures.records.max(1) as f64,
                l.figures.rss_kib as f64 / 1024.0
            ),
            Err(_) => println!("{name:<22} {:>10}", "not measured"),
        }
    }
    let p99 = |name: &str| measured(&rows, name).map(|l| l.p99_ms);
    for kind in latency::LATENCY_KINDS {
        if let (Some(r), Some(j)) = (p99(&format!("rust {kind}")), p99(&format!("java {kind}"))) {
            println!("{kind}: rust / java p99 {:.2}", r / j);
        }
    }
    rows
}

fn main() {
    if let Ok(kind) = std::env::var(CHILD_ENV) {
        child(&kind);
        return;
    }
    // `cargo test --benches` runs bench targets with `--test`-less arguments; only a real
    // `cargo bench` (which passes `--bench`) does the broker run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("broker_throughput: run with `cargo bench --workspace --bench broker_throughput`");
        return;
    }
    let bootstrap = bootstrap();
    let records: u64 = std::env::var("BROKER_BENCH_RECORDS")
        .ok()
        .map_or(DEFAULT_RECORDS, |v| {
            v.parse().expect("BROKER_BENCH_RECORDS is a number")
        });
    let with_java = std::env::var("BROKER_BENCH_JAVA").map_or(true, |v| v != "0");
    let input = format!("broker-bench-{}-{}", std::process::id(), now_ms());
    create_topic(&bootstrap, &input, PARTITIONS);
    let t = Instant::now();
    produce_input(&bootstrap, &input, records);
    create_topic(&bootstrap, &format!("{input}{TABLE_SUFFIX}"), PARTITIONS);
    produce_table(&bootstrap, &format!("{input}{TABLE_SUFFIX}"));
    println!(
        "input: {records} records on {input} ({PARTITIONS} partitions), produced in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut rows: Vec<(String, Result<Figures, String>)> = Vec::new();
    let only = std::env::var("BROKER_BENCH_KINDS").ok();
    let chosen = |kind: &str| {
        only.as_ref()
            .is_none_or(|o| o.split(',').any(|k| k == kind))
    };
    let mut contestants = vec![("rust", "raw")];
    for kind in KINDS.into_iter().filter(|k| chosen(k)) {
        contestants.push(("rust", kind));
        if with_java {
            contestants.push(("java", kind));
        }
    }
    let java = if with_java {
        JavaPeer::compile()
    } else {
        Err("skipped (BROKER_BENCH_JAVA=0)".into())
    };
    for (side, kind) in contestants {
        let r = run_child(side, kind, &bootstrap, &input, records, &java);
        match &r {
            Ok(f) => println!("{}", f.line(side, kind)),
            Err(e) => println!("{side} {kind}: not measured: {e}"),
        }
        rows.push((format!("{side} {kind}"), r));
    }

    println!();
    println!(
        "{:<22} {:>12} {:>12} {:>13} {:>14}",
        "contestant", "records/s", "start-up ms", "CPU µs/record", "peak RSS MiB"
    );
    let rate = |name: &str| measured(&rows, name).map(Figures::rate);
    for (name, r) in &rows {
        match r {
            Ok(f) => println!(
                "{:<22} {:>12.0} {:>12.0} {:>13.2} {:>14.1}",
                name,
                f.rate(),
                f.first_ms,
                f.cpu_ms as f64 * 1000.0 / f.records as f64,
                f.rss_kib as f64 / 1024.0
            ),
            Err(_) => println!("{name:<22} {:>12}", "not measured"),
        }
    }
    let rss = |name: &str| measured(&rows, name).map(|f| f.rss_kib as f64);
    if let (Some(s), Some(r)) = (rate("rust stateless"), rate("rust raw")) {
        println!("rust stateless / raw rdkafka loop: {:.2}", s / r);
    }
    for kind in KINDS {
        let (rust, java) = (format!("rust {kind}"), format!("java {kind}"));
        if let (Some(s), Some(j), Some(sm), Some(jm)) =
            (rate(&rust), rate(&java), rss(&rust), rss(&java))
        {
            println!(
                "{kind}: rust / java records/s {:.2}, peak RSS {:.2}",
                s / j,
                sm / jm
            );
        }
    }
    for kind in ["stateless", "window"] {
        if let (Some(one), Some(two)) = (
            rate(&format!("rust {kind}")),
            rate(&format!("rust {kind}-2t")),
        ) {
            println!("rust {kind}: 2 threads / 1 thread {:.2}", two / one);
        }
    }
    let latencies = run_latency(
        &bootstrap,
        &java,
        with_java,
        rate("java stateless"),
        &chosen,
    );
    let memory = memory::run(&bootstrap, &input, &chosen);
    let failed: Vec<&String> = rows
        .iter()
        .chain(&memory)
        .filter(|(n, r)| r.is_err() && n.starts_with("rust"))
        .map(|(n, _)| n)
        .chain(
            latencies
                .iter()
                .filter(|(n, r)| r.is_err() && n.starts_with("rust"))
                .map(|(n, _)| n),
        )
        .collect();
    assert!(failed.is_empty(), "not measured: {failed:?}");
}
