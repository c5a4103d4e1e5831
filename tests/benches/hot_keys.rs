//! Hot keys on the embedded Kafka cluster: a per-customer sum over skewed input (one
//! customer has 30% of the orders), with and without salting, on 4 partitions and 4 stream
//! threads, printing each stage's per-partition load and the throughput.
//!
//! ```sh
//! cargo bench --workspace --bench hot_keys
//! ```
//!
//! Input: `HOT_KEYS_RECORDS` orders (default 300,000) on a 4-partition topic, placed by
//! Kafka's default partitioner: customer `c000` with probability 0.3, otherwise one of
//! `c001` … `c999` uniformly (SplitMix64, seed 18), an amount of 1 to 1,000 (`i64`).
//!
//! Topologies, each run as one [`KafkaStreams`] instance with `num.stream.threads` = 4 on a
//! fresh rdkafka mock cluster (in-process), `commit.interval.ms` = 100, the default 10 MiB
//! record cache, in-memory stores (so that the figures are about partitioning, not about
//! RocksDB):
//!
//! - `plain`: `group_by_key` → `reduce(+)`;
//! - `salted in topology`: `group_by_key().with_hot_keys(HotKeys::new(["c000"], shards))`
//!   → `reduce(+)`, over the same topic: the salting node, the partial sums (repartitioned by
//!   salted key), the merge (repartitioned by customer);
//! - `salted by producer`: the orders produced with `HotKeys::salt` to a topic of their
//!   own, read with `HotKeys::serde` → `group_by_key().with_salted_keys(..)` → `reduce(+)`: the
//!   partial sums where the producer put them, then the merge.
//!
//! The embedded cluster keeps at most 5 MB per partition (librdkafka's mock cluster drops
//! the oldest batches beyond it), about 250,000 of these records: with much more input, the
//! hot partition's records can be dropped before they are read, and the run fails, its
//! totals never right.
//!
//! `HOT_KEYS_SHARDS` sets `shards` (default 8: two per partition, so that the hash of the
//! salted keys spreads them evenly enough).
//!
//! What is measured, per topology: the records each task processed (from
//! `KafkaStreams::metrics`), per stage (sub-topology), as max/mean over the 4 partitions
//! (1.0 is perfectly even, 4.0 all on one partition); and the throughput, input orders over
//! the time from the first processed record to the moment the output topic holds every
//! customer's exact total (checked against totals computed from the input), with the time
//! at which the first stage had read every order beside it. Each stage forwards its
//! updates when its cache flushes at commit, so the last totals come up to one commit
//! interval per stage after the input is read.
//!
//! The input is produced, by a thread of its own while the instance runs, once the instance
//! runs every task and no task has been created for 3 s: start-up (group join, rebalances
//! among the four threads, topic creation) is neither timed nor moves tasks while records
//! flow. The machine's cores are shared by the four stream threads, the producing thread and
//! the in-process cluster: on a machine with fewer cores than threads, spreading the load
//! cannot make one instance faster and the extra stage costs work; the load figures show
//! what more instances or cores would divide.

// A benchmark stops at the first surprise, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../runtime_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use streams_core::partitioner::default_partition;
use streams_dsl::hot_keys::HotKeys;
use streams_dsl::prelude::*;
use streams_tests::SplitMix64;
use support::{Cluster, Reader, produce_bytes, unique};

const PARTITIONS: i32 = 4;
const THREADS: usize = 4;
const CUSTOMERS: u64 = 1_000;
const HOT: &str = "c000";
const DEFAULT_RECORDS: usize = 300_000;
const DEFAULT_SHARDS: u32 = 8;
const TIMEOUT: Duration = Duration::from_secs(120);
/// How long no task may be created before the group counts as settled.
const SETTLE: Duration = Duration::from_secs(3);

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// The orders: (customer, amount).
fn orders(n: usize) -> Vec<(String, i64)> {
    let mut rng = SplitMix64::new(18);
    (0..n)
        .map(|_| {
            let customer = if rng.below(10) < 3 {
                HOT.to_owned()
            } else {
                format!("c{:03}", 1 + rng.below(CUSTOMERS - 1))
            };
            (customer, 1 + rng.below(1_000) as i64)
        })
        .collect()
}

/// Which topology runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    SaltedInTopology,
    SaltedByProducer,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::SaltedInTopology => "salted in topology",
            Variant::SaltedByProducer => "salted by producer",
        }
    }

    /// What each sub-topology does, by id.
    fn stages(self) -> &'static [&'static str] {
        match self {
            Variant::Plain => &["sum"],
            Variant::SaltedInTopology => &["salt", "partial sums", "merge"],
            Variant::SaltedByProducer => &["partial sums", "merge"],
        }
    }
}

