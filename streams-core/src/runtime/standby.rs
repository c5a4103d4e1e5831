//! Standby replicas (`num.standby.replicas`): warm copies of other instances' stateful
//! tasks, so that a task moving here after a failure restores only the tail of its
//! changelogs.
//!
//! # Design
//!
//! Kafka Streams' assignor places standbys and ships the placement in the group's
//! assignment. librdkafka runs its own assignors and attaches no user data, so every
//! instance computes the placement itself, from what the group coordinator already knows:
//!
//! - **Who runs what:** the group's description (`DescribeGroups`, see
//!   [`discovery`](super::discovery)) lists every member with its assignment and, in its
//!   `client.id`, the process id of its instance. A task is identified by its anchor
//!   partition ([`TaskLayout`]).
//! - **Where its standbys go:** for a task of a sub-topology with logged stores whose
//!   active instance is `A`, the other instances sorted by process id form a ring, and its
//!   `num.standby.replicas` standbys are the consecutive instances from a start that
//!   depends on the task, so that standbys spread. Never on `A`, at most one per instance,
//!   fewer when there are fewer other instances. Every instance applies the same rule to
//!   the same description and agrees, without coordination.
//! - **How a standby is kept warm:** one standby thread per instance opens the task's
//!   stores in the task's own directory (locked, as an active task locks it), restores
//!   them as an active task would, then follows the changelogs with its own restore
//!   consumer (`read_committed` under exactly-once, so only committed records are
//!   applied). It checkpoints every [`CHECKPOINT_RECORDS`] records or
//!   [`CHECKPOINT_INTERVAL`], and records each store's position after every batch (see
//!   [`StoredPosition`](crate::state::StoredPosition)), so its files stay valid even
//!   after a crash.
//! - **Failover:** when a stream thread of this instance is assigned a task, it claims it
//!   ([`StandbyClaims::claim`]) before locking its directory: the standby thread closes its
//!   standby of the task cleanly (flush and checkpoint) and releases the lock, and the
//!   active task restores only what the standby had not applied yet.
//!
//! # Staleness and failure cases
//!
//! - The placement is recomputed every [`PLACEMENT_INTERVAL`] from a description at most
//!   half a second old, and only while the group is stable: during a rebalance the standbys
//!   stay as they are.
//! - Right after an instance dies, the survivors still hold standbys of their own
//!   future tasks; the claim closes them before the task starts. A claim waits at most
//!   [`CLAIM_TIMEOUT`]; the task's lock then decides, as between two threads.
//! - A standby whose changelog fails (truncated below its position, say) is closed without
//!   a checkpoint and opened again at the next placement, which wipes what cannot be
//!   trusted.
//! - The placement does not yet take the state already on disk into account when the group
//!   assigns tasks (librdkafka's assignors know nothing of it), nor rack tags; a task may
//!   be assigned to an instance without a standby of it, which then restores as it would
//!   without standbys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;

use crate::error::{Error, Result};
use crate::runtime::assignment::TaskLayout;
use crate::runtime::discovery::Discovery;
use crate::runtime::restore::KafkaChangelogReader;
use crate::runtime::shared::Shared;
use crate::runtime::topic_plan::TopicPlan;
use crate::state::{ChangelogWriter, StateDirectory, StateManager, TaskDirLock};
use crate::task_id::TaskId;
use crate::topology::Topology;

/// How often the standby thread recomputes the placement.
pub(crate) const PLACEMENT_INTERVAL: Duration = Duration::from_secs(1);
/// Records applied to a standby between checkpoints.
pub(crate) const CHECKPOINT_RECORDS: u64 = 10_000;
/// Time between checkpoints of a standby that applied anything.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// How long a stream thread waits for the standby thread to give a task up.
pub(crate) const CLAIM_TIMEOUT: Duration = Duration::from_secs(30);
/// Records one step of one standby applies at most.
const STEP_RECORDS: usize = 10_000;

type Tp = (String, i32);

