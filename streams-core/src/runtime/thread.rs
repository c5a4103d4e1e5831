//! A stream thread: one group member, one producer, one restore consumer and the tasks of
//! the partitions assigned to it, run by a plain `std::thread`.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

use crate::config::{ErrorHandling, ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};
use crate::options::OffsetReset;
use crate::record::Headers;
use crate::runtime::assignment::TaskLayout;
use crate::runtime::collector::{KafkaCollector, client_error, is_transient, log_line};
use crate::runtime::metrics::{ThreadMetrics, add_task_metrics};
use crate::runtime::recovery;
use crate::runtime::restore::KafkaChangelogReader;
use crate::runtime::topics::TopicPlan;
use crate::runtime::{Shared, ThreadState, kafka_error};
use crate::state::{ChangelogReader as _, GlobalStores, StateDirectory, TaskDirLock};
use crate::task::{RawRecord, RecordCollector, Task, TaskHandlers, TaskSpec, error_chain};
use crate::task_id::TaskId;
use crate::topology::Topology;

/// Records taken from the consumer per poll round before processing them.
const MAX_POLL_RECORDS: usize = 1_000;
/// How long an assignment waits for the committed offsets of sources with their own reset
/// policy.
const RESET_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Records a task processes before the next task gets its turn.
const TASK_BURST: usize = 100;
/// How long one processing round may run before the thread polls again.
const PROCESS_BUDGET: Duration = Duration::from_millis(100);
/// How long a commit may wait for the brokers (a broker outage is ridden out until then).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a transactional producer may take to initialise, retries included.
const INIT_TIMEOUT: Duration = Duration::from_secs(120);
/// Kafka Streams' default `input.buffer.max.bytes`: 512 MiB across a thread's tasks.
const INPUT_BUFFER_MAX_BYTES: usize = 512 * 1024 * 1024;
/// Changelog records a thread restores per round between two polls of its consumer.
const RESTORE_RECORDS_PER_ROUND: usize = 10_000;
/// How long one restore round may run before the thread polls again.
const RESTORE_BUDGET: Duration = Duration::from_millis(200);
/// How long a thread waits for a task directory another thread still holds.
const TASK_LOCK_WAIT: Duration = Duration::from_secs(5);
/// How often the thread publishes its counters.
const METRICS_INTERVAL: Duration = Duration::from_millis(200);

type Tp = (String, i32);

/// What a stream thread is given by the application.
pub(crate) struct ThreadSetup {
    pub(crate) index: usize,
    pub(crate) topology: Arc<Topology>,
    pub(crate) application_id: Arc<str>,
    pub(crate) consumer: ClientConfig,
    pub(crate) restore: ClientConfig,
    pub(crate) producer: ClientConfig,
    pub(crate) guarantee: ProcessingGuarantee,
    pub(crate) commit_interval: Duration,
    pub(crate) poll_timeout: Duration,
    pub(crate) handlers: TaskHandlers,
    pub(crate) production: ErrorHandling,
    pub(crate) cache_bytes: usize,
    pub(crate) app_dir: PathBuf,
    pub(crate) plan: Arc<TopicPlan>,
    pub(crate) buffered_per_partition: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: Arc<StreamsConfig>,
    /// The global stores, which every task reads.
    pub(crate) globals: Arc<GlobalStores>,
    /// Queries of the thread's stores from [`KafkaStreams::query`](super::KafkaStreams::query).
    pub(crate) queries: Receiver<StoreQuery>,
}

/// What a query does with the store of one task.
pub(crate) type StoreVisitor = Box<dyn FnMut(TaskId, &Rc<dyn Any>) + Send>;

/// A query of one store of every task of a stream thread: called with the store of each
/// task that has it, on the thread, between two batches of records.
pub(crate) struct StoreQuery {
    pub(crate) store: String,
    pub(crate) visit: StoreVisitor,
}

/// Starts a stream thread.
pub(crate) fn spawn(setup: ThreadSetup) -> Result<JoinHandle<()>> {
    let name = format!("{}-StreamThread-{}", setup.application_id, setup.index);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run(setup))
        .map_err(|e| Error::Io {
            context: "starting a stream thread".into(),
            source: e,
        })
}

