//! What a topology holds per node, and what a task gets when it builds its instance of one.

use std::any::{Any, TypeId};
use std::rc::Rc;
use std::sync::Arc;

use crate::context::{RawRecord, TaskContext};
use crate::error::{Error, Result};
use crate::processor::PunctuatorId;

/// The key and value types flowing on an edge, kept to check connections and to name types
/// in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Types {
    key: TypeId,
    value: TypeId,
    key_name: &'static str,
    value_name: &'static str,
}

impl Types {
    pub(crate) fn of<K: 'static, V: 'static>() -> Self {
        Types {
            key: TypeId::of::<K>(),
            value: TypeId::of::<V>(),
            key_name: std::any::type_name::<K>(),
            value_name: std::any::type_name::<V>(),
        }
    }

    pub(super) fn same(&self, other: &Types) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl std::fmt::Display for Types {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.key_name, self.value_name)
    }
}

/// What kind of node, for descriptions and task wiring.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Source { topics: Vec<String> },
    Processor,
    Sink { topic: SinkTopic },
}

/// Where a sink writes.
#[derive(Debug, Clone)]
pub(crate) enum SinkTopic {
    Fixed(String),
    Extractor(String),
}

/// What a node factory gets to build one task's instance of its node.
pub(crate) struct BuildContext<'a> {
    pub(crate) name: Arc<str>,
    pub(crate) index: usize,
    /// The children's typed input handles, in child order: `Rc<RefCell<dyn RecordSink<K, V>>>`
    /// behind `dyn Any`, downcast once here.
    pub(crate) children: Vec<(Arc<str>, Rc<dyn Any>)>,
    pub(crate) resolve_topic: &'a dyn Fn(&str) -> String,
}

/// One task's instance of a node.
pub(crate) struct BuiltNode {
    pub(crate) input: Option<Rc<dyn Any>>,
    pub(crate) lifecycle: Rc<std::cell::RefCell<dyn NodeLifecycle>>,
    pub(crate) source: Option<Rc<std::cell::RefCell<dyn SourceInput>>>,
}

/// Builds a node's per-task instance. Held by the topology, shared by all tasks and threads.
pub(crate) trait NodeFactory: Send + Sync {
    fn build(&self, ctx: BuildContext<'_>) -> Result<BuiltNode>;
}

/// A node as the topology holds it; every task builds its own instance with `factory`.
pub(crate) struct NodeDef {
    pub(crate) name: Arc<str>,
    pub(crate) kind: NodeKind,
    pub(crate) parents: Vec<usize>,
    pub(crate) children: Vec<usize>,
    pub(crate) stores: Vec<String>,
    pub(crate) factory: Box<dyn NodeFactory>,
    /// The types the node forwards; `None` for a sink.
    pub(super) output: Option<Types>,
}

/// The untyped side of a node: what the task calls outside the record flow.
pub(crate) trait NodeLifecycle {
    fn init(&mut self, task: &mut TaskContext) -> Result<()>;
    fn punctuate(&mut self, id: PunctuatorId, timestamp: i64, task: &mut TaskContext)
    -> Result<()>;
    fn flush(&mut self, task: &mut TaskContext) -> Result<()>;
    fn close(&mut self) -> Result<()>;
    /// Whether [`flush`](Self::flush) may do anything; the task skips nodes that say no
    /// when it flushes (after every record, in the test driver).
    fn flushes(&self) -> bool {
        true
    }
}

/// A source node's per-partition queues of deserialized records.
pub(crate) trait SourceInput {
    fn add_queue(&mut self, topic: Arc<str>, partition: i32) -> usize;
    /// Deserializes and time-stamps a raw record and queues it. Returns whether it was queued.
    fn enqueue(&mut self, queue: usize, raw: RawRecord<'_>, task: &mut TaskContext)
    -> Result<bool>;
    fn head_timestamp(&self, queue: usize) -> Option<i64>;
    /// Processes the head record of a queue and returns its offset; does nothing when the
    /// queue is empty. A failure comes with the offset of the record that failed.
    fn process_head(
        &mut self,
        queue: usize,
        task: &mut TaskContext,
    ) -> Result<Option<i64>, (i64, Error)>;
}
