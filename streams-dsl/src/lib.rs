//! A typed, Kafka Streams-style builder DSL.
//!
//! ```
//! use streams_dsl::prelude::*;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
//!     .filter(|_customer, total| *total > 0)
//!     .map_values(|total| total * 2)
//!     .to("doubled", Produced::with(Serdes::string(), Serdes::i64()));
//! let topology = builder.build()?;
//!
//! let driver = TopologyTestDriver::new(topology, StreamsConfig::new().set("application.id", "demo"))?;
//! let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
//! let doubled = driver.create_output_topic("doubled", Serdes::string(), Serdes::i64());
//! orders.pipe_input("alice".to_string(), 21)?;
//! orders.pipe_input("bob".to_string(), -5)?;
//! assert_eq!(doubled.read_key_values_to_list()?, vec![("alice".to_string(), 42)]);
//! # Ok::<(), streams_dsl::Error>(())
//! ```
//!
//! One `use streams_dsl::prelude::*;` brings in the builder, the option structs, the serdes,
//! the processor API and the test driver.
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod builder;
mod kstream;

pub use builder::StreamsBuilder;
pub use kstream::{Branched, BranchedKStream, KStream};
pub use streams_core::{Error, Result};

/// Everything a typical application or test needs, in one `use`.
pub mod prelude {
    pub use crate::{Branched, BranchedKStream, KStream, StreamsBuilder};
    pub use streams_core::driver::{
        DriverOptions, TestInputTopic, TestOutputTopic, TestRecord, TopologyTestDriver,
    };
    pub use streams_core::processor::{
        LogAndSkipOnInvalidTimestamp, Processor, ProcessorContext, PunctuationType, PunctuatorId,
        TimestampExtractor, UsePartitionTimeOnInvalidTimestamp,
    };
    pub use streams_core::serde::Serdes;
    pub use streams_core::window::{Window, Windowed};
    pub use streams_core::{
        Consumed, Error, ErrorHandling, Headers, Named, OffsetReset, ProcessingGuarantee, Produced,
        Record, RecordMetadata, Result, Serde, SerdeRef, StreamPartitioner, StreamsConfig, TaskId,
        Topology,
    };
}
