//! The tasks of one stream thread: created when their partitions are assigned
//! ([`create`]), restored while the consumer keeps polling ([`restoring`]), fed and run
//! ([`input`]), committed ([`commit`]), and closed when their partitions go or the thread
//! stops (here).

mod commit;
mod create;
mod input;
mod restoring;
mod retry_hold;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;

use crate::config::{ProcessingGuarantee, StreamsConfig};
use crate::context::{TaskHandlers, error_chain};
use crate::error::{Error, Result};
use crate::runtime::collector::KafkaCollector;
use crate::runtime::metrics::{ThreadMetrics, add_task_metrics};
use crate::runtime::query::{StoreQuery, TaskStore};
use crate::runtime::rebalance::{GroupContext, RebalanceListener, Tp};
use crate::runtime::restore::KafkaChangelogReader;
use crate::runtime::shared::Shared;
use crate::runtime::standby::StandbyClaims;
use crate::runtime::topic_plan::TopicPlan;
use crate::state::{ChangelogReader as _, GlobalStores, TaskDirLock};
use crate::task::Task;
use crate::task_id::TaskId;
use crate::topology::Topology;
use input::Route;

/// A task of the thread, with what the thread keeps about it.
struct TaskEntry {
    task: Task,
    /// The task's input partitions.
    partitions: Vec<Tp>,
    /// Records added and not yet processed, as far as the thread can tell; reset when the
    /// task reports its queues empty.
    buffered: usize,
    /// More than `buffered.records.per.partition` per partition are buffered: the thread
    /// stops taking records from the consumer until the task has worked its way down to
    /// half of that (see the thread's poll loop).
    full: bool,
    /// Bytes (keys and values) of the buffered records, as far as the thread can tell.
    bytes: usize,
    /// The stores are still restoring: the task's partitions are paused and it neither
    /// processes nor commits.
    restoring: bool,
    /// Waiting, under `max.task.idle.ms`, for an empty partition: its buffered records do
    /// not keep the thread from blocking in its next poll.
    idle_waiting: bool,
    /// The task directory's lock, held while the task lives in this thread. Declared last:
    /// it is released only after the task has closed.
    _lock: TaskDirLock,
}

/// The tasks of one stream thread and what they share.
pub(crate) struct TaskManager {
    setup: ManagerSetup,
    collector: Rc<RefCell<KafkaCollector>>,
    reader: KafkaChangelogReader,
    tasks: BTreeMap<TaskId, TaskEntry>,
    assigned: BTreeSet<Tp>,
    assignment_changed: bool,
    committed: HashMap<Tp, i64>,
    last_commit: Instant,
    last_metrics: Instant,
    /// An error raised inside a rebalance callback, reported after `poll` returns.
    callback_error: Option<Error>,
    metrics: ThreadMetrics,
    /// Outputs dropped and dead-lettered by the thread's earlier collectors: a collector
    /// counts from zero, the thread's counters must not.
    delivery_base: (u64, u64),
    /// The route of the last record added; cleared whenever tasks come or go.
    route: Option<Route>,
    /// How many tasks are restoring.
    restoring: usize,
    /// Bytes of records buffered in all tasks, bounded by `input.buffer.max.bytes`.
    buffered_bytes: usize,
    /// Records of retry topics kept until they are due.
    retry_hold: retry_hold::RetryHold,
}

