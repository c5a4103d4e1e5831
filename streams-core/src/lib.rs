//! The engine of a Kafka Streams-style stream processing library.
//!
//! `streams-core` holds records and serdes, the typed processor API, topologies and their
//! description, tasks, the Kafka runtime, the state store traits, and the topology test
//! driver. Most users reach it through `streams-dsl`, whose prelude re-exports what they need.
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod error;
pub mod partitioner;
pub mod record;
pub mod serde;
pub mod state;
pub mod window;

pub use error::{BoxError, Error, Result};
pub use record::{Header, Headers, Record, RecordMetadata};
pub use serde::{Serde, SerdeRef};
