//! hourly-revenue: revenue per customer and hour from a stream of orders, with the orders
//! also enriched from a customers table.
//!
//! Without arguments it starts an in-process Kafka cluster (librdkafka's mock cluster),
//! generates a realistic stream of orders, runs the pipeline and prints the revenue per hour.
//! `--orders FILE.jsonl` replays a file instead; `--bootstrap-servers` uses a real cluster.

mod model;
mod report;
mod sample;

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use streams_dsl::partitioner::default_partition;
use streams_dsl::prelude::*;

use model::{CUSTOMERS, ENRICHED, HOURLY, HourlyRevenue, ORDERS, ORDERS_DLQ};

type BoxResult<T> = std::result::Result<T, Box<dyn Error>>;

const APP_ID: &str = "hourly-revenue";
/// The mock cluster keeps about 5 MiB per partition; unconsumed input is kept well below it.
const MAX_UNCONSUMED_BYTES: usize = 2 * 1024 * 1024;

/// Revenue per customer and hour, computed with a Kafka Streams-style topology.
#[derive(Parser, Debug)]
#[command(name = "hourly-revenue", version, about)]
struct Args {
    /// Replay this file of orders (one JSON object per line, bad lines included) instead of
    /// generating a sample stream.
    #[arg(long, value_name = "FILE.jsonl")]
    orders: Option<PathBuf>,
    /// Partitions of the input and output topics.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=64))]
    partitions: i32,
    /// Grace period of the hourly windows, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    grace_ms: u64,
    /// Write the final value of every window here, one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl")]
    output: Option<PathBuf>,
    /// Draw an hourly revenue chart of the top customers here.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Use this Kafka cluster instead of the embedded one.
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_servers: Option<String>,
    /// Records of the generated sample stream.
    #[arg(long, default_value_t = 50_000)]
    sample_size: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hourly-revenue: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// One input line to produce: its key (the customer id, when the line has one) and bytes.
struct Line {
    key: Option<String>,
    bytes: Vec<u8>,
}

fn run(args: &Args) -> BoxResult<()> {
    let mock;
    let (bootstrap, embedded) = match &args.bootstrap_servers {
        Some(b) => (b.clone(), None),
        None => {
            mock = MockCluster::new(1)?;
            let b = mock.bootstrap_servers();
            (b, Some(&mock))
        }
    };
    let n = args.partitions;
    let run_id = std::process::id();
    // A real cluster keeps topics between runs: give this run's topics their own names.
    let suffix = if embedded.is_some() {
        String::new()
    } else {
        format!(".{run_id}")
    };
    let orders_topic = format!("{ORDERS}{suffix}");
    let topics = [ORDERS, CUSTOMERS, HOURLY, ENRICHED, ORDERS_DLQ];
    let names: Vec<String> = topics.iter().map(|t| format!("{t}{suffix}")).collect();
    match embedded {
        Some(m) => {
            for t in &names {
                m.create_topic(t, n, 1)?;
            }
        }
        None => create_real_topics(&bootstrap, &names, n)?,
    }

    let (orders, customers) = match &args.orders {
        Some(path) => sample::read_orders(path)?,
        None => sample::generate(args.sample_size),
    };
    println!(
        "hourly-revenue: {} orders, {} customers, {n} partitions, grace {} ms, cluster {}",
        orders.len(),
        customers.len(),
        args.grace_ms,
        if embedded.is_some() {
            "embedded (in-process mock)".to_string()
        } else {
            bootstrap.clone()
        }
    );

    let state_dir = tempfile::tempdir()?;
    let topology = model::topology(Duration::from_millis(args.grace_ms), &suffix)?;
    let app_id = format!("{APP_ID}{}", suffix.replace('.', "-"));
    let config = StreamsConfig::new()
        .set("application.id", &app_id)
        .set("bootstrap.servers", &bootstrap)
        .set("commit.interval.ms", "500")
        .set("session.timeout.ms", "6000")
        .set("state.dir", state_dir.path().display().to_string())
        .set("default.deserialization.exception.handler", "dead-letter");
    let mut streams = KafkaStreams::new(topology, config)?;
    match embedded {
        Some(m) => streams.start_with(m)?,
        None => streams.start()?,
    }

    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let monitor: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", &app_id)
        .set("enable.auto.commit", "false")
        .create()?;

    // Customers first, timestamped before any order: a task takes the record with the
    // smallest timestamp next, so every order finds its customer.
    let customers_topic = format!("{CUSTOMERS}{suffix}");
    for c in &customers {
        let key = c.customer_id.clone();
        let value = serde_json::to_vec(c)?;
        let p = default_partition(key.as_bytes(), n);
        send(&producer, &customers_topic, p, Some(&key), &value, Some(0))?;
    }

    let started = Instant::now();
    let avg = orders.iter().map(|l| l.bytes.len() + 64).sum::<usize>() / orders.len().max(1);
    let max_unconsumed = (MAX_UNCONSUMED_BYTES / avg.max(1)) as i64;
    let mut produced = vec![0i64; n as usize];
    let mut last_progress = Instant::now();
    for (i, line) in orders.iter().enumerate() {
        let p = match &line.key {
            Some(k) => default_partition(k.as_bytes(), n),
            // A line without a customer id still goes somewhere: spread such lines evenly.
            None => (i as i32) % n,
        };
        // Throttle on lag so that the embedded cluster never drops unconsumed input.
        while produced[p as usize] - committed(&monitor, &orders_topic, n)?[p as usize]
            > max_unconsumed
        {
            producer.flush(Duration::from_secs(5))?;
            progress(&streams, &produced, &monitor, &orders_topic, n, started)?;
            std::thread::sleep(Duration::from_millis(50));
        }
        send(
            &producer,
            &orders_topic,
            p,
            line.key.as_deref(),
            &line.bytes,
            None,
        )?;
        produced[p as usize] += 1;
        if last_progress.elapsed() > Duration::from_secs(1) {
            progress(&streams, &produced, &monitor, &orders_topic, n, started)?;
            last_progress = Instant::now();
        }
    }
    producer.flush(Duration::from_secs(30))?;

    // Wait until every input offset is processed and committed.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = committed(&monitor, &orders_topic, n)?;
        if done == produced {
            break;
        }
        if let Some(e) = streams.error() {
            return Err(format!("the application failed: {e}").into());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "input not fully processed in time: committed {done:?}, produced {produced:?}"
            )
            .into());
        }
        progress(&streams, &produced, &monitor, &orders_topic, n, started)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = started.elapsed();
    eprintln!();
    let metrics = streams.metrics();
    streams.close()?;

    let total: i64 = produced.iter().sum();
    println!(
        "processed all {total} input offsets in {:.1} s ({:.0} records/s); committed offsets per partition: {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(1e-9),
        produced
            .iter()
            .enumerate()
            .map(|(p, o)| format!("{p}:{o}/{o}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let windows = read_final_windows(&bootstrap, &format!("{HOURLY}{suffix}"), n)?;
    let dead = count_records(&bootstrap, &format!("{ORDERS_DLQ}{suffix}"), n)?;
    let enriched = count_records(&bootstrap, &format!("{ENRICHED}{suffix}"), n)?;
    println!(
        "dead-lettered {dead} malformed orders to {ORDERS_DLQ}; {enriched} orders enriched; {} late records dropped",
        metrics.records_dropped
    );
    report::print_table(&windows);
    if let Some(path) = &args.output {
        report::write_output(path, &windows)?;
        println!("wrote {} windows to {}", windows.len(), path.display());
    }
    if let Some(path) = &args.chart {
        report::write_chart(path, &windows)?;
        println!("wrote chart to {}", path.display());
    }
    Ok(())
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    partition: i32,
    key: Option<&str>,
    value: &[u8],
    timestamp: Option<i64>,
) -> BoxResult<()> {
    let mut record: BaseRecord<'_, str, [u8]> =
        BaseRecord::to(topic).partition(partition).payload(value);
    if let Some(ts) = timestamp {
        record = record.timestamp(ts);
    }
    if let Some(k) = key {
        record = record.key(k);
    }
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                r,
            )) => {
                record = r;
                producer.flush(Duration::from_millis(100))?;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// The group's committed offsets of the orders topic, per partition (0 when none).
fn committed(monitor: &BaseConsumer, topic: &str, n: i32) -> BoxResult<Vec<i64>> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition(topic, p);
    }
    let got = monitor.committed_offsets(tpl, Duration::from_secs(10))?;
    Ok((0..n)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => 0,
        })
        .collect())
}

