//! The global thread: one consumer without a group, assigned every partition of the global
//! stores' topics, feeding the global sub-topology's processors, as Kafka Streams'
//! `GlobalStreamThread`.
//!
//! # Start-up
//!
//! [`start`] opens the global stores in `<state.dir>/<application.id>/global` and reads
//! their topics up to the end offsets they have when it starts (the bootstrap), then
//! returns the stores; only then does the application start its stream threads, so no task
//! processes a record before the global stores are complete. A persistent store resumes
//! from the offsets in `global/.checkpoint` (Kafka Streams' format; each is the next offset
//! to read); without a valid checkpoint for every partition of its topic it is wiped and
//! read from the beginning. An in-memory store is always read from the beginning.
//!
//! # Running
//!
//! The thread keeps polling and applying records as they arrive. Every `commit.interval.ms`
//! (and when it stops) it flushes the stores and writes the checkpoint. Stream threads read
//! the stores concurrently through their read-only views.
//!
//! Deserialization and processing failures follow the application's handlers, except that
//! a dead-letter handler skips the record: the global thread has no producer.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::config::{ErrorHandling, StreamsConfig};
use crate::context::{RecordCollector, TaskHandlers, error_chain};
use crate::error::{Error, Result};
use crate::record::Headers;
use crate::runtime::client_log::LogContext;
use crate::runtime::clock::now_ms;
use crate::runtime::consumed::raw_record;
use crate::runtime::kafka_errors::{is_transient, kafka_error, retry_transient};
use crate::runtime::metrics::ThreadMetrics;
use crate::runtime::shared::{Shared, ThreadState};
use crate::state::{
    GlobalStores, InMemoryChangelog, OffsetCheckpoint, StateDirectory, StoreBuilder,
};
use crate::task::{Task, TaskSpec};
use crate::task_id::TaskId;
use crate::topology::Topology;

type Tp = (String, i32);

/// How long a watermark look-up may take, retries included.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a long bootstrap logs its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);
/// Records taken from the consumer before the thread looks at the clock and the flag.
const MAX_POLL_RECORDS: usize = 1_000;

/// What the global thread is given by the application.
pub(crate) struct GlobalSetup {
    /// Its slot among the instance's threads.
    pub(crate) index: usize,
    pub(crate) topology: Arc<Topology>,
    pub(crate) application_id: Arc<str>,
    pub(crate) consumer: ClientConfig,
    /// `<state.dir>/<application.id>/global`.
    pub(crate) dir: PathBuf,
    /// The global topics (full names) and their partition counts.
    pub(crate) partitions: BTreeMap<String, i32>,
    pub(crate) commit_interval: Duration,
    pub(crate) poll_timeout: Duration,
    pub(crate) handlers: TaskHandlers,
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: Arc<StreamsConfig>,
}

/// Starts the global thread and waits until it has bootstrapped the global stores, which
/// it returns for the stream threads to read. The records applied by the bootstrap count as
/// restored records in the instance's metrics.
///
/// # Errors
///
/// Whatever failed while opening or bootstrapping the stores (the instance is then in
/// [`State::Error`](crate::runtime::State::Error)).
pub(crate) fn start(setup: GlobalSetup) -> Result<(Arc<GlobalStores>, JoinHandle<()>)> {
    let (ready, bootstrapped) = sync_channel(1);
    let name = format!("{}-GlobalStreamThread", setup.application_id);
    let handle = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(setup, &ready))
        .map_err(|e| Error::Io {
            context: "starting the global thread".into(),
            source: e,
        })?;
    match bootstrapped.recv() {
        Ok(Ok(stores)) => Ok((stores, handle)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(Error::IllegalState(
                "the global thread stopped before its stores were ready".into(),
            ))
        }
    }
}

fn run(setup: GlobalSetup, ready: &SyncSender<Result<Arc<GlobalStores>>>) {
    let index = setup.index;
    let shared = Arc::clone(&setup.shared);
    let span = tracing::info_span!("global_thread", app = %setup.application_id);
    let _entered = span.enter();
    let mut thread = match GlobalThread::bootstrap(setup) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "global thread failed to bootstrap the global stores");
            shared.fail(index, &e);
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(Arc::clone(&thread.stores))).is_err() {
        return;
    }
    shared.set_thread_state(index, ThreadState::Running);
    let result = thread.poll_loop();
    let clean = result.is_ok();
    let closed = thread.close(clean);
    match result.and(closed) {
        Ok(()) => {
            tracing::info!("global thread stopped");
            shared.set_thread_state(index, ThreadState::Dead);
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "global thread failed");
            shared.fail(index, &e);
        }
    }
}

