//! The counters of one task.

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
    /// Records sent to a retry topic under the `retry` processing handler.
    pub retried: u64,
    /// Punctuations run.
    pub punctuations: u64,
}
