//! Tasks: one instance of a sub-topology for one input partition.
//!
//! A task owns its nodes, its per-partition record queues and its stores. It processes one
//! record at a time, always taking the next record from the partition whose head record has
//! the smallest timestamp, as Kafka Streams' `PartitionGroup` does.

mod build;
mod changelog;
mod commit;
mod idle;
mod input;
mod restore;
mod spec;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

pub(crate) use spec::TaskSpec;

use crate::context::{TaskContext, TaskMetrics};
use crate::error::Result;
use crate::state::StateManager;
use crate::task_id::TaskId;
use crate::topology::{NodeLifecycle, SourceInput};

/// One input partition of the task: the queue of the source node that holds its records,
/// and the offsets to commit for it.
struct QueueRef {
    topic: Arc<str>,
    partition: i32,
    source: Rc<RefCell<dyn SourceInput>>,
    local: usize,
    /// The offset after the last record taken from this queue: what to commit.
    next_offset: Option<i64>,
    /// The offset after the last record skipped on arrival (not deserializable, or an
    /// invalid timestamp). Committed once every record before it is processed, as Kafka
    /// Streams commits the consumer position past skipped records (KAFKA-6502): otherwise a
    /// partition ending in skipped records would never be committed to its end.
    skipped_next: Option<i64>,
    /// A retry topic's partition: mostly empty, and never waited for under
    /// `max.task.idle.ms` (its records come back on their own schedule).
    retry: bool,
}

/// One instance of one or more sub-topologies over one partition of their inputs.
pub(crate) struct Task {
    pub(crate) id: TaskId,
    pub(crate) ctx: TaskContext,
    queues: Vec<QueueRef>,
    queue_by_topic: HashMap<Arc<str>, usize>,
    nodes: Vec<Option<Rc<RefCell<dyn NodeLifecycle>>>>,
    order: Vec<usize>,
    /// The nodes of `order` whose flush may do something.
    flushed: Vec<usize>,
    initialized: bool,
    state: Option<StateManager>,
    /// Set with a positive `max.task.idle.ms` and more than one input partition.
    idling: Option<idle::Idling>,
}

impl Task {
    /// Processes the record with the smallest head timestamp across partitions. Returns
    /// whether a record was processed.
    pub(crate) fn process_one(&mut self) -> Result<bool> {
        let mut best: Option<(i64, usize)> = None;
        for (i, q) in self.queues.iter().enumerate() {
            if let Some(ts) = q.source.borrow().head_timestamp(q.local)
                && best.is_none_or(|(b, _)| ts < b)
            {
                best = Some((ts, i));
            }
        }
        let Some((_, i)) = best else {
            return Ok(false);
        };
        let q = &mut self.queues[i];
        let result = q.source.borrow_mut().process_head(q.local, &mut self.ctx);
        let result = match result {
            Ok(offset) => {
                if let Some(o) = offset {
                    q.next_offset = Some(o + 1);
                }
                Ok(())
            }
            Err((offset, e)) => {
                q.next_offset = Some(offset + 1);
                Err(e)
            }
        };
        if let Err(e) = result {
            self.ctx.handle_processing_error(&q.topic, q.partition, e)?;
        }
        Ok(true)
    }

    /// Runs the stream-time punctuators that are due. Returns whether any ran.
    pub(crate) fn punctuate_stream_time(&mut self) -> Result<bool> {
        let now = self.ctx.stream_time;
        if now < 0 {
            return Ok(false);
        }
        self.punctuate(now, true)
    }

    /// Advances the task's wall clock and runs the wall-clock punctuators that are due.
    pub(crate) fn punctuate_wall_clock(&mut self, now: i64) -> Result<bool> {
        self.ctx.wall_clock = now;
        self.punctuate(now, false)
    }

    fn punctuate(&mut self, now: i64, stream: bool) -> Result<bool> {
        let mut any = false;
        loop {
            let due = self.ctx.pop_due_punctuator(now, stream);
            let Some((node, id)) = due else { break };
            let Some(n) = self.nodes.get(node).and_then(Option::as_ref) else {
                continue;
            };
            self.ctx.metadata = None;
            self.ctx.record_timestamp.set(now);
            self.ctx.metrics.punctuations += 1;
            n.borrow_mut().punctuate(id, now, &mut self.ctx)?;
            any = true;
        }
        Ok(any)
    }

    /// Closes the processors, then the stores. A clean close checkpoints; a dirty one (after
    /// an error, or when the task is lost) leaves the stores to be restored next time.
    pub(crate) fn close(&mut self, clean: bool) -> Result<()> {
        let mut first_err = None;
        // Processors of a task still restoring were never initialized.
        let order: &[usize] = if self.initialized { &self.order } else { &[] };
        for &i in order {
            if let Some(n) = &self.nodes[i]
                && let Err(e) = n.borrow_mut().close()
            {
                tracing::warn!(task = %self.id, error = %e, "processor failed to close");
                first_err.get_or_insert(e);
            }
        }
        if let Some(state) = self.state.take() {
            let r = if clean {
                state.close()
            } else {
                state.close_dirty()
            };
            if let Err(e) = r {
                tracing::warn!(task = %self.id, error = %e, "state stores failed to close");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// A store of this task (or its view of a global store), for the test driver and
    /// interactive queries.
    pub(crate) fn store(&self, name: &str) -> Option<Rc<dyn Any>> {
        self.ctx.store_or_global_view(name).cloned()
    }

    pub(crate) fn metrics(&self) -> TaskMetrics {
        self.ctx.metrics
    }

    /// Waits up to `max_idle` for empty input partitions before processing (see
    /// [`idle`]); a task with one input partition never waits.
    pub(crate) fn set_max_idle(&mut self, max_idle: Option<std::time::Duration>) {
        let waited_for = self.queues.iter().filter(|q| !q.retry).count();
        self.idling = max_idle.filter(|_| waited_for > 1).map(idle::Idling::new);
    }

    /// Whether the task may process now under `max.task.idle.ms`; `lag` gives a partition's
    /// consumer lag, `None` when unknown.
    pub(crate) fn ready_to_process(
        &mut self,
        lag: &dyn Fn(&str, i32) -> Option<i64>,
        now: std::time::Instant,
    ) -> bool {
        let Some(idling) = &mut self.idling else {
            return true;
        };
        let views: Vec<idle::PartitionView<'_>> = self
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| idle::PartitionView {
                queue: i,
                topic: &q.topic,
                partition: q.partition,
                buffered: q.source.borrow().head_timestamp(q.local).is_some(),
                never_waited_for: q.retry,
            })
            .collect();
        idling.ready(views, lag, now)
    }

    /// Whether the task waits for empty partitions at all.
    pub(crate) fn idles(&self) -> bool {
        self.idling.is_some()
    }

    /// Changelog records still to restore (see [`StateManager::restore_remaining`]).
    pub(crate) fn restore_remaining(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.restore_remaining())
    }

    /// The metrics of the task's stores, summed.
    pub(crate) fn store_metrics(&self) -> crate::state::StoreMetrics {
        self.state
            .as_ref()
            .map(|s| s.store_metrics())
            .unwrap_or_default()
    }

    pub(crate) fn stream_time(&self) -> i64 {
        self.ctx.stream_time
    }
}
