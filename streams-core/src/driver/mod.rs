//! The topology test driver: run a topology without a broker.
//!
//! [`TopologyTestDriver`] mirrors Kafka Streams' `TopologyTestDriver`. Each piped record is
//! processed at once; then stream-time punctuators run, the task commits (so caches flush
//! after every record), and records written to internal or source topics are fed back in.
//! Everything is deterministic: there are no threads, and the wall clock only moves when
//! the test moves it.
//!
//! Beyond Java's driver, [`DriverOptions::partitions`] runs every topic with N partitions:
//! input is placed by the murmur2 partitioner, and there is one task per partition of each
//! sub-topology, exactly as the Kafka runtime runs them.
//!
//! Under the `retry` processing handler, a record the topology writes to a retry topic is
//! readable there at once, but processed again only once
//! [`TopologyTestDriver::advance_wall_clock_time`] has moved the wall clock to its due time
//! (`retry-due-at`). Records a test pipes into a retry topic itself are processed at once,
//! as any piped record.

mod retry_wait;
mod topics;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

pub use topics::{TestInputTopic, TestOutputTopic, TestRecord};

use crate::config::{OUTER_JOIN_EMIT_INTERVAL, StreamsConfig, WINDOWED_AGGREGATION_EMIT_INTERVAL};
use crate::context::{RawRecord, RecordCollector, TaskHandlers, TaskMetrics};
use crate::error::{Error, Result};
use crate::partitioner::default_partition;
use crate::record::Headers;
use crate::serde::SerdeRef;
use crate::state::{GlobalStores, InMemoryChangelog, StateDirectory};
use crate::task::{Task, TaskSpec};
use crate::task_id::TaskId;
use crate::topology::Topology;

/// Options of a [`TopologyTestDriver`].
#[derive(Debug, Clone)]
pub struct DriverOptions {
    partitions: i32,
    wall_clock_start: i64,
    output_log: bool,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            partitions: 1,
            wall_clock_start: 0,
            output_log: false,
        }
    }
}

impl DriverOptions {
    /// One partition per topic and a wall clock starting at 0.
    pub fn new() -> Self {
        DriverOptions::default()
    }

    /// Runs every topic with `n` partitions and one task per partition of each
    /// sub-topology. With 1 (the default) the whole topology runs as task `0_0`, as in
    /// Kafka's driver.
    #[must_use]
    pub fn partitions(mut self, n: i32) -> Self {
        self.partitions = n.max(1);
        self
    }

    /// Also keeps every record the topology writes, across all topics and in the order
    /// written, for [`TopologyTestDriver::take_output_log`].
    #[must_use]
    pub fn output_log(mut self, on: bool) -> Self {
        self.output_log = on;
        self
    }

    /// The initial wall-clock time in milliseconds; input topics start their record time there too.
    #[must_use]
    pub fn wall_clock_start(mut self, ms: i64) -> Self {
        self.wall_clock_start = ms;
        self
    }
}

/// A record the topology wrote, as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedRecord {
    /// The topic (full name for internal topics).
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The key bytes, `None` for null.
    pub key: Option<Vec<u8>>,
    /// The value bytes, `None` for null.
    pub value: Option<Vec<u8>>,
    /// The timestamp.
    pub timestamp: i64,
    /// The headers.
    pub headers: Headers,
}

/// A record the topology wrote, held until it is read or fed back; `topic` indexes the
/// driver's [`TopicNames`].
#[derive(Clone)]
pub(crate) struct Output {
    topic: usize,
    partition: i32,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: i64,
    headers: Headers,
}

/// Topic names, each kept once: records and routes refer to topics by index, so that the
/// per-record path neither allocates a name nor hashes one (the last topic looked up is
/// compared first).
#[derive(Default)]
struct TopicNames {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, usize>,
    last: usize,
}