/// The global task writes nothing: a global store's processor has no children.
struct NoOutput;

impl RecordCollector for NoOutput {
    fn send(
        &mut self,
        topic: &str,
        _partition: Option<i32>,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        _timestamp: i64,
        _headers: &Headers,
    ) -> Result<()> {
        Err(Error::IllegalState(format!(
            "a global store's processor cannot write records (to '{topic}')"
        )))
    }

    fn partition_count(&mut self, topic: &str) -> Result<i32> {
        Err(Error::UnknownTopic(topic.to_owned()))
    }
}

struct GlobalThread {
    consumer: BaseConsumer<LogContext>,
    task: Task,
    stores: Arc<GlobalStores>,
    checkpoint: OffsetCheckpoint,
    /// The topics whose stores are persistent: only their offsets are checkpointed.
    checkpointed_topics: BTreeSet<String>,
    /// The next offset to read of each partition, by topic.
    next: HashMap<String, Vec<i64>>,
    /// Whether records were applied since the last flush.
    dirty: bool,
    commit_interval: Duration,
    poll_timeout: Duration,
    shared: Arc<Shared>,
    last_commit: Instant,
}

impl GlobalThread {
    /// Opens the stores, positions the consumer and reads every global partition up to
    /// the end offset it had when this started.
    fn bootstrap(setup: GlobalSetup) -> Result<GlobalThread> {
        let started = Instant::now();
        let client = setup
            .consumer
            .get("client.id")
            .unwrap_or("global-consumer")
            .to_owned();
        let consumer: BaseConsumer<LogContext> = setup
            .consumer
            .create_with_context(LogContext { client })
            .map_err(|e| kafka_error("creating the global consumer", e))?;
        let watermarks = read_watermarks(&consumer, &setup.partitions)?;

        std::fs::create_dir_all(&setup.dir).map_err(|e| Error::StateDir {
            path: setup.dir.display().to_string(),
            reason: "cannot create the global state directory".into(),
            source: Some(e),
        })?;
        let checkpoint = OffsetCheckpoint::in_dir(&setup.dir);
        let checkpointed = read_checkpoint(&checkpoint)?;
        let builders = setup.topology.global_store_builders();
        let (start, checkpointed_topics) =
            start_offsets(&setup, &builders, &watermarks, &checkpointed)?;
        let stores = Arc::new(GlobalStores::open(
            &setup.dir,
            &builders,
            setup.config.store_memory()?,
        )?);
        let task = global_task(&setup, &stores)?;
        let next = assign(&consumer, &start)?;

        let mut thread = GlobalThread {
            consumer,
            task,
            stores,
            checkpoint,
            checkpointed_topics,
            next,
            dirty: false,
            commit_interval: setup.commit_interval,
            poll_timeout: setup.poll_timeout,
            shared: setup.shared,
            last_commit: Instant::now(),
        };
        let ends: BTreeMap<Tp, i64> = watermarks
            .into_iter()
            .map(|(tp, (_, high))| (tp, high))
            .collect();
        let applied = thread.read_to(&ends)?;
        thread.commit()?;
        thread.shared.publish_metrics(
            setup.index,
            &ThreadMetrics {
                restored: applied,
                ..ThreadMetrics::default()
            },
        );
        tracing::info!(
            records = applied,
            elapsed_ms = started.elapsed().as_millis() as u64,
            stores = ?thread.stores,
            "global stores bootstrapped"
        );
        Ok(thread)
    }

    /// The position of a partition: past the last record applied, or past what the
    /// consumer skipped (transaction markers, compacted offsets).
    fn position(&self, positions: &TopicPartitionList, topic: &str, partition: i32) -> i64 {
        let own = self
            .next
            .get(topic)
            .and_then(|o| o.get(usize::try_from(partition).ok()?))
            .copied()
            .unwrap_or(0);
        let consumer = positions
            .find_partition(topic, partition)
            .and_then(|e| e.offset().to_raw())
            .unwrap_or(-1);
        own.max(consumer)
    }

