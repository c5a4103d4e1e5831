//! The statements of the dialect, as the parser returns them. Expressions are sqlparser's.

use sqlparser::ast::Expr;

use crate::error::Location;
use crate::types::SqlType;

/// A name in the text: normalized as ksqlDB does (upper case unless quoted), with where it
/// was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The normalized name.
    pub value: String,
    /// Where it starts.
    pub location: Location,
}

/// A stream or a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An unbounded sequence of events.
    Stream,
    /// A changelog: the latest value per key.
    Table,
}

impl SourceKind {
    /// `STREAM` or `TABLE`.
    pub fn keyword(&self) -> &'static str {
        match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }
}

/// A column of `CREATE STREAM|TABLE (...)`.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// Its name.
    pub name: Name,
    /// Its type.
    pub ty: SqlType,
    /// `KEY` or `PRIMARY KEY`.
    pub key: bool,
}

/// One `WITH (...)` property: upper-case name and its value as text.
#[derive(Debug, Clone)]
pub struct Property {
    /// The property's name.
    pub name: Name,
    /// Its value.
    pub value: String,
    /// Where the value is.
    pub location: Location,
}

/// The window of an aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLING (SIZE s)`.
    Tumbling {
        /// Size, ms.
        size: i64,
    },
    /// `HOPPING (SIZE s, ADVANCE BY a)`.
    Hopping {
        /// Size, ms.
        size: i64,
        /// Advance, ms.
        advance: i64,
    },
    /// `SESSION (gap)`.
    Session {
        /// Inactivity gap, ms.
        gap: i64,
    },
}

/// `WINDOW ...`.
#[derive(Debug, Clone, Copy)]
pub struct WindowSpec {
    /// The kind and sizes.
    pub kind: WindowKind,
    /// `GRACE PERIOD`, ms.
    pub grace: Option<i64>,
    /// Where it is.
    pub location: Location,
}

/// `EMIT CHANGES` or `EMIT FINAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Every update.
    Changes,
    /// Each window's final result, once it closes.
    Final,
}

/// The kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `[INNER] JOIN`.
    Inner,
    /// `LEFT [OUTER] JOIN`.
    Left,
    /// `FULL [OUTER] JOIN`.
    Outer,
}

/// A source in `FROM`, with its alias.
#[derive(Debug, Clone)]
pub struct SourceRef {
    /// The source's name.
    pub name: Name,
    /// Its alias, when given.
    pub alias: Option<Name>,
}

impl SourceRef {
    /// The name columns are qualified with.
    pub fn qualifier(&self) -> &str {
        &self.alias.as_ref().unwrap_or(&self.name).value
    }
}

/// `JOIN right [WITHIN ...] ON condition`.
#[derive(Debug, Clone)]
pub struct Join {
    /// Inner, left or outer.
    pub kind: JoinKind,
    /// The right side.
    pub right: SourceRef,
    /// `WITHIN`: before and after, ms (stream-stream joins).
    pub within: Option<(i64, i64)>,
    /// `GRACE PERIOD` of `WITHIN`, ms.
    pub grace: Option<i64>,
    /// The `ON` condition.
    pub on: Expr,
    /// Where `JOIN` is.
    pub location: Location,
}

/// One item of the projection.
#[derive(Debug, Clone)]
pub enum SelectItem {
    /// `*` or `alias.*`.
    Star(Option<Name>),
    /// An expression and its alias.
    Expr(Box<Expr>, Option<Name>),
}

/// A `SELECT`.
#[derive(Debug, Clone)]
pub struct Query {
    /// The projection.
    pub items: Vec<SelectItem>,
    /// `FROM`.
    pub from: SourceRef,
    /// Joins, in order.
    pub joins: Vec<Join>,
    /// `WINDOW`.
    pub window: Option<WindowSpec>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `PARTITION BY`.
    pub partition_by: Option<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `EMIT`.
    pub emit: Option<Emit>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// Where `SELECT` is.
    pub location: Location,
}

/// What `SHOW` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowKind {
    /// `SHOW STREAMS`.
    Streams,
    /// `SHOW TABLES`.
    Tables,
    /// `SHOW QUERIES`.
    Queries,
}

/// One statement.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE name (columns) WITH (...)`.
    CreateSource {
        /// Stream or table.
        kind: SourceKind,
        /// `SOURCE`: read-only, and for a table materialized from its topic so that pull
        /// queries can read it (ksqlDB's source tables).
        source: bool,
        /// Its name.
        name: Name,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Its columns.
        columns: Vec<ColumnDef>,
        /// `WITH (...)`.
        properties: Vec<Property>,
    },
    /// `CREATE STREAM|TABLE name [WITH (...)] AS SELECT ...`.
    CreateAs {
        /// Stream or table.
        kind: SourceKind,
        /// Its name.
        name: Name,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `WITH (...)`.
        properties: Vec<Property>,
        /// The query.
        query: Query,
    },
    /// `INSERT INTO name SELECT ...`.
    InsertInto {
        /// The target stream.
        target: Name,
        /// The query.
        query: Query,
    },
    /// `SELECT ...`: a pull query, or a push query with `EMIT`.
    Select(Query),
    /// `EXPLAIN statement` or `EXPLAIN query_id`.
    Explain(Box<Statement>),
    /// `EXPLAIN query_id`.
    ExplainQuery(Name),
    /// `DESCRIBE name [EXTENDED]`.
    Describe(Name),
    /// `SHOW ...` / `LIST ...`.
    Show(ShowKind),
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`.
    Drop {
        /// Stream or table.
        kind: SourceKind,
        /// Its name.
        name: Name,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `TERMINATE query_id` or `TERMINATE ALL`.
    Terminate(Option<Name>),
    /// `SET 'property'='value'`.
    Set(String, String),
}
