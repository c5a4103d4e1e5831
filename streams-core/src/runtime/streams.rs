//! [`KafkaStreams`]: an application instance, its lifecycle and its queries.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};
use crate::runtime::clients::KafkaClientConfigs;
use crate::runtime::discovery::Discovery;
use crate::runtime::global;
use crate::runtime::handle::StreamsHandle;
use crate::runtime::metrics::{StreamsMetrics, ThreadMetrics};
use crate::runtime::process_id::process_id;
use crate::runtime::query::StoreQuery;
use crate::runtime::shared::{Shared, ThreadState};
use crate::runtime::signal::wait_for_signal;
use crate::runtime::standby::{self, StandbyClaims, StandbyPlacement, StandbySetup};
use crate::runtime::startup::{self, ThreadSettings};
use crate::runtime::state::{State, StateListener};
use crate::runtime::thread;
use crate::runtime::topic_plan::TopicPlan;
use crate::runtime::topics::{AdminTopicCreator, TopicCreator};
use crate::state::{GlobalStores, StateDirectory};
use crate::task_id::TaskId;
use crate::topology::Topology;

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
    standby_thread: Option<JoinHandle<()>>,
    standby_claims: Arc<StandbyClaims>,
    /// The global stores, closed once every thread has finished.
    globals: Option<Arc<GlobalStores>>,
    state_dir: Option<StateDirectory>,
    process_id: String,
    /// One query channel per stream thread, until the handle takes them.
    queries: Vec<Sender<StoreQuery>>,
    handle: StreamsHandle,
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
    pub fn new(mut topology: Topology, config: StreamsConfig) -> Result<Self> {
        let clients = KafkaClientConfigs::new(&config)?;
        topology.apply_retry_handler(&config)?;
        topology.check_topic_names(&config)?;
        let topology = Arc::new(topology);
        let shared = Arc::new(Shared::new());
        let handle = StreamsHandle::new(
            Arc::clone(&topology),
            Arc::clone(&shared),
            config.application_server()?,
        );
        Ok(KafkaStreams {
            topology,
            config,
            clients,
            shared,
            threads: Vec::new(),
            global_thread: None,
            standby_thread: None,
            standby_claims: Arc::new(StandbyClaims::default()),
            globals: None,
            state_dir: None,
            process_id: String::new(),
            queries: Vec::new(),
            handle,
        })
    }

    /// A cloneable, thread-safe handle for queries, routing metadata, state and metrics,
    /// valid for the instance's whole life (an HTTP server or a metrics exporter holds one).
    pub fn handle(&self) -> StreamsHandle {
        self.handle.clone()
    }

    /// Runs `query` on the store named `store` of every task of this instance that has one:
    /// [`StreamsHandle::query`] on this instance's [`handle`](Self::handle).
    ///
    /// # Errors
    ///
    /// See [`StreamsHandle::query`].
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
        self.handle.query(store, query, timeout)
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
        StreamsMetrics::sum(
            &self.shared.lock().metrics,
            self.shared.standby_applied.load(Ordering::Relaxed),
        )
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
        let handlers = startup::task_handlers(&self.config)?;
        let span = tracing::info_span!("start", app = %application_id);
        let _entered = span.enter();
        let plan = startup::prepare_topics(
            &self.topology,
            &self.clients,
            &self.config,
            &application_id,
            handlers,
            creator,
        )?;

        let state_dir = StateDirectory::open(self.config.state_dir(), &application_id)?;
        self.process_id = process_id(state_dir.app_dir())?;
        let threads = startup::stream_thread_count(&plan, &self.config)?;
        let settings = ThreadSettings::new(&self.config, &application_id, handlers, threads)?;
        // The global thread, if any, takes the slot after the stream threads.
        let slots = threads + usize::from(!plan.global.is_empty());
        {
            let mut s = self.shared.lock();
            s.threads = vec![ThreadState::Starting; slots];
            s.metrics = vec![ThreadMetrics::default(); slots];
        }
        self.shared.set_state(State::Rebalancing);
        let globals = self.start_global_thread(&plan, &settings, threads, state_dir.app_dir())?;
        let plan = Arc::new(plan);
        let discovery = Discovery::new(&self.clients.admin, &application_id)?;
        let warmup = self.warmup_tasks(&discovery, &plan, threads)?;
        if !warmup.is_empty() {
            self.standby_claims.begin_warmup();
        }
        self.spawn_stream_threads(
            Arc::clone(&plan),
            &settings,
            threads,
            state_dir.app_dir(),
            &globals,
        )?;
        let (standby_queries, queries) = std::sync::mpsc::channel();
        self.standby_thread = standby::spawn(StandbySetup {
            topology: Arc::clone(&self.topology),
            application_id: Arc::clone(&settings.application_id),
            process_id: self.process_id.clone(),
            restore: self.clients.standby_consumer(&self.process_id),
            admin: self.clients.admin.clone(),
            plan: Arc::clone(&plan),
            app_dir: state_dir.app_dir().to_path_buf(),
            replicas: self.config.num_standby_replicas()?,
            rack_tags: self.config.rack_awareness()?.assignment_tags,
            exactly_once: self.clients.guarantee() == ProcessingGuarantee::ExactlyOnceV2,
            store_memory: self.config.store_memory()?,
            shared: Arc::clone(&self.shared),
            claims: Arc::clone(&self.standby_claims),
            warmup,
            warmup_settings: self.config.warmup()?,
            queries,
        })?;
        self.handle.set_started(
            std::mem::take(&mut self.queries),
            standby_queries,
            Arc::clone(&plan),
            discovery,
            self.process_id.clone(),
            StandbyPlacement::new(
                &self.topology,
                &plan,
                self.config.num_standby_replicas()?,
                self.config.rack_awareness()?.assignment_tags,
            )?,
        );
        self.state_dir = Some(state_dir);
        tracing::info!(
            threads,
            session_timeout_ms = self.clients.session_timeout().as_millis() as u64,
            "started"
        );
        Ok(())
    }

    /// The tasks this instance warms up before its `threads` stream threads join (see
    /// [`standby::warmup_tasks`]).
    fn warmup_tasks(
        &self,
        discovery: &Discovery,
        plan: &TopicPlan,
        threads: usize,
    ) -> Result<std::collections::BTreeSet<TaskId>> {
        let mine: Vec<String> = (0..threads)
            .filter_map(|i| {
                let (consumer, _, _) = self.clients.for_thread(&self.process_id, i);
                consumer.get("client.id").map(str::to_owned)
            })
            .collect();
        let static_membership = self
            .clients
            .main_consumer
            .get("group.instance.id")
            .is_some_and(|id| !id.is_empty());
        standby::warmup_tasks(
            discovery,
            &self.topology,
            plan,
            &self.process_id,
            &mine,
            static_membership,
        )
    }

    /// Starts the global thread when the topology has global stores, and waits until it
    /// has bootstrapped them; returns the global stores (empty without a global thread).
    fn start_global_thread(
        &mut self,
        plan: &TopicPlan,
        settings: &ThreadSettings,
        index: usize,
        app_dir: &Path,
    ) -> Result<Arc<GlobalStores>> {
        let globals = if plan.global.is_empty() {
            Arc::new(GlobalStores::empty())
        } else {
            let (stores, handle) = global::start(global::GlobalSetup {
                index,
                topology: Arc::clone(&self.topology),
                application_id: Arc::clone(&settings.application_id),
                consumer: self.clients.global_consumer.clone(),
                dir: app_dir.join("global"),
                partitions: plan.global.clone(),
                commit_interval: self.config.commit_interval()?,
                poll_timeout: settings.poll_timeout,
                handlers: settings.handlers,
                shared: Arc::clone(&self.shared),
                config: Arc::clone(&settings.config),
            })?;
            self.global_thread = Some(handle);
            stores
        };
        self.globals = Some(Arc::clone(&globals));
        Ok(globals)
    }

    /// Spawns the stream threads, each with its clients and its query channel. A thread
    /// that cannot be spawned fails the instance.
    fn spawn_stream_threads(
        &mut self,
        plan: Arc<TopicPlan>,
        settings: &ThreadSettings,
        threads: usize,
        app_dir: &Path,
        globals: &Arc<GlobalStores>,
    ) -> Result<()> {
        for index in 0..threads {
            let (consumer, restore, producer) = self.clients.for_thread(&self.process_id, index);
            let (queries, thread_queries) = std::sync::mpsc::channel();
            self.queries.push(queries);
            let setup = thread::ThreadSetup {
                index,
                topology: Arc::clone(&self.topology),
                application_id: Arc::clone(&settings.application_id),
                consumer,
                restore,
                producer,
                guarantee: self.clients.guarantee(),
                commit_interval: self.config.commit_interval()?,
                poll_timeout: settings.poll_timeout,
                handlers: settings.handlers,
                production: settings.handlers.production,
                cache_bytes: settings.cache_bytes,
                app_dir: app_dir.to_path_buf(),
                plan: Arc::clone(&plan),
                buffered_per_partition: settings.buffered_per_partition,
                shared: Arc::clone(&self.shared),
                config: Arc::clone(&settings.config),
                globals: Arc::clone(globals),
                standby_claims: Arc::clone(&self.standby_claims),
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
            self.enter_pending_shutdown(state);
        }
        let finished = self.join_threads(Instant::now().checked_add(timeout));
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

    /// Moves a started instance from `state` to [`State::PendingShutdown`], or straight on
    /// to [`State::NotRunning`] when no thread is left to wait for; the listener hears of
    /// both steps.
    fn enter_pending_shutdown(&self, state: State) {
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

    /// Joins the threads, waiting until `deadline` at most (for ever without one); returns
    /// whether they all finished. A thread that panicked counts as the instance's failure.
    fn join_threads(&mut self, deadline: Option<Instant>) -> bool {
        let mut finished = true;
        // Stream threads first: they read the global stores until they have closed.
        let mut handles = std::mem::take(&mut self.threads);
        handles.extend(self.standby_thread.take());
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
        finished
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
        let why = wait_for_signal(&self.shared)?;
        tracing::info!(reason = why, "closing");
        self.close()
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if (!self.threads.is_empty()
            || self.global_thread.is_some()
            || self.standby_thread.is_some())
            && let Err(e) = self.close()
        {
            tracing::warn!(error = %e, "closing on drop");
        }
    }
}