impl TopicNames {
    /// The index of `topic`, added if new.
    fn intern(&mut self, topic: &str) -> usize {
        if let Some(id) = self.find(topic) {
            return id;
        }
        let name: Arc<str> = topic.into();
        let id = self.names.len();
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        self.last = id;
        id
    }

    /// The index of `topic`, if known.
    fn find(&mut self, topic: &str) -> Option<usize> {
        if self.names.get(self.last).is_some_and(|n| **n == *topic) {
            return Some(self.last);
        }
        let id = *self.ids.get(topic)?;
        self.last = id;
        Some(id)
    }

    fn name(&self, id: usize) -> &Arc<str> {
        &self.names[id]
    }
}

#[derive(Default)]
struct Collector {
    partitions: i32,
    topics: TopicNames,
    produced: Vec<Output>,
    /// The next round-robin partition of each topic, by index.
    round_robin: Vec<i32>,
}

impl Collector {
    fn place(&mut self, topic: usize, partition: Option<i32>) -> i32 {
        match partition {
            Some(p) => p,
            None => {
                if self.round_robin.len() <= topic {
                    self.round_robin.resize(topic + 1, 0);
                }
                let next = &mut self.round_robin[topic];
                let p = *next % self.partitions;
                *next += 1;
                p
            }
        }
    }
}

impl RecordCollector for Collector {
    fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()> {
        let topic = self.topics.intern(topic);
        let partition = self.place(topic, partition);
        self.produced.push(Output {
            topic,
            partition,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            timestamp,
            headers: headers.clone(),
        });
        Ok(())
    }

    fn partition_count(&mut self, _topic: &str) -> Result<i32> {
        Ok(self.partitions)
    }
}

/// Where the records of a topic go when they are piped or written.
#[derive(Default)]
enum Route {
    /// Nowhere: the topology does not read the topic.
    #[default]
    None,
    /// To the global task.
    Global,
    /// To the tasks of sub-topology `sub`: `targets[p]` is the task (its index in
    /// `DriverInner::tasks`) and queue of partition `p` (only `targets[0]` in the
    /// single-task mode).
    Stream {
        sub: u32,
        targets: Vec<(usize, usize)>,
    },
}

/// What the driver knows of one topic, indexed as the collector's [`TopicNames`].
#[derive(Default)]
struct TopicState {
    route: Route,
    produced: bool,
    next_offset: Vec<i64>,
    outputs: VecDeque<Output>,
}

pub(crate) struct DriverInner {
    topology: Arc<Topology>,
    application_id: Arc<str>,
    partitions: i32,
    /// The tasks, ordered by id.
    tasks: Vec<(TaskId, Task)>,
    global_task: Option<Task>,
    globals: GlobalStores,
    collector: Rc<RefCell<Collector>>,
    /// By topic index.
    topics: Vec<TopicState>,
    /// The collector's buffer of the previous round, kept for its capacity.
    spare: Vec<Output>,
    wall_clock: i64,
    single: bool,
    log: Option<Vec<ProducedRecord>>,
    /// Records written to retry topics, waiting until they are due.
    retry_waiting: Vec<retry_wait::Waiting>,
    /// Holds the state directory's lock; the directory is removed with the driver.
    _state: Option<(StateDirectory, tempfile::TempDir)>,
}

/// Runs a topology in-process, record by record, without a broker.
///
/// # Examples
///
/// ```
/// use streams_core::driver::TopologyTestDriver;
/// use streams_core::processor::{Processor, ProcessorContext};
/// use streams_core::serde::Serdes;
/// use streams_core::{Consumed, Produced, Record, Result, StreamsConfig, Topology};
///
/// struct Shout;
/// impl Processor<String, String, String, String> for Shout {
///     fn process(&mut self, r: Record<String, String>, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
///         let v = format!("{}!", r.value);
///         ctx.forward(r.with_value(v))
///     }
/// }
///
/// let mut topology = Topology::new();
/// topology
///     .add_source("in", &["input"], Consumed::with(Serdes::string(), Serdes::string()))?
///     .add_processor("shout", || Shout, &["in"])?
///     .add_sink("out", "output", Produced::with(Serdes::string(), Serdes::string()), &["shout"])?;
///
/// let driver = TopologyTestDriver::new(topology, StreamsConfig::new().set("application.id", "demo"))?;
/// let input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
/// let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
/// input.pipe_input("k".to_string(), "hello".to_string())?;
/// assert_eq!(output.read_key_value()?, ("k".to_string(), "hello!".to_string()));
/// assert!(output.is_empty());
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct TopologyTestDriver {
    inner: Rc<RefCell<DriverInner>>,
}

