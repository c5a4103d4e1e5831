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
mod global_table;
pub mod hot_keys;
mod join_kind;
mod join_windows;
mod keep;
mod kgrouped;
mod kstream;
mod ktable;
mod materialized;
#[cfg(feature = "kafka")]
pub mod query;
mod repartition;
mod table_registry;
mod windows;

pub use builder::StreamsBuilder;
pub use global_table::GlobalKTable;
pub use join_windows::JoinWindows;
pub use kgrouped::{
    CogroupedKStream, FixedWindows, KGroupedStream, KGroupedTable, SessionWindowedCogroupedKStream,
    SessionWindowedKStream, SlidingWindowedKStream, TimeWindowedCogroupedKStream,
    TimeWindowedKStream, WindowedKStream, Windows,
};
pub use kstream::{Branched, BranchedKStream, KStream, Repartitioned, StreamJoined};
pub use ktable::{BufferConfig, Change, KTable, Suppressed, TableJoined};
pub use materialized::{Grouped, Joined, Materialized, StoreType};
pub use streams_core::partitioner;
pub use streams_core::{
    Error, OUTER_JOIN_EMIT_INTERVAL, Result, WINDOWED_AGGREGATION_EMIT_INTERVAL,
};
pub use windows::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};

/// State stores: the traits processors and tests use and the store implementations.
pub mod state {
    pub use streams_core::state::{
        KeyValueIter, KeyValueStore, PUT_RETURN_CODE_NOT_PUT, PUT_RETURN_CODE_VALID_TO_UNDEFINED,
        ReadOnlyKeyValueStore, ReadOnlyWindowStore, StateStore, StoreBuilder, ValueAndTimestamp,
        VersionedRecord, WindowIter, WindowStore, WindowedIter,
    };
    pub use streams_state::{
        RocksDbConfigSetter, Stores, TimestampedKeyValueStore, TimestampedWindowStore,
        TypedKeyValueStore, TypedWindowStore, VersionedKeyValueStore,
    };
}

/// Everything a typical application or test needs, in one `use`.
pub mod prelude {
    pub use crate::GlobalKTable;
    pub use crate::hot_keys::{HotKeys, Salted};
    #[cfg(feature = "kafka")]
    pub use crate::query::{KeyValueStoreQuery, SessionStoreQuery, WindowStoreQuery};
    pub use crate::state::{
        KeyValueStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, Stores,
        TimestampedKeyValueStore, TimestampedWindowStore, ValueAndTimestamp,
        VersionedKeyValueStore, VersionedRecord, WindowStore,
    };
    pub use crate::{
        Branched, BranchedKStream, Change, Grouped, Joined, KStream, KTable, Materialized,
        StoreType, StreamsBuilder,
    };
    pub use crate::{
        BufferConfig, CogroupedKStream, EmitStrategy, KGroupedStream, KGroupedTable,
        SessionWindows, SlidingWindows, Suppressed, TimeWindows,
    };
    pub use crate::{JoinWindows, Repartitioned, StreamJoined, TableJoined};
    #[cfg(feature = "test-driver")]
    pub use streams_core::driver::{
        DriverOptions, TestInputTopic, TestOutputTopic, TestRecord, TopologyTestDriver,
    };
    pub use streams_core::processor::{
        FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, LogAndSkipOnInvalidTimestamp,
        Processor, ProcessorContext, PunctuationType, PunctuatorId, TimestampExtractor,
        UsePartitionTimeOnInvalidTimestamp,
    };
    pub use streams_core::retry::RetryTopics;
    #[cfg(feature = "kafka")]
    pub use streams_core::runtime::{
        KafkaStreams, KeyQueryMetadata, State, StateListener, StreamsHandle, StreamsMetadata,
        StreamsMetrics, TopicCreator,
    };
    pub use streams_core::serde::Serdes;
    pub use streams_core::topology::OutputTopic;
    pub use streams_core::window::{Window, Windowed};
    pub use streams_core::{
        Consumed, Error, ErrorHandling, Headers, HostInfo, Named, OUTER_JOIN_EMIT_INTERVAL,
        OffsetReset, ProcessingGuarantee, Produced, Record, RecordMetadata, Result, Serde,
        SerdeRef, StreamPartitioner, StreamsConfig, TaskId, Topology,
        WINDOWED_AGGREGATION_EMIT_INTERVAL,
    };
}
