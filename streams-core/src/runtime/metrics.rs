//! A snapshot of a running application's counters.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::statistics::Statistics;

use crate::context::TaskMetrics;
use crate::state::StoreMetrics;
use crate::task_id::TaskId;

/// The counters of a [`KafkaStreams`](crate::runtime::KafkaStreams) instance, summed over
/// its stream threads, as [`KafkaStreams::metrics`](crate::runtime::KafkaStreams::metrics)
/// returns them. Totals include tasks that have since been closed or moved away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamsMetrics {
    /// Records taken from input queues and processed.
    pub records_processed: u64,
    /// Records dropped on purpose (late, invalid, skipped by a continue handler), and
    /// output records whose delivery failed under a continue handler.
    pub records_dropped: u64,
    /// Records sent to dead-letter topics.
    pub records_dead_lettered: u64,
    /// Records sent to retry topics by the `retry` processing handler.
    pub records_retried: u64,
    /// Punctuations run.
    pub punctuations: u64,
    /// Records applied to stores while restoring them from changelogs, and to global stores
    /// while bootstrapping them from their topics at start-up.
    pub records_restored: u64,
    /// Polls of the consumers.
    pub polls: u64,
    /// Tasks created since start (Java's `task-created-total`).
    pub tasks_created: u64,
    /// Tasks closed since start (Java's `task-closed-total`).
    pub tasks_closed: u64,
    /// The mean processing time of a record: each processing round's time over the records
    /// it processed, averaged over all records.
    pub process_latency_avg: Duration,
    /// The highest per-record processing time of a processing round.
    pub process_latency_max: Duration,
    /// Commits done.
    pub commits: u64,
    /// The mean duration of a commit.
    pub commit_latency_avg: Duration,
    /// The longest commit.
    pub commit_latency_max: Duration,
    /// Consumer lag per assigned input partition (log-end offset minus position), as last
    /// reported by the consumers' statistics; empty until the first report.
    pub consumer_lag: BTreeMap<(String, i32), i64>,
    /// The counters of each task currently assigned.
    pub tasks: BTreeMap<TaskId, TaskMetrics>,
    /// The current tasks' stores: record-cache hits and misses, RocksDB sizes.
    pub stores: StoreMetrics,
    /// Tasks whose stores are still restoring from their changelogs.
    pub tasks_restoring: u64,
    /// Changelog records still to restore in the partitions being restored now (Java's
    /// `restore-remaining-records-total`, counting only partitions whose restore has begun).
    pub restore_remaining: u64,
    /// Changelog records applied to standby replicas and to tasks warmed up before joining
    /// (`num.standby.replicas`; Java's standby `update-total`).
    pub standby_records_applied: u64,
}

/// One stream thread's counters, published for [`StreamsMetrics`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ThreadMetrics {
    /// Counters of the tasks this thread has closed.
    pub(crate) closed: TaskMetrics,
    /// Counters of its current tasks.
    pub(crate) tasks: BTreeMap<TaskId, TaskMetrics>,
    pub(crate) delivery_dropped: u64,
    /// Outputs the production handler sent to `<topic>.dead-letter`.
    pub(crate) delivery_dead_lettered: u64,
    pub(crate) restored: u64,
    pub(crate) polls: u64,
    pub(crate) tasks_created: u64,
    pub(crate) tasks_closed: u64,
    pub(crate) process_total: Duration,
    /// Records processed in the rounds `process_total` counts.
    pub(crate) process_records: u64,
    pub(crate) process_max: Duration,
    pub(crate) commits: u64,
    pub(crate) commit_total: Duration,
    pub(crate) commit_max: Duration,
    pub(crate) lag: BTreeMap<(String, i32), i64>,
    /// The stores of its current tasks.
    pub(crate) stores: StoreMetrics,
    pub(crate) tasks_restoring: u64,
    pub(crate) restore_remaining: u64,
}

impl StreamsMetrics {
    pub(crate) fn sum(threads: &[ThreadMetrics], standby_records_applied: u64) -> Self {
        let mut m = StreamsMetrics {
            standby_records_applied,
            ..StreamsMetrics::default()
        };
        let mut commit_total = Duration::ZERO;
        let (mut process_total, mut process_records) = (Duration::ZERO, 0u64);
        for t in threads {
            m.polls += t.polls;
            m.tasks_created += t.tasks_created;
            m.tasks_closed += t.tasks_closed;
            process_total += t.process_total;
            process_records += t.process_records;
            m.process_latency_max = m.process_latency_max.max(t.process_max);
            for c in std::iter::once(&t.closed).chain(t.tasks.values()) {
                m.records_processed += c.processed;
                m.records_dropped += c.dropped;
                m.records_dead_lettered += c.dead_lettered;
                m.records_retried += c.retried;
                m.punctuations += c.punctuations;
            }
            m.records_dropped += t.delivery_dropped;
            m.records_dead_lettered += t.delivery_dead_lettered;
            m.records_restored += t.restored;
            m.commits += t.commits;
            commit_total += t.commit_total;
            m.commit_latency_max = m.commit_latency_max.max(t.commit_max);
            m.tasks.extend(t.tasks.iter().map(|(id, c)| (*id, *c)));
            m.stores.add(&t.stores);
            m.tasks_restoring += t.tasks_restoring;
            m.restore_remaining += t.restore_remaining;
            m.consumer_lag
                .extend(t.lag.iter().map(|(k, v)| (k.clone(), *v)));
        }
        if process_records > 0 {
            m.process_latency_avg =
                process_total / u32::try_from(process_records).unwrap_or(u32::MAX);
        }
        if m.commits > 0 {
            m.commit_latency_avg = commit_total / u32::try_from(m.commits).unwrap_or(u32::MAX);
        }
        m
    }
}

pub(crate) fn add_task_metrics(into: &mut TaskMetrics, from: &TaskMetrics) {
    into.processed += from.processed;
    into.dropped += from.dropped;
    into.dead_lettered += from.dead_lettered;
    into.retried += from.retried;
    into.punctuations += from.punctuations;
}

/// The consumer lag of every partition a consumer reads, from its statistics: the log end
/// (the last stable offset, else the high watermark) minus the application's position.
pub(crate) fn consumer_lag(statistics: &Statistics) -> BTreeMap<(String, i32), i64> {
    let mut lag = BTreeMap::new();
    for (topic, t) in &statistics.topics {
        for p in t.partitions.values() {
            if p.partition < 0 || !p.desired {
                continue;
            }
            let end = if p.ls_offset >= 0 {
                p.ls_offset
            } else {
                p.hi_offset
            };
            // Before the first record of a partition reaches the application, its fetch
            // position stands in for the application's.
            let position = if p.app_offset >= 0 {
                p.app_offset
            } else if p.fetch_state == "active" {
                p.next_offset
            } else {
                -1
            };
            let value = if end >= 0 && position >= 0 {
                (end - position).max(0)
            } else {
                p.consumer_lag
            };
            if value >= 0 {
                lag.insert((topic.clone(), p.partition), value);
            }
        }
    }
    lag
}
