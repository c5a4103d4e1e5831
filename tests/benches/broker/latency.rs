//! End-to-end latency at a fixed input rate, the `latency` contestants of the broker
//! benchmark: the stateless topology of the throughput contestants, each runtime with its
//! own default commit interval and producer settings, fed by this process at a fixed rate
//! with records stamped with the wall clock when they are sent. A `read_committed` consumer
//! in this process reads the output, whose records keep their input's timestamp, and takes
//! `now - timestamp` when each becomes visible: under exactly-once that includes waiting for
//! the commit of its transaction.
//!
//! The contestant runs until this process closes its standard input, then prints its
//! figures (peak RSS, CPU) as the throughput contestants do.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use streams_tests::SplitMix64;

use super::{Figures, PARTITIONS, VALUE_LEN, create_topic, now_ms, send_retrying};

/// The latency contestants both runtimes run.
pub(crate) const LATENCY_KINDS: [&str; 2] = ["latency", "latency-eos"];

/// How long the contestant may take to show its first output record.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the last records may take to come out after the last is sent.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// One latency contestant's figures.
#[derive(Debug)]
pub(crate) struct Latency {
    /// Records sent per second during the measured phase.
    pub(crate) rate: f64,
    /// Output records measured.
    pub(crate) measured: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
    /// The contestant's own figures: its peak RSS and CPU.
    pub(crate) figures: Figures,
}

/// The `p`-quantile of sorted latencies (nearest rank).
fn quantile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Reads `topic` from the beginning until `stop`, counting every record in `seen` and
/// keeping the latency of those stamped at or after `from_ms` (set once measuring starts).
fn read_output(
    bootstrap: &str,
    topic: &str,
    seen: Arc<AtomicU64>,
    from_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.queue.backoff.ms", "0")
        .create()
        .expect("output reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let Some(m) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let now = now_ms();
        let m = m.expect("read output");
        seen.fetch_add(1, Ordering::Release);
        let from = from_ms.load(Ordering::Acquire);
        if let Some(ts) = m.timestamp().to_millis()
            && from > 0
            && u64::try_from(ts).is_ok_and(|t| t >= from)
        {
            latencies.push(now - ts);
        }
    }
    latencies
}

/// Runs the contestant `child` (already started on `input` → `output`) at `rate` records/s
/// for `seconds`, and measures its latency.
pub(crate) fn measure(
    bootstrap: &str,
    mut child: Child,
    input: &str,
    output: &str,
    rate: u64,
    seconds: u64,
) -> Result<Latency, String> {
    let seen = Arc::new(AtomicU64::new(0));
    let from_ms = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (bootstrap, output) = (bootstrap.to_owned(), output.to_owned());
        let (seen, from_ms, stop) = (seen.clone(), from_ms.clone(), stop.clone());
        std::thread::spawn(move || read_output(&bootstrap, &output, seen, from_ms, stop))
    };
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "1")
        .create()
        .expect("producer");
    let mut rng = SplitMix64::new(0x5EED_1A7E_0000_0001);
    let (mut key, mut value) = (String::new(), vec![0u8; VALUE_LEN]);
    let mut expected = 0u64;
    let mut send = |producer: &BaseProducer, expected: &mut u64| {
        if super::input_record(&mut rng, &mut key, &mut value) {
            *expected += 1;
        }
        let partition = streams_core::partitioner::default_partition(key.as_bytes(), PARTITIONS);
        let rec = BaseRecord::to(input)
            .key(key.as_bytes())
            .payload(&value)
            .partition(partition)
            .timestamp(now_ms());
        send_retrying(producer, rec);
    };

    // Warm-up: a record every 50 ms until the first output shows the contestant is running.
    let start = Instant::now();
    while seen.load(Ordering::Acquire) == 0 {
        if start.elapsed() > STARTUP_TIMEOUT {
            stop.store(true, Ordering::Release);
            let _ = child.kill();
            return Err("no output within the start-up timeout".into());
        }
        send(&producer, &mut expected);
        producer.poll(Duration::from_millis(50));
    }

    // The measured phase, paced by the clock: after t seconds, rate × t records are sent.
    let measuring = Instant::now();
    from_ms.store(u64::try_from(now_ms()).unwrap_or(0), Ordering::Release);
    let total = rate * seconds;
    let mut sent = 0u64;
    while sent < total {
        let due = (measuring.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due.min(total) {
            send(&producer, &mut expected);
            sent += 1;
        }
        producer.poll(Duration::from_micros(500));
    }
    let sending = measuring.elapsed().as_secs_f64();
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| format!("flush: {e}"))?;
    let drained = Instant::now();
    while seen.load(Ordering::Acquire) < expected && drained.elapsed() < DRAIN_TIMEOUT {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Release);
    let mut latencies = reader.join().map_err(|_| "output reader panicked")?;

    // Closing its standard input stops the contestant, which then prints its figures.
    drop(child.stdin.take());
    let out = child
        .wait_with_output()
        .map_err(|e| format!("contestant: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "contestant failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let figures = stdout
        .lines()
        .find_map(|l| l.strip_prefix(super::RESULT_PREFIX).map(|_| l))
        .and_then(Figures::parse)
        .ok_or_else(|| format!("contestant printed no result:\n{stdout}"))?;
    let got = seen.load(Ordering::Acquire);
    if got < expected {
        return Err(format!("{got} of {expected} output records arrived"));
    }
    latencies.sort_unstable();
    Ok(Latency {
        rate: total as f64 / sending,
        measured: latencies.len(),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        p999_ms: quantile(&latencies, 0.999),
        max_ms: latencies.last().map_or(f64::NAN, |&l| l as f64),
        figures,
    })
}

/// Creates the fresh input and output topics of one latency contestant.
pub(crate) fn topics(bootstrap: &str, side: &str, kind: &str) -> (String, String) {
    let input = format!(
        "broker-latency-{}-{}-{side}-{kind}",
        std::process::id(),
        now_ms()
    );
    let output = format!("{input}-out");
    create_topic(bootstrap, &input, PARTITIONS);
    create_topic(bootstrap, &output, PARTITIONS);
    (input, output)
}

/// The stdin pipe a latency contestant is started with.
pub(crate) fn piped(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}