    /// Polls and applies records until every partition reaches its end offset.
    fn read_to(&mut self, ends: &BTreeMap<Tp, i64>) -> Result<u64> {
        let mut applied = 0u64;
        let mut last_progress = Instant::now();
        loop {
            let positions = self
                .consumer
                .position()
                .map_err(|e| kafka_error("reading the global consumer's positions", e))?;
            let behind: Vec<(&Tp, i64)> = ends
                .iter()
                .filter_map(|(tp, end)| {
                    let at = self.position(&positions, &tp.0, tp.1);
                    (at < *end).then_some((tp, end - at))
                })
                .collect();
            if behind.is_empty() {
                return Ok(applied);
            }
            if self.shared.shutdown.load(Ordering::Acquire) {
                return Err(Error::IllegalState(
                    "the instance shut down while the global stores were bootstrapping".into(),
                ));
            }
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                tracing::info!(applied, behind = ?behind, "bootstrapping the global stores");
                last_progress = Instant::now();
            }
            applied += self.poll_batch(Duration::from_millis(100))?;
        }
    }

    /// Polls up to a batch of records and applies them; returns how many were applied.
    fn poll_batch(&mut self, timeout: Duration) -> Result<u64> {
        let mut applied = 0;
        let mut wait = timeout;
        for _ in 0..MAX_POLL_RECORDS {
            let Some(result) = self.consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            match result {
                Ok(message) => {
                    apply(&mut self.task, &mut self.next, &message)?;
                    self.dirty = true;
                    applied += 1;
                }
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "global consumer error; retrying");
                    break;
                }
                Err(e) => return Err(kafka_error("polling the global consumer", e)),
            }
        }
        Ok(applied)
    }

    /// Applies records as they arrive, committing every `commit.interval.ms`, until the
    /// instance shuts down.
    fn poll_loop(&mut self) -> Result<()> {
        while !self.shared.shutdown.load(Ordering::Acquire) {
            self.poll_batch(self.poll_timeout)?;
            if self.last_commit.elapsed() >= self.commit_interval {
                self.commit()?;
            }
        }
        Ok(())
    }

    /// Lets the processors flush, makes the stores durable, then records the offsets
    /// they hold.
    fn commit(&mut self) -> Result<()> {
        self.last_commit = Instant::now();
        if !self.dirty {
            return Ok(());
        }
        self.task.flush_caches()?;
        self.stores.flush()?;
        let offsets: HashMap<Tp, i64> = self
            .next
            .iter()
            .filter(|(t, _)| self.checkpointed_topics.contains(*t))
            .flat_map(|(t, offsets)| {
                offsets
                    .iter()
                    .enumerate()
                    .map(move |(p, o)| ((t.clone(), i32::try_from(p).unwrap_or(i32::MAX)), *o))
            })
            .collect();
        self.checkpoint.write(&offsets)?;
        self.dirty = false;
        Ok(())
    }

    /// A final commit (after a clean run), then the processors close. The stores stay
    /// open for the stream threads still closing; the application closes them last.
    fn close(&mut self, clean: bool) -> Result<()> {
        let committed = if clean { self.commit() } else { Ok(()) };
        let closed = self.task.close(clean);
        committed.and(closed)
    }
}

/// The (log start, log end) offsets of every partition of the global topics.
fn read_watermarks(
    consumer: &BaseConsumer<LogContext>,
    partitions: &BTreeMap<String, i32>,
) -> Result<BTreeMap<Tp, (i64, i64)>> {
    let mut watermarks: BTreeMap<Tp, (i64, i64)> = BTreeMap::new();
    for (topic, &n) in partitions {
        for p in 0..n {
            let (low, high) = retry_transient(
                WATERMARK_TIMEOUT,
                "reading a global topic's offsets",
                || consumer.fetch_watermarks(topic, p, Duration::from_secs(5)),
            )?;
            watermarks.insert((topic.clone(), p), (low.max(0), high.max(0)));
        }
    }
    Ok(watermarks)
}

/// The offsets of the global checkpoint; an unreadable checkpoint is deleted and counts as
/// none.
fn read_checkpoint(checkpoint: &OffsetCheckpoint) -> Result<HashMap<Tp, i64>> {
    match checkpoint.read() {
        Ok(offsets) => Ok(offsets),
        Err(e) => {
            tracing::warn!(path = %checkpoint.path().display(), error = %e,
                "the global checkpoint is unreadable; reading the global topics from the beginning");
            checkpoint.delete()?;
            Ok(HashMap::new())
        }
    }
}

