//! What the nodes of a task share while they process: the task context, the raw records a
//! task reads and the collector it writes to, its error handling, its counters and its
//! punctuation schedules.
//!
//! Topology nodes and processor contexts reach their task only through this module, which
//! knows nothing of topologies or of the task that owns the nodes, so the task can be built
//! on top of both.

mod error_handling;
mod handlers;
mod metrics;
mod punctuation;
mod record;
mod task_context;

pub(crate) use error_handling::error_chain;
pub(crate) use handlers::TaskHandlers;
pub use metrics::TaskMetrics;
pub use punctuation::{PunctuationType, PunctuatorId};
pub use record::{RawRecord, RecordCollector};
pub(crate) use task_context::TaskContext;
