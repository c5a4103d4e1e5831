//! The context a processor sees: forwarding, time, punctuation, stores.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::config::StreamsConfig;
use crate::context::{PunctuationType, PunctuatorId, TaskContext};
use crate::error::{Error, Result};
use crate::record::{Record, RecordMetadata};
use crate::task_id::TaskId;

/// The typed input of a node: what a parent forwards into.
pub(crate) trait RecordSink<K, V> {
    fn process(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()>;
}

/// A child of a node, shared because a node may have several parents (merge).
pub(crate) struct Child<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) sink: Rc<RefCell<dyn RecordSink<K, V>>>,
}

impl<K, V> Clone for Child<K, V> {
    fn clone(&self) -> Self {
        Child {
            name: Arc::clone(&self.name),
            sink: Rc::clone(&self.sink),
        }
    }
}

/// Sends `record` to every child in order, cloning it for all but the last.
pub(crate) fn forward_all<K: Clone, V: Clone>(
    children: &[Child<K, V>],
    record: Record<K, V>,
    task: &mut TaskContext,
) -> Result<()> {
    let Some((last, rest)) = children.split_last() else {
        return Ok(());
    };
    for child in rest {
        child.sink.borrow_mut().process(record.clone(), task)?;
    }
    last.sink.borrow_mut().process(record, task)
}

/// What a [`Processor`](super::Processor) uses to forward records and reach its task.
///
/// A context lives for one call (`init`, `process`, `punctuate`, `flush`); it borrows the
/// node's children and the task, so forwarding is a direct call into the child node.
pub struct ProcessorContext<'a, K, V> {
    pub(crate) children: &'a [Child<K, V>],
    pub(crate) task: &'a mut TaskContext,
    pub(crate) node: usize,
}

impl<K: Clone, V: Clone> ProcessorContext<'_, K, V> {
    /// Forwards a record to every child of this node, in the order the children were added.
    ///
    /// # Errors
    ///
    /// The first error a downstream node returns.
    pub fn forward(&mut self, record: Record<K, V>) -> Result<()> {
        forward_all(self.children, record, self.task)
    }

    /// Forwards a record to the child with the given name only.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] when this node has no child of that name, or the child's error.
    pub fn forward_to(&mut self, child: &str, record: Record<K, V>) -> Result<()> {
        let Some(c) = self.children.iter().find(|c| &*c.name == child) else {
            return Err(Error::Topology(format!(
                "node '{}' has no child named '{child}'",
                self.task.node_name(self.node)
            )));
        };
        c.sink.borrow_mut().process(record, self.task)
    }
}

impl<K, V> ProcessorContext<'_, K, V> {
    /// The names of this node's children, in forwarding order.
    pub fn child_names(&self) -> impl Iterator<Item = &str> {
        self.children.iter().map(|c| &*c.name)
    }

    /// Topic, partition and offset of the input record being processed; `None` during a
    /// wall-clock punctuation.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.task.metadata.as_ref()
    }

    /// The task's stream time: the largest timestamp it has processed, or -1 before the first record.
    pub fn stream_time(&self) -> i64 {
        self.task.stream_time
    }

    /// The current wall-clock time in milliseconds (the mocked clock in the test driver).
    pub fn wall_clock_time(&self) -> i64 {
        self.task.wall_clock
    }

    /// The application's configuration (Kafka Streams' `appConfigs`).
    pub fn app_config(&self) -> &StreamsConfig {
        &self.task.config
    }

    /// The id of the task running this node.
    pub fn task_id(&self) -> TaskId {
        self.task.task_id
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.task.application_id
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        self.task.node_name(self.node)
    }

    /// Schedules [`Processor::punctuate`](super::Processor::punctuate) every `interval`.
    ///
    /// Stream-time punctuators are aligned to 0 and fire as soon as the task has data, then
    /// whenever stream time reaches the next multiple of the interval; wall-clock punctuators
    /// first fire one interval from now. A jump over several intervals fires once: missed
    /// intervals are skipped, not replayed.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] for an interval below one millisecond.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<PunctuatorId> {
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if ms < 1 {
            return Err(Error::IllegalState(format!(
                "punctuation interval must be at least 1 ms, got {interval:?}"
            )));
        }
        Ok(self.task.schedule(self.node, ms, kind))
    }

    /// Cancels a punctuator scheduled by this node.
    pub fn cancel(&mut self, id: PunctuatorId) {
        self.task.cancel(id);
    }

    /// The state store of the given name and type, which must be connected to this node,
    /// or be a global store: every node reads global stores without a connection (through
    /// a read-only view; only the global store's own processor writes it).
    ///
    /// Look stores up once, in `init`, and keep the handle.
    ///
    /// # Errors
    ///
    /// [`Error::StoreNotAvailable`] when the node is not connected to such a store, there
    /// is no such global store, or the store has another type.
    pub fn state_store<S: 'static>(&self, name: &str) -> Result<Rc<RefCell<S>>> {
        let any: Rc<dyn Any> = self.task.store_for(self.node, name)?;
        any.downcast::<RefCell<S>>()
            .map_err(|_| Error::StoreNotAvailable(name.to_owned()))
    }

    /// The state store of the given name without its type, for code that decides the type
    /// itself (value getters of derived tables, say). Prefer [`state_store`](Self::state_store).
    ///
    /// # Errors
    ///
    /// [`Error::StoreNotAvailable`] when the node is not connected to such a store.
    pub fn state_store_any(&self, name: &str) -> Result<Rc<dyn Any>> {
        self.task.store_for(self.node, name)
    }

    /// Asks the task to commit as soon as the current record is done.
    pub fn request_commit(&mut self) {
        self.task.commit_requested = true;
    }

    /// Counts a record this node dropped on purpose (a late record, a null key, ...).
    /// The count appears in the task's metrics as dropped records.
    pub fn record_dropped(&mut self) {
        self.task.metrics.dropped += 1;
    }

    /// The shared clock cell the task's stores read the current record timestamp from.
    pub fn record_timestamp(&self) -> i64 {
        self.task.record_timestamp.get()
    }
}