impl std::fmt::Debug for TopologyTestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("TopologyTestDriver")
            .field("application_id", &inner.application_id)
            .field("partitions", &inner.partitions)
            .field(
                "tasks",
                &inner.tasks.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TopologyTestDriver {
    /// A driver with one partition per topic, the whole topology in task `0_0`.
    ///
    /// # Errors
    ///
    /// An invalid config or topology, or a processor whose `init` fails.
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        Self::with_options(topology, config, DriverOptions::default())
    }

    /// A driver with the given options.
    ///
    /// # Errors
    ///
    /// As [`new`](TopologyTestDriver::new).
    pub fn with_options(
        mut topology: Topology,
        mut config: StreamsConfig,
        options: DriverOptions,
    ) -> Result<Self> {
        if config.get("application.id").is_none() {
            config.insert("application.id", "topology-test-driver");
        }
        // Kafka's driver turns the wall-clock throttling of held-back join results and of
        // emit-on-close windows off, so that every record shows its effect at once.
        for key in [OUTER_JOIN_EMIT_INTERVAL, WINDOWED_AGGREGATION_EMIT_INTERVAL] {
            if !config.is_set(key) {
                config.insert(key, "0");
            }
        }
        config.validate()?;
        let application_id: Arc<str> = config.application_id()?.into();
        let handlers = TaskHandlers {
            deserialization: config.deserialization_handling()?,
            processing: config.processing_handling()?,
            production: config.production_handling()?,
        };
        topology.apply_retry_handler(&config)?;
        topology.check_topic_names(&config)?;
        let topology = Arc::new(topology);
        let collector = Rc::new(RefCell::new(Collector {
            partitions: options.partitions,
            ..Collector::default()
        }));
        let by_sub = topology.source_topics_by_subtopology();
        let single = options.partitions == 1;
        let needs_state = topology.store_names().next().is_some();
        let state = if needs_state {
            let tmp = tempfile::Builder::new()
                .prefix("streams-test-driver-")
                .tempdir()
                .map_err(|e| Error::Io {
                    context: "creating the test driver's state directory".into(),
                    source: e,
                })?;
            let dir = StateDirectory::open(tmp.path(), &application_id)?;
            Some((dir, tmp))
        } else {
            None
        };
        let app_dir = state.as_ref().map(|(d, _)| d.app_dir().to_path_buf());
        let cache_max_bytes = usize::try_from(config.cache_max_bytes()?).unwrap_or(usize::MAX);
        let shared_config = Arc::new(config.clone());
        let global_ids = topology.global_subtopology_ids();
        let globals = match &app_dir {
            Some(dir) if !global_ids.is_empty() => GlobalStores::open(
                &dir.join("global"),
                &topology.global_store_builders(),
                config.store_memory()?,
            )?,
            _ => GlobalStores::empty(),
        };
        let mut tasks = BTreeMap::new();
        let make = |id: TaskId, subs: Vec<usize>, global_views| -> Result<Task> {
            let collector: Rc<RefCell<dyn RecordCollector>> = collector.clone();
            Task::new(
                &topology,
                TaskSpec {
                    id,
                    application_id: Arc::clone(&application_id),
                    subtopologies: subs,
                    partition: id.partition,
                    handlers,
                    collector,
                    wall_clock: options.wall_clock_start,
                    state_dir: app_dir.clone(),
                    cache_max_bytes,
                    exactly_once: false,
                    config: Arc::clone(&shared_config),
                    global_views,
                },
            )
        };
        if single {
            let id = TaskId::new(0, 0);
            let subs = (0..by_sub.len())
                .filter(|s| !global_ids.contains(s))
                .collect();
            tasks.insert(id, make(id, subs, globals.read_only_views())?);
        } else {
            for (sub, topics) in by_sub.iter().enumerate() {
                if topics.is_empty() {
                    continue;
                }
                for p in 0..options.partitions {
                    let id = TaskId::new(sub as u32, p);
                    tasks.insert(id, make(id, vec![sub], globals.read_only_views())?);
                }
            }
        }
        // One task updates the global stores, as Kafka's global state update task does;
        // every other task reads them.
        let mut global_task = match global_ids.first() {
            Some(&first) => Some(make(
                TaskId::new(first as u32, 0),
                global_ids.clone(),
                globals.writable_views(),
            )?),
            None => None,
        };
        // A driver starts from empty changelogs, as Kafka's does.
        let mut empty = InMemoryChangelog::new();
        if let Some(task) = &mut global_task {
            task.init_state(&mut empty)?;
        }
        for task in tasks.values_mut() {
            task.init_state(&mut empty)?;
        }
        let tasks: Vec<(TaskId, Task)> = tasks.into_iter().collect();
        // Each input topic is routed once, here: piping a record looks nothing up by name.
        let mut topics: Vec<TopicState> = Vec::new();
        {
            let mut c = collector.borrow_mut();
            let mut route = |name: &str, route: Route| {
                let id = c.topics.intern(name);
                if topics.len() <= id {
                    topics.resize_with(id + 1, TopicState::default);
                }
                topics[id].route = route;
            };
            for (sub, names) in by_sub.iter().enumerate() {
                let sub = sub as u32;
                for t in names {
                    let full = topology.resolve_topic(&application_id, t);
                    let partitions = if single { 1 } else { options.partitions };
                    let mut targets = Vec::new();
                    for p in 0..partitions {
                        let id = if single {
                            TaskId::new(0, 0)
                        } else {
                            TaskId::new(sub, p)
                        };
                        let target = tasks
                            .binary_search_by_key(&id, |(id, _)| *id)
                            .ok()
                            .and_then(|i| Some((i, tasks[i].1.queue_index(&full)?)))
                            .ok_or_else(|| {
                                Error::IllegalState(format!("no task {id} for {full}-{p}"))
                            })?;
                        targets.push(target);
                    }
                    route(&full, Route::Stream { sub, targets });
                }
            }
            // As Kafka's driver, a global topic goes to the global task only.
            for t in topology.global_topics() {
                route(&topology.resolve_topic(&application_id, &t), Route::Global);
            }
        }
        let inner = DriverInner {
            topology,
            application_id,
            partitions: options.partitions,
            tasks,
            global_task,
            globals,
            collector,
            topics,
            spare: Vec::new(),
            wall_clock: options.wall_clock_start,
            single,
            log: options.output_log.then(Vec::new),
            retry_waiting: Vec::new(),
            _state: state,
        };
        Ok(TopologyTestDriver {
            inner: Rc::new(RefCell::new(inner)),
        })
    }

    /// An input topic that serializes keys and values with the given serdes. Records without
    /// an explicit timestamp get the driver's start time.
    pub fn create_input_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> TestInputTopic<K, V> {
        let start = self.inner.borrow().wall_clock;
        TestInputTopic::new(
            Rc::clone(&self.inner),
            topic,
            key_serde,
            value_serde,
            start,
            Duration::ZERO,
        )
    }

    /// An input topic whose records without an explicit timestamp start at `start_ms` and
    /// advance by `auto_advance` after each record.
    pub fn create_input_topic_with_time<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        start_ms: i64,
        auto_advance: Duration,
    ) -> TestInputTopic<K, V> {
        TestInputTopic::new(
            Rc::clone(&self.inner),
            topic,
            key_serde,
            value_serde,
            start_ms,
            auto_advance,
        )
    }

    /// An output topic that deserializes what the topology wrote to `topic`.
    pub fn create_output_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic::new(Rc::clone(&self.inner), topic, key_serde, value_serde)
    }

    /// Moves the wall clock forward, runs the wall-clock punctuators that are due, commits,
    /// and processes whatever they produced, and the retried records that are now due.
    ///
    /// # Errors
    ///
    /// The first error a punctuator or downstream node returns.
    pub fn advance_wall_clock_time(&self, by: Duration) -> Result<()> {
        let mut inner = self.inner.borrow_mut();
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        inner.wall_clock = inner.wall_clock.saturating_add(ms);
        let now = inner.wall_clock;
        for i in 0..inner.tasks.len() {
            let task = &mut inner.tasks[i].1;
            task.punctuate_wall_clock(now)?;
            task.flush_caches()?;
            inner.capture_outputs()?;
        }
        inner.release_due_retries()?;
        inner.run_until_idle()
    }

    /// Takes every record written since the last call, across all topics (internal ones
    /// included) in the order written. Empty unless [`DriverOptions::output_log`] is on.
    /// Records stay readable through output topics as well.
    pub fn take_output_log(&self) -> Vec<ProducedRecord> {
        self.inner
            .borrow_mut()
            .log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The current wall-clock time of the driver.
    pub fn wall_clock_time(&self) -> i64 {
        self.inner.borrow().wall_clock
    }

    /// Every topic the topology has written to, including internal ones.
    pub fn produced_topic_names(&self) -> Vec<String> {
        self.inner.borrow().produced_topic_names()
    }

    /// The ids of the driver's tasks.
    pub fn task_ids(&self) -> Vec<TaskId> {
        self.inner
            .borrow()
            .tasks
            .iter()
            .map(|(id, _)| *id)
            .collect()
    }

    /// The counters of a task.
    pub fn task_metrics(&self, task: TaskId) -> Option<TaskMetrics> {
        self.inner.borrow().task(task).map(Task::metrics)
    }

    /// The stream time of a task, -1 before its first record.
    pub fn stream_time(&self, task: TaskId) -> Option<i64> {
        self.inner.borrow().task(task).map(Task::stream_time)
    }

    /// The application id in use.
    pub fn application_id(&self) -> String {
        self.inner.borrow().application_id.to_string()
    }

    /// Closes every task: processors' `close`, then the stores, then the global stores.
    ///
    /// # Errors
    ///
    /// The first error a task or store returns while closing.
    pub fn close(self) -> Result<()> {
        let mut inner = self.inner.borrow_mut();
        let mut first = None;
        for (_, task) in &mut inner.tasks {
            if let Err(e) = task.close(true) {
                first.get_or_insert(e);
            }
        }
        if let Some(task) = &mut inner.global_task
            && let Err(e) = task.close(true)
        {
            first.get_or_insert(e);
        }
        if let Err(e) = inner.globals.close() {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }

    /// A state store of task `0_0`, for assertions: for example
    /// `driver.state_store::<KeyValueStore<String, i64>>("counts")`. A global store is
    /// returned as the global processor sees it: writable, shared by every task.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNotAvailable`] when there is no such store or it has another type.
    pub fn state_store<S: 'static>(&self, name: &str) -> Result<Rc<RefCell<S>>> {
        let global = self
            .inner
            .borrow()
            .globals
            .get(name)
            .map(|g| g.writable_view());
        match global {
            Some(any) => any
                .downcast::<RefCell<S>>()
                .map_err(|_| Error::StoreNotAvailable(name.to_owned())),
            None => self.state_store_of(TaskId::new(0, 0), name),
        }
    }

    /// A state store of the given task (in multi-partition mode each task has its own); for
    /// a global store, the task's read-only view of it.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNotAvailable`] when the task has no such store or it has another type.
    pub fn state_store_of<S: 'static>(&self, task: TaskId, name: &str) -> Result<Rc<RefCell<S>>> {
        let inner = self.inner.borrow();
        let any = inner
            .task(task)
            .and_then(|t| t.store(name))
            .ok_or_else(|| Error::StoreNotAvailable(name.to_owned()))?;
        any.downcast::<RefCell<S>>()
            .map_err(|_| Error::StoreNotAvailable(name.to_owned()))
    }
}

