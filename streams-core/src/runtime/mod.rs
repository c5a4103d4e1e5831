//! The Kafka runtime: [`KafkaStreams`] runs a [`Topology`] against a Kafka cluster.
//!
//! An instance joins the consumer group named by `application.id` with
//! `num.stream.threads` stream threads. Each thread is a plain OS thread with its own group
//! member (consumer), producer and restore consumer; it creates one task per assigned
//! partition of each sub-topology (`<sub>_<partition>`), restores the tasks' stores from
//! their changelogs, then loops: poll a batch, hand records to tasks, process them in
//! timestamp order, run punctuators, and commit every `commit.interval.ms`.
//!
//! # Global stores
//!
//! A topology with global stores (global tables) also gets a global thread: one consumer
//! without a group, assigned every partition of the global stores' topics.
//! [`KafkaStreams::start`] opens the stores in `<state.dir>/<application.id>/global`, has the global thread read
//! the topics up to their end offsets, and only then starts the stream threads, so no task
//! processes a record before the global stores are complete (as Kafka Streams'
//! `GlobalStreamThread`). The global thread then keeps applying records as they arrive,
//! flushing the stores and writing `global/.checkpoint` every `commit.interval.ms`; a
//! restart resumes persistent stores from there. Every task reads the stores concurrently
//! through read-only views.
//!
//! # Commit
//!
//! - **at_least_once:** caches and stores are flushed, the producer is flushed and every
//!   record acknowledged, checkpoints are written, then the consumer offsets are committed.
//! - **exactly_once_v2:** one transactional producer per thread; outputs, changelog writes
//!   and the consumed offsets commit in one transaction, consumers read committed data only,
//!   and checkpoints are not trusted after a crash.
//!
//! # Topics
//!
//! At start the instance checks that the source topics exist and that co-partitioned
//! topics have equal partition counts, then creates the missing internal topics (repartition
//! topics with `cleanup.policy=delete`, changelogs with `compact` or `compact,delete`, and
//! `<topic>.dead-letter` topics when a handler dead-letters) through a [`TopicCreator`]:
//! the admin API by default, or rdkafka's
//! [`MockCluster`](rdkafka::mocking::MockCluster) in tests.
//!
//! # Example
//!
//! ```no_run
//! use streams_core::runtime::KafkaStreams;
//! use streams_core::serde::Serdes;
//! use streams_core::{Consumed, Produced, StreamsConfig, Topology};
//!
//! let mut topology = Topology::new();
//! topology
//!     .add_source("in", &["orders"], Consumed::with(Serdes::string(), Serdes::string()))?
//!     .add_sink("out", "orders-copy", Produced::with(Serdes::string(), Serdes::string()), &["in"])?;
//! let config = StreamsConfig::new()
//!     .set("application.id", "copier")
//!     .set("bootstrap.servers", "localhost:9092");
//! let mut streams = KafkaStreams::new(topology, config)?;
//! streams.run_until_signal()?;
//! # Ok::<(), streams_core::Error>(())
//! ```

mod assignment;
mod clients;
mod collector;
mod global;
mod metrics;
mod recovery;
mod restore;
mod retry;
mod thread;
mod topics;

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

pub use clients::KafkaClientConfigs;
pub use metrics::StreamsMetrics;
pub use retry::{RETRY_ATTEMPT_HEADER, RETRY_NOT_BEFORE_HEADER, RetryRoute, RetryTopics};
pub use topics::{AdminTopicCreator, TopicCreator, TopicRole, TopicSpec};

use crate::config::{ErrorHandling, StreamsConfig};
use crate::error::{Error, Result};
use crate::state::{GlobalStores, StateDirectory};
use crate::task::TaskHandlers;
use crate::task_id::TaskId;
use crate::topology::Topology;
use collector::LogContext;
use metrics::ThreadMetrics;