fn run(setup: ThreadSetup) {
    let index = setup.index;
    let shared = Arc::clone(&setup.shared);
    let span = tracing::info_span!("stream_thread", app = %setup.application_id, thread = index);
    let _entered = span.enter();
    let mut attempt = 0u32;
    // Counters survive a restart of the thread's clients.
    let mut metrics = ThreadMetrics::default();
    let result = loop {
        let started = Instant::now();
        let result = run_loop(&setup, &mut metrics);
        MANAGER.with(|slot| slot.borrow_mut().take());
        match result {
            Err(e) if recovery::is_recoverable(&e) && !shared.shutdown.load(Ordering::Acquire) => {
                // A thread that ran a while before failing starts its back-off afresh.
                if started.elapsed() > recovery::MAX_BACKOFF * 6 {
                    attempt = 0;
                }
                attempt += 1;
                let pause = recovery::backoff(attempt);
                tracing::warn!(error = %error_chain(&e), attempt, retry_in_ms = pause.as_millis() as u64,
                    "stream thread lost its tasks; closing them without committing and rejoining");
                shared.set_thread_state(index, ThreadState::Rebalancing);
                let deadline = Instant::now() + pause;
                while Instant::now() < deadline && !shared.shutdown.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            other => break other,
        }
    };
    match result {
        Ok(()) => {
            tracing::info!("stream thread stopped");
            shared.set_thread_state(index, ThreadState::Dead);
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "stream thread failed");
            shared.fail(index, &e);
        }
    }
}

thread_local! {
    /// The task manager of the stream thread running on this OS thread, for the rebalance
    /// callbacks librdkafka runs inside `poll` on this same thread.
    static MANAGER: RefCell<Option<Rc<RefCell<TaskManager>>>> = const { RefCell::new(None) };
}

fn with_manager(f: impl FnOnce(&mut TaskManager)) {
    let manager = MANAGER.with(|slot| slot.borrow().clone());
    if let Some(m) = manager {
        match m.try_borrow_mut() {
            Ok(mut m) => f(&mut m),
            Err(_) => tracing::error!("rebalance callback while the task manager is busy"),
        }
    }
}

/// The group member's context: rebalance callbacks, statistics for consumer lag, logging.
struct GroupContext {
    client: String,
    index: usize,
    shared: Arc<Shared>,
    /// Source topics with their own offset reset policy.
    resets: BTreeMap<String, OffsetReset>,
    /// Which partitions make up each task.
    layout: TaskLayout,
}

impl GroupContext {
    /// Starts the newly assigned partitions of topics with their own reset policy, and no
    /// committed offset, at their beginning or end (Kafka Streams' per-source
    /// `AutoOffsetReset`). Partitions with a committed offset resume from it.
    fn apply_offset_resets(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let mut own = TopicPartitionList::new();
        for e in tpl.elements() {
            if self.resets.contains_key(e.topic()) {
                own.add_partition(e.topic(), e.partition());
            }
        }
        if own.count() == 0 {
            return;
        }
        let committed = match consumer.committed_offsets(own, RESET_LOOKUP_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                // Without the committed offsets the consumer's own policy applies.
                tracing::warn!(error = %e, "cannot read committed offsets; per-source offset reset not applied");
                return;
            }
        };
        for c in committed.elements() {
            if c.offset() != Offset::Invalid {
                continue;
            }
            let Some(reset) = self.resets.get(c.topic()) else {
                continue;
            };
            let start = match reset {
                OffsetReset::Earliest => Offset::Beginning,
                OffsetReset::Latest => Offset::End,
            };
            for mut e in tpl.elements_for_topic(c.topic()) {
                if e.partition() == c.partition()
                    && let Err(err) = e.set_offset(start)
                {
                    tracing::warn!(topic = c.topic(), partition = c.partition(), error = %err,
                        "cannot apply the source's offset reset");
                }
            }
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(&self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.client, &error, reason);
    }

    fn stats(&self, statistics: Statistics) {
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
        self.shared.publish_lag(self.index, lag);
    }
}

