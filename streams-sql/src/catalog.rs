//! The streams and tables statements have declared or created.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::ast::{SourceKind, WindowKind};
use crate::format::Format;
use crate::types::SqlType;
use crate::value::Row;

/// Projects one stored aggregate of a materialized table to its value row: from the key
/// row, the window (when windowed) and the accumulators; `None` when `HAVING` rejects it.
pub type Projector = Arc<dyn Fn(&Row, Option<(i64, i64)>, &Row) -> Option<Row> + Send + Sync>;

/// Where a table created by an aggregation, or a source table, keeps its state, for pull
/// queries.
#[derive(Clone)]
pub struct Materialization {
    /// The state store's name.
    pub store: String,
    /// The query that maintains it.
    pub query_id: String,
    /// Its window, when windowed.
    pub window: Option<WindowKind>,
    /// From stored accumulators to rows.
    pub project: Projector,
    /// Whether the store holds a source table's rows as read from its topic (an optional
    /// value row per key) rather than an aggregation's accumulators.
    pub source_rows: bool,
}

impl fmt::Debug for Materialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Materialization")
            .field("store", &self.store)
            .field("query_id", &self.query_id)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// A stream or table: its topic, formats and columns.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its name (upper case unless quoted).
    pub name: String,
    /// Stream or table.
    pub kind: SourceKind,
    /// Its Kafka topic.
    pub topic: String,
    /// `KEY_FORMAT`.
    pub key_format: Format,
    /// `VALUE_FORMAT`.
    pub value_format: Format,
    /// The key columns, in order.
    pub key_columns: Vec<(String, SqlType)>,
    /// The value columns, in order.
    pub value_columns: Vec<(String, SqlType)>,
    /// The value column that holds the event time (`TIMESTAMP`), when not the record's.
    pub timestamp: Option<String>,
    /// `TIMESTAMP_FORMAT`, for a string timestamp column.
    pub timestamp_format: Option<String>,
    /// The window of a windowed table's keys.
    pub window: Option<WindowKind>,
    /// Partitions of its topic, when known.
    pub partitions: Option<i32>,
    /// The statement that created it.
    pub statement: String,
    /// Its state, when an aggregation maintains it.
    pub materialized: Option<Materialization>,
}

impl Source {
    /// The type of the column `name`, key or value.
    pub fn column(&self, name: &str) -> Option<&SqlType> {
        self.key_columns
            .iter()
            .chain(&self.value_columns)
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }
}

/// The catalog: sources by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// By name.
    pub sources: BTreeMap<String, Source>,
}
