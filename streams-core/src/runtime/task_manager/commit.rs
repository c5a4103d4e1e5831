//! Committing the thread's tasks: under at-least-once the outputs are acknowledged before
//! the offsets are committed; under exactly-once both go in one transaction.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::TaskManager;
use crate::error::{Error, Result};
use crate::runtime::kafka_errors::{is_transient, kafka_error};
use crate::runtime::rebalance::{GroupContext, Tp};

/// How long a commit may wait for the brokers (a broker outage is ridden out until then).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(600);

impl TaskManager {
    /// Commits every task: caches and stores flushed, outputs acknowledged (or the
    /// transaction committed together with the offsets), checkpoints written, offsets
    /// committed.
    pub(super) fn commit(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        let started = Instant::now();
        self.last_commit = started;
        let transactional = self.collector.borrow().transactional();
        if self.tasks.is_empty() && !self.collector.borrow().in_transaction() {
            return Ok(());
        }
        for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
            entry.task.prepare_commit()?;
        }
        let (tpl, pending) = self.offsets_to_commit()?;
        let offsets_committed = if transactional {
            let in_txn = self.collector.borrow().in_transaction();
            if pending.is_empty() && !in_txn {
                return Ok(());
            }
            self.commit_transaction(consumer, &tpl)?;
            true
        } else {
            self.commit_at_least_once(consumer, &tpl)?
        };
        if offsets_committed {
            self.committed.extend(pending);
        }
        let elapsed = started.elapsed();
        self.metrics.commits += 1;
        self.metrics.commit_total += elapsed;
        self.metrics.commit_max = self.metrics.commit_max.max(elapsed);
        tracing::debug!(
            elapsed_us = elapsed.as_micros() as u64,
            offsets = tpl.count(),
            "committed"
        );
        self.last_commit = Instant::now();
        Ok(())
    }

    /// The consumed offsets of the processing tasks that differ from the last committed
    /// ones: as a list to commit, and as pairs to remember once committed.
    fn offsets_to_commit(&self) -> Result<(TopicPartitionList, Vec<(Tp, i64)>)> {
        let mut tpl = TopicPartitionList::new();
        let mut pending = Vec::new();
        for entry in self.tasks.values().filter(|e| !e.restoring) {
            for (topic, partition, offset) in entry.task.consumed_offsets() {
                let key = (topic.to_string(), partition);
                if self.committed.get(&key) != Some(&offset) {
                    tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
                        .map_err(|e| kafka_error("building the offsets to commit", e))?;
                    pending.push((key, offset));
                }
            }
        }
        Ok((tpl, pending))
    }

    /// Commits the open transaction with the offsets `tpl`, then lets the tasks write their
    /// checkpoints.
    fn commit_transaction(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        tpl: &TopicPartitionList,
    ) -> Result<()> {
        let group = consumer
            .group_metadata()
            .ok_or_else(|| Error::IllegalState("the consumer has no group metadata".into()))?;
        self.collector
            .borrow_mut()
            .commit_transaction(tpl, &group, COMMIT_TIMEOUT)?;
        let written = self.collector.borrow().written_offsets();
        for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
            entry.task.post_commit(&written)?;
        }
        Ok(())
    }

    /// Waits until every output is acknowledged, lets the tasks write their checkpoints,
    /// then commits the offsets `tpl`; returns whether they were committed (a transient
    /// failure leaves them to the next commit).
    fn commit_at_least_once(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        tpl: &TopicPartitionList,
    ) -> Result<bool> {
        self.collector.borrow_mut().flush(COMMIT_TIMEOUT)?;
        let written = self.collector.borrow().written_offsets();
        for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
            entry.task.post_commit(&written)?;
        }
        if tpl.count() > 0 {
            match consumer.commit(tpl, CommitMode::Sync) {
                Ok(()) => {}
                Err(e) if is_transient(&e) => {
                    // Outputs are acknowledged; the offsets go with the next commit.
                    tracing::warn!(error = %e, "offset commit failed; retrying at the next commit");
                    return Ok(false);
                }
                Err(e) => return Err(kafka_error("committing offsets", e)),
            }
        }
        Ok(true)
    }

    /// Aborts the open transaction, if the producer is transactional.
    pub(super) fn abort_if_transactional(&mut self) {
        let mut c = self.collector.borrow_mut();
        if c.transactional()
            && let Err(e) = c.abort_transaction(Duration::from_secs(30))
        {
            tracing::warn!(error = %e, "could not abort the transaction");
        }
    }
}