/// Which tasks the stream threads run and which the standby thread holds, so that a task
/// is never open in both.
#[derive(Debug, Default)]
pub(crate) struct StandbyClaims {
    inner: Mutex<Claims>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Claims {
    active: BTreeSet<TaskId>,
    held: BTreeSet<TaskId>,
}

impl StandbyClaims {
    fn lock(&self) -> MutexGuard<'_, Claims> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A stream thread is about to run task `id`: no standby of it opens any more, and one
    /// that is open is closed; waits up to `timeout` for that.
    pub(crate) fn claim(&self, id: TaskId, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut claims = self.lock();
        claims.active.insert(id);
        while claims.held.contains(&id) {
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(task = %id, "the standby of the task was not closed in time");
                return;
            }
            claims = self
                .changed
                .wait_timeout(claims, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The stream threads no longer run task `id`.
    pub(crate) fn unclaim(&self, id: TaskId) {
        self.lock().active.remove(&id);
    }

    fn is_claimed(&self, id: TaskId) -> bool {
        self.lock().active.contains(&id)
    }

    /// Marks `id` held by a standby, unless a stream thread runs it.
    fn try_hold(&self, id: TaskId) -> bool {
        let mut claims = self.lock();
        if claims.active.contains(&id) {
            return false;
        }
        claims.held.insert(id);
        true
    }

    fn release(&self, id: TaskId) {
        self.lock().held.remove(&id);
        self.changed.notify_all();
    }
}

/// The tasks instance `me` keeps standbys of (see the module documentation), given every
/// instance's partitions by process id.
pub(crate) fn placement(
    processes: &BTreeMap<String, Vec<Tp>>,
    layout: &TaskLayout,
    stateful: &BTreeSet<u32>,
    me: &str,
    replicas: usize,
) -> BTreeSet<TaskId> {
    let mut mine = BTreeSet::new();
    if replicas == 0 {
        return mine;
    }
    for (owner, partitions) in processes {
        let others: Vec<&String> = processes.keys().filter(|p| *p != owner).collect();
        if others.is_empty() {
            continue;
        }
        for (topic, partition) in partitions {
            let Some(task) = layout.task_of(topic, *partition) else {
                continue;
            };
            if !stateful.contains(&task.subtopology) {
                continue;
            }
            let start = (task.subtopology as usize)
                .wrapping_mul(31)
                .wrapping_add(usize::try_from(task.partition).unwrap_or(0));
            let hosts = (0..replicas.min(others.len())).map(|k| others[(start + k) % others.len()]);
            if hosts.into_iter().any(|h| h == me) {
                mine.insert(task);
            }
        }
    }
    mine
}

/// What the standby thread needs.
pub(crate) struct StandbySetup {
    pub(crate) topology: Arc<Topology>,
    pub(crate) application_id: Arc<str>,
    pub(crate) process_id: String,
    /// The standby restore consumer's config.
    pub(crate) restore: ClientConfig,
    /// The admin client's config, for the group's description.
    pub(crate) admin: ClientConfig,
    pub(crate) plan: Arc<TopicPlan>,
    /// `<state.dir>/<application.id>`.
    pub(crate) app_dir: PathBuf,
    pub(crate) replicas: usize,
    pub(crate) exactly_once: bool,
    pub(crate) shared: Arc<Shared>,
    pub(crate) claims: Arc<StandbyClaims>,
}

/// The sub-topologies with a logged store: the ones whose tasks get standbys.
fn stateful_subtopologies(topology: &Topology) -> Result<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for (index, members) in topology.subtopologies().iter().enumerate() {
        let logged = topology
            .store_builders_of(members)?
            .iter()
            .any(|b| b.logging_enabled());
        if logged && let Ok(index) = u32::try_from(index) {
            out.insert(index);
        }
    }
    Ok(out)
}

/// Starts the standby thread, when the topology has logged stores.
///
/// # Errors
///
/// [`Error::Kafka`] when a client cannot be created, [`Error::Io`] when the thread cannot
/// be spawned.
pub(crate) fn spawn(setup: StandbySetup) -> Result<Option<JoinHandle<()>>> {
    let stateful = stateful_subtopologies(&setup.topology)?;
    if stateful.is_empty() || setup.replicas == 0 {
        return Ok(None);
    }
    let reader = KafkaChangelogReader::new(&setup.restore)?;
    let discovery = Discovery::new(&setup.admin, &setup.application_id)?;
    let layout = TaskLayout::new(&setup.plan);
    std::thread::Builder::new()
        .name("standby".into())
        .spawn(move || {
            // The stores are the thread's own (`Rc`), so the runner is made here.
            Runner {
                reader,
                discovery,
                layout,
                stateful,
                tasks: BTreeMap::new(),
                setup,
            }
            .run();
        })
        .map(Some)
        .map_err(|e| Error::Io {
            context: "spawning the standby thread".into(),
            source: e,
        })
}

/// A standby writes nothing: its stores only apply their changelogs.
struct NoChangelog;

impl ChangelogWriter for NoChangelog {
    fn send(
        &mut self,
        topic: &str,
        partition: i32,
        _key: &[u8],
        _value: Option<&[u8]>,
        _timestamp: i64,
    ) -> Result<()> {
        Err(Error::IllegalState(format!(
            "a standby replica wrote to changelog {topic}-{partition}"
        )))
    }
}

struct Standby {
    state: StateManager,
    restored: bool,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    _lock: TaskDirLock,
}

struct Runner {
    setup: StandbySetup,
    reader: KafkaChangelogReader,
    discovery: Discovery,
    layout: TaskLayout,
    stateful: BTreeSet<u32>,
    tasks: BTreeMap<TaskId, Standby>,
}

impl Runner {
    fn run(mut self) {
        let mut placed_at: Option<Instant> = None;
        while !self.setup.shared.shutdown.load(Ordering::Acquire) {
            if placed_at.is_none_or(|t| t.elapsed() >= PLACEMENT_INTERVAL) {
                placed_at = Some(Instant::now());
                self.place();
            }
            if self.tasks.is_empty() {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
            for id in ids {
                if self.setup.claims.is_claimed(id) {
                    self.close(id, true);
                    continue;
                }
                if let Err(e) = self.step(id) {
                    tracing::warn!(task = %id, error = %e, "standby failed; closing it");
                    self.close(id, false);
                }
            }
        }
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.close(id, true);
        }
    }

