//! What a task is made of, besides the topology.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::config::StreamsConfig;
use crate::context::{RecordCollector, TaskHandlers};
use crate::task_id::TaskId;

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
