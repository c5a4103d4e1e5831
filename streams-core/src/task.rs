//! Tasks: one instance of a sub-topology for one input partition.
//!
//! A task owns its nodes, its per-partition record queues and its stores. It processes one
//! record at a time, always taking the next record from the partition whose head record has
//! the smallest timestamp, as Kafka Streams' `PartitionGroup` does.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::config::{ErrorHandling, StreamsConfig};
use crate::error::{Error, Result};
use crate::processor::{PunctuationQueue, PunctuationType, PunctuatorId};
use crate::record::{Headers, Record, RecordMetadata};
use crate::serde::Serde;
use crate::state::{ChangelogReader, ChangelogWriter, RestoreSummary, StateManager};
use crate::task_id::TaskId;
use crate::topology::{BuildContext, BuiltNode, NodeKind, NodeLifecycle, SourceInput, Topology};

/// A consumed record before deserialization.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// The key bytes, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value bytes, `None` for a null value.
    pub value: Option<&'a [u8]>,
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's offset in its partition.
    pub offset: i64,
    /// The record's headers.
    pub headers: Headers,
}

/// Where a task's output records go: the producer in the Kafka runtime, a capture buffer in
/// the test driver.
pub trait RecordCollector {
    /// Sends one record. `partition` is `None` when the record has a null key and no
    /// partitioner chose one.
    ///
    /// # Errors
    ///
    /// The send could not be started (an unknown topic, a full buffer that did not drain).
    fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()>;

    /// The number of partitions of `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTopic`] when the topic does not exist.
    fn partition_count(&mut self, topic: &str) -> Result<i32>;
}

/// Counters of one task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Records taken from the input queues and processed.
    pub processed: u64,
    /// Records dropped on purpose: late, null keys where not allowed, bad timestamps,
    /// deserialization or processing failures under the continue handler.
    pub dropped: u64,
    /// Records sent to a dead-letter topic.
    pub dead_lettered: u64,
    /// Punctuations run.
    pub punctuations: u64,
}

/// The error handling a task applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TaskHandlers {
    /// For records that cannot be deserialized.
    pub(crate) deserialization: ErrorHandling,
    /// For processor failures.
    pub(crate) processing: ErrorHandling,
    /// For output records that cannot be serialized.
    pub(crate) production: ErrorHandling,
}

/// The per-task state every node of the task shares while processing.
pub(crate) struct TaskContext {
    pub(crate) task_id: TaskId,
    pub(crate) application_id: Arc<str>,
    pub(crate) metadata: Option<RecordMetadata>,
    pub(crate) stream_time: i64,
    pub(crate) wall_clock: i64,
    pub(crate) record_timestamp: Rc<Cell<i64>>,
    pub(crate) commit_requested: bool,
    pub(crate) metrics: TaskMetrics,
    pub(crate) config: Arc<StreamsConfig>,
    handlers: TaskHandlers,
    collector: Rc<RefCell<dyn RecordCollector>>,
    stores: HashMap<String, Rc<dyn Any>>,
    /// Views of the global stores, readable by every node without a connection.
    global_stores: HashMap<String, Rc<dyn Any>>,
    node_stores: Vec<Vec<String>>,
    node_names: Vec<Arc<str>>,
    stream_punctuation: PunctuationQueue,
    wall_punctuation: PunctuationQueue,
    next_punctuator: u64,
    /// The input record being processed, serialized again with its source serdes, kept
    /// only under the dead-letter processing handler.
    processing_input: Option<CapturedInput>,
}

/// The bytes of the record a source is processing, for the dead-letter topic when its
/// processing fails.
#[derive(Default)]
struct CapturedInput {
    key: Vec<u8>,
    key_null: bool,
    value: Vec<u8>,
    value_null: bool,
    timestamp: i64,
    offset: i64,
    headers: Headers,
}