/// Where the bootstrap starts reading each global partition, and the topics of the
/// persistent stores (whose offsets are checkpointed). A persistent store resumes from the
/// checkpoint when every partition of its topic has a valid offset there; otherwise it is
/// wiped and read from the log start, as an in-memory store always is.
fn start_offsets(
    setup: &GlobalSetup,
    builders: &[(Arc<dyn StoreBuilder>, String)],
    watermarks: &BTreeMap<Tp, (i64, i64)>,
    checkpointed: &HashMap<Tp, i64>,
) -> Result<(BTreeMap<Tp, i64>, BTreeSet<String>)> {
    let mut start: BTreeMap<Tp, i64> = BTreeMap::new();
    let mut checkpointed_topics = BTreeSet::new();
    for (builder, topic) in builders {
        let full = setup.topology.resolve_topic(&setup.application_id, topic);
        let partitions: Vec<(&Tp, &(i64, i64))> =
            watermarks.iter().filter(|((t, _), _)| *t == full).collect();
        let resumable = builder.persistent()
            && partitions.iter().all(|(tp, (low, high))| {
                checkpointed
                    .get(*tp)
                    .is_some_and(|o| (*low..=*high).contains(o))
            });
        if builder.persistent() {
            checkpointed_topics.insert(full.clone());
        }
        if !resumable
            && builder.persistent()
            && StateDirectory::wipe_store(&setup.dir, builder.name())?
        {
            tracing::warn!(store = builder.name(), topic = %full,
                "no valid checkpoint for the global store: wiped it; reading its topic from the beginning");
        }
        for (tp, (low, _)) in partitions {
            let from = if resumable {
                checkpointed.get(tp).copied().unwrap_or(*low)
            } else {
                *low
            };
            start.insert(tp.clone(), from);
        }
    }
    Ok((start, checkpointed_topics))
}

/// The task of the global sub-topologies, writing to the global stores. A dead-letter or
/// retry handler skips instead: the global thread has no producer.
fn global_task(setup: &GlobalSetup, stores: &GlobalStores) -> Result<Task> {
    let global_ids = setup.topology.global_subtopology_ids();
    let first = global_ids.first().copied().unwrap_or_default();
    let skip_dead_letters = |h: ErrorHandling| match h {
        ErrorHandling::DeadLetter | ErrorHandling::Retry => ErrorHandling::Continue,
        other => other,
    };
    let handlers = TaskHandlers {
        deserialization: skip_dead_letters(setup.handlers.deserialization),
        processing: skip_dead_letters(setup.handlers.processing),
        production: skip_dead_letters(setup.handlers.production),
    };
    let collector: Rc<RefCell<dyn RecordCollector>> = Rc::new(RefCell::new(NoOutput));
    let mut task = Task::new(
        &setup.topology,
        TaskSpec {
            id: TaskId::new(u32::try_from(first).unwrap_or(u32::MAX), 0),
            application_id: Arc::clone(&setup.application_id),
            subtopologies: global_ids,
            partition: 0,
            handlers,
            collector,
            wall_clock: now_ms(),
            state_dir: None,
            cache_max_bytes: 0,
            exactly_once: false,
            config: Arc::clone(&setup.config),
            global_views: stores.writable_views(),
        },
    )?;
    task.init_state(&mut InMemoryChangelog::new())?;
    Ok(task)
}

/// Assigns the consumer every global partition at its start offset; returns the next
/// offset to read of each partition, by topic.
fn assign(
    consumer: &BaseConsumer<LogContext>,
    start: &BTreeMap<Tp, i64>,
) -> Result<HashMap<String, Vec<i64>>> {
    let mut tpl = TopicPartitionList::new();
    let mut next: HashMap<String, Vec<i64>> = HashMap::new();
    for ((topic, p), from) in start {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*from))
            .map_err(|e| kafka_error("building the global assignment", e))?;
        let offsets = next.entry(topic.clone()).or_default();
        let i = usize::try_from(*p).unwrap_or(0);
        if offsets.len() <= i {
            offsets.resize(i + 1, 0);
        }
        offsets[i] = *from;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| kafka_error("assigning the global topics' partitions", e))?;
    Ok(next)
}

/// Applies one record through the global task and advances its partition's offset.
fn apply(
    task: &mut Task,
    next: &mut HashMap<String, Vec<i64>>,
    message: &BorrowedMessage<'_>,
) -> Result<()> {
    let topic = message.topic();
    let partition = message.partition();
    task.add_record_of_partition(topic, partition, raw_record(message))?;
    while task.process_one()? {}
    if let Some(offsets) = next.get_mut(topic)
        && let Some(o) = usize::try_from(partition)
            .ok()
            .and_then(|p| offsets.get_mut(p))
    {
        *o = message.offset() + 1;
    }
    Ok(())
}