/// How long start-up may wait for the cluster (metadata, topic creation).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn kafka_error(context: impl Into<String>, error: KafkaError) -> Error {
    Error::Kafka {
        context: context.into(),
        source: Box::new(error),
    }
}

/// The state of a [`KafkaStreams`] instance, as Kafka Streams' `KafkaStreams.State`.
///
/// ```text
/// Created -> Rebalancing <-> Running -> PendingShutdown -> NotRunning
///                  \             \
///                   +-------------+-> Error
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Built, not started.
    Created,
    /// Joining the group, taking over partitions or restoring state.
    Rebalancing,
    /// Every stream thread is processing its assigned partitions.
    Running,
    /// Closing: threads are committing and closing their tasks.
    PendingShutdown,
    /// Closed.
    NotRunning,
    /// A stream thread failed; the instance has stopped processing.
    Error,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            State::Created => "CREATED",
            State::Rebalancing => "REBALANCING",
            State::Running => "RUNNING",
            State::PendingShutdown => "PENDING_SHUTDOWN",
            State::NotRunning => "NOT_RUNNING",
            State::Error => "ERROR",
        };
        f.write_str(s)
    }
}

/// Follows the state of a [`KafkaStreams`] instance. Every method has an empty default;
/// [`on_change`](StateListener::on_change) calls the one for the new state.
///
/// Listeners run on the thread that caused the change (a stream thread, or the caller of
/// [`KafkaStreams::start`] or [`KafkaStreams::close`]) and should return quickly.
pub trait StateListener: Send + Sync {
    /// The state changed from `old` to `new`.
    fn on_change(&self, new: State, old: State) {
        let _ = old;
        match new {
            State::Created => self.on_created(),
            State::Rebalancing => self.on_rebalancing(),
            State::Running => self.on_running(),
            State::PendingShutdown => self.on_pending_shutdown(),
            State::NotRunning => self.on_not_running(),
            State::Error => self.on_error(),
        }
    }

    /// The instance is back in the created state (never happens after `start`).
    fn on_created(&self) {}

    /// A rebalance or restore started.
    fn on_rebalancing(&self) {}

    /// Every thread is processing.
    fn on_running(&self) {}

    /// The instance is closing.
    fn on_pending_shutdown(&self) {}

    /// The instance has closed.
    fn on_not_running(&self) {}

    /// A stream thread failed; [`KafkaStreams::error`] tells why.
    fn on_error(&self) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    Starting,
    Rebalancing,
    Running,
    Dead,
}

struct SharedState {
    state: State,
    threads: Vec<ThreadState>,
    error: Option<String>,
    metrics: Vec<ThreadMetrics>,
}

/// What the application and its stream threads share.
pub(crate) struct Shared {
    pub(crate) shutdown: AtomicBool,
    inner: Mutex<SharedState>,
    changed: Condvar,
    listener: Mutex<Option<Arc<dyn StateListener>>>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            shutdown: AtomicBool::new(false),
            inner: Mutex::new(SharedState {
                state: State::Created,
                threads: Vec::new(),
                error: None,
                metrics: Vec::new(),
            }),
            changed: Condvar::new(),
            listener: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panicking listener must not take the whole instance down with a poisoned lock.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notify(&self, new: State, old: State) {
        self.changed.notify_all();
        if new == old {
            return;
        }
        tracing::info!(from = %old, to = %new, "state transition");
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(l) = listener {
            l.on_change(new, old);
        }
    }

    fn set_state(&self, state: State) {
        let old = {
            let mut s = self.lock();
            std::mem::replace(&mut s.state, state)
        };
        self.notify(state, old);
    }

    fn derive(s: &SharedState) -> State {
        match s.state {
            State::Created | State::NotRunning | State::Error => s.state,
            State::PendingShutdown => {
                if s.threads.iter().all(|t| *t == ThreadState::Dead) {
                    State::NotRunning
                } else {
                    State::PendingShutdown
                }
            }
            State::Rebalancing | State::Running => {
                if s.error.is_some() || s.threads.contains(&ThreadState::Dead) {
                    State::Error
                } else if s.threads.iter().all(|t| *t == ThreadState::Running) {
                    State::Running
                } else {
                    State::Rebalancing
                }
            }
        }
    }

