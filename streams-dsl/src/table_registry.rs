//! What the builder records about its table nodes for operators added later.

use std::collections::HashMap;

/// What aggregations and suppressions need to know about the table nodes of one builder.
#[derive(Default)]
pub(crate) struct TableRegistry {
    /// The grace period (ms) of each windowed aggregation node, so that a suppression
    /// downstream knows when a window closes.
    pub(crate) window_grace: HashMap<String, i64>,
}
