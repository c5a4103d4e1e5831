//! RocksDB stores and their tuning.

mod config;
mod handle;
mod iter;
mod key_filter;
mod kv;
mod opener;
mod position;
mod versioned;
mod versioned_layout;
mod window;

pub use config::{
    DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_WRITE_BUFFER_MANAGER_BYTES, RocksDbConfigSetter,
    RocksDbResources,
};
pub(crate) use config::{KeyLayout, open_db};
pub(crate) use iter::RawIter;
pub use kv::RocksDbKeyValueStore;
pub use versioned::RocksDbVersionedStore;
pub use window::{RocksDbWindowStore, WindowReads};
