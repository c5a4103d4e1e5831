//! A stream thread: one group member, one producer, one restore consumer and the tasks of
//! the partitions assigned to it, run by a plain `std::thread`.
//!
//! The thread polls a batch of records, hands them to its tasks, restores and processes
//! them ([`TaskManager`]), answers store queries between two batches, and starts its clients
//! anew after a failure it can recover from (see [`recovery`]).

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

use crate::config::{ErrorHandling, ProcessingGuarantee, StreamsConfig};
use crate::context::{TaskHandlers, error_chain};
use crate::error::{Error, Result};
use crate::runtime::assignment::TaskLayout;
use crate::runtime::collector::KafkaCollector;
use crate::runtime::kafka_errors::{is_transient, kafka_error};
use crate::runtime::metrics::ThreadMetrics;
use crate::runtime::query::StoreQuery;
use crate::runtime::rebalance::{self, GroupContext};
use crate::runtime::recovery;
use crate::runtime::restore::KafkaChangelogReader;
use crate::runtime::shared::{Shared, ThreadState};
use crate::runtime::standby::StandbyClaims;
use crate::runtime::task_manager::{ManagerSetup, TaskManager};
use crate::runtime::topic_plan::TopicPlan;
use crate::state::GlobalStores;
use crate::topology::Topology;

/// Records taken from the consumer per poll round before processing them.
const MAX_POLL_RECORDS: usize = 1_000;
/// How long a transactional producer may take to initialise, retries included.
const INIT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a stream thread is given by the application.
pub(crate) struct ThreadSetup {
    /// The thread's slot among the instance's threads.
    pub(crate) index: usize,
    /// The topology the tasks run.
    pub(crate) topology: Arc<Topology>,
    /// The application id.
    pub(crate) application_id: Arc<str>,
    /// The group member's config.
    pub(crate) consumer: ClientConfig,
    /// The restore consumer's config.
    pub(crate) restore: ClientConfig,
    /// The producer's config.
    pub(crate) producer: ClientConfig,
    /// The processing guarantee.
    pub(crate) guarantee: ProcessingGuarantee,
    /// `commit.interval.ms`.
    pub(crate) commit_interval: Duration,
    /// How long a poll waits when no record is buffered.
    pub(crate) poll_timeout: Duration,
    /// The tasks' error handlers.
    pub(crate) handlers: TaskHandlers,
    /// What the producer does with an output the brokers refuse.
    pub(crate) production: ErrorHandling,
    /// The thread's share of `cache.max.bytes.buffering`.
    pub(crate) cache_bytes: usize,
    /// `<state.dir>/<application.id>`.
    pub(crate) app_dir: PathBuf,
    /// The application's topics.
    pub(crate) plan: Arc<TopicPlan>,
    /// `buffered.records.per.partition`.
    pub(crate) buffered_per_partition: usize,
    /// What the instance and its threads share.
    pub(crate) shared: Arc<Shared>,
    /// The config, which the tasks read.
    pub(crate) config: Arc<StreamsConfig>,
    /// The global stores, which every task reads.
    pub(crate) globals: Arc<GlobalStores>,
    /// Queries of the thread's stores from [`KafkaStreams::query`](super::KafkaStreams::query).
    pub(crate) queries: Receiver<StoreQuery>,
    /// The tasks this instance's threads run, which its standbys give up.
    pub(crate) standby_claims: Arc<StandbyClaims>,
}

