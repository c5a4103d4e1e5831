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
//!   active instance is `A`, the first standby goes where the group's `range` assignor
//!   will give the task if `A` leaves: the assignor over the other members, sorted by
//!   client id as for the warm-up below. So when an instance dies, each of its tasks moves
//!   to the instance already holding its standby. The other standbys follow a ring of the
//!   other instances sorted by process id, from a start that depends on the task, so that
//!   they spread. Never on `A`, at most one per instance, fewer when there are fewer other
//!   instances. Every instance applies the same rule to the same description and agrees,
//!   without coordination.
//! - **Racks:** with `rack.aware.assignment.tags` (say `zone`), each member's client id
//!   also carries its instance's `client.tag.*` values, and the order above is filtered as
//!   Kafka Streams' client-tag-aware assignor filters its clients ([`rack::spread`]): an
//!   instance sharing the zone of `A` or of a standby already placed is passed over while
//!   another zone is left, and only when none is does the plain order fill the rest. Spreading
//!   comes before landing on failover: when the task's successor shares `A`'s zone, the
//!   first standby goes to another zone, and a failover of `A` restores the task as it
//!   would without standbys, while a loss of the whole zone loses no state.
//! - **How a standby is kept warm:** one standby thread per instance opens the task's
//!   stores in the task's own directory (locked, as an active task locks it), restores
//!   them as an active task would, then follows the changelogs with its own restore
//!   consumer (`read_committed` under exactly-once, so only committed records are
//!   applied). It checkpoints every [`CHECKPOINT_RECORDS`] records or
//!   [`CHECKPOINT_INTERVAL`], and records each store's position after every batch (see
//!   [`StoredPosition`](crate::state::StoredPosition)), so its files stay valid even
//!   after a crash.
//! - **Warm-up before joining:** an instance that starts next to running ones, with no
//!   member in the group yet, predicts the tasks the group's `range` assignor will give its
//!   threads (members sorted by member id, which starts with the client id, which carries
//!   the process id; contiguous ranges of each anchor topic's partitions), warms them up as
//!   standbys, and only then lets its stream threads join. The running instances keep
//!   processing meanwhile; the joining rebalance moves the tasks, and the new owner
//!   restores only what was written during the last step of its warm-up. With static
//!   membership (`group.instance.id`), which the assignor sorts by instead, nothing is
//!   predicted and the instance joins at once, as it does when the warm-up takes longer
//!   than `probing.rebalance.interval.ms`. A task's warm-up is done once its changelogs'
//!   lag is at most `acceptable.recovery.lag`, and at most `max.warmup.replicas` tasks
//!   restore at once (see [`StreamsConfig::warmup`](crate::StreamsConfig::warmup)).
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
//! - The group's assignment does not take the state on disk into account (librdkafka's
//!   assignors know nothing of it); the placement follows the assignment instead. A task
//!   still lands without its standby when several instances fail at once, when members
//!   join or leave during the failover, or with static membership (`group.instance.id`,
//!   by which the assignor sorts instead); it then restores as it would without standbys.
//!   The active tasks themselves are placed by librdkafka's assignor, which knows no racks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;