/// The parts of the thread's setup the task manager keeps.
pub(crate) struct ManagerSetup {
    /// The thread's slot among the instance's threads.
    pub(crate) index: usize,
    /// The topology the tasks run.
    pub(crate) topology: Arc<Topology>,
    /// The application id.
    pub(crate) application_id: Arc<str>,
    /// The processing guarantee.
    pub(crate) guarantee: ProcessingGuarantee,
    /// `commit.interval.ms`.
    pub(crate) commit_interval: Duration,
    /// The tasks' error handlers.
    pub(crate) handlers: TaskHandlers,
    /// The thread's share of `cache.max.bytes.buffering`, split between its tasks.
    pub(crate) cache_bytes: usize,
    /// `<state.dir>/<application.id>`, where the task directories are.
    pub(crate) app_dir: PathBuf,
    /// The application's topics.
    pub(crate) plan: Arc<TopicPlan>,
    /// `buffered.records.per.partition`, at least 1.
    pub(crate) buffered_per_partition: usize,
    /// `input.buffer.max.bytes`: the bound on the bytes buffered across the thread's tasks.
    pub(crate) buffer_max_bytes: usize,
    /// What the instance and its threads share.
    pub(crate) shared: Arc<Shared>,
    /// The config, which the tasks read.
    pub(crate) config: Arc<StreamsConfig>,
    /// The global stores, which every task reads.
    pub(crate) globals: Arc<GlobalStores>,
    /// `max.task.idle.ms`, when positive.
    pub(crate) max_task_idle: Option<Duration>,
    /// The tasks this instance's threads run, which its standbys give up.
    pub(crate) standby_claims: Arc<StandbyClaims>,
}

impl TaskManager {
    /// The manager of a thread's tasks, none yet, writing through `collector` and restoring
    /// through `reader`; `metrics` are the counters carried over from the thread's previous
    /// clients.
    pub(crate) fn new(
        setup: ManagerSetup,
        collector: Rc<RefCell<KafkaCollector>>,
        reader: KafkaChangelogReader,
        metrics: ThreadMetrics,
    ) -> Self {
        let delivery_base = (metrics.delivery_dropped, metrics.delivery_dead_lettered);
        TaskManager {
            setup,
            collector,
            reader,
            delivery_base,
            tasks: BTreeMap::new(),
            assigned: BTreeSet::new(),
            assignment_changed: false,
            committed: HashMap::new(),
            last_commit: Instant::now(),
            last_metrics: Instant::now(),
            callback_error: None,
            metrics,
            route: None,
            restoring: 0,
            buffered_bytes: 0,
            retry_hold: retry_hold::RetryHold::default(),
        }
    }

    /// The error a rebalance callback raised since the last call, if any.
    pub(crate) fn take_callback_error(&mut self) -> Result<()> {
        self.callback_error.take().map_or(Ok(()), Err)
    }

    /// Whether some task is restoring its stores.
    pub(crate) fn is_restoring(&self) -> bool {
        self.restoring > 0
    }

    /// Runs `query` on the store it names of every task that has one (or of its one task),
    /// telling it which tasks are still restoring instead of showing their stores.
    pub(crate) fn answer(&self, query: &mut StoreQuery) {
        for (id, entry) in &self.tasks {
            if query.task.is_some_and(|only| only != *id) {
                continue;
            }
            if let Some(store) = entry.task.ctx.store_by_name(&query.store) {
                let found = if entry.restoring {
                    TaskStore::Restoring
                } else {
                    TaskStore::Ready(store)
                };
                (query.visit)(*id, found);
            }
        }
    }

    fn close_task(&mut self, id: TaskId, clean: bool) {
        self.route = None;
        if let Some(mut entry) = self.tasks.remove(&id) {
            self.buffered_bytes = self.buffered_bytes.saturating_sub(entry.bytes);
            self.retry_hold.forget(&entry.partitions);
            if entry.restoring {
                self.restoring = self.restoring.saturating_sub(1);
                // A restore cut short keeps what it applied: a clean close checkpoints it,
                // so the task's next owner on this machine resumes instead of starting over.
                for (topic, partition) in entry.task.changelog_partitions() {
                    self.reader.unassign(&topic, partition);
                }
            }
            if let Err(e) = entry.task.close(clean) {
                tracing::warn!(task = %id, error = %e, "task failed to close");
            }
            add_task_metrics(&mut self.metrics.closed, &entry.task.metrics());
            self.metrics.tasks.remove(&id);
            self.metrics.tasks_closed += 1;
            tracing::info!(task = %id, clean, "task closed");
        }
        // The directory is unlocked: a standby may open the task again.
        self.setup.standby_claims.unclaim(id);
    }

