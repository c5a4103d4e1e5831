//! Feeding the tasks: consumed records go to their task's queue, buffered within bounds,
//! and are processed task by task, with punctuators, until the round's time is up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{BorrowedMessage, Message};

use super::TaskManager;
use crate::error::{Error, Result};
use crate::runtime::clock::now_ms;
use crate::runtime::consumed::raw_record;
use crate::runtime::rebalance::GroupContext;
use crate::task_id::TaskId;

/// Records a task processes before the next task gets its turn.
const TASK_BURST: usize = 100;
/// How long one processing round may run before the thread polls again.
const PROCESS_BUDGET: Duration = Duration::from_millis(100);
/// How often the thread publishes its counters.
const METRICS_INTERVAL: Duration = Duration::from_millis(200);

/// Where the records of one input partition go: the last one looked up, kept because the
/// consumer hands out records in runs of one partition.
pub(super) struct Route {
    topic: String,
    partition: i32,
    task: TaskId,
    queue: usize,
}

impl TaskManager {
    /// How long the thread's next poll may block: `poll_timeout`, or less when a record
    /// kept back on a retry topic falls due sooner.
    pub(crate) fn poll_timeout(&self, poll_timeout: Duration) -> Duration {
        match self.retry_hold.next_due() {
            Some(due) => {
                let wait = u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0);
                poll_timeout.min(Duration::from_millis(wait))
            }
            None => poll_timeout,
        }
    }

    /// Whether some task has records waiting to be processed.
    pub(crate) fn has_buffered(&self) -> bool {
        self.tasks
            .values()
            .any(|e| e.buffered > 0 && !e.idle_waiting)
    }

    /// Adds a consumed record to its task; returns whether the task's buffer is now full.
    /// A record of a retry topic that is not due yet is kept back instead (see
    /// [`retry_hold`](super::retry_hold)).
    pub(crate) fn add_message(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        message: &BorrowedMessage<'_>,
    ) -> Result<bool> {
        let topic = message.topic();
        if self
            .setup
            .topology
            .retry_chains()
            .is_some_and(|c| c.is_retry_topic(topic))
            && self.hold_if_not_due(consumer, message)
        {
            return Ok(false);
        }
        self.add_raw(topic, message.partition(), raw_record(message))
    }

    /// Adds a record of `topic`/`partition` to its task; returns whether the task's buffer
    /// is now full.
    pub(super) fn add_raw(
        &mut self,
        topic: &str,
        partition: i32,
        raw: crate::context::RawRecord<'_>,
    ) -> Result<bool> {
        let Some((id, queue)) = self.route(topic, partition)? else {
            return Ok(false);
        };
        let Some(entry) = self.tasks.get_mut(&id) else {
            return Err(Error::IllegalState(format!(
                "no task {id} for {topic}-{partition}"
            )));
        };
        let bytes = raw.key.map_or(0, <[u8]>::len) + raw.value.map_or(0, <[u8]>::len);
        entry.task.add_record_at(queue, raw)?;
        entry.buffered += 1;
        entry.bytes += bytes;
        self.buffered_bytes += bytes;
        let limit = self.setup.buffered_per_partition * entry.partitions.len();
        if !entry.full && entry.buffered > limit {
            entry.full = true;
            tracing::debug!(task = %id, buffered = entry.buffered, "a task's buffer is full; polling stops until it drains");
        }
        Ok(entry.full || self.buffered_bytes > self.setup.buffer_max_bytes)
    }

    /// The task and input queue of the records of `topic`/`partition`; `None` for a
    /// partition whose task was just closed.
    fn route(&mut self, topic: &str, partition: i32) -> Result<Option<(TaskId, usize)>> {
        if let Some(r) = &self.route
            && r.partition == partition
            && r.topic == topic
        {
            return Ok(Some((r.task, r.queue)));
        }
        let Some(&sub) = self.setup.plan.topic_subtopology.get(topic) else {
            return Err(Error::UnknownTopic(topic.to_owned()));
        };
        let id = TaskId::new(sub, partition);
        let Some(entry) = self.tasks.get(&id) else {
            // A record of a partition whose task was just closed; it will be
            // consumed again by the partition's next owner from the committed
            // offset.
            tracing::debug!(
                topic,
                partition,
                "dropping a record of an unassigned partition"
            );
            return Ok(None);
        };
        let Some(queue) = entry.task.queue_index(topic) else {
            return Err(Error::UnknownTopic(topic.to_owned()));
        };
        let mut route = self.route.take().unwrap_or(Route {
            topic: String::new(),
            partition,
            task: id,
            queue,
        });
        route.topic.clear();
        route.topic.push_str(topic);
        route.partition = partition;
        route.task = id;
        route.queue = queue;
        self.route = Some(route);
        Ok(Some((id, queue)))
    }

    /// Whether some task buffers more than its bound, or the tasks together more bytes
    /// than `input.buffer.max.bytes`.
    pub(crate) fn any_full(&self) -> bool {
        self.buffered_bytes > self.setup.buffer_max_bytes || self.tasks.values().any(|e| e.full)
    }

    /// Processes buffered records task by task, runs punctuators, marks drained tasks as
    /// no longer full and commits when due.
    pub(crate) fn process(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        self.release_due(consumer)?;
        // Records processed this round see this round's time (a retry's failed-at and
        // due-at are measured from it), not the previous round's.
        let started = now_ms();
        for entry in self.tasks.values_mut() {
            entry.task.ctx.wall_clock = started;
        }
        self.process_buffered()?;
        let now = now_ms();
        for entry in self.tasks.values_mut() {
            if !entry.restoring {
                entry.task.punctuate_wall_clock(now)?;
            }
        }
        for entry in self.tasks.values_mut() {
            let limit = self.setup.buffered_per_partition * entry.partitions.len();
            if entry.full && entry.buffered <= limit / 2 {
                entry.full = false;
            }
        }
        self.collector.borrow_mut().check_deliveries()?;
        let requested = self.tasks.values().any(|e| e.task.commit_requested());
        if requested || self.last_commit.elapsed() >= self.setup.commit_interval {
            self.commit(consumer)?;
        }
        if self.last_metrics.elapsed() >= METRICS_INTERVAL {
            self.publish_metrics();
        }
        Ok(())
    }

    /// The consumer lag per partition, from the thread's last statistics, when some task
    /// waits for empty partitions under `max.task.idle.ms`.
    fn idle_lag(&self) -> Option<BTreeMap<(String, i32), i64>> {
        if !self.tasks.values().any(|e| e.task.idles()) {
            return None;
        }
        let shared = self.setup.shared.lock();
        Some(
            shared
                .metrics
                .get(self.setup.index)
                .map(|m| m.lag.clone())
                .unwrap_or_default(),
        )
    }

    /// Processes buffered records, [`TASK_BURST`] of a task before the next task's turn,
    /// with the stream-time punctuators, until no record is left or [`PROCESS_BUDGET`] is
    /// spent.
    fn process_buffered(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut processed: u32 = 0;
        let lag = self.idle_lag();
        loop {
            let mut any = false;
            for entry in self.tasks.values_mut() {
                if entry.restoring {
                    continue;
                }
                if let Some(lag) = &lag {
                    let lag_of = |topic: &str, partition: i32| {
                        lag.get(&(topic.to_owned(), partition)).copied()
                    };
                    entry.idle_waiting = !entry.task.ready_to_process(&lag_of, started);
                    if entry.idle_waiting {
                        continue;
                    }
                }
                for _ in 0..TASK_BURST {
                    if entry.task.process_one()? {
                        // Records are not all of a size; the average is close enough for
                        // a bound.
                        let share = entry.bytes / entry.buffered.max(1);
                        entry.bytes -= share;
                        self.buffered_bytes = self.buffered_bytes.saturating_sub(share);
                        entry.buffered = entry.buffered.saturating_sub(1);
                        processed += 1;
                        any = true;
                    } else {
                        self.buffered_bytes = self.buffered_bytes.saturating_sub(entry.bytes);
                        entry.bytes = 0;
                        entry.buffered = 0;
                        break;
                    }
                }
                entry.task.punctuate_stream_time()?;
            }
            self.collector.borrow().poll();
            if !any || started.elapsed() >= PROCESS_BUDGET {
                break;
            }
        }
        if processed > 0 {
            // One clock read per round, not per record.
            let elapsed = started.elapsed();
            self.metrics.process_total += elapsed;
            self.metrics.process_records += u64::from(processed);
            self.metrics.process_max = self.metrics.process_max.max(elapsed / processed);
        }
        Ok(())
    }
}
