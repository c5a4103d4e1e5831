//! The engine of a Kafka Streams-style stream processing library.
//!
//! `streams-core` holds records and serdes, the typed processor API, topologies and their
//! description, tasks, the state store traits, and the topology test driver. Most users
//! reach it through `streams-dsl`, whose prelude re-exports what they need.
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod config;
pub mod driver;
mod error;
mod options;
pub mod partitioner;
pub mod processor;
pub mod record;
pub mod runtime;
pub mod serde;
pub mod state;
mod task;
pub mod task_id;
pub mod topology;
pub mod window;

pub use config::{
    ErrorHandling, OUTER_JOIN_EMIT_INTERVAL, ProcessingGuarantee, StreamsConfig,
    WINDOWED_AGGREGATION_EMIT_INTERVAL,
};
pub use error::{BoxError, Error, Result};
pub use options::{Consumed, Named, OffsetReset, Produced, StreamPartitioner};
pub use record::{Header, Headers, Record, RecordMetadata};
pub use runtime::{KafkaStreams, State, StateListener, StreamsMetrics};
pub use serde::{Serde, SerdeRef};
pub use task::{RawRecord, RecordCollector, TaskMetrics};
pub use task_id::TaskId;
pub use topology::{Topology, TopologyDescription};
