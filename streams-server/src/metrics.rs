//! [`MetricsCollector`]: the application's metrics in Prometheus' data model, under Kafka
//! Streams' names.
//!
//! Counters keep Kafka Streams' metric names with `-` as `_` and the `kafka_streams_`
//! prefix (`process-total` is `kafka_streams_process_total`); rates (`process-rate`,
//! `poll-rate`, `commit-rate`, `punctuate-rate`) are per second over the last
//! [`RATE_WINDOW`], from samples taken at each scrape and by [`MetricsCollector::sample`];
//! latencies are in seconds. Consumer lag is per input partition (`records_lag`), with
//! its maximum (`records_lag_max`), and the under-replicated partitions of the application's
//! topics come from the cluster's metadata.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use streams_dsl::prelude::{State, StreamsHandle, StreamsMetrics};

/// The window rates are computed over, as Kafka's default `metrics.sample.window.ms` times
/// its two samples.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// A Prometheus collector of one instance's metrics.
#[derive(Debug)]
pub struct MetricsCollector {
    handle: StreamsHandle,
    samples: Mutex<VecDeque<(Instant, StreamsMetrics)>>,
}

/// The rates derived from two snapshots.
#[derive(Debug, Default, Clone, Copy)]
struct Rates {
    process: f64,
    poll: f64,
    commit: f64,
    punctuate: f64,
}