impl DriverInner {
    fn task(&self, id: TaskId) -> Option<&Task> {
        let i = self.tasks.binary_search_by_key(&id, |(id, _)| *id).ok()?;
        Some(&self.tasks[i].1)
    }

    fn topic_mut(&mut self, id: usize) -> &mut TopicState {
        if self.topics.len() <= id {
            self.topics.resize_with(id + 1, TopicState::default);
        }
        &mut self.topics[id]
    }

    fn is_input(&self, id: usize) -> bool {
        self.topics
            .get(id)
            .is_some_and(|t| !matches!(t.route, Route::None))
    }

    /// The index of an input topic: internal topics may be named without the application
    /// prefix. `None` when the topology does not read it.
    pub(crate) fn input_id(&mut self, topic: &str) -> Option<usize> {
        let direct = self.collector.borrow_mut().topics.find(topic);
        if let Some(id) = direct.filter(|&id| self.is_input(id)) {
            return Some(id);
        }
        let full = self.topology.resolve_topic(&self.application_id, topic);
        let id = self.collector.borrow_mut().topics.find(&full)?;
        self.is_input(id).then_some(id)
    }

    /// The index and full name of an output topic (internal topics may be named without
    /// the application prefix).
    pub(crate) fn output_id(&mut self, topic: &str) -> (usize, Arc<str>) {
        let full = self.topology.resolve_topic(&self.application_id, topic);
        let mut c = self.collector.borrow_mut();
        let id = c.topics.intern(&full);
        (id, Arc::clone(c.topics.name(id)))
    }

