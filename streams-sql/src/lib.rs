//! Streaming SQL in the ksqlDB dialect, compiled to this library's topologies.
//!
//! [`topology`] compiles `CREATE STREAM|TABLE` declarations and a query into a
//! [`Topology`](streams_dsl::prelude::Topology) (for the test driver or `KafkaStreams`);
//! [`Engine`] runs statements on a [`Cluster`] (the embedded one or a real one): persistent
//! queries, pull queries answered from their state stores, transient push queries,
//! `EXPLAIN`, `DESCRIBE`, `SHOW`, `DROP` and `TERMINATE`. The `streams-sql` binary is a shell
//! over the engine.
//!
//! ```
//! let err = streams_sql::topology("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');\nCREATE STREAM t AS SELECT b FROM s EMIT CHANGES;")
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "line 2:27: column 'B' cannot be resolved; candidates: A\n  CREATE STREAM t AS SELECT b FROM s EMIT CHANGES;\n                            ^");
//! ```
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod aggregate;
pub mod ast;
mod avro;
pub mod catalog;
mod cluster;
mod compiler;
mod ddl;
pub mod decimal;
mod engine;
mod error;
mod expr;
pub mod format;
mod functions;
mod json;
mod offline;
pub mod parser;
mod suggest;
mod timestamp;
pub mod types;
pub mod value;

pub use avro::{DEFAULT_SCHEMA_REGISTRY, schema_registry, set_schema_registry};
pub use cluster::Cluster;
pub use compiler::{AGGREGATE_STORE, Compiled, DEFAULT_GRACE_MS, GROUP_BY_NAME, OutputRow};
pub use engine::display;
pub use engine::{CATCH_UP_TIMEOUT, Engine, Outcome, PushQuery, RunningQuery};
pub use error::{Error, Location, Result};
pub use offline::{compile, topology};