fn progress(
    streams: &KafkaStreams,
    produced: &[i64],
    monitor: &BaseConsumer,
    topic: &str,
    n: i32,
    started: Instant,
) -> BoxResult<()> {
    let done = committed(monitor, topic, n)?;
    let lag: i64 = produced.iter().zip(&done).map(|(p, d)| p - d).sum();
    let processed = streams.metrics().records_processed;
    eprint!(
        "\r  processed {processed:>8} records  {:>9.0} records/s  lag {lag:>7}   ",
        processed as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn create_real_topics(bootstrap: &str, names: &[String], n: i32) -> BoxResult<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|t| NewTopic::new(t, n, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(admin.create_topics(&topics, &AdminOptions::new()))?;
    for r in results {
        if let Err((topic, code)) = r
            && code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists
        {
            return Err(format!("creating topic {topic}: {code}").into());
        }
    }
    Ok(())
}

/// Reads a topic from the beginning to its current end, partition by partition.
fn read_topic(
    bootstrap: &str,
    topic: &str,
    n: i32,
    mut f: impl FnMut(Option<&[u8]>, Option<&[u8]>) -> BoxResult<()>,
) -> BoxResult<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("{APP_ID}-reader-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        if high > 0 {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    if ends.is_empty() {
        return Ok(());
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(format!("timed out reading {topic}").into());
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        f(msg.key(), msg.payload())?;
        if ends
            .get(&msg.partition())
            .is_some_and(|end| msg.offset() + 1 >= *end)
        {
            ends.remove(&msg.partition());
        }
    }
    Ok(())
}

fn count_records(bootstrap: &str, topic: &str, n: i32) -> BoxResult<usize> {
    let mut count = 0;
    read_topic(bootstrap, topic, n, |_, _| {
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// The last value written for each (customer, window): its final value.
fn read_final_windows(bootstrap: &str, topic: &str, n: i32) -> BoxResult<Vec<HourlyRevenue>> {
    let mut last: BTreeMap<(String, i64), HourlyRevenue> = BTreeMap::new();
    read_topic(bootstrap, topic, n, |_, value| {
        if let Some(v) = value {
            let row: HourlyRevenue = serde_json::from_slice(v)?;
            last.insert((row.customer_id.clone(), row.window_start), row);
        }
        Ok(())
    })?;
    Ok(last.into_values().collect())
}