    fn partition_for(&mut self, topic: usize, key: Option<&[u8]>) -> i32 {
        match key {
            Some(_) if self.partitions == 1 => 0,
            Some(k) => default_partition(k, self.partitions),
            None => self.collector.borrow_mut().place(topic, None),
        }
    }

    fn enqueue(&mut self, topic: usize, partition: i32, raw: RawRecord<'_>) -> Result<()> {
        let name = || Arc::clone(self.collector.borrow().topics.name(topic));
        match self.topics.get(topic).map(|t| &t.route) {
            Some(Route::Global) => {
                // As Kafka's driver: a record of a global topic updates the global stores at
                // once, before anything else is processed.
                let name = name();
                let task = self.global_task.as_mut().ok_or_else(|| {
                    Error::IllegalState(format!("no global task for global topic {name}"))
                })?;
                task.add_record_of_partition(&name, partition, raw)?;
                while task.process_one()? {}
                task.flush_caches()
            }
            Some(Route::Stream { sub, targets }) => {
                let index = if self.single {
                    Some(0)
                } else {
                    usize::try_from(partition).ok()
                };
                let Some(&(task, queue)) = index.and_then(|i| targets.get(i)) else {
                    let id = if self.single {
                        TaskId::new(0, 0)
                    } else {
                        TaskId::new(*sub, partition)
                    };
                    return Err(Error::IllegalState(format!(
                        "no task {id} for {}-{partition}",
                        name()
                    )));
                };
                self.tasks[task].1.add_record_at(queue, raw)
            }
            Some(Route::None) | None => Err(Error::UnknownTopic(name().to_string())),
        }
    }