impl MetricsCollector {
    /// A collector of the instance behind `handle`.
    pub fn new(handle: StreamsHandle) -> Self {
        MetricsCollector {
            handle,
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes a sample of the counters for the rates; the server calls it every second.
    pub fn sample(&self) -> StreamsMetrics {
        let now = Instant::now();
        let metrics = self.handle.metrics();
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
        {
            samples.pop_front();
        }
        samples.push_back((now, metrics.clone()));
        metrics
    }

    fn rates(&self, now: &StreamsMetrics) -> Rates {
        let samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((t0, first)) = samples.front() else {
            return Rates::default();
        };
        let secs = t0.elapsed().as_secs_f64();
        if secs <= 0.0 {
            return Rates::default();
        }
        let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        Rates {
            process: per_sec(now.records_processed, first.records_processed),
            poll: per_sec(now.polls, first.polls),
            commit: per_sec(now.commits, first.commits),
            punctuate: per_sec(now.punctuations, first.punctuations),
        }
    }
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

impl Collector for MetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = self.sample();
        let rates = self.rates(&m);
        let e = &mut encoder;
        counter(
            e,
            "process",
            "Records processed (process-total).",
            m.records_processed,
        )?;
        gauge(
            e,
            "process_rate",
            "Records processed per second (process-rate).",
            None,
            rates.process,
        )?;
        let secs = Unit::Seconds;
        gauge(
            e,
            "process_latency_avg",
            "Mean processing time of a record (process-latency-avg).",
            Some(&secs),
            m.process_latency_avg.as_secs_f64(),
        )?;
        gauge(
            e,
            "process_latency_max",
            "Highest per-record processing time of a round (process-latency-max).",
            Some(&secs),
            m.process_latency_max.as_secs_f64(),
        )?;
        counter(e, "poll", "Consumer polls (poll-total).", m.polls)?;
        gauge(
            e,
            "poll_rate",
            "Consumer polls per second (poll-rate).",
            None,
            rates.poll,
        )?;
        counter(e, "commit", "Commits (commit-total).", m.commits)?;
        gauge(
            e,
            "commit_rate",
            "Commits per second (commit-rate).",
            None,
            rates.commit,
        )?;
        gauge(
            e,
            "commit_latency_avg",
            "Mean commit time (commit-latency-avg).",
            Some(&secs),
            m.commit_latency_avg.as_secs_f64(),
        )?;
        gauge(
            e,
            "commit_latency_max",
            "Longest commit (commit-latency-max).",
            Some(&secs),
            m.commit_latency_max.as_secs_f64(),
        )?;
        counter(
            e,
            "punctuate",
            "Punctuations (punctuate-total).",
            m.punctuations,
        )?;
        gauge(
            e,
            "punctuate_rate",
            "Punctuations per second (punctuate-rate).",
            None,
            rates.punctuate,
        )?;
        counter(
            e,
            "dropped_records",
            "Records dropped (dropped-records-total).",
            m.records_dropped,
        )?;
        counter(
            e,
            "dead_lettered_records",
            "Records sent to dead-letter topics.",
            m.records_dead_lettered,
        )?;
        counter(
            e,
            "retried_records",
            "Records sent to retry topics by the retry processing handler.",
            m.records_retried,
        )?;
        counter(
            e,
            "restored_records",
            "Records restored into stores (restore-total).",
            m.records_restored,
        )?;
        counter(
            e,
            "standby_applied_records",
            "Changelog records applied to standby replicas and warming-up tasks.",
            m.standby_records_applied,
        )?;
        counter(
            e,
            "task_created",
            "Tasks created (task-created-total).",
            m.tasks_created,
        )?;
        counter(
            e,
            "task_closed",
            "Tasks closed (task-closed-total).",
            m.tasks_closed,
        )?;
        gauge(
            e,
            "active_tasks",
            "Tasks assigned to this instance.",
            None,
            m.tasks.len() as f64,
        )?;
        gauge(
            e,
            "restoring_tasks",
            "Tasks whose stores are restoring from their changelogs.",
            None,
            m.tasks_restoring as f64,
        )?;
        gauge(
            e,
            "restore_remaining_records_total",
            "Changelog records still to restore in the partitions being restored \
             (restore-remaining-records-total).",
            None,
            m.restore_remaining as f64,
        )?;
        counter(
            e,
            "record_cache_hits",
            "Reads the record caches answered (current tasks).",
            m.stores.cache_hits,
        )?;
        counter(
            e,
            "record_cache_misses",
            "Reads past the record caches (current tasks).",
            m.stores.cache_misses,
        )?;
        gauge(
            e,
            "record_cache_hit_ratio",
            "Share of reads the record caches answered (hit-ratio).",
            None,
            m.stores.cache_hit_ratio().unwrap_or(0.0),
        )?;
        let bytes = Unit::Bytes;
        gauge(
            e,
            "rocksdb_live_data",
            "RocksDB's estimate of live data on disk (estimate-live-data-size).",
            Some(&bytes),
            m.stores.rocksdb_live_data_bytes as f64,
        )?;
        gauge(
            e,
            "rocksdb_memtable",
            "RocksDB memtables (cur-size-all-mem-tables).",
            Some(&bytes),
            m.stores.rocksdb_memtable_bytes as f64,
        )?;
        gauge(
            e,
            "rocksdb_block_cache_usage",
            "The shared RocksDB block cache's usage (block-cache-usage).",
            Some(&bytes),
            m.stores.rocksdb_block_cache_bytes as f64,
        )?;
        let state = self.handle.state();
        {
            let mut family = e.encode_descriptor(
                "state",
                "1 for the instance's current state (CREATED, REBALANCING, RUNNING, ...).",
                None,
                MetricType::Gauge,
            )?;
            let labels = vec![("state".to_owned(), state.to_string())];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
        gauge(
            e,
            "running",
            "1 when the instance is RUNNING.",
            None,
            f64::from(u8::from(state == State::Running)),
        )?;
        {
            let mut family = e.encode_descriptor(
                "records_lag",
                "Consumer lag of an input partition (records-lag).",
                None,
                MetricType::Gauge,
            )?;
            for ((topic, partition), lag) in &m.consumer_lag {
                let labels = vec![
                    ("topic".to_owned(), topic.clone()),
                    ("partition".to_owned(), partition.to_string()),
                ];
                ConstGauge::new(*lag).encode(family.encode_family(&labels)?)?;
            }
        }
        let lag_max = m.consumer_lag.values().copied().max().unwrap_or(0);
        gauge(
            e,
            "records_lag_max",
            "Highest consumer lag of the input partitions (records-lag-max).",
            None,
            lag_max as f64,
        )?;
        {
            let mut family = e.encode_descriptor(
                "task_process",
                "Records processed by each current task (process-total per task).",
                None,
                MetricType::Counter,
            )?;
            for (task, t) in &m.tasks {
                let labels = vec![("task_id".to_owned(), task.to_string())];
                ConstCounter::new(t.processed).encode(family.encode_family(&labels)?)?;
            }
        }
        match self.handle.under_replicated_partitions() {
            Ok(under) => {
                let mut family = e.encode_descriptor(
                    "under_replicated_partitions",
                    "Partitions of the application's topics with fewer in-sync replicas than replicas.",
                    None,
                    MetricType::Gauge,
                )?;
                for (topic, n) in &under {
                    let labels = vec![("topic".to_owned(), topic.clone())];
                    ConstGauge::new(*n as i64).encode(family.encode_family(&labels)?)?;
                }
            }
            // Before start, or with the cluster away: the other metrics still matter.
            Err(err) => tracing::debug!(error = %err, "no under-replicated partition counts"),
        }
        Ok(())
    }
}