impl TaskContext {
    /// Under the dead-letter processing handler, keeps the bytes of the record about to be
    /// processed: its key and value serialized again with the source's serdes (the buffers
    /// are reused), its timestamp, offset and headers.
    pub(crate) fn capture_input<K: 'static, V: 'static>(
        &mut self,
        topic: &str,
        key_serde: &dyn Serde<K>,
        value_serde: &dyn Serde<V>,
        record: &Record<K, V>,
        offset: i64,
    ) {
        let Some(c) = self.processing_input.as_mut() else {
            return;
        };
        c.key.clear();
        c.value.clear();
        // A serde that cannot write what it read leaves the field null in the dead letter.
        c.key_null = !key_serde
            .serialize(topic, &record.key, &mut c.key)
            .unwrap_or(false);
        c.value_null = !value_serde
            .serialize(topic, &record.value, &mut c.value)
            .unwrap_or(false);
        c.timestamp = record.timestamp;
        c.offset = offset;
        c.headers.clone_from(&record.headers);
    }

    pub(crate) fn node_name(&self, node: usize) -> &str {
        self.node_names.get(node).map_or("?", |n| n)
    }

    pub(crate) fn schedule(
        &mut self,
        node: usize,
        interval: i64,
        kind: PunctuationType,
    ) -> PunctuatorId {
        let id = self.next_punctuator;
        self.next_punctuator += 1;
        if kind.is_stream_time() {
            self.stream_punctuation.schedule(node, 0, interval, id)
        } else {
            let first = self.wall_clock.saturating_add(interval);
            self.wall_punctuation.schedule(node, first, interval, id)
        }
    }

    pub(crate) fn cancel(&mut self, id: PunctuatorId) {
        self.stream_punctuation.cancel(id);
        self.wall_punctuation.cancel(id);
    }

    /// The task's store named `name`, for queries from outside the topology.
    pub(crate) fn store_by_name(&self, name: &str) -> Option<&Rc<dyn Any>> {
        self.stores.get(name)
    }

    pub(crate) fn store_for(&self, node: usize, name: &str) -> Result<Rc<dyn Any>> {
        if let Some(global) = self.global_stores.get(name) {
            return Ok(Rc::clone(global));
        }
        let connected = self
            .node_stores
            .get(node)
            .is_some_and(|s| s.iter().any(|x| x == name));
        if !connected {
            return Err(Error::StoreNotAvailable(name.to_owned()));
        }
        self.stores
            .get(name)
            .cloned()
            .ok_or_else(|| Error::StoreNotAvailable(name.to_owned()))
    }

    /// Sets the metadata of the record about to be processed. The topic name is shared:
    /// it is cloned (a reference-count increment) only when it changes.
    pub(crate) fn begin_record(
        &mut self,
        topic: &Arc<str>,
        partition: i32,
        offset: i64,
        timestamp: i64,
    ) {
        match &mut self.metadata {
            Some(m) if Arc::ptr_eq(&m.topic, topic) => {
                m.partition = partition;
                m.offset = offset;
            }
            _ => {
                self.metadata = Some(RecordMetadata {
                    topic: Arc::clone(topic),
                    partition,
                    offset,
                });
            }
        }
        self.stream_time = self.stream_time.max(timestamp);
        self.record_timestamp.set(timestamp);
        self.metrics.processed += 1;
    }

    pub(crate) fn partition_count(&mut self, topic: &str) -> Result<i32> {
        self.collector.borrow_mut().partition_count(topic)
    }