/// Starts a stream thread.
pub(crate) fn spawn(setup: ThreadSetup) -> Result<JoinHandle<()>> {
    let name = format!("{}-StreamThread-{}", setup.application_id, setup.index);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let (index, shared) = (setup.index, Arc::clone(&setup.shared));
            // A panic (in a user's function, say) fails the instance at once, as an uncaught
            // exception does in Kafka Streams, instead of leaving it looking alive until
            // it is closed.
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| run(setup))) {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                let error = Error::IllegalState(format!("the stream thread panicked: {message}"));
                tracing::error!(error = %error, "stream thread failed");
                shared.fail(index, &error);
            }
        })
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
    // A joining instance first warms up the tasks it will get (see `standby`).
    setup.standby_claims.wait_for_warmup(&shared.shutdown);
    let result = loop {
        let started = Instant::now();
        let result = run_loop(&setup, &mut metrics);
        rebalance::clear_listener();
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

/// Runs the thread with one set of clients until the instance shuts down or a failure
/// stops it; `carried` holds the thread's counters across runs.
fn run_loop(setup: &ThreadSetup, carried: &mut ThreadMetrics) -> Result<()> {
    let shared = Arc::clone(&setup.shared);
    shared.set_thread_state(setup.index, ThreadState::Rebalancing);
    let manager = new_manager(setup, carried)?;
    rebalance::set_listener(manager.clone());
    let consumer = subscribe(setup)?;

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
    *carried = manager.borrow_mut().take_metrics();
    // The consumer leaves the group when dropped; its revoke callback must find no tasks.
    rebalance::clear_listener();
    drop(consumer);
    outcome
}

/// The thread's task manager with a new producer and restore consumer, starting from the
/// counters in `carried`.
fn new_manager(
    setup: &ThreadSetup,
    carried: &mut ThreadMetrics,
) -> Result<Rc<RefCell<TaskManager>>> {
    let collector = Rc::new(RefCell::new(KafkaCollector::new(
        &setup.producer,
        setup.production,
        setup.plan.partitions.clone(),
        INIT_TIMEOUT,
    )?));
    let reader = KafkaChangelogReader::new(&setup.restore)?;
    let manager_setup = ManagerSetup {
        index: setup.index,
        topology: Arc::clone(&setup.topology),
        application_id: Arc::clone(&setup.application_id),
        guarantee: setup.guarantee,
        commit_interval: setup.commit_interval,
        handlers: setup.handlers,
        cache_bytes: setup.cache_bytes,
        app_dir: setup.app_dir.clone(),
        plan: Arc::clone(&setup.plan),
        buffered_per_partition: setup.buffered_per_partition.max(1),
        buffer_max_bytes: usize::try_from(setup.config.input_buffer_max_bytes()?)
            .unwrap_or(usize::MAX)
            .max(1),
        shared: Arc::clone(&setup.shared),
        config: Arc::clone(&setup.config),
        globals: Arc::clone(&setup.globals),
        max_task_idle: setup.config.max_task_idle()?,
        standby_claims: Arc::clone(&setup.standby_claims),
    };
    Ok(Rc::new(RefCell::new(TaskManager::new(
        manager_setup,
        collector,
        reader,
        std::mem::take(carried),
    ))))
}

/// Creates the group member, reporting statistics every second unless configured
/// otherwise, and subscribes it to the source topics.
fn subscribe(setup: &ThreadSetup) -> Result<BaseConsumer<GroupContext>> {
    let mut consumer_config = setup.consumer.clone();
    if consumer_config.get("statistics.interval.ms").is_none() {
        consumer_config.set("statistics.interval.ms", "1000");
    }
    let consumer: BaseConsumer<GroupContext> = consumer_config
        .create_with_context(GroupContext::new(
            consumer_config
                .get("client.id")
                .unwrap_or("consumer")
                .to_owned(),
            setup.index,
            Arc::clone(&setup.shared),
            setup.topology.offset_resets().clone(),
            TaskLayout::new(&setup.plan),
        ))
        .map_err(|e| kafka_error("creating the consumer", e))?;
    let topics: Vec<&str> = setup.plan.subscribed.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| kafka_error("subscribing to the source topics", e))?;
    tracing::info!(topics = ?topics, "stream thread started");
    Ok(consumer)
}

/// Answers queries, polls, restores and processes until the instance shuts down.
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
            manager.borrow().answer(&mut query);
        }
        let (buffered, full, timeout) = {
            let m = manager.borrow();
            (
                m.has_buffered() || m.is_restoring(),
                m.any_full(),
                m.poll_timeout(poll_timeout),
            )
        };
        let timeout = if buffered { Duration::ZERO } else { timeout };
        // A task that buffers more than `buffered.records.per.partition` per partition
        // stops the polling until it has drained to half: records wait in librdkafka's
        // prefetch queue (bounded by `queued.min.messages`), whose fetcher stops when it is
        // full. Pausing the partitions instead, as Kafka Streams does, would make
        // librdkafka throw away what it prefetched for them and fetch it again.
        if !full {
            poll_records(consumer, manager, timeout, &mut last_poll_error)?;
        }
        let mut m = manager.borrow_mut();
        m.count_poll(!full);
        m.take_callback_error()?;
        m.handle_assignment(consumer)?;
        m.restore(consumer)?;
        m.process(consumer)?;
    }
    Ok(())
}

/// Polls up to [`MAX_POLL_RECORDS`] records into the tasks, waiting at most `timeout` for
/// the first, until a task's buffer is full. A transient consumer error ends the round
/// (logged at most every five seconds, in `last_poll_error`).
fn poll_records(
    consumer: &BaseConsumer<GroupContext>,
    manager: &Rc<RefCell<TaskManager>>,
    mut timeout: Duration,
    last_poll_error: &mut Option<Instant>,
) -> Result<()> {
    let mut polled = 0;
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
                if m.add_message(consumer, &message)? {
                    break;
                }
            }
            Err(KafkaError::PartitionEOF(_)) => {}
            Err(e) if e.rdkafka_error_code().is_some_and(|_| is_transient(&e)) => {
                if last_poll_error.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                    tracing::warn!(error = %e, "consumer error; retrying");
                    *last_poll_error = Some(Instant::now());
                }
                break;
            }
            Err(e) => return Err(kafka_error("polling the consumer", e)),
        }
    }
    Ok(())
}