    /// Opens the standbys this instance should hold and closes the others.
    fn place(&mut self) {
        let view = match self.discovery.view() {
            Ok(v) if v.stable => v,
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "no group description for the standby placement");
                return;
            }
        };
        let wanted = placement(
            &view.processes,
            &self.layout,
            &self.stateful,
            &self.setup.process_id,
            self.setup.replicas,
        );
        let stale: Vec<TaskId> = self
            .tasks
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        for id in stale {
            self.close(id, true);
        }
        for id in wanted {
            if self.tasks.contains_key(&id) || !self.setup.claims.try_hold(id) {
                continue;
            }
            match self.open(id) {
                Ok(Some(standby)) => {
                    tracing::info!(task = %id, "standby opened");
                    self.tasks.insert(id, standby);
                }
                Ok(None) => self.setup.claims.release(id),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "could not open a standby");
                    self.setup.claims.release(id);
                }
            }
        }
    }

    /// Opens the stores of task `id` in its directory; `None` when the directory is locked
    /// (a stream thread of this instance still runs the task).
    fn open(&mut self, id: TaskId) -> Result<Option<Standby>> {
        let dir = self.setup.app_dir.join(id.to_string());
        let lock = match StateDirectory::lock_task_dir(&dir) {
            Ok(lock) => lock,
            Err(Error::StateDir { source: None, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let members = self
            .setup
            .topology
            .subtopologies()
            .get(id.subtopology as usize)
            .cloned()
            .unwrap_or_default();
        let builders = self.setup.topology.store_builders_of(&members)?;
        let writer: std::rc::Rc<std::cell::RefCell<dyn ChangelogWriter>> =
            std::rc::Rc::new(std::cell::RefCell::new(NoChangelog));
        let mut state = StateManager::new(
            id,
            self.setup.application_id.to_string(),
            dir,
            builders,
            writer,
            id.partition,
            0,
        )
        .with_exactly_once(self.setup.exactly_once);
        state.register()?;
        Ok(Some(Standby {
            state,
            restored: false,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            _lock: lock,
        }))
    }

    /// Restores or updates standby `id` by one batch per store, and checkpoints it when due.
    fn step(&mut self, id: TaskId) -> Result<()> {
        let Some(standby) = self.tasks.get_mut(&id) else {
            return Ok(());
        };
        if !standby.restored {
            if standby.state.restore_step(&mut self.reader, STEP_RECORDS)? {
                let summary = standby.state.finish_restore()?;
                standby.restored = true;
                tracing::info!(task = %id, restored = summary.total_restored, "standby restored; following its changelogs");
            }
            return Ok(());
        }
        let applied = standby
            .state
            .update_standby(&mut self.reader, STEP_RECORDS)?;
        standby.since_checkpoint += applied;
        if standby.since_checkpoint >= CHECKPOINT_RECORDS
            || (standby.since_checkpoint > 0
                && standby.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL)
        {
            standby.state.checkpoint_standby()?;
            standby.since_checkpoint = 0;
            standby.last_checkpoint = Instant::now();
        }
        Ok(())
    }

    /// Closes standby `id` (with a checkpoint when `clean`), stops reading its changelogs
    /// and gives the task up.
    fn close(&mut self, id: TaskId, clean: bool) {
        let Some(standby) = self.tasks.remove(&id) else {
            return;
        };
        let Standby { state, _lock, .. } = standby;
        for (topic, partition) in state.changelog_partitions() {
            crate::state::ChangelogReader::unassign(&mut self.reader, &topic, partition);
        }
        // What a standby applied is committed, even halfway through its first restore
        // (which checkpoints as it goes): a clean close checkpoints it.
        let result = if clean {
            state.close()
        } else {
            state.close_dirty()
        };
        if let Err(e) = result {
            tracing::warn!(task = %id, error = %e, "closing a standby");
        }
        drop(_lock);
        self.setup.claims.release(id);
        tracing::info!(task = %id, clean, "standby closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> TaskLayout {
        let mut plan = TopicPlan::default();
        for (topic, sub) in [("orders", 0), ("clicks", 1)] {
            plan.topic_subtopology.insert(topic.to_owned(), sub);
            plan.partitions.insert(topic.to_owned(), 4);
        }
        TaskLayout::new(&plan)
    }

    fn processes(split: &[(&str, &[i32])]) -> BTreeMap<String, Vec<Tp>> {
        split
            .iter()
            .map(|(p, parts)| {
                let tps = parts
                    .iter()
                    .flat_map(|&n| [("orders".to_owned(), n), ("clicks".to_owned(), n)])
                    .collect();
                ((*p).to_owned(), tps)
            })
            .collect()
    }

    /// Every stateful task gets `min(replicas, instances - 1)` standbys, none on its active
    /// instance; stateless sub-topologies get none; all instances agree.
    #[test]
    fn standbys_are_placed_on_other_instances_only() {
        let layout = layout();
        let stateful = BTreeSet::from([0u32]);
        let procs = processes(&[("a", &[0, 1]), ("b", &[2]), ("c", &[3])]);
        for replicas in 0..4 {
            let mut count: BTreeMap<TaskId, usize> = BTreeMap::new();
            for me in ["a", "b", "c"] {
                let mine = placement(&procs, &layout, &stateful, me, replicas);
                for task in &mine {
                    assert_eq!(task.subtopology, 0, "only stateful tasks");
                    let owner = procs
                        .iter()
                        .find(|(_, tps)| tps.contains(&("orders".to_owned(), task.partition)))
                        .map(|(p, _)| p.as_str());
                    assert_ne!(owner, Some(me), "never on the active instance");
                    *count.entry(*task).or_default() += 1;
                }
            }
            for partition in 0..4 {
                let task = TaskId::new(0, partition);
                assert_eq!(
                    count.get(&task).copied().unwrap_or(0),
                    replicas.min(2),
                    "{task} with {replicas} replicas"
                );
            }
        }
        let alone = processes(&[("a", &[0, 1, 2, 3])]);
        assert!(placement(&alone, &layout, &stateful, "a", 1).is_empty());
    }

    #[test]
    fn a_claim_waits_for_the_standby_to_give_the_task_up() {
        let claims = Arc::new(StandbyClaims::default());
        let task = TaskId::new(0, 1);
        assert!(claims.try_hold(task));
        let releaser = {
            let claims = Arc::clone(&claims);
            std::thread::spawn(move || {
                while !claims.is_claimed(task) {
                    std::thread::yield_now();
                }
                claims.release(task);
            })
        };
        claims.claim(task, Duration::from_secs(60));
        assert!(releaser.join().is_ok());
        assert!(!claims.try_hold(task), "claimed tasks get no standby");
        claims.unclaim(task);
        assert!(claims.try_hold(task));
    }
}
