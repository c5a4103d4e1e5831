//! The engine of a Kafka Streams-style stream processing library.
//!
//! `streams-core` holds records and serdes, the typed processor API, topologies and their
//! description, tasks and the state store traits. Two cargo features add the parts that
//! bring dependencies of their own, and neither is on by default:
//!
//! | feature | module | adds |
//! |---|---|---|
//! | `kafka` | [`runtime`] | `KafkaStreams`, its stream threads and clients (librdkafka, tokio) |
//! | `test-driver` | [`driver`] | `TopologyTestDriver`, Java's `kafka-streams-test-utils` |
//!
//! Most users reach this crate through `streams-dsl`, which turns both on by default and
//! whose prelude re-exports what an application needs.
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]
// Tasks, restores and commits are driven by the runtime and the test driver; a build without
// one of them keeps the engine's code but has nobody to call the parts only it uses.
#![cfg_attr(
    not(all(feature = "kafka", feature = "test-driver")),
    allow(dead_code, unused_imports)
)]

mod config;
mod context;
#[cfg(feature = "test-driver")]
pub mod driver;
mod error;
mod host_info;
mod memory;
mod names;
mod options;
pub mod partitioner;
pub mod percent;
pub mod processor;
mod rack;
pub mod record;
pub mod retry;
#[cfg(feature = "kafka")]
pub mod runtime;
pub mod serde;
pub mod state;
mod task;
pub mod task_id;
pub mod topology;
pub mod window;

pub use config::{
    ErrorHandling, OUTER_JOIN_EMIT_INTERVAL, ProcessingGuarantee, StreamsConfig,
    WINDOWED_AGGREGATION_EMIT_INTERVAL, Warmup,
};
pub use context::{RawRecord, RecordCollector, TaskMetrics};
pub use error::{BoxError, Error, Result};
pub use host_info::HostInfo;
pub use memory::{MEMORY_BUDGET, MIN_MEMORY_BUDGET_BYTES, MemoryBudget, StoreMemory};
pub use options::{Consumed, Named, OffsetReset, Produced, StreamPartitioner};
pub use rack::{
    CLIENT_TAG_PREFIX, MAX_CLIENT_TAGS, MAX_TAG_KEY_LENGTH, MAX_TAG_VALUE_LENGTH,
    RACK_AWARE_ASSIGNMENT_TAGS, RackAwareness,
};
pub use record::{Header, Headers, Record, RecordMetadata};
#[cfg(feature = "kafka")]
pub use runtime::{
    KafkaStreams, KeyQueryMetadata, State, StateListener, StreamsHandle, StreamsMetadata,
    StreamsMetrics,
};
pub use serde::{Serde, SerdeRef};
pub use task_id::TaskId;
pub use topology::{Topology, TopologyDescription};