    pub(crate) fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: i64,
        headers: &Headers,
    ) -> Result<()> {
        self.collector
            .borrow_mut()
            .send(topic, partition, key, value, timestamp, headers)
    }

    /// Applies the production handler to an output record that could not be serialized.
    pub(crate) fn handle_serialization_error(&mut self, error: Error) -> Result<()> {
        match self.handlers.production {
            ErrorHandling::Fail => Err(error),
            ErrorHandling::Continue | ErrorHandling::DeadLetter => {
                tracing::warn!(task = %self.task_id, error = %error, "skipping output record that could not be serialized");
                self.metrics.dropped += 1;
                Ok(())
            }
        }
    }

    /// Applies the deserialization handler to a record that could not be read.
    pub(crate) fn handle_deserialization_error(
        &mut self,
        topic: &str,
        partition: i32,
        raw: &RawRecord<'_>,
        error: Error,
    ) -> Result<()> {
        match self.handlers.deserialization {
            ErrorHandling::Fail => Err(error),
            ErrorHandling::Continue => {
                tracing::warn!(task = %self.task_id, topic, partition, offset = raw.offset, error = %error,
                    "skipping record that could not be deserialized");
                self.metrics.dropped += 1;
                Ok(())
            }
            ErrorHandling::DeadLetter => {
                let reason = error_chain(&error);
                self.dead_letter(topic, partition, raw, &reason)
            }
        }
    }

    /// Sends the original bytes of a failed record to `<topic>.dead-letter`, on the same
    /// partition number where that topic has it, with headers saying what failed and when.
    pub(crate) fn dead_letter(
        &mut self,
        topic: &str,
        partition: i32,
        raw: &RawRecord<'_>,
        reason: &str,
    ) -> Result<()> {
        let dlq = format!("{topic}.dead-letter");
        let failed_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(self.wall_clock)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut headers = raw.headers.clone();
        headers
            .add("dead-letter-reason", Some(reason.as_bytes().to_vec()))
            .add("original-topic", Some(topic.as_bytes().to_vec()))
            .add(
                "original-partition",
                Some(partition.to_string().into_bytes()),
            )
            .add("original-offset", Some(raw.offset.to_string().into_bytes()))
            .add("failed-at", Some(failed_at.into_bytes()));
        let n = self.partition_count(&dlq)?;
        let target = if partition < n {
            partition
        } else {
            partition % n.max(1)
        };
        tracing::warn!(task = %self.task_id, topic, partition, offset = raw.offset, reason,
            "sending record to dead-letter topic {dlq}");
        self.send(
            &dlq,
            Some(target),
            raw.key,
            raw.value,
            raw.timestamp,
            &headers,
        )?;
        self.metrics.dead_lettered += 1;
        Ok(())
    }
}

/// The error and its causes, joined, for a dead-letter header.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut s = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

struct QueueRef {
    topic: Arc<str>,
    partition: i32,
    source: Rc<RefCell<dyn SourceInput>>,
    local: usize,
    /// The offset after the last record taken from this queue: what to commit.
    next_offset: Option<i64>,
    /// The offset after the last record skipped on arrival (not deserializable, or an
    /// invalid timestamp). Committed once every record before it is processed, as Kafka
    /// Streams commits the consumer position past skipped records (KAFKA-6502): otherwise a
    /// partition ending in skipped records would never be committed to its end.
    skipped_next: Option<i64>,
}

/// Sends a task's changelog records through its record collector, on the task's partition.
struct CollectorChangelog(Rc<RefCell<dyn RecordCollector>>);

impl ChangelogWriter for CollectorChangelog {
    fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()> {
        self.0.borrow_mut().send(
            topic,
            Some(partition),
            Some(key),
            value,
            timestamp,
            &Headers::new(),
        )
    }
}

/// What a task is made of, besides the topology.
pub(crate) struct TaskSpec {
    pub(crate) id: TaskId,
    pub(crate) application_id: Arc<str>,
    /// The sub-topologies this task runs (one in the runtime; all of them in the
    /// single-partition test driver, as Kafka's driver runs the whole topology as task 0_0).
    pub(crate) subtopologies: Vec<usize>,
    /// The input partition of each source topic (full names).
    pub(crate) partition: i32,
    pub(crate) handlers: TaskHandlers,
    pub(crate) collector: Rc<RefCell<dyn RecordCollector>>,
    pub(crate) wall_clock: i64,
    /// `<state.dir>/<application.id>`; each task keeps its stores in `<taskId>/` below it.
    pub(crate) state_dir: Option<PathBuf>,
    /// The task's share of `statestore.cache.max.bytes`.
    pub(crate) cache_max_bytes: usize,
    /// Under exactly-once, checkpoints are not trusted after a crash.
    pub(crate) exactly_once: bool,
    /// The application's configuration, for processors that read it.
    pub(crate) config: Arc<StreamsConfig>,
    /// Views of the global stores: read-only for stream tasks, writable for the global
    /// task that keeps them up to date.
    pub(crate) global_views: HashMap<String, Rc<dyn Any>>,
}

