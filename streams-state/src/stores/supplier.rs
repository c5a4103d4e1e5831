//! The supplier traits: what makes the innermost bytes store of each task.

use std::path::Path;

use streams_core::state::{
    KeyValueBytesStore, StoreContext, VersionedBytesStore, WindowBytesStore,
};
use streams_core::{Error, Result, StoreMemory};

use crate::global::SharedKeyValueBytesStore;

/// Makes the innermost key-value bytes store of each task, as Kafka Streams'
/// `KeyValueBytesStoreSupplier`.
pub trait KeyValueBytesStoreSupplier: Send + Sync {
    /// The store's name.
    fn name(&self) -> &str;

    /// Whether the stores it makes keep their data on disk.
    fn persistent(&self) -> bool;

    /// Makes the store for the task described by `ctx`.
    ///
    /// # Errors
    ///
    /// Whatever opening the store reports.
    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>>;

    /// Makes a store every thread of the instance can share, for a global store whose
    /// directory is `dir` (`<state.dir>/<application.id>/global`), drawing on `memory` as
    /// [`StoreContext::store_memory`] says. The default reports that this supplier's stores
    /// cannot be shared; the RocksDB and in-memory suppliers can.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the stores cannot be shared, or whatever opening reports.
    fn get_shared(
        &self,
        dir: &Path,
        memory: Option<StoreMemory>,
    ) -> Result<SharedKeyValueBytesStore> {
        let _ = (dir, memory);
        Err(Error::Store {
            store: self.name().to_owned(),
            reason: "this store supplier cannot make global stores".into(),
            source: None,
        })
    }
}

/// Makes the innermost window bytes store of each task, as Kafka Streams'
/// `WindowBytesStoreSupplier`.
pub trait WindowBytesStoreSupplier: Send + Sync {
    /// The store's name.
    fn name(&self) -> &str;

    /// Whether the stores it makes keep their data on disk.
    fn persistent(&self) -> bool;

    /// The retention period in milliseconds.
    fn retention_period(&self) -> i64;

    /// The window size in milliseconds.
    fn window_size(&self) -> i64;

    /// Whether every put adds an entry.
    fn retain_duplicates(&self) -> bool;

    /// Makes the store for the task described by `ctx`.
    ///
    /// # Errors
    ///
    /// Whatever opening the store reports.
    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>>;
}

/// Makes the innermost versioned bytes store of each task, as Kafka Streams'
/// `VersionedBytesStoreSupplier`.
pub trait VersionedBytesStoreSupplier: Send + Sync {
    /// The store's name.
    fn name(&self) -> &str;

    /// How far behind the observed stream time versions stay readable, in milliseconds.
    fn history_retention(&self) -> i64;

    /// The granularity in milliseconds at which expired history is dropped.
    fn segment_interval(&self) -> i64;

    /// Makes the store for the task described by `ctx`.
    ///
    /// # Errors
    ///
    /// Whatever opening the store reports.
    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn VersionedBytesStore>>;
}