use crate::config::Warmup;
use crate::error::{Error, Result};
use crate::memory::StoreMemory;
use crate::rack;
use crate::runtime::assignment::TaskLayout;
use crate::runtime::discovery::{Discovery, parse_member_process, parse_member_tags};
use crate::runtime::query::{StoreQuery, TaskStore};
use crate::runtime::restore::KafkaChangelogReader;
use crate::runtime::shared::Shared;
use crate::runtime::topic_plan::TopicPlan;
use crate::state::{ChangelogReader, ChangelogWriter, StateDirectory, StateManager, TaskDirLock};
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
    /// Whether the stream threads wait for a warm-up before joining the group.
    warming: bool,
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

    /// Holds the stream threads back (see [`wait_for_warmup`](Self::wait_for_warmup)) until
    /// the standby thread has warmed up the tasks they will get.
    pub(crate) fn begin_warmup(&self) {
        self.lock().warming = true;
    }

    /// Lets the stream threads join.
    pub(crate) fn end_warmup(&self) {
        self.lock().warming = false;
        self.changed.notify_all();
    }

    /// Waits while a warm-up is under way, or until `shutdown` is set.
    pub(crate) fn wait_for_warmup(&self, shutdown: &std::sync::atomic::AtomicBool) {
        let mut claims = self.lock();
        while claims.warming && !shutdown.load(Ordering::Acquire) {
            claims = self
                .changed
                .wait_timeout(claims, Duration::from_millis(100))
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

/// The process ids of the instances holding standbys of `task`, whose active instance is
/// `owner`, among `processes` (see the module documentation): first `successor`, the
/// instance the group will give the task if `owner` leaves, when known; then the ring; with
/// rack tags, spread over the tags' values first ([`rack::spread`]).
fn standby_hosts<'a>(
    processes: &'a BTreeMap<String, Vec<Tp>>,
    owner: &str,
    task: TaskId,
    replicas: usize,
    successor: Option<&String>,
    rack: (&[String], &BTreeMap<String, BTreeMap<String, String>>),
) -> Vec<&'a String> {
    let others: Vec<&String> = processes.keys().filter(|p| *p != owner).collect();
    if others.is_empty() {
        return Vec::new();
    }
    let first = successor.and_then(|s| others.iter().copied().find(|o| *o == s));
    let start = (task.subtopology as usize)
        .wrapping_mul(31)
        .wrapping_add(usize::try_from(task.partition).unwrap_or(0));
    let ring = (0..others.len())
        .map(|k| others[(start + k) % others.len()])
        .filter(|h| Some(*h) != first);
    let order: Vec<&String> = first.into_iter().chain(ring).collect();
    rack::spread(rack.0, rack.1, owner, &order, replicas)
}

/// The partitions the `range` assignor gives member `i` of `members` sorted ones, of a
/// topic of `partitions`: a contiguous range, the first `partitions % members` members one
/// more.
fn range_of(partitions: usize, members: usize, i: usize) -> std::ops::Range<usize> {
    let start = (partitions / members) * i + i.min(partitions % members);
    start..start + partitions / members + usize::from(i < partitions % members)
}

/// Where standbys go: what the placement depends on besides the group's description.
pub(crate) struct StandbyPlacement {
    layout: TaskLayout,
    stateful: BTreeSet<u32>,
    replicas: usize,
    /// `rack.aware.assignment.tags`.
    rack_tags: Vec<String>,
}

impl StandbyPlacement {
    /// The placement of `replicas` standbys of the stateful tasks of `topology`, spread over
    /// the values of the client tags `rack_tags`.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] when the topology's stores cannot be listed.
    pub(crate) fn new(
        topology: &Topology,
        plan: &TopicPlan,
        replicas: usize,
        rack_tags: Vec<String>,
    ) -> Result<Self> {
        Ok(StandbyPlacement {
            layout: TaskLayout::new(plan),
            stateful: stateful_subtopologies(topology)?,
            replicas,
            rack_tags,
        })
    }

    /// The tasks instance `me` keeps standbys of, given every instance's partitions by
    /// process id and the client id of every member of the group.
    pub(crate) fn mine(
        &self,
        processes: &BTreeMap<String, Vec<Tp>>,
        members: &[String],
        me: &str,
    ) -> BTreeSet<TaskId> {
        self.tasks(processes, members)
            .into_iter()
            .filter(|(_, _, hosts)| hosts.iter().any(|h| *h == me))
            .map(|(task, _, _)| task)
            .collect()
    }