/// One instance of one or more sub-topologies over one partition of their inputs.
pub(crate) struct Task {
    pub(crate) id: TaskId,
    pub(crate) ctx: TaskContext,
    queues: Vec<QueueRef>,
    queue_by_topic: HashMap<Arc<str>, usize>,
    nodes: Vec<Option<Rc<RefCell<dyn NodeLifecycle>>>>,
    order: Vec<usize>,
    /// The nodes of `order` whose flush may do something.
    flushed: Vec<usize>,
    initialized: bool,
    state: Option<StateManager>,
}

impl Task {
    pub(crate) fn new(topology: &Topology, spec: TaskSpec) -> Result<Task> {
        let groups = topology.subtopologies();
        let mut members: Vec<usize> = Vec::new();
        for &g in &spec.subtopologies {
            let Some(group) = groups.get(g) else {
                return Err(Error::Topology(format!("sub-topology {g} does not exist")));
            };
            members.extend(group.iter().copied());
        }
        members.sort_unstable();
        let app = Arc::clone(&spec.application_id);
        let resolve = |t: &str| topology.resolve_topic(&app, t);
        let n = topology.nodes.len();
        let mut built: Vec<Option<BuiltNode>> = (0..n).map(|_| None).collect();
        // Nodes are added parents-first, so building in reverse index order builds every
        // child before its parents need its input handle.
        for &i in members.iter().rev() {
            let def = &topology.nodes[i];
            let mut children = Vec::with_capacity(def.children.len());
            for &c in &def.children {
                let handle = built[c]
                    .as_ref()
                    .and_then(|b| b.input.clone())
                    .ok_or_else(|| {
                        Error::Topology(format!("child of '{}' was not built", def.name))
                    })?;
                children.push((Arc::clone(&topology.nodes[c].name), handle));
            }
            let node = def.factory.build(BuildContext {
                name: Arc::clone(&def.name),
                index: i,
                children,
                resolve_topic: &resolve,
            })?;
            built[i] = Some(node);
        }
        let mut queues = Vec::new();
        let mut queue_by_topic = HashMap::new();
        for &i in &members {
            if let (NodeKind::Source { topics }, Some(b)) = (&topology.nodes[i].kind, &built[i])
                && let Some(src) = &b.source
            {
                for t in topics {
                    let full: Arc<str> = resolve(t).into();
                    let local = src
                        .borrow_mut()
                        .add_queue(Arc::clone(&full), spec.partition);
                    queue_by_topic.insert(Arc::clone(&full), queues.len());
                    queues.push(QueueRef {
                        topic: full,
                        partition: spec.partition,
                        source: Rc::clone(src),
                        local,
                        next_offset: None,
                        skipped_next: None,
                    });
                }
            }
        }
        let nodes: Vec<Option<Rc<RefCell<dyn NodeLifecycle>>>> =
            built.into_iter().map(|b| b.map(|b| b.lifecycle)).collect();
        let flushed = members
            .iter()
            .copied()
            .filter(|&i| nodes[i].as_ref().is_some_and(|n| n.borrow().flushes()))
            .collect();
        let builders = topology.store_builders_of(&members)?;
        let state = if builders.is_empty() {
            None
        } else {
            let Some(root) = &spec.state_dir else {
                return Err(Error::IllegalState(format!(
                    "task {} has stores but no state directory",
                    spec.id
                )));
            };
            let writer: Rc<RefCell<dyn ChangelogWriter>> =
                Rc::new(RefCell::new(CollectorChangelog(Rc::clone(&spec.collector))));
            Some(
                StateManager::new(
                    spec.id,
                    spec.application_id.to_string(),
                    root.join(spec.id.to_string()),
                    builders,
                    writer,
                    spec.partition,
                    spec.cache_max_bytes,
                )
                .with_exactly_once(spec.exactly_once),
            )
        };
        let record_timestamp = state
            .as_ref()
            .map_or_else(|| Rc::new(Cell::new(-1)), StateManager::timestamp_source);
        let ctx = TaskContext {
            task_id: spec.id,
            application_id: spec.application_id,
            metadata: None,
            stream_time: -1,
            wall_clock: spec.wall_clock,
            record_timestamp,
            commit_requested: false,
            metrics: TaskMetrics::default(),
            config: Arc::clone(&spec.config),
            handlers: spec.handlers,
            processing_input: (spec.handlers.processing == ErrorHandling::DeadLetter)
                .then(CapturedInput::default),
            collector: spec.collector,
            stores: HashMap::new(),
            global_stores: spec.global_views,
            node_stores: topology.nodes.iter().map(|d| d.stores.clone()).collect(),
            node_names: topology.nodes.iter().map(|d| Arc::clone(&d.name)).collect(),
            stream_punctuation: PunctuationQueue::default(),
            wall_punctuation: PunctuationQueue::default(),
            next_punctuator: 0,
        };
        Ok(Task {
            id: spec.id,
            ctx,
            queues,
            queue_by_topic,
            nodes,
            order: members,
            flushed,
            initialized: false,
            state,
        })
    }

