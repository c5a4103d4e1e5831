//! hourly-revenue: revenue per customer and hour from a stream of orders, with the orders
//! also enriched from a customers table.
//!
//! Without arguments it starts an in-process Kafka cluster (librdkafka's mock cluster),
//! generates a realistic stream of orders, runs the pipeline and prints the revenue per hour.
//! `--orders FILE.jsonl` replays a file instead; `--bootstrap-servers` uses a real cluster;
//! `--format avro` writes and reads the orders as Confluent-framed Avro through a schema
//! registry (in-process unless `--schema-registry` names one).
//! Orders that cannot be read go to `orders.placed.dead-letter` with headers saying why
//! (`--dead-letters FILE.jsonl` writes them out). `RUST_LOG=info` (or `debug`, or
//! `streams_core=debug,...`) logs what the library does to stderr.

mod avro;
mod embedded;
mod log;
mod model;
mod report;
mod sample;

use std::collections::BTreeMap;
use std::error::Error;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use streams_dsl::partitioner::default_partition;
use streams_dsl::prelude::*;
use streams_server::StreamsServer;

use embedded::Embedded;
use model::{CUSTOMERS, DEAD_LETTER_SUFFIX, DeadLetter, ENRICHED, HOURLY, HourlyRevenue, ORDERS};

type BoxResult<T> = std::result::Result<T, Box<dyn Error>>;

const APP_ID: &str = "hourly-revenue";
/// The mock cluster keeps about 5 MiB per partition; unconsumed input is kept well below it.
const MAX_UNCONSUMED_BYTES: usize = 2 * 1024 * 1024;
/// How long the application's committed offsets may stand still, while input is waiting,
/// before the run fails instead of waiting for ever.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a real cluster may take to answer a metadata or admin request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Write every dead-lettered order here, with its headers, one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl")]
    dead_letters: Option<PathBuf>,
    /// Draw an hourly revenue chart of the top customers here.
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,
    /// Use this Kafka cluster instead of the embedded one (the run's topics get names of
    /// their own).
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_servers: Option<String>,
    /// Records of the generated sample stream.
    #[arg(long, default_value_t = 50_000)]
    sample_size: usize,
    /// How orders are written to and read from `orders.placed`: JSON, or the `OrderPlaced`
    /// Avro schema in Confluent's wire format through a schema registry.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// The schema registry of `--format avro` (Confluent's REST API); the in-process one
    /// when left out.
    #[arg(long, value_name = "URL")]
    schema_registry: Option<String>,
    /// Serve HTTP on this address (`127.0.0.1:8080`; port 0 picks one) and keep running
    /// after the input is done, until Ctrl-C: `GET /customers/{id}/revenue` answers every
    /// hourly window of a customer, `/metrics` the application's metrics, `/ready` and
    /// `/health` the probes.
    #[arg(long, value_name = "ADDR")]
    serve: Option<String>,
}

/// The format of the orders topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// One JSON object per record.
    Json,
    /// Confluent-framed Avro.
    Avro,
}