fn in_memory() -> Materialized<String, i64> {
    Materialized::default().with_store_type(StoreType::InMemory)
}

fn topology(variant: Variant, input: &str, output: &str, hot: &HotKeys<String>) -> Topology {
    let builder = StreamsBuilder::new();
    let totals = match variant {
        Variant::Plain => builder
            .stream(input, Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .reduce_with(|a, v| a + v, in_memory()),
        Variant::SaltedInTopology => builder
            .stream(input, Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .with_hot_keys(hot.clone())
            .reduce_with(|a, v| a + v, in_memory()),
        Variant::SaltedByProducer => builder
            .stream(
                input,
                Consumed::with(hot.serde(Serdes::string()), Serdes::i64()),
            )
            .group_by_key()
            .with_salted_keys(Serdes::string())
            .reduce_with(|a, v| a + v, in_memory()),
    };
    totals.to_stream().to(
        output,
        Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
    );
    builder.build().expect("topology builds")
}

/// Waits until the instance runs every one of its `tasks` and no task has been created for
/// [`SETTLE`]: the stream threads have joined the group and the rebalances are over, so
/// that the input, produced afterwards, is processed by a stable assignment.
fn settle(streams: &KafkaStreams, tasks: usize) {
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "not running: {:?}",
        streams.error()
    );
    let deadline = Instant::now() + TIMEOUT;
    let mut created = streams.metrics().tasks_created;
    let mut since = Instant::now();
    loop {
        let m = streams.metrics();
        if m.tasks_created != created {
            created = m.tasks_created;
            since = Instant::now();
        } else if m.tasks.len() == tasks && since.elapsed() >= SETTLE {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle: {} of {tasks} tasks",
            m.tasks.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// max/mean of per-partition counts.
fn skew(counts: &[u64]) -> f64 {
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    let mean = counts.iter().sum::<u64>() as f64 / counts.len().max(1) as f64;
    if mean == 0.0 { 0.0 } else { max / mean }
}

/// One topology's figures.
struct Outcome {
    variant: Variant,
    /// Records per partition of the input topic.
    input_load: Vec<u64>,
    /// Per stage: records processed per partition.
    stage_load: BTreeMap<u32, Vec<u64>>,
    /// Input orders over the time until the totals were exact.
    rate: f64,
    elapsed: Duration,
    /// The time until the first stage had read every order.
    consumed: Duration,
}

fn run(variant: Variant, orders: &[(String, i64)], hot: &HotKeys<String>) -> Outcome {
    let cluster = Cluster::mock();
    let (input, output) = (unique("orders"), unique("totals"));
    cluster.create_topic(&input, PARTITIONS);
    cluster.create_topic(&output, PARTITIONS);
    let records: Vec<(Vec<u8>, Vec<u8>)> = orders
        .iter()
        .map(|(customer, amount)| {
            let key = match variant {
                Variant::SaltedByProducer => hot.salt(customer).into_owned(),
                _ => customer.clone(),
            };
            (key.into_bytes(), amount.to_be_bytes().to_vec())
        })
        .collect();
    let mut input_load = vec![0u64; PARTITIONS as usize];
    for (key, _) in &records {
        input_load[default_partition(key, PARTITIONS) as usize] += 1;
    }

    let mut expected: HashMap<String, i64> = HashMap::new();
    for (customer, amount) in orders {
        *expected.entry(customer.clone()).or_insert(0) += amount;
    }

    let dir = tempfile::tempdir().unwrap();
    let config = cluster
        .streams_config(&unique("hot-keys"), dir.path())
        .set("num.stream.threads", THREADS.to_string())
        .set("commit.interval.ms", "100");
    let mut streams = KafkaStreams::new(topology(variant, &input, &output, hot), config).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    settle(&streams, variant.stages().len() * PARTITIONS as usize);
    // Produced while the instance runs, so that the time from its first processed record on
    // covers all the input.
    let producer = {
        let (bootstrap, input) = (cluster.bootstrap(), input.clone());
        std::thread::spawn(move || produce_bytes(&bootstrap, &input, &records, 0))
    };

    let mut reader = Reader::new(&cluster.bootstrap(), &output, false);
    let mut latest: HashMap<String, i64> = HashMap::new();
    let mut matching = 0usize;
    let mut read = 0usize;
    let deadline = Instant::now() + TIMEOUT;
    let mut first: Option<Instant> = None;
    let mut consumed: Option<Instant> = None;
    while matching < expected.len() {
        assert!(
            Instant::now() < deadline,
            "{}: {matching} of {} totals right after {TIMEOUT:?}; state {:?}, error {:?}; \
             tasks created {}, lag {:?}; wrong (got, want): {:?}",
            variant.label(),
            expected.len(),
            streams.state(),
            streams.error(),
            streams.metrics().tasks_created,
            streams.metrics().consumer_lag,
            latest
                .iter()
                .filter(|(k, v)| expected[k.as_str()] != **v)
                .take(5)
                .map(|(k, v)| (k, v, expected[k.as_str()]))
                .collect::<Vec<_>>(),
        );
        if first.is_none() || consumed.is_none() {
            let m = streams.metrics();
            if first.is_none() && m.records_processed > 0 {
                first = Some(Instant::now());
            }
            let read_from_input: u64 = m
                .tasks
                .iter()
                .filter(|(task, _)| task.subtopology == 0)
                .map(|(_, t)| t.processed)
                .sum();
            if consumed.is_none() && read_from_input >= orders.len() as u64 {
                consumed = Some(Instant::now());
            }
        }
        reader.poll(Duration::from_millis(20));
        for r in &reader.records[read..] {
            let (Some(key), Some(value)) = (&r.key, &r.value) else {
                continue;
            };
            let customer = String::from_utf8(key.clone()).unwrap();
            let total = i64::from_be_bytes(value.as_slice().try_into().unwrap());
            let want = expected[&customer];
            let was = latest.insert(customer, total);
            match (was == Some(want), total == want) {
                (false, true) => matching += 1,
                (true, false) => matching -= 1,
                _ => {}
            }
        }
        read = reader.records.len();
    }
    let done = Instant::now();
    producer.join().expect("the producer finished");
    let start = first.unwrap_or(done);
    let elapsed = done - start;
    let consumed = consumed.unwrap_or(done) - start;
    let metrics = streams.metrics();
    streams.close().unwrap();

    let mut stage_load: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (task, m) in &metrics.tasks {
        let load = stage_load
            .entry(task.subtopology)
            .or_insert_with(|| vec![0; PARTITIONS as usize]);
        load[task.partition as usize] = m.processed;
    }
    Outcome {
        variant,
        input_load,
        stage_load,
        rate: orders.len() as f64 / elapsed.as_secs_f64(),
        elapsed,
        consumed,
    }
}

fn print(outcome: &Outcome) {
    let loads = |counts: &[u64]| {
        let listed: Vec<String> = counts.iter().map(u64::to_string).collect();
        format!("[{}] max/mean {:.2}", listed.join(" "), skew(counts))
    };
    println!(
        "hot_keys: {:<19} {:>8.0} orders/s: exact totals after {:.2} s, input read after {:.2} s",
        outcome.variant.label(),
        outcome.rate,
        outcome.elapsed.as_secs_f64(),
        outcome.consumed.as_secs_f64()
    );
    println!(
        "hot_keys:   input topic            {}",
        loads(&outcome.input_load)
    );
    for (id, counts) in &outcome.stage_load {
        let stage = outcome
            .variant
            .stages()
            .get(*id as usize)
            .copied()
            .unwrap_or("?");
        println!("hot_keys:   stage {id} {stage:<16} {}", loads(counts));
    }
}

fn main() {
    let records = env_number("HOT_KEYS_RECORDS", DEFAULT_RECORDS);
    let shards = env_number("HOT_KEYS_SHARDS", DEFAULT_SHARDS);
    // Under `cargo test` (no --bench): a short run of each topology, checking its totals.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let records = if bench_mode { records } else { 2_000 };
    let orders = orders(records);
    let hot: HotKeys<String> = HotKeys::new([HOT], shards);
    let hot_share = orders.iter().filter(|(c, _)| c == HOT).count() as f64 / records as f64;
    let shard_partitions: Vec<String> = (0..shards)
        .map(|s| {
            let key = format!("{HOT}#{s}");
            default_partition(key.as_bytes(), PARTITIONS).to_string()
        })
        .collect();
    println!(
        "hot_keys: {records} orders, {CUSTOMERS} customers, {HOT} has {:.1}%; {PARTITIONS} \
         partitions, {THREADS} stream threads, embedded cluster; {HOT} in {shards} shards on \
         partitions [{}]",
        hot_share * 100.0,
        shard_partitions.join(" ")
    );
    for variant in [
        Variant::Plain,
        Variant::SaltedInTopology,
        Variant::SaltedByProducer,
    ] {
        let outcome = run(variant, &orders, &hot);
        print(&outcome);
    }
}