    pub(crate) fn set_thread_state(&self, index: usize, state: ThreadState) {
        let (new, old) = {
            let mut s = self.lock();
            if let Some(t) = s.threads.get_mut(index) {
                *t = state;
            }
            let new = Self::derive(&s);
            (new, std::mem::replace(&mut s.state, new))
        };
        self.notify(new, old);
    }

    /// A thread failed: the instance goes to [`State::Error`] and the other threads stop,
    /// as Kafka Streams' default uncaught-exception response (`SHUTDOWN_CLIENT`).
    pub(crate) fn fail(&self, index: usize, error: &Error) {
        let (new, old) = {
            let mut s = self.lock();
            if s.error.is_none() {
                s.error = Some(crate::task::error_chain(error));
            }
            if let Some(t) = s.threads.get_mut(index) {
                *t = ThreadState::Dead;
            }
            let new = match s.state {
                State::PendingShutdown => Self::derive(&s),
                State::NotRunning => State::NotRunning,
                _ => State::Error,
            };
            (new, std::mem::replace(&mut s.state, new))
        };
        self.shutdown.store(true, Ordering::Release);
        self.notify(new, old);
    }

    pub(crate) fn publish_metrics(&self, index: usize, metrics: &ThreadMetrics) {
        let mut s = self.lock();
        if let Some(m) = s.metrics.get_mut(index) {
            let lag = std::mem::take(&mut m.lag);
            *m = metrics.clone();
            m.lag = lag;
        }
    }

    pub(crate) fn publish_lag(&self, index: usize, lag: BTreeMap<(String, i32), i64>) {
        let mut s = self.lock();
        if let Some(m) = s.metrics.get_mut(index) {
            m.lag = lag;
        }
    }
}

/// A Kafka Streams application instance: runs a [`Topology`] with stream threads that are
/// members of the consumer group `application.id`.
///
/// # Lifecycle
///
/// [`new`](Self::new) validates the config; [`start`](Self::start) checks and creates topics
/// and starts the threads; [`close`](Self::close) commits, closes every task and leaves the
/// group. [`run_until_signal`](Self::run_until_signal) does all of it, closing on SIGINT or
/// SIGTERM. Dropping a started instance closes it.
///
/// Each instance locks `<state.dir>/<application.id>`, so instances on one machine need
/// their own `state.dir`.
pub struct KafkaStreams {
    topology: Arc<Topology>,
    config: StreamsConfig,
    clients: KafkaClientConfigs,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// The global thread, when the topology has global stores.
    global_thread: Option<JoinHandle<()>>,
    /// The global stores, closed once every thread has finished.
    globals: Option<Arc<GlobalStores>>,
    state_dir: Option<StateDirectory>,
    process_id: String,
    /// One query channel per stream thread.
    queries: Vec<Sender<thread::StoreQuery>>,
}

impl fmt::Debug for KafkaStreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaStreams")
            .field(
                "application_id",
                &self.clients.main_consumer.get("group.id"),
            )
            .field("state", &self.state())
            .field("threads", &self.threads.len())
            .field("process_id", &self.process_id)
            .finish_non_exhaustive()
    }
}

