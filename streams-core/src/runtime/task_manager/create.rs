//! Turning the assignment into tasks: the tasks that lost their partitions are committed
//! and closed, and the tasks of new partitions are created, their directories locked, and
//! their restore begun.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;

use super::restoring::pause;
use super::{TaskEntry, TaskManager};
use crate::config::ProcessingGuarantee;
use crate::context::RecordCollector;
use crate::error::{Error, Result};
use crate::runtime::clock::now_ms;
use crate::runtime::rebalance::{GroupContext, Tp};
use crate::runtime::shared::ThreadState;
use crate::runtime::standby::CLAIM_TIMEOUT;
use crate::state::{StateDirectory, TaskDirLock};
use crate::task::{Task, TaskSpec};
use crate::task_id::TaskId;

/// How long a thread waits for a task directory another thread still holds.
const TASK_LOCK_WAIT: Duration = Duration::from_secs(5);

impl TaskManager {
    /// Creates and restores the tasks of newly assigned partitions.
    pub(crate) fn handle_assignment(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
    ) -> Result<()> {
        if !self.assignment_changed {
            return Ok(());
        }
        self.assignment_changed = false;
        self.route = None;
        let needed = self.needed_tasks();
        self.close_stale_tasks(consumer, &needed)?;
        let per_task_cache = self.setup.cache_bytes / needed.len().max(1);
        for (id, partitions) in needed {
            if let Some(entry) = self.tasks.get_mut(&id) {
                entry.partitions = partitions;
                continue;
            }
            self.create_task(consumer, id, partitions, per_task_cache)?;
        }
        self.last_commit = Instant::now();
        if self.restoring == 0 {
            self.setup
                .shared
                .set_thread_state(self.setup.index, ThreadState::Running);
        }
        self.publish_metrics();
        Ok(())
    }

    /// The tasks the assigned partitions make up, with their partitions.
    fn needed_tasks(&self) -> BTreeMap<TaskId, Vec<Tp>> {
        let mut needed: BTreeMap<TaskId, Vec<Tp>> = BTreeMap::new();
        for (topic, p) in &self.assigned {
            let Some(&sub) = self.setup.plan.topic_subtopology.get(topic) else {
                tracing::warn!(topic, "assigned a topic no sub-topology reads");
                continue;
            };
            needed
                .entry(TaskId::new(sub, *p))
                .or_default()
                .push((topic.clone(), *p));
        }
        needed
    }

    /// Commits, then closes the tasks that are not `needed` any more.
    fn close_stale_tasks(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        needed: &BTreeMap<TaskId, Vec<Tp>>,
    ) -> Result<()> {
        let stale: Vec<TaskId> = self
            .tasks
            .keys()
            .filter(|id| !needed.contains_key(id))
            .copied()
            .collect();
        if !stale.is_empty() {
            self.commit(consumer)?;
            for id in stale {
                self.close_task(id, true);
            }
        }
        Ok(())
    }

    /// Creates task `id` of `partitions` in its locked directory and begins restoring its
    /// stores, its partitions paused until they are restored.
    fn create_task(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        id: TaskId,
        partitions: Vec<Tp>,
        cache_max_bytes: usize,
    ) -> Result<()> {
        // A standby of the task in this instance closes first, checkpointing what it holds.
        self.setup.standby_claims.claim(id, CLAIM_TIMEOUT);
        let lock = lock_task(&self.setup.app_dir.join(id.to_string()))?;
        let collector: Rc<RefCell<dyn RecordCollector>> = self.collector.clone();
        let mut task = Task::new(
            &self.setup.topology,
            TaskSpec {
                id,
                application_id: Arc::clone(&self.setup.application_id),
                subtopologies: vec![id.subtopology as usize],
                partition: id.partition,
                handlers: self.setup.handlers,
                collector,
                wall_clock: now_ms(),
                state_dir: Some(self.setup.app_dir.clone()),
                cache_max_bytes,
                exactly_once: self.setup.guarantee == ProcessingGuarantee::ExactlyOnceV2,
                config: Arc::clone(&self.setup.config),
                global_views: self.setup.globals.read_only_views(),
            },
        )?;
        task.begin_restore()?;
        task.set_max_idle(self.setup.max_task_idle);
        self.metrics.tasks_created += 1;
        tracing::info!(task = %id, partitions = ?partitions, changelogs = ?task.changelog_partitions(), "task created; restoring");
        pause(consumer, &partitions);
        self.restoring += 1;
        self.tasks.insert(
            id,
            TaskEntry {
                task,
                partitions,
                buffered: 0,
                full: false,
                bytes: 0,
                restoring: true,
                idle_waiting: false,
                _lock: lock,
            },
        );
        Ok(())
    }
}

/// Locks a task's directory for this thread. Tasks are assigned whole and eagerly, so the
/// previous owner in this process has closed it before the assignment arrives; a lock that
/// stays taken means another thread or process still runs the task, and the thread gives up
/// its tasks and rejoins rather than run it twice.
fn lock_task(dir: &Path) -> Result<TaskDirLock> {
    let deadline = Instant::now() + TASK_LOCK_WAIT;
    loop {
        match StateDirectory::lock_task_dir(dir) {
            Ok(lock) => return Ok(lock),
            Err(e @ Error::StateDir { source: None, .. }) => {
                if Instant::now() >= deadline {
                    return Err(Error::TaskMigrated {
                        context: format!("locking the task directory {}", dir.display()),
                        source: Box::new(e),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}