    /// A clean shutdown: a final commit, then every task closed.
    pub(crate) fn shutdown(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        let committed = self.commit(consumer);
        if committed.is_err() {
            self.abort_if_transactional();
        }
        let clean = committed.is_ok();
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.close_task(id, clean);
        }
        committed
    }

    /// Closes every task without committing, after an error.
    pub(crate) fn close_dirty(&mut self) {
        self.abort_if_transactional();
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.close_task(id, false);
        }
    }

    /// Counts a round of the poll loop that polled the consumer.
    pub(crate) fn count_poll(&mut self, polled: bool) {
        self.metrics.polls += u64::from(polled);
    }

    /// Publishes the thread's counters for the instance's metrics.
    pub(crate) fn publish_metrics(&mut self) {
        self.last_metrics = Instant::now();
        self.metrics.tasks = self
            .tasks
            .iter()
            .map(|(id, e)| (*id, e.task.metrics()))
            .collect();
        let mut stores = crate::state::StoreMetrics::default();
        for e in self.tasks.values() {
            stores.add(&e.task.store_metrics());
        }
        self.metrics.stores = stores;
        self.metrics.tasks_restoring = self.restoring as u64;
        self.metrics.restore_remaining = self
            .tasks
            .values()
            .filter(|e| e.restoring)
            .map(|e| e.task.restore_remaining())
            .sum();
        let collector = self.collector.borrow();
        self.metrics.delivery_dropped = self.delivery_base.0 + collector.dropped;
        self.metrics.delivery_dead_lettered = self.delivery_base.1 + collector.dead_lettered;
        drop(collector);
        self.setup
            .shared
            .publish_metrics(self.setup.index, &self.metrics);
    }

    /// Takes the thread's counters, to carry them over to its next clients.
    pub(crate) fn take_metrics(&mut self) -> ThreadMetrics {
        std::mem::take(&mut self.metrics)
    }
}

impl RebalanceListener for TaskManager {
    fn on_assigned(&mut self, partitions: &[Tp]) {
        self.assigned.extend(partitions.iter().cloned());
        self.assignment_changed = true;
    }

    /// Commits everything, then closes the tasks that lose partitions.
    fn on_revoked(&mut self, consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]) {
        let committed = self.commit(consumer);
        if let Err(e) = &committed {
            tracing::warn!(error = %error_chain(e), "commit before revocation failed");
            self.abort_if_transactional();
        }
        let revoked: BTreeSet<&Tp> = partitions.iter().collect();
        for tp in partitions {
            self.assigned.remove(tp);
            self.committed.remove(tp);
        }
        let losing: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, e)| e.partitions.iter().any(|p| revoked.contains(p)))
            .map(|(id, _)| *id)
            .collect();
        for id in losing {
            self.close_task(id, committed.is_ok());
        }
        self.assignment_changed = true;
        if let Err(e) = committed
            && !matches!(e, Error::Kafka { .. })
        {
            self.callback_error.get_or_insert(e);
        }
    }

    /// The assignment was lost (the session timed out, the member was fenced): the tasks
    /// may be running elsewhere already, so they are closed without committing and the
    /// open transaction is aborted, as Kafka Streams' `handleLostAll`. What they did since
    /// the last commit is processed again by the partitions' next owner. The thread then
    /// starts its clients anew and rejoins (see the stream thread's recovery).
    fn on_lost(&mut self, partitions: &[Tp]) {
        self.abort_if_transactional();
        let lost: BTreeSet<&Tp> = partitions.iter().collect();
        let losing: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, e)| e.partitions.iter().any(|p| lost.contains(p)))
            .map(|(id, _)| *id)
            .collect();
        for id in losing {
            self.close_task(id, false);
        }
        for tp in partitions {
            self.assigned.remove(tp);
            self.committed.remove(tp);
        }
        self.assignment_changed = true;
        // A member that lost its assignment does not always get a new one from librdkafka
        // once the coordinator is back; starting the clients anew always rejoins.
        self.callback_error.get_or_insert(Error::TaskMigrated {
            context: "the group assignment was lost".into(),
            source: "the member's session ended or it was fenced".into(),
        });
    }

    fn on_callback_error(&mut self, error: Error) {
        self.callback_error.get_or_insert(error);
    }
}