impl KafkaStreams {
    /// An instance of `topology` with `config`, not started.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid config (see [`KafkaClientConfigs::new`]).
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        let clients = KafkaClientConfigs::new(&config)?;
        Ok(KafkaStreams {
            topology: Arc::new(topology),
            config,
            clients,
            shared: Arc::new(Shared::new()),
            threads: Vec::new(),
            global_thread: None,
            globals: None,
            state_dir: None,
            process_id: String::new(),
            queries: Vec::new(),
        })
    }

    /// Runs `query` on the store named `store` of every task of this instance that has one,
    /// and returns its answers with the tasks' ids: Kafka Streams' interactive queries, for
    /// the state this instance holds. `S` is the store's type as a processor sees it
    /// (`TimestampedKeyValueStore<K, V>` for a DSL aggregation or table, say). Each query
    /// runs on its task's stream thread between two batches of records, so it sees the
    /// store with its cache, as the topology does, and waits at most for a batch.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when the instance is not running; [`Error::StoreNotAvailable`]
    /// when a task's store `store` has another type; the first error `query` returns;
    /// [`Error::Timeout`] when the threads do not answer within `timeout`.
    pub fn query<S, R, F>(
        &self,
        store: &str,
        query: F,
        timeout: Duration,
    ) -> Result<Vec<(TaskId, R)>>
    where
        S: 'static,
        R: Send + 'static,
        F: Fn(&S) -> Result<R> + Send + Sync + 'static,
    {
        if self.state() != State::Running {
            return Err(Error::IllegalState(format!(
                "query of store '{store}' on an instance in state {}",
                self.state()
            )));
        }
        let query = Arc::new(query);
        let (answers, answered) = std::sync::mpsc::channel::<Result<(TaskId, R)>>();
        for thread in &self.queries {
            let query = Arc::clone(&query);
            let answers = answers.clone();
            let name = store.to_owned();
            let visit = move |task: TaskId, any: &Rc<dyn Any>| {
                let answer = match Rc::clone(any).downcast::<RefCell<S>>() {
                    Ok(s) => match s.try_borrow() {
                        Ok(s) => query(&s).map(|r| (task, r)),
                        Err(_) => Err(Error::IllegalState(format!(
                            "store '{name}' of task {task} is in use"
                        ))),
                    },
                    Err(_) => Err(Error::StoreNotAvailable(format!(
                        "{name} (task {task} holds another store type)"
                    ))),
                };
                // The caller may have timed out and gone: nothing left to tell.
                let _ = answers.send(answer);
            };
            // A thread that has stopped has no stores to answer for.
            let _ = thread.send(thread::StoreQuery {
                store: store.to_owned(),
                visit: Box::new(visit),
            });
        }
        drop(answers);
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match answered.recv_timeout(left) {
                Ok(answer) => out.push(answer?),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(Error::Timeout(format!(
                        "stream threads did not answer a query of store '{store}' within {timeout:?}"
                    )));
                }
            }
        }
        out.sort_by_key(|(task, _)| *task);
        Ok(out)
    }

    /// Follows state changes with `listener`, replacing any previous one.
    pub fn set_state_listener(&mut self, listener: impl StateListener + 'static) {
        *self
            .shared
            .listener
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(listener));
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.shared.lock().state
    }

    /// Why the instance is in [`State::Error`]: the first stream thread failure, with its
    /// causes.
    pub fn error(&self) -> Option<String> {
        self.shared.lock().error.clone()
    }

    /// The instance's process id: a UUID kept in the state directory, so it survives
    /// restarts (it names the transactional producers under exactly-once). Empty before
    /// [`start`](Self::start).
    pub fn process_id(&self) -> &str {
        &self.process_id
    }

    /// The derived client configurations.
    pub fn client_configs(&self) -> &KafkaClientConfigs {
        &self.clients
    }

    /// The counters of the instance, summed over its threads.
    pub fn metrics(&self) -> StreamsMetrics {
        StreamsMetrics::sum(&self.shared.lock().metrics)
    }

    /// Waits until the instance is in `state` (or `timeout` passes); returns whether it is.
    pub fn wait_for_state(&self, state: State, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        loop {
            if s.state == state {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self
                .shared
                .changed
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Starts the instance, creating missing internal topics with the admin API.
    ///
    /// # Errors
    ///
    /// See [`start_with`](Self::start_with).
    pub fn start(&mut self) -> Result<()> {
        let creator = AdminTopicCreator::new(&self.clients.admin)?;
        self.start_with(&creator)
    }

    /// Starts the instance, creating missing internal topics with `creator` (for example an
    /// rdkafka [`MockCluster`](rdkafka::mocking::MockCluster), which has no admin API).
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when already started; [`Error::Topology`] when a source topic
    /// or a global table's topic is missing, or co-partitioned topics differ in partition
    /// count (naming the topics and their counts); the error that stopped the bootstrap of
    /// the global stores (this call waits until they are complete); [`Error::StateDir`]
    /// when the state directory is locked by another instance; [`Error::Kafka`] when the
    /// cluster cannot be reached within a minute or a topic cannot be created.
    pub fn start_with(&mut self, creator: &dyn TopicCreator) -> Result<()> {
        if self.state() != State::Created {
            return Err(Error::IllegalState(format!(
                "start() on an instance in state {}",
                self.state()
            )));
        }
        let application_id = self.config.application_id()?.to_owned();
        let handlers = TaskHandlers {
            deserialization: self.config.deserialization_handling()?,
            processing: self.config.processing_handling()?,
            production: self.config.production_handling()?,
        };
        let dead_letter = [
            handlers.deserialization,
            handlers.processing,
            handlers.production,
        ]
        .contains(&ErrorHandling::DeadLetter);
        let replication = self
            .config
            .get("replication.factor")
            .and_then(|v| v.trim().parse::<i32>().ok())
            .unwrap_or(-1);

        let span = tracing::info_span!("start", app = %application_id);
        let _entered = span.enter();
        let probe: BaseConsumer<LogContext> = self
            .clients
            .admin
            .create_with_context(LogContext {
                client: format!("{application_id}-metadata"),
            })
            .map_err(|e| kafka_error("creating a metadata client", e))?;
        let existing = topics::cluster_partitions(probe.client(), STARTUP_TIMEOUT)?;
        let plan = topics::plan_topics(
            &self.topology,
            &application_id,
            &existing,
            replication,
            topics::DeadLetterTopics {
                sources: dead_letter,
                outputs: handlers.production == ErrorHandling::DeadLetter,
            },
        )?;
        let missing: Vec<TopicSpec> = plan
            .to_create
            .iter()
            .filter(|t| !existing.contains_key(&t.name))
            .cloned()
            .collect();
        if !missing.is_empty() {
            tracing::info!(topics = ?missing.iter().map(|t| &t.name).collect::<Vec<_>>(), "creating internal topics");
            creator.create_topics(&missing)?;
            let names: Vec<&str> = missing.iter().map(|t| t.name.as_str()).collect();
            topics::await_topics(probe.client(), &names, STARTUP_TIMEOUT)?;
        }
        drop(probe);

        let state_dir = StateDirectory::open(self.config.state_dir(), &application_id)?;
        self.process_id = process_id(state_dir.app_dir())?;
        // A topology of global stores only has no task to run, so no stream thread, as in
        // Kafka Streams.
        let threads = if plan.subscribed.is_empty() && !plan.global.is_empty() {
            0
        } else {
            self.config.num_stream_threads()?
        };
        let cache_bytes = usize::try_from(self.config.cache_max_bytes()?).unwrap_or(usize::MAX);
        let poll_ms = self
            .config
            .get("poll.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(100);
        let buffered = self
            .config
            .get("buffered.records.per.partition")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1000);
        // Every thread reads the same configuration.
        let shared_config = Arc::new(self.config.clone());
        // The global thread, if any, takes the slot after the stream threads.
        let slots = threads + usize::from(!plan.global.is_empty());
        {
            let mut s = self.shared.lock();
            s.threads = vec![ThreadState::Starting; slots];
            s.metrics = vec![ThreadMetrics::default(); slots];
        }
        self.shared.set_state(State::Rebalancing);
        let app: Arc<str> = application_id.as_str().into();
        let globals = if plan.global.is_empty() {
            Arc::new(GlobalStores::empty())
        } else {
            let (stores, handle) = global::start(global::GlobalSetup {
                index: threads,
                topology: Arc::clone(&self.topology),
                application_id: Arc::clone(&app),
                consumer: self.clients.global_consumer.clone(),
                dir: state_dir.app_dir().join("global"),
                partitions: plan.global.clone(),
                commit_interval: self.config.commit_interval()?,
                poll_timeout: Duration::from_millis(poll_ms),
                handlers,
                shared: Arc::clone(&self.shared),
                config: Arc::clone(&shared_config),
            })?;
            self.global_thread = Some(handle);
            stores
        };
        self.globals = Some(Arc::clone(&globals));
        let plan = Arc::new(plan);
        for index in 0..threads {
            let (consumer, restore, producer) = self.clients.for_thread(&self.process_id, index);
            let (queries, thread_queries) = std::sync::mpsc::channel();
            self.queries.push(queries);
            let setup = thread::ThreadSetup {
                index,
                topology: Arc::clone(&self.topology),
                application_id: Arc::clone(&app),
                consumer,
                restore,
                producer,
                guarantee: self.clients.guarantee(),
                commit_interval: self.config.commit_interval()?,
                poll_timeout: Duration::from_millis(poll_ms),
                handlers,
                production: handlers.production,
                cache_bytes: cache_bytes / threads.max(1),
                app_dir: state_dir.app_dir().to_path_buf(),
                plan: Arc::clone(&plan),
                buffered_per_partition: buffered,
                shared: Arc::clone(&self.shared),
                config: Arc::clone(&shared_config),
                globals: Arc::clone(&globals),
                queries: thread_queries,
            };
            match thread::spawn(setup) {
                Ok(handle) => self.threads.push(handle),
                Err(e) => {
                    self.shared.fail(index, &e);
                    return Err(e);
                }
            }
        }
        self.state_dir = Some(state_dir);
        tracing::info!(
            threads,
            session_timeout_ms = self.clients.session_timeout().as_millis() as u64,
            "started"
        );
        Ok(())
    }

    /// Closes the instance: every thread commits, closes its tasks (checkpointing their
    /// stores) and leaves the group. Waits for the threads to finish.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] naming the failure when a stream thread failed before or
    /// during the close.
    pub fn close(&mut self) -> Result<()> {
        self.close_timeout(Duration::MAX).map(|_| ())
    }

    /// As [`close`](Self::close), waiting at most `timeout` for the threads; returns
    /// whether they all finished (the others finish in the background).
    ///
    /// # Errors
    ///
    /// As [`close`](Self::close).
    pub fn close_timeout(&mut self, timeout: Duration) -> Result<bool> {
        let state = self.state();
        if state == State::Created {
            self.shared.set_state(State::NotRunning);
            return Ok(true);
        }
        self.shared.shutdown.store(true, Ordering::Release);
        if matches!(state, State::Rebalancing | State::Running) {
            let (new, old) = {
                let mut s = self.shared.lock();
                s.state = State::PendingShutdown;
                let new = Shared::derive(&s);
                s.state = new;
                (new, state)
            };
            if new == State::NotRunning {
                self.shared.notify(State::PendingShutdown, old);
                self.shared.notify(new, State::PendingShutdown);
            } else {
                self.shared.notify(new, old);
            }
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut finished = true;
        // Stream threads first: they read the global stores until they have closed.
        let mut handles = std::mem::take(&mut self.threads);
        handles.extend(self.global_thread.take());
        for handle in handles {
            while !handle.is_finished() {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                // Threads notice the shutdown flag within one poll interval.
                let s = self.shared.lock();
                let _ = self
                    .shared
                    .changed
                    .wait_timeout(s, Duration::from_millis(50));
            }
            if handle.is_finished() {
                if handle.join().is_err() {
                    tracing::error!("a stream thread panicked");
                    let mut s = self.shared.lock();
                    s.error
                        .get_or_insert_with(|| "a stream thread panicked".into());
                }
            } else {
                finished = false;
            }
        }
        if finished {
            if let Some(globals) = self.globals.take()
                && let Err(e) = globals.close()
            {
                tracing::warn!(error = %e, "closing the global stores");
            }
            self.state_dir = None;
            let state = self.state();
            if state == State::PendingShutdown {
                self.shared.set_state(State::NotRunning);
            }
        }
        match self.error() {
            Some(e) => Err(Error::IllegalState(format!("a stream thread failed: {e}"))),
            None => Ok(finished),
        }
    }

    /// Starts the instance if it is not started, runs until SIGINT or SIGTERM (or until a
    /// stream thread fails), then closes it.
    ///
    /// # Errors
    ///
    /// A start-up error, a failure to install the signal handlers, or the stream thread
    /// failure that stopped the instance.
    pub fn run_until_signal(&mut self) -> Result<()> {
        if self.state() == State::Created {
            self.start()?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                context: "building the signal runtime".into(),
                source: e,
            })?;
        let shared = Arc::clone(&self.shared);
        let signal = runtime.block_on(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    r = tokio::signal::ctrl_c() => { r?; return Ok::<_, std::io::Error>("SIGINT"); }
                    _ = term.recv() => return Ok("SIGTERM"),
                    _ = tick.tick() => {
                        if matches!(shared.lock().state, State::Error | State::NotRunning) {
                            return Ok("failure");
                        }
                    }
                }
            }
        });
        let why = signal.map_err(|e| Error::Io {
            context: "waiting for SIGINT/SIGTERM".into(),
            source: e,
        })?;
        tracing::info!(reason = why, "closing");
        self.close()
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if (!self.threads.is_empty() || self.global_thread.is_some())
            && let Err(e) = self.close()
        {
            tracing::warn!(error = %e, "closing on drop");
        }
    }
}

