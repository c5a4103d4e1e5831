//! The suppliers of key-value bytes stores: RocksDB and in-memory.

use std::path::Path;
use std::sync::Arc;

use streams_core::Result;
use streams_core::state::{KeyValueBytesStore, StoreContext};

use super::supplier::KeyValueBytesStoreSupplier;
use crate::global::SharedKeyValueBytesStore;
use crate::memory::InMemoryKeyValueStore;
use crate::rocks::{RocksDbConfigSetter, RocksDbKeyValueStore, RocksDbResources};

/// Supplies [`RocksDbKeyValueStore`]s at `<task dir>/rocksdb/<name>`.
#[derive(Clone)]
pub struct RocksDbKeyValueStoreSupplier {
    name: String,
    resources: Option<Arc<RocksDbResources>>,
    setter: Option<Arc<dyn RocksDbConfigSetter>>,
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
            resources: None,
            setter: None,
        }
    }

    /// Tunes each store with `setter`.
    #[must_use]
    pub fn with_config_setter(mut self, setter: Arc<dyn RocksDbConfigSetter>) -> Self {
        self.setter = Some(setter);
        self
    }

    /// Draws on `resources` instead of the process-wide [`RocksDbResources::shared`].
    #[must_use]
    pub fn with_resources(mut self, resources: Arc<RocksDbResources>) -> Self {
        self.resources = Some(resources);
        self
    }
}

impl KeyValueBytesStoreSupplier for RocksDbKeyValueStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        true
    }

    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>> {
        Ok(Box::new(self.open_in(ctx.state_dir())?))
    }

    /// A global store lives at `<state.dir>/<application.id>/global/rocksdb/<name>`.
    fn get_shared(&self, dir: &Path) -> Result<SharedKeyValueBytesStore> {
        Ok(Box::new(self.open_in(dir)?))
    }
}

impl RocksDbKeyValueStoreSupplier {
    fn open_in(&self, dir: &Path) -> Result<RocksDbKeyValueStore> {
        let path = dir.join("rocksdb").join(&self.name);
        let resources = self
            .resources
            .clone()
            .unwrap_or_else(RocksDbResources::shared);
        RocksDbKeyValueStore::open(&self.name, path, resources, self.setter.clone())
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

    fn get_shared(&self, _dir: &Path) -> Result<SharedKeyValueBytesStore> {
        Ok(Box::new(InMemoryKeyValueStore::new(&self.name)))
    }
}