    /// Every stateful task of `processes` (instances' partitions by process id) with its
    /// active instance and the instances holding its standbys; `members` are the client ids
    /// of the group's members, which say where each task goes when its instance leaves.
    pub(crate) fn tasks<'a>(
        &self,
        processes: &'a BTreeMap<String, Vec<Tp>>,
        members: &[String],
    ) -> Vec<(TaskId, &'a String, Vec<&'a String>)> {
        let mut out = Vec::new();
        let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        if !self.rack_tags.is_empty() {
            for member in members {
                if let Some(process) = parse_member_process(member) {
                    tags.entry(process)
                        .or_insert_with(|| parse_member_tags(member));
                }
            }
        }
        for (owner, partitions) in processes {
            let successors = self.successors(members, owner);
            for (topic, partition) in partitions {
                let Some(task) = self.layout.task_of(topic, *partition) else {
                    continue;
                };
                if self.stateful.contains(&task.subtopology) {
                    let hosts = standby_hosts(
                        processes,
                        owner,
                        task,
                        self.replicas,
                        successors.get(&task),
                        (&self.rack_tags, &tags),
                    );
                    out.push((task, owner, hosts));
                }
            }
        }
        out
    }

    /// Where each stateful task goes if instance `owner` leaves the group: the `range`
    /// assignor over the other members, sorted by client id (see [`predict_tasks`]).
    fn successors(&self, members: &[String], owner: &str) -> BTreeMap<TaskId, String> {
        let mut remaining: Vec<(&String, String)> = members
            .iter()
            .filter_map(|m| {
                let process = parse_member_process(m)?;
                (process != owner).then_some((m, process))
            })
            .collect();
        remaining.sort();
        remaining.dedup();
        let mut out = BTreeMap::new();
        if remaining.is_empty() {
            return out;
        }
        for (sub, _, count) in self.layout.anchors() {
            if !self.stateful.contains(&sub) {
                continue;
            }
            let n = usize::try_from(count).unwrap_or(0);
            for (i, (_, process)) in remaining.iter().enumerate() {
                for p in range_of(n, remaining.len(), i) {
                    if let Ok(p) = i32::try_from(p) {
                        out.insert(TaskId::new(sub, p), process.clone());
                    }
                }
            }
        }
        out
    }
}

/// The stateful tasks the group's `range` assignor gives the members with client ids
/// `mine` once they join the members `members` (see the module documentation).
pub(crate) fn predict_tasks(
    members: &[String],
    mine: &[String],
    layout: &TaskLayout,
    stateful: &BTreeSet<u32>,
) -> BTreeSet<TaskId> {
    let mut all: Vec<&String> = members.iter().chain(mine).collect();
    all.sort();
    all.dedup();
    let m = all.len();
    let mut out = BTreeSet::new();
    if m == 0 {
        return out;
    }
    for (sub, _, count) in layout.anchors() {
        if !stateful.contains(&sub) {
            continue;
        }
        let n = usize::try_from(count).unwrap_or(0);
        for (i, member) in all.iter().enumerate() {
            if !mine.contains(member) {
                continue;
            }
            for p in range_of(n, m, i) {
                if let Ok(p) = i32::try_from(p) {
                    out.insert(TaskId::new(sub, p));
                }
            }
        }
    }
    out
}

/// The tasks a starting instance warms up before its threads join (see the module
/// documentation): none when the group has no member yet, when it lists this instance
/// already (a restart within the session timeout), with static membership, or when its
/// description cannot be read. `mine` are the client ids of this instance's threads.
///
/// # Errors
///
/// [`Error::Topology`] when the topology's stores cannot be listed.
pub(crate) fn warmup_tasks(
    discovery: &Discovery,
    topology: &Topology,
    plan: &TopicPlan,
    process_id: &str,
    mine: &[String],
    static_membership: bool,
) -> Result<BTreeSet<TaskId>> {
    if static_membership {
        return Ok(BTreeSet::new());
    }
    let placement = StandbyPlacement::new(topology, plan, 0, Vec::new())?;
    if placement.stateful.is_empty() {
        return Ok(BTreeSet::new());
    }
    let view = match discovery.view() {
        Ok(view) => view,
        Err(e) => {
            tracing::debug!(error = %e, "no group description; joining without a warm-up");
            return Ok(BTreeSet::new());
        }
    };
    if view.members.is_empty() || view.processes.contains_key(process_id) {
        return Ok(BTreeSet::new());
    }
    Ok(predict_tasks(
        &view.members,
        mine,
        &placement.layout,
        &placement.stateful,
    ))
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
    /// `rack.aware.assignment.tags`.
    pub(crate) rack_tags: Vec<String>,
    pub(crate) exactly_once: bool,
    /// The memory the standbys' stores draw on, as the active tasks' do.
    pub(crate) store_memory: Option<StoreMemory>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) claims: Arc<StandbyClaims>,
    /// Tasks to warm up before the stream threads join (see [`predict_tasks`]); the
    /// claims' warm-up ends once they are.
    pub(crate) warmup: BTreeSet<TaskId>,
    /// How the warm-up proceeds and when it is done.
    pub(crate) warmup_settings: Warmup,
    /// Queries of the standbys' stores (see [`StreamsHandle::query_standbys`]).
    ///
    /// [`StreamsHandle::query_standbys`]: crate::runtime::StreamsHandle::query_standbys
    pub(crate) queries: Receiver<StoreQuery>,
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