    /// Builds the task's stores and restores them from their changelogs with `reader`, then
    /// initializes the processors. Processing may start once this returns.
    pub(crate) fn init_state(
        &mut self,
        reader: &mut dyn ChangelogReader,
    ) -> Result<RestoreSummary> {
        self.begin_restore()?;
        while !self.restore_step(reader, usize::MAX)? {}
        self.finish_restore()
    }

    /// Builds the task's stores; [`restore_step`](Self::restore_step) then brings them up
    /// to date and [`finish_restore`](Self::finish_restore) makes the task ready to process.
    /// Records may be added in between; they wait in the task's queues.
    pub(crate) fn begin_restore(&mut self) -> Result<()> {
        if self.initialized {
            return Err(Error::IllegalState(format!(
                "task {} is already initialized",
                self.id
            )));
        }
        if let Some(state) = &mut self.state {
            state.register()?;
        }
        Ok(())
    }

    /// Restores up to about `max_records` changelog records; returns whether the stores
    /// are up to date.
    pub(crate) fn restore_step(
        &mut self,
        reader: &mut dyn ChangelogReader,
        max_records: usize,
    ) -> Result<bool> {
        match &mut self.state {
            Some(state) => state.restore_step(reader, max_records),
            None => Ok(true),
        }
    }

    /// Ends the restore and initializes the processors.
    pub(crate) fn finish_restore(&mut self) -> Result<RestoreSummary> {
        let mut summary = RestoreSummary {
            stores: Vec::new(),
            total_restored: 0,
            elapsed: std::time::Duration::ZERO,
        };
        if let Some(state) = &mut self.state {
            summary = state.finish_restore()?;
            for name in state.store_names() {
                if let Some(store) = state.store(name) {
                    self.ctx.stores.insert(name.to_owned(), store);
                }
            }
        }
        for &i in &self.order {
            if let Some(n) = &self.nodes[i] {
                n.borrow_mut().init(&mut self.ctx)?;
            }
        }
        self.initialized = true;
        Ok(summary)
    }

    /// A store of this task (or its view of a global store), for the test driver and
    /// interactive queries.
    pub(crate) fn store(&self, name: &str) -> Option<Rc<dyn Any>> {
        self.ctx
            .stores
            .get(name)
            .or_else(|| self.ctx.global_stores.get(name))
            .cloned()
    }

    /// The changelog partitions of this task's logged stores.
    pub(crate) fn changelog_partitions(&self) -> Vec<(String, i32)> {
        self.state
            .as_ref()
            .map(StateManager::changelog_partitions)
            .unwrap_or_default()
    }

    /// For each input partition, the offset to commit: one past the last record processed,
    /// or one past the last record skipped on arrival when no queued record is waiting.
    pub(crate) fn consumed_offsets(&self) -> Vec<(Arc<str>, i32, i64)> {
        self.queues
            .iter()
            .filter_map(|q| {
                let drained = q.source.borrow().head_timestamp(q.local).is_none();
                let skipped = q.skipped_next.filter(|_| drained);
                q.next_offset
                    .max(skipped)
                    .map(|o| (Arc::clone(&q.topic), q.partition, o))
            })
            .collect()
    }

