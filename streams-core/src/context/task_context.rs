//! The per-task state every node of a task shares while processing.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::handlers::{CapturedInput, TaskHandlers};
use super::metrics::TaskMetrics;
use super::punctuation::{PunctuationQueue, PunctuationType, PunctuatorId};
use super::record::RecordCollector;
use crate::config::{ErrorHandling, StreamsConfig};
use crate::error::{Error, Result};
use crate::record::{Headers, RecordMetadata};
use crate::retry::RetryChains;
use crate::task_id::TaskId;

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
    pub(super) handlers: TaskHandlers,
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
    /// only under the dead-letter and retry processing handlers.
    pub(super) processing_input: Option<CapturedInput>,
    /// The retry chains of the source topics, under the retry processing handler.
    pub(super) retry: Option<Arc<RetryChains>>,
}

impl TaskContext {
    /// The context of task `task_id` before its first record: no stores (they are added
    /// once restored), no nodes, no punctuators. `record_timestamp` is the cell the task's
    /// stores read the current record's timestamp from.
    pub(crate) fn new(
        task_id: TaskId,
        application_id: Arc<str>,
        config: Arc<StreamsConfig>,
        handlers: TaskHandlers,
        collector: Rc<RefCell<dyn RecordCollector>>,
        wall_clock: i64,
        record_timestamp: Rc<Cell<i64>>,
    ) -> Self {
        TaskContext {
            task_id,
            application_id,
            metadata: None,
            stream_time: -1,
            wall_clock,
            record_timestamp,
            commit_requested: false,
            metrics: TaskMetrics::default(),
            config,
            handlers,
            processing_input: matches!(
                handlers.processing,
                ErrorHandling::DeadLetter | ErrorHandling::Retry
            )
            .then(CapturedInput::default),
            retry: None,
            collector,
            stores: HashMap::new(),
            global_stores: HashMap::new(),
            node_stores: Vec::new(),
            node_names: Vec::new(),
            stream_punctuation: PunctuationQueue::default(),
            wall_punctuation: PunctuationQueue::default(),
            next_punctuator: 0,
        }
    }

    /// Sets the name of each node of the topology and the stores connected to it, by node
    /// index.
    pub(crate) fn with_nodes(mut self, names: Vec<Arc<str>>, stores: Vec<Vec<String>>) -> Self {
        self.node_names = names;
        self.node_stores = stores;
        self
    }

    /// Sets the retry chains the retry processing handler sends failed records along.
    pub(crate) fn with_retry(mut self, retry: Option<Arc<RetryChains>>) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the task's views of the global stores.
    pub(crate) fn with_global_stores(mut self, views: HashMap<String, Rc<dyn Any>>) -> Self {
        self.global_stores = views;
        self
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

    /// Takes the next stream-time punctuator (wall-clock punctuator when `stream` is false)
    /// due at `now`, with the node that scheduled it, and reschedules it.
    pub(crate) fn pop_due_punctuator(
        &mut self,
        now: i64,
        stream: bool,
    ) -> Option<(usize, PunctuatorId)> {
        if stream {
            self.stream_punctuation.pop_due(now)
        } else {
            self.wall_punctuation.pop_due(now)
        }
    }

    /// Makes a store of the task available to the nodes connected to it.
    pub(crate) fn add_store(&mut self, name: String, store: Rc<dyn Any>) {
        self.stores.insert(name, store);
    }

    /// The task's store named `name`, for queries from outside the topology.
    pub(crate) fn store_by_name(&self, name: &str) -> Option<&Rc<dyn Any>> {
        self.stores.get(name)
    }

    /// The task's store named `name` or, when it has none, its view of the global store of
    /// that name.
    pub(crate) fn store_or_global_view(&self, name: &str) -> Option<&Rc<dyn Any>> {
        self.stores
            .get(name)
            .or_else(|| self.global_stores.get(name))
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
}