    /// Pipes a record into input topic `input` (from [`input_id`](Self::input_id));
    /// `topic` is the name it was asked for, for the error when it is no input.
    pub(crate) fn pipe(
        &mut self,
        input: Option<usize>,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<()> {
        let Some(id) = input else {
            return Err(Error::UnknownTopic(format!(
                "{topic} (not a source topic of this topology)"
            )));
        };
        let partition = self.partition_for(id, key);
        let offset = self.bump_offset(id, partition);
        let raw = RawRecord {
            key,
            value,
            timestamp,
            offset,
            headers,
        };
        self.enqueue(id, partition, raw)?;
        self.capture_outputs()?;
        self.run_until_idle()
    }

    fn bump_offset(&mut self, topic: usize, partition: i32) -> i64 {
        let offsets = &mut self.topic_mut(topic).next_offset;
        let p = usize::try_from(partition).unwrap_or(0);
        if offsets.len() <= p {
            offsets.resize(p + 1, 0);
        }
        let offset = offsets[p];
        offsets[p] += 1;
        offset
    }

    /// Processes every queued record, one at a time, task by task: after each record, the
    /// task's stream-time punctuators run, it commits, and its outputs are captured and fed
    /// back where the topology reads them.
    fn run_until_idle(&mut self) -> Result<()> {
        loop {
            let mut progressed = false;
            for i in 0..self.tasks.len() {
                loop {
                    let task = &mut self.tasks[i].1;
                    if !task.process_one()? {
                        break;
                    }
                    task.punctuate_stream_time()?;
                    // The driver's commit, as far as it is observable: processors forward
                    // what their caches hold. Stores are not flushed to disk and no
                    // checkpoint is written: a driver never restarts from its state
                    // directory, and a disk flush per record would make stateful tests
                    // slow for nothing.
                    task.flush_caches()?;
                    progressed = true;
                    self.capture_outputs()?;
                }
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn capture_outputs(&mut self) -> Result<()> {
        let mut produced = std::mem::take(&mut self.spare);
        std::mem::swap(&mut produced, &mut self.collector.borrow_mut().produced);
        if produced.is_empty() {
            self.spare = produced;
            return Ok(());
        }
        let mut result = Ok(());
        let mut records = produced.drain(..);
        for rec in records.by_ref() {
            self.topic_mut(rec.topic).produced = true;
            if let Some(log) = &mut self.log {
                log.push(ProducedRecord {
                    topic: self.collector.borrow().topics.name(rec.topic).to_string(),
                    partition: rec.partition,
                    key: rec.key.clone(),
                    value: rec.value.clone(),
                    timestamp: rec.timestamp,
                    headers: rec.headers.clone(),
                });
            }
            if self.is_input(rec.topic) {
                let offset = self.bump_offset(rec.topic, rec.partition);
                if self.wait_if_retried(&rec, offset) {
                    self.topics[rec.topic].outputs.push_back(rec);
                    continue;
                }
                let raw = RawRecord {
                    key: rec.key.as_deref(),
                    value: rec.value.as_deref(),
                    timestamp: rec.timestamp,
                    offset,
                    headers: rec.headers.clone(),
                };
                if let Err(e) = self.enqueue(rec.topic, rec.partition, raw) {
                    result = Err(e);
                    break;
                }
            }
            self.topics[rec.topic].outputs.push_back(rec);
        }
        drop(records);
        self.spare = produced;
        result
    }

    pub(crate) fn take_output(&mut self, topic: usize) -> Option<Output> {
        self.topics.get_mut(topic)?.outputs.pop_front()
    }

    pub(crate) fn output_len(&self, topic: usize) -> usize {
        self.topics.get(topic).map_or(0, |t| t.outputs.len())
    }

    fn produced_topic_names(&self) -> Vec<String> {
        let c = self.collector.borrow();
        let mut v: Vec<String> = self
            .topics
            .iter()
            .enumerate()
            .filter(|(_, t)| t.produced)
            .map(|(id, _)| c.topics.name(id).to_string())
            .collect();
        v.sort();
        v
    }
}