    /// The queue of the task's partition of source topic `topic` (full name), for
    /// [`add_record_at`](Self::add_record_at): callers look it up once, not per record.
    pub(crate) fn queue_index(&self, topic: &str) -> Option<usize> {
        self.queue_by_topic.get(topic).copied()
    }

    /// Deserializes and queues one input record into the queue
    /// [`queue_index`](Self::queue_index) returned. Records that fail and are skipped by
    /// the handler are not queued.
    pub(crate) fn add_record_at(&mut self, queue: usize, raw: RawRecord<'_>) -> Result<()> {
        let id = self.id;
        let Some(q) = self.queues.get_mut(queue) else {
            return Err(Error::IllegalState(format!(
                "task {id} has no input queue {queue}"
            )));
        };
        let offset = raw.offset;
        let queued = q.source.borrow_mut().enqueue(q.local, raw, &mut self.ctx)?;
        if !queued {
            q.skipped_next = Some(offset + 1);
        }
        Ok(())
    }

    /// Deserializes and queues one record of any partition of a source topic: what the
    /// global task, which reads every partition of its topics, does. The partition's queue
    /// is made on its first record.
    pub(crate) fn add_record_of_partition(
        &mut self,
        topic: &str,
        partition: i32,
        raw: RawRecord<'_>,
    ) -> Result<()> {
        let q = match self
            .queues
            .iter()
            .position(|q| &*q.topic == topic && q.partition == partition)
        {
            Some(q) => q,
            None => {
                let Some(&any) = self.queue_by_topic.get(topic) else {
                    return Err(Error::UnknownTopic(topic.to_owned()));
                };
                let source = Rc::clone(&self.queues[any].source);
                let full = Arc::clone(&self.queues[any].topic);
                let local = source.borrow_mut().add_queue(Arc::clone(&full), partition);
                self.queues.push(QueueRef {
                    topic: full,
                    partition,
                    source,
                    local,
                    next_offset: None,
                    skipped_next: None,
                });
                self.queues.len() - 1
            }
        };
        let q = &self.queues[q];
        q.source.borrow_mut().enqueue(q.local, raw, &mut self.ctx)?;
        Ok(())
    }

    /// Processes the record with the smallest head timestamp across partitions. Returns
    /// whether a record was processed.
    pub(crate) fn process_one(&mut self) -> Result<bool> {
        let mut best: Option<(i64, usize)> = None;
        for (i, q) in self.queues.iter().enumerate() {
            if let Some(ts) = q.source.borrow().head_timestamp(q.local)
                && best.is_none_or(|(b, _)| ts < b)
            {
                best = Some((ts, i));
            }
        }
        let Some((_, i)) = best else {
            return Ok(false);
        };
        let q = &mut self.queues[i];
        let result = q.source.borrow_mut().process_head(q.local, &mut self.ctx);
        let result = match result {
            Ok(offset) => {
                if let Some(o) = offset {
                    q.next_offset = Some(o + 1);
                }
                Ok(())
            }
            Err((offset, e)) => {
                q.next_offset = Some(offset + 1);
                Err(e)
            }
        };
        if let Err(e) = result {
            match self.ctx.handlers.processing {
                ErrorHandling::Fail => return Err(e),
                ErrorHandling::Continue => {
                    tracing::warn!(task = %self.id, topic = %q.topic, partition = q.partition, error = %e,
                        "skipping record whose processing failed");
                    self.ctx.metrics.dropped += 1;
                }
                ErrorHandling::DeadLetter => {
                    let reason = error_chain(&e);
                    let topic = Arc::clone(&q.topic);
                    let partition = q.partition;
                    let captured = self.ctx.processing_input.take().unwrap_or_default();
                    let raw = RawRecord {
                        key: (!captured.key_null).then_some(captured.key.as_slice()),
                        value: (!captured.value_null).then_some(captured.value.as_slice()),
                        timestamp: captured.timestamp,
                        offset: captured.offset,
                        headers: captured.headers.clone(),
                    };
                    let sent = self.ctx.dead_letter(&topic, partition, &raw, &reason);
                    self.ctx.processing_input = Some(captured);
                    sent?;
                }
            }
        }
        Ok(true)
    }