impl ConsumerContext for GroupContext {
    /// librdkafka's rebalance callback, replaced to assign by task (see
    /// [`TaskLayout`]): the partitions the group assigned are widened to whole tasks
    /// before they are assigned, and a revocation gives up what this member actually
    /// reads. The protocol is eager, so a revocation always gives up everything.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let group = partitions_of(tpl);
                let mut mine = TopicPartitionList::new();
                for (topic, partition) in self.layout.expand(&group) {
                    mine.add_partition(&topic, partition);
                }
                let rebalance = Rebalance::Assign(&mine);
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.assign(&mine) {
                    tracing::error!(error = %e, "cannot assign the partitions of the assigned tasks");
                    with_manager(|m| {
                        m.callback_error.get_or_insert(Error::TaskMigrated {
                            context: "assigning the partitions of the assigned tasks".into(),
                            source: Box::new(e),
                        });
                    });
                    return;
                }
                self.post_rebalance(consumer, &rebalance);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let current = consumer.assignment().unwrap_or_else(|_| tpl.clone());
                let rebalance = Rebalance::Revoke(&current);
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "cannot unassign the revoked partitions");
                }
                self.post_rebalance(consumer, &rebalance);
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                let rebalance = Rebalance::Error(KafkaError::Rebalance(code));
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "cannot unassign after a failed rebalance");
                }
                self.post_rebalance(consumer, &rebalance);
            }
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance
            && !self.resets.is_empty()
        {
            self.apply_offset_resets(consumer, tpl);
        }
        if let Rebalance::Revoke(tpl) = rebalance {
            self.shared
                .set_thread_state(self.index, ThreadState::Rebalancing);
            let revoked = partitions_of(tpl);
            if consumer.assignment_lost() {
                // Another member may own these partitions already: nothing may be
                // committed for them (Kafka Streams' `handleLostAll`).
                tracing::warn!(partitions = ?revoked, "partitions lost");
                with_manager(|m| m.on_lost(&revoked));
            } else {
                tracing::info!(partitions = ?revoked, "partitions revoked");
                with_manager(|m| m.on_revoked(consumer, &revoked));
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.shared
                    .set_thread_state(self.index, ThreadState::Rebalancing);
                let assigned = partitions_of(tpl);
                tracing::info!(partitions = ?assigned, "partitions assigned");
                with_manager(|m| m.on_assigned(&assigned));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
            Rebalance::Revoke(_) => {}
        }
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<Tp> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

/// Stops fetching the partitions of a task that is restoring: librdkafka fetches nothing
/// for them until [`resume`], which starts again from the position of the last record
/// handed to the application, so nothing is skipped.
fn pause(consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    if let Err(e) = consumer.pause(&tpl) {
        tracing::warn!(error = %e, partitions = ?partitions, "cannot pause the partitions of a restoring task");
    }
}

fn resume(consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]) {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    if let Err(e) = consumer.resume(&tpl) {
        tracing::warn!(error = %e, partitions = ?partitions, "cannot resume the partitions of a restored task");
    }
}