fn main() -> ExitCode {
    let args = Args::parse();
    log::init();
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
    if args.schema_registry.is_some() && args.format != Format::Avro {
        return Err("--schema-registry needs --format avro".into());
    }
    let owner;
    let mock;
    let (bootstrap, embedded) = match &args.bootstrap_servers {
        Some(b) => {
            probe(b)?;
            (b.clone(), None)
        }
        None => {
            owner = Embedded::start()?;
            mock = owner.cluster()?;
            let b = mock.bootstrap_servers();
            (b, Some(&mock))
        }
    };
    let n = args.partitions;
    // A real cluster keeps topics and committed offsets between runs: give this run's topics
    // and application id names of their own.
    let suffix = if embedded.is_some() {
        String::new()
    } else {
        format!(".{}", run_id())
    };
    let orders_topic = format!("{ORDERS}{suffix}");
    let customers_topic = format!("{CUSTOMERS}{suffix}");
    let hourly_topic = format!("{HOURLY}{suffix}");
    let enriched_topic = format!("{ENRICHED}{suffix}");
    // Named after the source topic, as the runtime names dead-letter topics. The runtime
    // creates it when missing; on a real cluster it is created here, to keep its records.
    let dead_letter_topic = format!("{orders_topic}{DEAD_LETTER_SUFFIX}");
    let names = [
        &orders_topic,
        &customers_topic,
        &hourly_topic,
        &enriched_topic,
    ];
    match embedded {
        Some(m) => {
            for t in names {
                m.create_topic(t, n, 1)?;
            }
        }
        None => {
            let mut all = names.to_vec();
            all.push(&dead_letter_topic);
            create_real_topics(&bootstrap, &all, n)?;
        }
    }

    let (mut orders, customers) = match &args.orders {
        Some(path) => sample::read_orders(path)
            .map_err(|e| format!("reading orders from {}: {e}", path.display()))?,
        None => sample::generate(args.sample_size),
    };
    let registry = args
        .schema_registry
        .as_deref()
        .unwrap_or(avro::EMBEDDED_REGISTRY);
    let order_serde = match args.format {
        Format::Json => Serdes::json::<model::Order>(),
        Format::Avro => {
            let serde = avro::order_serde(registry)
                .map_err(|e| format!("invalid --schema-registry '{registry}': {e}"))?;
            // The producer's serializer registers the schema; the application's reads by id.
            avro::encode_orders(&mut orders, &orders_topic, &serde)?;
            avro::order_serde(registry)?
        }
    };
    println!(
        "hourly-revenue: {} orders, {} customers, {n} partitions, grace {} ms, cluster {}{}",
        orders.len(),
        customers.len(),
        args.grace_ms,
        if embedded.is_some() {
            "embedded (in-process mock)".to_string()
        } else {
            bootstrap.clone()
        },
        match args.format {
            Format::Json => String::new(),
            Format::Avro => format!(", Avro orders through schema registry {registry}"),
        }
    );

    let state_dir = tempfile::tempdir()?;
    let topology = model::topology(Duration::from_millis(args.grace_ms), &suffix, order_serde)?;
    let app_id = format!("{APP_ID}{}", suffix.replace('.', "-"));
    let config = StreamsConfig::new()
        .set("application.id", &app_id)
        .set("bootstrap.servers", &bootstrap)
        .set("commit.interval.ms", "100")
        .set("session.timeout.ms", "6000")
        .set("state.dir", state_dir.path().display().to_string())
        .set("default.deserialization.exception.handler", "dead-letter");
    let listener = match &args.serve {
        Some(addr) => Some(
            std::net::TcpListener::bind(addr)
                .map_err(|e| format!("cannot serve on --serve '{addr}': {e}"))?,
        ),
        None => None,
    };
    let config = match &listener {
        Some(l) => config.set("application.server", l.local_addr()?.to_string()),
        None => config,
    };
    let mut streams = KafkaStreams::new(topology, config)?;
    let server = match listener {
        Some(l) => Some(
            StreamsServer::new(streams.handle())
                .window_store::<String, model::Revenue>(model::REVENUE_STORE, Serdes::string())
                .alias("/customers/{key}/revenue", model::REVENUE_STORE)
                .spawn(l)?,
        ),
        None => None,
    };
    match embedded {
        Some(m) => streams.start_with(m)?,
        None => streams.start()?,
    }

    // Idempotent, so that retries cannot reorder a partition's records: the results depend
    // on the order of each partition.
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let monitor: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", &app_id)
        .set("enable.auto.commit", "false")
        .create()?;
    let started = Instant::now();
    let show_progress = std::io::stderr().is_terminal();
    let watch = Watch {
        streams: &streams,
        monitor: &monitor,
        n,
    };

    // The customers table is loaded before the first order is produced, so every order
    // finds its customer.
    let mut customer_offsets = vec![0i64; n as usize];
    for c in &customers {
        let key = c.customer_id.clone();
        let value = serde_json::to_vec(c)?;
        let p = default_partition(key.as_bytes(), n);
        send(&producer, &customers_topic, p, Some(&key), &value, Some(0))?;
        customer_offsets[p as usize] += 1;
    }
    producer.flush(Duration::from_secs(30))?;
    watch.until_committed(
        &customers_topic,
        &customer_offsets,
        0,
        "loading the customers",
        |_| {},
    )?;

    let avg = orders.iter().map(|l| l.bytes.len() + 64).sum::<usize>() / orders.len().max(1);
    let max_unconsumed = (MAX_UNCONSUMED_BYTES / avg.max(1)) as i64;
    let mut produced = vec![0i64; n as usize];
    let mut done = vec![0i64; n as usize];
    let mut last_progress = Instant::now();
    let report = |done: &[i64], produced: &[i64]| {
        if show_progress {
            progress(&streams, produced, done, started);
        }
    };
    for (i, line) in orders.iter().enumerate() {
        let p = match &line.key {
            Some(k) => default_partition(k.as_bytes(), n),
            // A line without a customer id still goes somewhere: spread such lines evenly.
            None => (i as i32) % n,
        };
        // Throttle on lag so that the embedded cluster never drops unconsumed input: when a
        // partition is too far ahead, wait until the application has caught up halfway.
        if produced[p as usize] - done[p as usize] > max_unconsumed {
            producer.flush(Duration::from_secs(30))?;
            done = watch.until_committed(
                &orders_topic,
                &produced,
                max_unconsumed / 2,
                "processing the orders",
                |d| report(d, &produced),
            )?;
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
            report(&done, &produced);
            last_progress = Instant::now();
        }
    }
    producer.flush(Duration::from_secs(30))?;

    // Every input offset processed and committed.
    watch.until_committed(&orders_topic, &produced, 0, "processing the orders", |d| {
        report(d, &produced)
    })?;
    let elapsed = started.elapsed();
    if show_progress {
        eprintln!();
    }
    if server.is_none() {
        streams.close()?;
    }
    let metrics = streams.metrics();

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
    let windows = read_final_windows(&bootstrap, &hourly_topic, n)?;
    let dead = read_dead_letters(&bootstrap, &dead_letter_topic, n)?;
    let enriched = count_records(&bootstrap, &enriched_topic, n)?;
    print!(
        "dead-lettered {} malformed orders to {dead_letter_topic}",
        dead.len()
    );
    match dead.first() {
        Some(d) => {
            let mut value: String = d
                .value
                .as_deref()
                .unwrap_or("null")
                .chars()
                .take(60)
                .collect();
            if d.value.as_ref().is_some_and(|v| v.chars().count() > 60) {
                value.push('…');
            }
            println!(
                "; the first, on partition {}:\n  key {}, value {value}\n  reason: {}",
                d.partition,
                d.key.as_deref().unwrap_or("null"),
                d.headers
                    .get("dead-letter-reason")
                    .map_or("?", String::as_str)
            );
        }
        None => println!(),
    }
    println!(
        "{enriched} orders enriched with their customer; {} late records dropped",
        metrics.records_dropped
    );
    report::print_table(&windows);
    if let Some(path) = &args.output {
        report::write_output(path, &windows)?;
        println!("wrote {} windows to {}", windows.len(), path.display());
    }
    if let Some(path) = &args.dead_letters {
        report::write_dead_letters(path, &dead)?;
        println!("wrote {} dead letters to {}", dead.len(), path.display());
    }
    if let Some(path) = &args.chart {
        report::write_chart(path, &windows)?;
        println!("wrote chart to {}", path.display());
    }
    if let Some(server) = server {
        let addr = server.local_addr();
        let customer = windows
            .first()
            .map_or("cust-0001", |w| w.customer_id.as_str());
        println!(
            "serving on http://{addr}: try curl http://{addr}/customers/{customer}/revenue or http://{addr}/metrics; Ctrl-C stops"
        );
        wait_for_ctrl_c()?;
        server.shutdown();
        streams.close()?;
    }
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_ctrl_c() -> BoxResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    Ok(())
}

