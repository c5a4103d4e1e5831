//! The suppliers of key-value bytes stores: RocksDB and in-memory.

use std::path::Path;

use streams_core::state::{KeyValueBytesStore, StoreContext};
use streams_core::{Result, StoreMemory};

use super::rocks_tuning::{RocksTuning, tuning_setters};
use super::supplier::KeyValueBytesStoreSupplier;
use crate::global::SharedKeyValueBytesStore;
use crate::memory::InMemoryKeyValueStore;
use crate::rocks::RocksDbKeyValueStore;

/// Supplies [`RocksDbKeyValueStore`]s at `<task dir>/rocksdb/<name>`.
#[derive(Clone)]
pub struct RocksDbKeyValueStoreSupplier {
    name: String,
    tuning: RocksTuning,
}

impl std::fmt::Debug for RocksDbKeyValueStoreSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbKeyValueStoreSupplier")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RocksDbKeyValueStoreSupplier {
    /// Stores named `name`, on the process-wide resources, untuned.
    pub(super) fn new(name: String) -> Self {
        RocksDbKeyValueStoreSupplier {
            name,
            tuning: RocksTuning::default(),
        }
    }

    tuning_setters!("store");
}

impl KeyValueBytesStoreSupplier for RocksDbKeyValueStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        true
    }

    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>> {
        Ok(Box::new(self.open_in(ctx.state_dir(), ctx.store_memory())?))
    }

    /// A global store lives at `<state.dir>/<application.id>/global/rocksdb/<name>`.
    fn get_shared(
        &self,
        dir: &Path,
        memory: Option<StoreMemory>,
    ) -> Result<SharedKeyValueBytesStore> {
        Ok(Box::new(self.open_in(dir, memory)?))
    }
}

impl RocksDbKeyValueStoreSupplier {
    fn open_in(&self, dir: &Path, memory: Option<StoreMemory>) -> Result<RocksDbKeyValueStore> {
        let path = dir.join("rocksdb").join(&self.name);
        RocksDbKeyValueStore::open(
            &self.name,
            path,
            self.tuning.resources(memory),
            self.tuning.setter(),
        )
    }
}

/// Supplies [`InMemoryKeyValueStore`]s.
#[derive(Debug, Clone)]
pub struct InMemoryKeyValueStoreSupplier {
    name: String,
}

impl InMemoryKeyValueStoreSupplier {
    /// Stores named `name`.
    pub(super) fn new(name: String) -> Self {
        InMemoryKeyValueStoreSupplier { name }
    }
}

impl KeyValueBytesStoreSupplier for InMemoryKeyValueStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        false
    }

    fn get(&self, _ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>> {
        Ok(Box::new(InMemoryKeyValueStore::new(&self.name)))
    }

    fn get_shared(
        &self,
        _dir: &Path,
        _memory: Option<StoreMemory>,
    ) -> Result<SharedKeyValueBytesStore> {
        Ok(Box::new(InMemoryKeyValueStore::new(&self.name)))
    }
}
