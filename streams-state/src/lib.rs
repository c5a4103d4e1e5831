//! State store implementations for `streams-core`: RocksDB and in-memory key-value and
//! window stores, the change-logging and caching layers, the typed stores processors use,
//! and the [`Stores`] facade that assembles them, as Kafka Streams' `Stores` does.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore, StoreBuilder};
//! use streams_state::Stores;
//! # use streams_core::{Result, Serde};
//! # struct Str;
//! # impl Serde<String> for Str {
//! #     fn serialize(&self, _: &str, v: &String, out: &mut Vec<u8>) -> Result<bool> { out.extend_from_slice(v.as_bytes()); Ok(true) }
//! #     fn deserialize(&self, _: &str, d: Option<&[u8]>) -> Result<String> { Ok(String::from_utf8_lossy(d.unwrap_or_default()).into_owned()) }
//! # }
//!
//! let builder = Stores::key_value_store_builder(
//!     Stores::in_memory_key_value_store("counts"),
//!     Arc::new(Str),
//!     Arc::new(Str),
//! )
//! .with_caching_disabled()
//! .with_logging_disabled();
//! assert_eq!(builder.name(), "counts");
//! assert!(!builder.logging_enabled());
//! ```
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod caching;
mod delegate;
mod error;
mod global;
mod logging;
mod memory;
mod rocks;
mod stores;
mod typed;
mod typed_versioned;
pub mod window_key;

pub use caching::{CachingKeyValueStore, CachingWindowStore};
pub use error::StateError;
pub use global::SharedKeyValueBytesStore;
pub use logging::{
    ChangeLoggingKeyValueBytesStore, ChangeLoggingVersionedBytesStore,
    ChangeLoggingWindowBytesStore,
};
pub use memory::{InMemoryKeyValueStore, InMemoryWindowStore};
pub use rocks::{
    DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_WRITE_BUFFER_MANAGER_BYTES, RocksDbConfigSetter,
    RocksDbKeyValueStore, RocksDbResources, RocksDbVersionedStore, RocksDbWindowStore, WindowReads,
};
pub use stores::{
    InMemoryKeyValueStoreSupplier, InMemoryWindowStoreSupplier, KeyValueBytesStoreSupplier,
    KeyValueStoreBuilder, RocksDbKeyValueStoreSupplier, RocksDbWindowStoreSupplier, StoreOptions,
    Stores, WindowBytesStoreSupplier, WindowStoreBuilder,
};
pub use stores::{
    RocksDbVersionedStoreSupplier, VersionedBytesStoreSupplier, VersionedKeyValueStoreBuilder,
};
pub use typed::{
    FlushedEntry, FlushedWindowEntry, TimestampedKeyValueStore, TimestampedWindowStore,
    TypedKeyValueStore, TypedWindowStore,
};
pub use typed_versioned::VersionedKeyValueStore;
