//! The builder of typed key-value stores.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use streams_core::serde::SerdeRef;
use streams_core::state::{
    GlobalStore, KeyValueBytesStore, StoreBuilder, StoreContext, key_value_changelog_config,
};
use streams_core::{Result, StoreMemory};

use super::builder_core::{BuilderCore, LayeredSupplier, option_setters, store_builder_methods};
use super::supplier::KeyValueBytesStoreSupplier;
use crate::caching::CachingKeyValueStore;
use crate::global::GlobalKeyValueStore;
use crate::logging::ChangeLoggingKeyValueBytesStore;
use crate::typed::TypedKeyValueStore;

impl LayeredSupplier for dyn KeyValueBytesStoreSupplier {
    type Store = dyn KeyValueBytesStore;

    fn name(&self) -> &str {
        KeyValueBytesStoreSupplier::name(self)
    }

    fn persistent(&self) -> bool {
        KeyValueBytesStoreSupplier::persistent(self)
    }

    fn open(&self, ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>> {
        self.get(ctx)
    }

    fn with_logging(
        &self,
        store: Box<dyn KeyValueBytesStore>,
        ctx: &StoreContext,
        timestamped: bool,
    ) -> Box<dyn KeyValueBytesStore> {
        Box::new(ChangeLoggingKeyValueBytesStore::new(
            store,
            ctx,
            timestamped,
        ))
    }

    fn with_caching(
        &self,
        store: Box<dyn KeyValueBytesStore>,
        ctx: &StoreContext,
    ) -> Result<Box<dyn KeyValueBytesStore>> {
        Ok(Box::new(CachingKeyValueStore::new(store, ctx)))
    }
}

/// Builds typed key-value stores for each task, as Kafka Streams'
/// `KeyValueStoreBuilder`: bytes store, then change-logging, then caching, then serdes.
pub struct KeyValueStoreBuilder<K, V> {
    core: BuilderCore<dyn KeyValueBytesStoreSupplier, K, V>,
}

impl<K, V> std::fmt::Debug for KeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_as("KeyValueStoreBuilder", f)
    }
}

impl<K: 'static, V: 'static> KeyValueStoreBuilder<K, V> {
    /// A builder over `supplier`'s stores with the default layers.
    pub(super) fn new(
        supplier: Arc<dyn KeyValueBytesStoreSupplier>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        timestamped: bool,
    ) -> Self {
        KeyValueStoreBuilder {
            core: BuilderCore::new(supplier, key_serde, value_serde, timestamped),
        }
    }

    option_setters!();

    /// Builds the typed store for one task, without wrapping it for the state manager.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store reports.
    pub fn build_store(&self, ctx: &StoreContext) -> Result<TypedKeyValueStore<K, V>> {
        self.core.build_with(ctx, TypedKeyValueStore::new)
    }
}

impl<K: 'static, V: 'static> StoreBuilder for KeyValueStoreBuilder<K, V> {
    store_builder_methods!();
    fn changelog_config(&self) -> BTreeMap<String, String> {
        key_value_changelog_config(&self.core.options.changelog_overrides)
    }

    /// The bytes store from the supplier's
    /// [`get_shared`](KeyValueBytesStoreSupplier::get_shared), without caching or logging
    /// layers, typed with the serdes (which are handed `topic`). Every task sees it as a
    /// read-only [`TypedKeyValueStore`]`<K, V>`; the global processor as a writable one.
    fn build_global(
        &self,
        dir: &Path,
        topic: &str,
        memory: Option<StoreMemory>,
    ) -> Result<Arc<dyn GlobalStore>> {
        let bytes = self.core.supplier.get_shared(dir, memory)?;
        Ok(Arc::new(GlobalKeyValueStore::new(
            self.core.name(),
            topic,
            bytes,
            self.core.key_serde.clone(),
            self.core.value_serde.clone(),
        )))
    }
}