/// Locks a task's directory for this thread. Tasks are assigned whole and eagerly, so the
/// previous owner in this process has closed it before the assignment arrives; a lock that
/// stays taken means another thread or process still runs the task, and the thread gives up
/// its tasks and rejoins rather than run it twice.
fn lock_task(dir: &std::path::Path) -> Result<TaskDirLock> {
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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

struct TaskEntry {
    task: Task,
    partitions: Vec<Tp>,
    /// Records added and not yet processed, as far as the thread can tell; reset when the
    /// task reports its queues empty.
    buffered: usize,
    /// More than `buffered.records.per.partition` per partition are buffered: the thread
    /// stops taking records from the consumer until the task has worked its way down to
    /// half of that (see [`poll_loop`]).
    full: bool,
    /// Bytes (keys and values) of the buffered records, as far as the thread can tell.
    bytes: usize,
    /// The stores are still restoring: the task's partitions are paused and it neither
    /// processes nor commits.
    restoring: bool,
    /// The task directory's lock, held while the task lives in this thread. Declared last:
    /// it is released only after the task has closed.
    _lock: TaskDirLock,
}

/// Where the records of one input partition go: the last one looked up, kept because the
/// consumer hands out records in runs of one partition.
struct Route {
    topic: String,
    partition: i32,
    task: TaskId,
    queue: usize,
}

/// The tasks of one stream thread and what they share.
struct TaskManager {
    setup: ThreadSetupShared,
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
    /// The route of the last record added; cleared whenever tasks come or go.
    route: Option<Route>,
    /// How many tasks are restoring.
    restoring: usize,
    /// Bytes of records buffered in all tasks, bounded by `input.buffer.max.bytes`.
    buffered_bytes: usize,
}

/// The parts of [`ThreadSetup`] the task manager keeps.
struct ThreadSetupShared {
    index: usize,
    topology: Arc<Topology>,
    application_id: Arc<str>,
    guarantee: ProcessingGuarantee,
    commit_interval: Duration,
    handlers: TaskHandlers,
    cache_bytes: usize,
    app_dir: PathBuf,
    plan: Arc<TopicPlan>,
    buffered_per_partition: usize,
    /// `input.buffer.max.bytes`: the bound on the bytes buffered across the thread's tasks.
    buffer_max_bytes: usize,
    shared: Arc<Shared>,
    config: Arc<StreamsConfig>,
    globals: Arc<GlobalStores>,
}

fn run_loop(setup: &ThreadSetup, carried: &mut ThreadMetrics) -> Result<()> {
    let shared = Arc::clone(&setup.shared);
    let index = setup.index;
    shared.set_thread_state(index, ThreadState::Rebalancing);
    let collector = Rc::new(RefCell::new(KafkaCollector::new(
        &setup.producer,
        setup.production,
        setup.plan.partitions.clone(),
        INIT_TIMEOUT,
    )?));
    let reader = KafkaChangelogReader::new(&setup.restore)?;
    let manager = Rc::new(RefCell::new(TaskManager {
        setup: ThreadSetupShared {
            index,
            topology: Arc::clone(&setup.topology),
            application_id: Arc::clone(&setup.application_id),
            guarantee: setup.guarantee,
            commit_interval: setup.commit_interval,
            handlers: setup.handlers,
            cache_bytes: setup.cache_bytes,
            app_dir: setup.app_dir.clone(),
            plan: Arc::clone(&setup.plan),
            buffered_per_partition: setup.buffered_per_partition.max(1),
            buffer_max_bytes: setup
                .config
                .get("input.buffer.max.bytes")
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(INPUT_BUFFER_MAX_BYTES)
                .max(1),
            shared: Arc::clone(&shared),
            config: Arc::clone(&setup.config),
            globals: Arc::clone(&setup.globals),
        },
        collector,
        reader,
        tasks: BTreeMap::new(),
        assigned: BTreeSet::new(),
        assignment_changed: false,
        committed: HashMap::new(),
        last_commit: Instant::now(),
        last_metrics: Instant::now(),
        callback_error: None,
        metrics: std::mem::take(carried),
        route: None,
        restoring: 0,
        buffered_bytes: 0,
    }));
    MANAGER.with(|slot| *slot.borrow_mut() = Some(Rc::clone(&manager)));

    let mut consumer_config = setup.consumer.clone();
    if consumer_config.get("statistics.interval.ms").is_none() {
        consumer_config.set("statistics.interval.ms", "1000");
    }
    let consumer: BaseConsumer<GroupContext> = consumer_config
        .create_with_context(GroupContext {
            client: consumer_config
                .get("client.id")
                .unwrap_or("consumer")
                .to_owned(),
            index,
            shared: Arc::clone(&shared),
            resets: setup.topology.offset_resets().clone(),
            layout: TaskLayout::new(&setup.plan),
        })
        .map_err(|e| kafka_error("creating the consumer", e))?;
    let topics: Vec<&str> = setup.plan.subscribed.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| kafka_error("subscribing to the source topics", e))?;
    tracing::info!(topics = ?topics, "stream thread started");

    let result = poll_loop(
        &consumer,
        &manager,
        &shared,
        setup.poll_timeout,
        &setup.queries,
    );
    let outcome = match result {
        Ok(()) => manager.borrow_mut().shutdown(&consumer),
        Err(e) => {
            manager.borrow_mut().close_dirty();
            Err(e)
        }
    };
    manager.borrow_mut().publish_metrics();
    *carried = std::mem::take(&mut manager.borrow_mut().metrics);
    // The consumer leaves the group when dropped; its revoke callback must find no tasks.
    MANAGER.with(|slot| slot.borrow_mut().take());
    drop(consumer);
    outcome
}