    /// Runs the stream-time punctuators that are due. Returns whether any ran.
    pub(crate) fn punctuate_stream_time(&mut self) -> Result<bool> {
        let now = self.ctx.stream_time;
        if now < 0 {
            return Ok(false);
        }
        self.punctuate(now, true)
    }

    /// Advances the task's wall clock and runs the wall-clock punctuators that are due.
    pub(crate) fn punctuate_wall_clock(&mut self, now: i64) -> Result<bool> {
        self.ctx.wall_clock = now;
        self.punctuate(now, false)
    }

    fn punctuate(&mut self, now: i64, stream: bool) -> Result<bool> {
        let mut any = false;
        loop {
            let due = if stream {
                self.ctx.stream_punctuation.pop_due(now)
            } else {
                self.ctx.wall_punctuation.pop_due(now)
            };
            let Some((node, id)) = due else { break };
            let Some(n) = self.nodes.get(node).and_then(Option::as_ref) else {
                continue;
            };
            self.ctx.metadata = None;
            self.ctx.record_timestamp.set(now);
            self.ctx.metrics.punctuations += 1;
            n.borrow_mut().punctuate(id, now, &mut self.ctx)?;
            any = true;
        }
        Ok(any)
    }

    /// The first step of a commit: every processor forwards what it holds in caches, then
    /// the stores empty their other caches (no disk flush: see
    /// [`post_commit`](Task::post_commit)). The caller then makes sure the output is
    /// acknowledged and calls `post_commit`.
    pub(crate) fn prepare_commit(&mut self) -> Result<()> {
        self.flush_caches()?;
        if let Some(state) = &mut self.state {
            state.commit()?;
        }
        Ok(())
    }

    /// Lets every processor forward what it holds in caches, without flushing the stores
    /// to disk: what the test driver does after each record, where nothing is restarted
    /// from the files.
    pub(crate) fn flush_caches(&mut self) -> Result<()> {
        for &i in &self.flushed {
            if let Some(n) = &self.nodes[i] {
                n.borrow_mut().flush(&mut self.ctx)?;
            }
        }
        self.ctx.commit_requested = false;
        Ok(())
    }

    /// The last step of a commit: records the changelog offsets the collector has had
    /// acknowledged and, once they are far enough past the checkpoint file, flushes the
    /// stores and rewrites it, as Kafka Streams does
    /// ([`StateManager::maybe_checkpoint`]). A clean close always does both.
    pub(crate) fn post_commit(&mut self, written: &HashMap<(String, i32), i64>) -> Result<()> {
        if let Some(state) = &mut self.state {
            state.maybe_checkpoint(written)?;
        }
        Ok(())
    }

    /// Whether a processor asked for a commit since the last one.
    pub(crate) fn commit_requested(&self) -> bool {
        self.ctx.commit_requested
    }

    /// Closes the processors, then the stores. A clean close checkpoints; a dirty one (after
    /// an error, or when the task is lost) leaves the stores to be restored next time.
    pub(crate) fn close(&mut self, clean: bool) -> Result<()> {
        let mut first_err = None;
        // Processors of a task still restoring were never initialized.
        let order: &[usize] = if self.initialized { &self.order } else { &[] };
        for &i in order {
            if let Some(n) = &self.nodes[i]
                && let Err(e) = n.borrow_mut().close()
            {
                tracing::warn!(task = %self.id, error = %e, "processor failed to close");
                first_err.get_or_insert(e);
            }
        }
        if let Some(state) = self.state.take() {
            let r = if clean {
                state.close()
            } else {
                state.close_dirty()
            };
            if let Err(e) = r {
                tracing::warn!(task = %self.id, error = %e, "state stores failed to close");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    pub(crate) fn metrics(&self) -> TaskMetrics {
        self.ctx.metrics
    }

    pub(crate) fn stream_time(&self) -> i64 {
        self.ctx.stream_time
    }
}