/// A name for this run, different from every earlier run's: process id and start time.
fn run_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{}-{millis}", std::process::id())
}

/// Fails with a clear message, within [`CONNECT_TIMEOUT`], when no broker answers at
/// `bootstrap` (librdkafka would otherwise retry for ever).
fn probe(bootstrap: &str) -> BoxResult<()> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("socket.connection.setup.timeout.ms", "5000")
        .create()
        .map_err(|e| format!("invalid --bootstrap-servers '{bootstrap}': {e}"))?;
    client
        .fetch_metadata(None, CONNECT_TIMEOUT)
        .map_err(|e| {
            format!(
                "no Kafka broker answers at {bootstrap} within {} s ({e}); check --bootstrap-servers, or leave it out to use the embedded cluster",
                CONNECT_TIMEOUT.as_secs()
            )
        })?;
    Ok(())
}

/// Waits on the application's committed offsets.
struct Watch<'a> {
    streams: &'a KafkaStreams,
    monitor: &'a BaseConsumer,
    n: i32,
}

impl Watch<'_> {
    /// Polls the committed offsets of `topic` until every partition is within `slack` of
    /// `target`, and returns them. Fails when the application stops with an error, or when
    /// the committed offsets do not move for [`STALL_TIMEOUT`].
    fn until_committed(
        &self,
        topic: &str,
        target: &[i64],
        slack: i64,
        what: &str,
        mut tick: impl FnMut(&[i64]),
    ) -> BoxResult<Vec<i64>> {
        let mut last = committed(self.monitor, topic, self.n)?;
        let mut moved = Instant::now();
        loop {
            if target.iter().zip(&last).all(|(t, c)| t - c <= slack) {
                return Ok(last);
            }
            if let Some(e) = self.streams.error() {
                return Err(format!("the application failed while {what}: {e}").into());
            }
            if moved.elapsed() > STALL_TIMEOUT {
                return Err(format!(
                    "no progress for {} s while {what}: committed offsets of {topic} {last:?}, produced {target:?}",
                    STALL_TIMEOUT.as_secs()
                )
                .into());
            }
            tick(&last);
            std::thread::sleep(Duration::from_millis(100));
            let now = committed(self.monitor, topic, self.n)?;
            if now != last {
                moved = Instant::now();
                last = now;
            }
        }
    }
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