fn poll_loop(
    consumer: &BaseConsumer<GroupContext>,
    manager: &Rc<RefCell<TaskManager>>,
    shared: &Shared,
    poll_timeout: Duration,
    queries: &Receiver<StoreQuery>,
) -> Result<()> {
    let mut last_poll_error: Option<Instant> = None;
    while !shared.shutdown.load(Ordering::Acquire) {
        while let Ok(mut query) = queries.try_recv() {
            let m = manager.borrow();
            for (id, entry) in &m.tasks {
                if let Some(store) = entry.task.ctx.store_by_name(&query.store) {
                    (query.visit)(*id, store);
                }
            }
        }
        let (buffered, full) = {
            let m = manager.borrow();
            (m.has_buffered() || m.restoring > 0, m.any_full())
        };
        let mut timeout = if buffered {
            Duration::ZERO
        } else {
            poll_timeout
        };
        // A task that buffers more than `buffered.records.per.partition` per partition
        // stops the polling until it has drained to half: records wait in librdkafka's
        // prefetch queue (bounded by `queued.min.messages`), whose fetcher stops when it is
        // full. Pausing the partitions instead, as Kafka Streams does, would make
        // librdkafka throw away what it prefetched for them and fetch it again.
        let mut polled = if full { MAX_POLL_RECORDS } else { 0 };
        while polled < MAX_POLL_RECORDS {
            // No borrow of the manager may be held here: rebalance callbacks run inside.
            let Some(result) = consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            let mut m = manager.borrow_mut();
            m.take_callback_error()?;
            m.handle_assignment(consumer)?;
            match result {
                Ok(message) => {
                    polled += 1;
                    if m.add_message(&message)? {
                        break;
                    }
                }
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(e) if e.rdkafka_error_code().is_some_and(|_| is_transient(&e)) => {
                    if last_poll_error.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                        tracing::warn!(error = %e, "consumer error; retrying");
                        last_poll_error = Some(Instant::now());
                    }
                    break;
                }
                Err(e) => return Err(kafka_error("polling the consumer", e)),
            }
        }
        let mut m = manager.borrow_mut();
        m.take_callback_error()?;
        m.handle_assignment(consumer)?;
        m.restore(consumer)?;
        m.process(consumer)?;
    }
    Ok(())
}

impl TaskManager {
    fn take_callback_error(&mut self) -> Result<()> {
        self.callback_error.take().map_or(Ok(()), Err)
    }

    fn has_buffered(&self) -> bool {
        self.tasks.values().any(|e| e.buffered > 0)
    }

    fn on_assigned(&mut self, partitions: &[Tp]) {
        self.assigned.extend(partitions.iter().cloned());
        self.assignment_changed = true;
    }

    /// The assignment was lost (the session timed out, the member was fenced): the tasks
    /// may be running elsewhere already, so they are closed without committing and the
    /// open transaction is aborted, as Kafka Streams' `handleLostAll`. What they did since
    /// the last commit is processed again by the partitions' next owner. The thread then
    /// starts its clients anew and rejoins (see [`recovery`]).
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

    fn close_task(&mut self, id: TaskId, clean: bool) {
        self.route = None;
        if let Some(mut entry) = self.tasks.remove(&id) {
            self.buffered_bytes = self.buffered_bytes.saturating_sub(entry.bytes);
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
            tracing::info!(task = %id, clean, "task closed");
        }
    }

