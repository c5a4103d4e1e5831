//! Restoring the stores of new tasks from their changelogs, a bounded round at a time
//! between two polls of the consumer, while the tasks' own partitions are paused.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::TopicPartitionList;

use super::TaskManager;
use crate::error::Result;
use crate::runtime::rebalance::{GroupContext, Tp};
use crate::runtime::shared::ThreadState;
use crate::task_id::TaskId;

/// Changelog records a thread restores per round between two polls of its consumer.
const RESTORE_RECORDS_PER_ROUND: usize = 10_000;
/// How long one restore round may run before the thread polls again.
const RESTORE_BUDGET: Duration = Duration::from_millis(200);

impl TaskManager {
    /// Restores the stores of restoring tasks for one round (a bounded number of records
    /// and time), so that the consumer is polled between rounds and the member stays in
    /// its group however long a restore takes (Kafka Streams' state updater). A task whose
    /// stores are up to date initializes its processors and its partitions resume.
    pub(crate) fn restore(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        if self.restoring == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let ids: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, e)| e.restoring)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if started.elapsed() >= RESTORE_BUDGET {
                break;
            }
            let Some(entry) = self.tasks.get_mut(&id) else {
                continue;
            };
            let span = tracing::info_span!("restore", task = %id);
            let done = span.in_scope(|| {
                entry
                    .task
                    .restore_step(&mut self.reader, RESTORE_RECORDS_PER_ROUND)
            })?;
            if !done {
                // One task at a time: the restore consumer then reads one changelog
                // partition at a time instead of stashing the others' records.
                break;
            }
            let summary = entry.task.finish_restore()?;
            entry.restoring = false;
            self.restoring -= 1;
            self.metrics.restored += summary.total_restored;
            resume(consumer, &entry.partitions);
            tracing::info!(task = %id, restored = summary.total_restored, elapsed_ms = summary.elapsed.as_millis() as u64, "task restored; processing");
        }
        if self.restoring == 0 {
            self.last_commit = Instant::now();
            self.setup
                .shared
                .set_thread_state(self.setup.index, ThreadState::Running);
            self.publish_metrics();
        }
        Ok(())
    }
}

/// Stops fetching `partitions` (those of a task that is restoring, or a retry partition
/// whose next record is not due): librdkafka fetches nothing for them until [`resume`],
/// which starts again from the position of the last record handed to the application, so
/// nothing is skipped.
pub(super) fn pause(consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    if let Err(e) = consumer.pause(&tpl) {
        tracing::warn!(error = %e, partitions = ?partitions, "cannot pause partitions");
    }
}

/// Starts fetching paused partitions again.
pub(super) fn resume(consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    if let Err(e) = consumer.resume(&tpl) {
        tracing::warn!(error = %e, partitions = ?partitions, "cannot resume partitions");
    }
}