fn progress(streams: &KafkaStreams, produced: &[i64], done: &[i64], started: Instant) {
    let lag: i64 = produced.iter().zip(done).map(|(p, d)| p - d).sum();
    let processed = streams.metrics().records_processed;
    eprint!(
        "\r  processed {processed:>8} records  {:>9.0} records/s  lag {lag:>7}   ",
        processed as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
}

fn create_real_topics(bootstrap: &str, names: &[&String], n: i32) -> BoxResult<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    // Replayed orders carry their original (often old) timestamps, and the outputs inherit
    // them: with the cluster's default time-based retention the broker would delete them
    // within minutes. The run's topics keep everything.
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|t| NewTopic::new(t, n, TopicReplication::Fixed(1)).set("retention.ms", "-1"))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let options = AdminOptions::new().request_timeout(Some(CONNECT_TIMEOUT));
    let results = rt.block_on(admin.create_topics(&topics, &options))?;
    for r in results {
        if let Err((topic, code)) = r {
            return Err(format!("creating topic {topic}: {code}").into());
        }
    }
    // The application checks its source topics as soon as it starts: wait until the
    // cluster's metadata shows every new topic with all its partitions.
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = client.fetch_metadata(None, CONNECT_TIMEOUT)?;
        let visible = names.iter().all(|name| {
            metadata.topics().iter().any(|t| {
                t.name() == name.as_str()
                    && t.error().is_none()
                    && t.partitions().len() == n as usize
            })
        });
        if visible {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the new topics {names:?} did not appear within 30 s").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads a topic from its first offset to its current end offsets.
///
/// The run's topics are new and keep their records, so every partition must still start at
/// offset 0; a record the cluster deleted meanwhile is reported, not skipped.
fn read_topic(
    bootstrap: &str,
    topic: &str,
    n: i32,
    mut f: impl FnMut(&BorrowedMessage<'_>) -> BoxResult<()>,
) -> BoxResult<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("{APP_ID}-reader-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "error")
        .create()?;
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, CONNECT_TIMEOUT)
            .map_err(|e| format!("reading the end offsets of {topic}: {e}"))?;
        if low > 0 {
            return Err(format!(
                "the cluster deleted records of {topic} partition {p} (it starts at offset {low}): check its retention"
            )
            .into());
        }
        if high > 0 {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Offset(0))?;
        }
    }
    if ends.is_empty() {
        return Ok(());
    }
    consumer.assign(&tpl)?;
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "timed out reading {topic}: last offsets read {seen:?}, end offsets {ends:?}"
            )
            .into());
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg.map_err(|e| format!("reading {topic}: {e}"))?;
        seen.insert(msg.partition(), msg.offset());
        f(&msg)?;
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
    read_topic(bootstrap, topic, n, |_| {
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// The last value written for each (customer, window): its final value.
fn read_final_windows(bootstrap: &str, topic: &str, n: i32) -> BoxResult<Vec<HourlyRevenue>> {
    let mut last: BTreeMap<(String, i64), HourlyRevenue> = BTreeMap::new();
    read_topic(bootstrap, topic, n, |msg| {
        if let Some(v) = msg.payload() {
            let row: HourlyRevenue = serde_json::from_slice(v)?;
            last.insert((row.customer_id.clone(), row.window_start), row);
        }
        Ok(())
    })?;
    Ok(last.into_values().collect())
}

/// Every dead letter, by partition and offset, with its headers.
fn read_dead_letters(bootstrap: &str, topic: &str, n: i32) -> BoxResult<Vec<DeadLetter>> {
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    let mut dead = Vec::new();
    read_topic(bootstrap, topic, n, |msg| {
        let headers = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), text(h.value).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        dead.push(DeadLetter {
            partition: msg.partition(),
            offset: msg.offset(),
            key: text(msg.key()),
            value: text(msg.payload()),
            headers,
        });
        Ok(())
    })?;
    dead.sort_by_key(|d| (d.partition, d.offset));
    Ok(dead)
}