/// Starts the standby thread, when the topology has logged stores and there are standbys
/// to keep or tasks to warm up; otherwise ends the warm-up at once.
///
/// # Errors
///
/// [`Error::Kafka`] when a client cannot be created, [`Error::Io`] when the thread cannot
/// be spawned.
pub(crate) fn spawn(setup: StandbySetup) -> Result<Option<JoinHandle<()>>> {
    let placement = StandbyPlacement::new(
        &setup.topology,
        &setup.plan,
        setup.replicas,
        setup.rack_tags.clone(),
    )?;
    if placement.stateful.is_empty() || (setup.replicas == 0 && setup.warmup.is_empty()) {
        setup.claims.end_warmup();
        return Ok(None);
    }
    let reader = KafkaChangelogReader::new(&setup.restore)?;
    let discovery = Discovery::new(&setup.admin, &setup.application_id)?;
    std::thread::Builder::new()
        .name("standby".into())
        .spawn(move || {
            // The stores are the thread's own (`Rc`), so the runner is made here.
            Runner {
                reader,
                discovery,
                placement,
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
    /// Opened to warm up a task this instance will get, rather than as a standby.
    warmup: bool,
    restored: bool,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    _lock: TaskDirLock,
}

struct Runner {
    setup: StandbySetup,
    reader: KafkaChangelogReader,
    discovery: Discovery,
    placement: StandbyPlacement,
    tasks: BTreeMap<TaskId, Standby>,
}

impl Runner {
    fn run(mut self) {
        self.warm_up();
        if self.setup.replicas == 0 {
            return;
        }
        let mut placed_at: Option<Instant> = None;
        while !self.setup.shared.shutdown.load(Ordering::Acquire) {
            self.answer_queries();
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

    /// Restores the tasks of [`StandbySetup::warmup`], at most `max.warmup.replicas` at a
    /// time, and follows their changelogs until each is within `acceptable.recovery.lag` of
    /// their ends (or `probing.rebalance.interval.ms` has passed), then closes them
    /// (checkpointed) and lets the stream threads join. Tasks already caught up keep
    /// following, so that they are still current when the last one catches up.
    fn warm_up(&mut self) {
        let mut waiting: Vec<TaskId> = self.setup.warmup.iter().rev().copied().collect();
        if waiting.is_empty() {
            return;
        }
        let warmup = self.setup.warmup_settings;
        let started = Instant::now();
        tracing::info!(tasks = ?self.setup.warmup, "warming up the tasks this instance will get before joining");
        let (mut behind, mut caught_up) = (BTreeSet::new(), BTreeSet::new());
        while (!waiting.is_empty() || !behind.is_empty())
            && started.elapsed() < warmup.timeout
            && !self.setup.shared.shutdown.load(Ordering::Acquire)
        {
            while behind.len() < warmup.max_replicas
                && let Some(id) = waiting.pop()
            {
                if self.hold_and_open(id, true) {
                    behind.insert(id);
                }
            }
            for id in behind.iter().chain(&caught_up).copied().collect::<Vec<_>>() {
                let result = self.step(id).and_then(|applied| match applied {
                    Some(_) if behind.contains(&id) => self.lag(id).map(Some),
                    _ => Ok(None),
                });
                match result {
                    Ok(Some(lag)) if lag <= warmup.acceptable_lag => {
                        behind.remove(&id);
                        caught_up.insert(id);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(task = %id, error = %e, "warm-up failed");
                        self.close(id, false);
                        behind.remove(&id);
                        caught_up.remove(&id);
                    }
                }
            }
        }
        for id in self.setup.warmup.clone() {
            self.close(id, true);
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "warm-up done; joining the group"
        );
        self.setup.claims.end_warmup();
    }

    /// Answers the queries waiting, from the standbys this instance keeps (the tasks it warms
    /// up before joining are not standbys and answer nothing). A standby still restoring
    /// answers that it is, as an active task does.
    fn answer_queries(&self) {
        while let Ok(mut query) = self.setup.queries.try_recv() {
            for (id, standby) in &self.tasks {
                if standby.warmup || query.task.is_some_and(|only| only != *id) {
                    continue;
                }
                if let Some(store) = standby.state.store(&query.store) {
                    let found = if standby.restored {
                        TaskStore::Ready(&store)
                    } else {
                        TaskStore::Restoring
                    };
                    (query.visit)(*id, found);
                }
            }
        }
    }

    /// How many changelog records standby `id` has still to apply: the sum over its
    /// changelog partitions of the end offset less the reader's position.
    fn lag(&mut self, id: TaskId) -> Result<u64> {
        let Some(standby) = self.tasks.get(&id) else {
            return Ok(0);
        };
        let mut lag = 0;
        for (topic, partition) in standby.state.changelog_partitions() {
            let end = self.reader.end_offset(&topic, partition)?;
            let position = self.reader.position(&topic, partition)?;
            lag += u64::try_from(end - position).unwrap_or(0);
        }
        Ok(lag)
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
        let wanted = self
            .placement
            .mine(&view.processes, &view.members, &self.setup.process_id);
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
            if !self.tasks.contains_key(&id) && self.hold_and_open(id, false) {
                tracing::info!(task = %id, "standby opened");
            }
        }
    }

    /// Holds task `id` and opens its stores (to warm it up when `warmup`); returns whether
    /// it did. A task a stream thread runs, or whose directory is locked, is given up.
    fn hold_and_open(&mut self, id: TaskId, warmup: bool) -> bool {
        if !self.setup.claims.try_hold(id) {
            return false;
        }
        match self.open(id) {
            Ok(Some(mut standby)) => {
                standby.warmup = warmup;
                self.tasks.insert(id, standby);
                true
            }
            Ok(None) => {
                self.setup.claims.release(id);
                false
            }
            Err(e) => {
                tracing::warn!(task = %id, warmup, error = %e, "could not open a standby");
                self.setup.claims.release(id);
                false
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
        .with_store_memory(self.setup.store_memory)
        .with_exactly_once(self.setup.exactly_once);
        state.register()?;
        Ok(Some(Standby {
            state,
            warmup: false,
            restored: false,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            _lock: lock,
        }))
    }

    /// Restores or updates standby `id` by one batch per store, and checkpoints it when due;
    /// returns how many records an update applied (`None` while restoring).
    fn step(&mut self, id: TaskId) -> Result<Option<u64>> {
        let Some(standby) = self.tasks.get_mut(&id) else {
            return Ok(None);
        };
        if !standby.restored {
            if standby.state.restore_step(&mut self.reader, STEP_RECORDS)? {
                let summary = standby.state.finish_restore()?;
                standby.restored = true;
                self.setup
                    .shared
                    .standby_applied
                    .fetch_add(summary.total_restored, Ordering::Relaxed);
                if standby.warmup {
                    tracing::info!(task = %id, restored = summary.total_restored, "warm-up task restored");
                } else {
                    tracing::info!(task = %id, restored = summary.total_restored, "standby restored; following its changelogs");
                }
            }
            return Ok(None);
        }
        let applied = standby
            .state
            .update_standby(&mut self.reader, STEP_RECORDS)?;
        self.setup
            .shared
            .standby_applied
            .fetch_add(applied, Ordering::Relaxed);
        standby.since_checkpoint += applied;
        if standby.since_checkpoint >= CHECKPOINT_RECORDS
            || (standby.since_checkpoint > 0
                && standby.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL)
        {
            standby.state.checkpoint_standby()?;
            standby.since_checkpoint = 0;
            standby.last_checkpoint = Instant::now();
        }
        Ok(Some(applied))
    }

    /// Closes standby `id` (with a checkpoint when `clean`), stops reading its changelogs
    /// and gives the task up.
    fn close(&mut self, id: TaskId, clean: bool) {
        let Some(standby) = self.tasks.remove(&id) else {
            return;
        };
        let Standby { state, _lock, .. } = standby;
        for (topic, partition) in state.changelog_partitions() {
            self.reader.unassign(&topic, partition);
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
        let procs = processes(&[("a", &[0, 1]), ("b", &[2]), ("c", &[3])]);
        for replicas in 0..4 {
            let placement = StandbyPlacement {
                layout: layout(),
                stateful: BTreeSet::from([0u32]),
                replicas,
                rack_tags: Vec::new(),
            };
            let mut count: BTreeMap<TaskId, usize> = BTreeMap::new();
            for me in ["a", "b", "c"] {
                let mine = placement.mine(&procs, &[], me);
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
        let placement = StandbyPlacement {
            layout: layout(),
            stateful: BTreeSet::from([0u32]),
            replicas: 1,
            rack_tags: Vec::new(),
        };
        assert!(placement.mine(&alone, &[], "a").is_empty());
    }

    /// A task's first standby is where the group's `range` assignor sends the task when its
    /// instance leaves, so that a failover lands on warm state; the others follow the ring.
    #[test]
    fn the_first_standby_is_where_the_task_goes_when_its_instance_leaves() {
        let member = |p: &str| format!("app-StreamThread-0-consumer@{p}");
        let members: Vec<String> = ["a", "b", "c"].iter().map(|p| member(p)).collect();
        // Sorted a, b, c over 4 partitions: a 0-1, b 2, c 3.
        let procs = processes(&[("a", &[0, 1]), ("b", &[2]), ("c", &[3])]);
        let placement = StandbyPlacement {
            layout: layout(),
            stateful: BTreeSet::from([0u32]),
            replicas: 1,
            rack_tags: Vec::new(),
        };
        for (task, owner, hosts) in placement.tasks(&procs, &members) {
            let survivors: Vec<String> = members
                .iter()
                .filter(|m| !m.ends_with(&format!("@{owner}")))
                .cloned()
                .collect();
            let heir = ["a", "b", "c"]
                .into_iter()
                .filter(|p| p != owner)
                .find(|p| {
                    let others: Vec<String> = survivors
                        .iter()
                        .filter(|m| **m != member(p))
                        .cloned()
                        .collect();
                    predict_tasks(
                        &others,
                        &[member(p)],
                        &placement.layout,
                        &placement.stateful,
                    )
                    .contains(&task)
                });
            assert_eq!(hosts.first().map(|h| h.as_str()), heir, "{task} of {owner}");
        }
        // Without a: b 0-1, c 2-3; without b: a 0-1, c 2-3; without c: a 0-1, b 2-3.
        let firsts: Vec<(TaskId, String)> = placement
            .tasks(&procs, &members)
            .into_iter()
            .map(|(t, _, hosts)| (t, hosts[0].clone()))
            .collect();
        assert_eq!(
            firsts,
            vec![
                (TaskId::new(0, 0), "b".to_owned()),
                (TaskId::new(0, 1), "b".to_owned()),
                (TaskId::new(0, 2), "c".to_owned()),
                (TaskId::new(0, 3), "b".to_owned()),
            ]
        );
        let two = StandbyPlacement {
            replicas: 2,
            ..placement
        };
        for (task, owner, hosts) in two.tasks(&procs, &members) {
            assert_eq!(hosts.len(), 2, "{task}");
            assert!(
                hosts.iter().all(|h| *h != owner) && hosts[0] != hosts[1],
                "{task}"
            );
        }
    }

    /// With a rack tag, a task's standbys leave its active instance's zone before they
    /// follow the successor; without other zones they fall back to it.
    #[test]
    fn rack_tags_spread_standbys_over_zones() {
        use crate::runtime::discovery::member_client_id;
        let zone_of = [("a", "z1"), ("b", "z1"), ("c", "z2")];
        let members: Vec<String> = zone_of
            .iter()
            .map(|(p, z)| {
                let tags = BTreeMap::from([("zone".to_owned(), (*z).to_owned())]);
                member_client_id("app-StreamThread-0-consumer", p, &tags, None)
            })
            .collect();
        let procs = processes(&[("a", &[0, 1]), ("b", &[2]), ("c", &[3])]);
        let zoned = StandbyPlacement {
            layout: layout(),
            stateful: BTreeSet::from([0u32]),
            replicas: 1,
            rack_tags: vec!["zone".to_owned()],
        };
        let zone = |p: &str| zone_of.iter().find(|(q, _)| *q == p).map(|(_, z)| *z);
        for (task, owner, hosts) in zoned.tasks(&procs, &members) {
            // c's successor b is in another zone already.
            let expected = if zone(owner) == Some("z1") { "c" } else { "b" };
            let first = hosts.first().map(|h| h.as_str());
            assert_eq!(first, Some(expected), "{task} of {owner}");
            assert_ne!(zone(owner), first.and_then(zone), "{task}: another zone");
        }
        // Without the tag key the same members get the successors (b for a's tasks).
        let plain = StandbyPlacement {
            rack_tags: Vec::new(),
            ..zoned
        };
        let firsts: Vec<String> = plain
            .tasks(&procs, &members)
            .into_iter()
            .map(|(_, _, hosts)| hosts[0].clone())
            .collect();
        assert_eq!(firsts, ["b", "b", "c", "b"]);
        // Two standbys with two zones: one in the other zone, then the rest in order.
        let two = StandbyPlacement {
            replicas: 2,
            rack_tags: vec!["zone".to_owned()],
            ..plain
        };
        for (task, owner, hosts) in two.tasks(&procs, &members) {
            assert_eq!(hosts.len(), 2, "{task}");
            assert!(hosts.iter().any(|h| zone(h) != zone(owner)), "{task}");
        }
    }

    /// The range assignor sorts members by member id (client id first) and gives each a
    /// contiguous range of every topic's partitions, the first ones one more.
    #[test]
    fn joining_members_predict_the_range_assignment() {
        let layout = layout();
        let stateful = BTreeSet::from([0u32]);
        let running = vec!["app-StreamThread-0-consumer@p2".to_owned()];
        let mine = vec!["app-StreamThread-0-consumer@p1".to_owned()];
        // Sorted: p1 (mine) first, p2: 4 partitions, 2 members: 0-1 and 2-3.
        assert_eq!(
            predict_tasks(&running, &mine, &layout, &stateful),
            BTreeSet::from([TaskId::new(0, 0), TaskId::new(0, 1)])
        );
        let mine = vec!["app-StreamThread-0-consumer@p3".to_owned()];
        assert_eq!(
            predict_tasks(&running, &mine, &layout, &stateful),
            BTreeSet::from([TaskId::new(0, 2), TaskId::new(0, 3)])
        );
        let three = vec![
            running[0].clone(),
            "app-StreamThread-0-consumer@p0".to_owned(),
        ];
        // p0, p2, p3: 2, 1, 1.
        assert_eq!(
            predict_tasks(&three, &mine, &layout, &stateful),
            BTreeSet::from([TaskId::new(0, 3)])
        );
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