/// The instance's process id, read from `<app dir>/kafka-streams-process-metadata` or
/// created there.
fn process_id(app_dir: &Path) -> Result<String> {
    let path = app_dir.join("kafka-streams-process-metadata");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(id) = v.get("processId").and_then(|v| v.as_str())
    {
        return Ok(id.to_owned());
    }
    let id = random_uuid();
    let text = serde_json::json!({ "processId": id }).to_string();
    std::fs::write(&path, text).map_err(|e| Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })?;
    Ok(id)
}

/// A random version-4 UUID from the standard library's randomly seeded hasher.
fn random_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    let (a, b) = (word(), word());
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ids_are_uuids_and_persist() -> Result<()> {
        let a = random_uuid();
        assert_eq!(a.len(), 36);
        assert_ne!(a, random_uuid());
        let dir = tempfile::tempdir().map_err(|e| Error::Io {
            context: "tempdir".into(),
            source: e,
        })?;
        let first = process_id(dir.path())?;
        assert_eq!(process_id(dir.path())?, first);
        Ok(())
    }

    #[test]
    fn state_follows_the_threads() {
        let shared = Shared::new();
        {
            let mut s = shared.lock();
            s.threads = vec![ThreadState::Starting; 2];
            s.metrics = vec![ThreadMetrics::default(); 2];
        }
        shared.set_state(State::Rebalancing);
        shared.set_thread_state(0, ThreadState::Running);
        assert_eq!(shared.lock().state, State::Rebalancing);
        shared.set_thread_state(1, ThreadState::Running);
        assert_eq!(shared.lock().state, State::Running);
        shared.set_thread_state(1, ThreadState::Rebalancing);
        assert_eq!(shared.lock().state, State::Rebalancing);
        shared.fail(0, &Error::IllegalState("boom".into()));
        assert_eq!(shared.lock().state, State::Error);
        assert!(shared.shutdown.load(Ordering::Acquire));
    }
}