    /// Creates and restores the tasks of newly assigned partitions.
    fn handle_assignment(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        if !self.assignment_changed {
            return Ok(());
        }
        self.assignment_changed = false;
        self.route = None;
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
        let per_task_cache = self.setup.cache_bytes / needed.len().max(1);
        for (id, partitions) in needed {
            if let Some(entry) = self.tasks.get_mut(&id) {
                entry.partitions = partitions;
                continue;
            }
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
                    cache_max_bytes: per_task_cache,
                    exactly_once: self.setup.guarantee == ProcessingGuarantee::ExactlyOnceV2,
                    config: Arc::clone(&self.setup.config),
                    global_views: self.setup.globals.read_only_views(),
                },
            )?;
            task.begin_restore()?;
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
                    _lock: lock,
                },
            );
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

    /// Restores the stores of restoring tasks for one round (a bounded number of records
    /// and time), so that the consumer is polled between rounds and the member stays in
    /// its group however long a restore takes (Kafka Streams' state updater). A task whose
    /// stores are up to date initializes its processors and its partitions resume.
    fn restore(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
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

    /// Adds a consumed record to its task; returns whether the task's buffer is now full.
    fn add_message(&mut self, message: &BorrowedMessage<'_>) -> Result<bool> {
        let topic = message.topic();
        let partition = message.partition();
        let route = match &self.route {
            Some(r) if r.partition == partition && r.topic == topic => Some((r.task, r.queue)),
            _ => None,
        };
        let (id, queue) = match route {
            Some(route) => route,
            None => {
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
                    return Ok(false);
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
                (id, queue)
            }
        };
        let Some(entry) = self.tasks.get_mut(&id) else {
            return Err(Error::IllegalState(format!(
                "no task {id} for {topic}-{partition}"
            )));
        };
        let mut headers = Headers::default();
        if let Some(h) = message.headers() {
            for i in 0..h.count() {
                let header = h.get(i);
                headers.add(header.key, header.value.map(<[u8]>::to_vec));
            }
        }
        let raw = RawRecord {
            key: message.key(),
            value: message.payload(),
            timestamp: message.timestamp().to_millis().unwrap_or(-1),
            offset: message.offset(),
            headers,
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

    /// Whether some task buffers more than its bound, or the tasks together more bytes
    /// than `input.buffer.max.bytes`.
    fn any_full(&self) -> bool {
        self.buffered_bytes > self.setup.buffer_max_bytes || self.tasks.values().any(|e| e.full)
    }

    /// Processes buffered records task by task, runs punctuators, marks drained tasks as
    /// no longer full and commits when due.
    fn process(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        let started = Instant::now();
        loop {
            let mut any = false;
            for entry in self.tasks.values_mut() {
                if entry.restoring {
                    continue;
                }
                for _ in 0..TASK_BURST {
                    if entry.task.process_one()? {
                        // Records are not all of a size; the average is close enough for
                        // a bound.
                        let share = entry.bytes / entry.buffered.max(1);
                        entry.bytes -= share;
                        self.buffered_bytes = self.buffered_bytes.saturating_sub(share);
                        entry.buffered = entry.buffered.saturating_sub(1);
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

    /// Commits every task: caches and stores flushed, outputs acknowledged (or the
    /// transaction committed together with the offsets), checkpoints written, offsets
    /// committed.
    fn commit(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        let started = Instant::now();
        self.last_commit = started;
        let transactional = self.collector.borrow().transactional();
        if self.tasks.is_empty() && !self.collector.borrow().in_transaction() {
            return Ok(());
        }
        for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
            entry.task.prepare_commit()?;
        }
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
        let mut offsets_committed = true;
        if transactional {
            let in_txn = self.collector.borrow().in_transaction();
            if pending.is_empty() && !in_txn {
                return Ok(());
            }
            let group = consumer
                .group_metadata()
                .ok_or_else(|| Error::IllegalState("the consumer has no group metadata".into()))?;
            self.collector
                .borrow_mut()
                .commit_transaction(&tpl, &group, COMMIT_TIMEOUT)?;
            let written = self.collector.borrow().written_offsets();
            for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
                entry.task.post_commit(&written)?;
            }
        } else {
            self.collector.borrow_mut().flush(COMMIT_TIMEOUT)?;
            let written = self.collector.borrow().written_offsets();
            for entry in self.tasks.values_mut().filter(|e| !e.restoring) {
                entry.task.post_commit(&written)?;
            }
            if tpl.count() > 0 {
                match consumer.commit(&tpl, CommitMode::Sync) {
                    Ok(()) => {}
                    Err(e) if is_transient(&e) => {
                        // Outputs are acknowledged; the offsets go with the next commit.
                        tracing::warn!(error = %e, "offset commit failed; retrying at the next commit");
                        offsets_committed = false;
                    }
                    Err(e) => return Err(kafka_error("committing offsets", e)),
                }
            }
        }
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

    fn abort_if_transactional(&mut self) {
        let mut c = self.collector.borrow_mut();
        if c.transactional()
            && let Err(e) = c.abort_transaction(Duration::from_secs(30))
        {
            tracing::warn!(error = %e, "could not abort the transaction");
        }
    }

    /// A clean shutdown: a final commit, then every task closed.
    fn shutdown(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
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
    fn close_dirty(&mut self) {
        self.abort_if_transactional();
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.close_task(id, false);
        }
    }

    fn publish_metrics(&mut self) {
        self.last_metrics = Instant::now();
        self.metrics.tasks = self
            .tasks
            .iter()
            .map(|(id, e)| (*id, e.task.metrics()))
            .collect();
        self.metrics.delivery_dropped = self.collector.borrow().dropped;
        self.metrics.delivery_dead_lettered = self.collector.borrow().dead_lettered;
        self.setup
            .shared
            .publish_metrics(self.setup.index, &self.metrics);
    }
}
