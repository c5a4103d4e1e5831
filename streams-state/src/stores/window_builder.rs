//! The builder of typed window stores.

use std::collections::BTreeMap;
use std::sync::Arc;

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::{StoreBuilder, StoreContext, WindowBytesStore, window_changelog_config};

use super::builder_core::{BuilderCore, LayeredSupplier, option_setters, store_builder_methods};
use super::supplier::WindowBytesStoreSupplier;
use crate::caching::CachingWindowStore;
use crate::logging::ChangeLoggingWindowBytesStore;
use crate::typed::TypedWindowStore;

impl LayeredSupplier for dyn WindowBytesStoreSupplier {
    type Store = dyn WindowBytesStore;

    fn name(&self) -> &str {
        WindowBytesStoreSupplier::name(self)
    }

    fn persistent(&self) -> bool {
        WindowBytesStoreSupplier::persistent(self)
    }

    fn open(&self, ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>> {
        self.get(ctx)
    }

    fn with_logging(
        &self,
        store: Box<dyn WindowBytesStore>,
        ctx: &StoreContext,
        timestamped: bool,
    ) -> Box<dyn WindowBytesStore> {
        Box::new(ChangeLoggingWindowBytesStore::new(store, ctx, timestamped))
    }

    /// Caching is left out, with a warning, for stores that retain duplicates, as in Kafka
    /// Streams.
    fn with_caching(
        &self,
        store: Box<dyn WindowBytesStore>,
        ctx: &StoreContext,
    ) -> Result<Box<dyn WindowBytesStore>> {
        if self.retain_duplicates() {
            tracing::warn!(store = %WindowBytesStoreSupplier::name(self), "caching is disabled for a window store that retains duplicates");
            Ok(store)
        } else {
            Ok(Box::new(CachingWindowStore::new(store, ctx)?))
        }
    }
}

/// Builds typed window stores for each task, as Kafka Streams' `WindowStoreBuilder`.
///
/// Caching is ignored (with a warning) for stores that retain duplicates, as in Kafka
/// Streams.
pub struct WindowStoreBuilder<K, V> {
    core: BuilderCore<dyn WindowBytesStoreSupplier, K, V>,
}

impl<K, V> std::fmt::Debug for WindowStoreBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_as("WindowStoreBuilder", f)
    }
}

impl<K: 'static, V: 'static> WindowStoreBuilder<K, V> {
    /// A builder over `supplier`'s stores with the default layers.
    pub(super) fn new(
        supplier: Arc<dyn WindowBytesStoreSupplier>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        timestamped: bool,
    ) -> Self {
        WindowStoreBuilder {
            core: BuilderCore::new(supplier, key_serde, value_serde, timestamped),
        }
    }

    option_setters!();

    /// Builds the typed store for one task, without wrapping it for the state manager.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store reports.
    pub fn build_store(&self, ctx: &StoreContext) -> Result<TypedWindowStore<K, V>> {
        self.core.build_with(ctx, TypedWindowStore::new)
    }
}

impl<K: 'static, V: 'static> StoreBuilder for WindowStoreBuilder<K, V> {
    store_builder_methods!();
    fn changelog_config(&self) -> BTreeMap<String, String> {
        window_changelog_config(
            self.core.supplier.retention_period(),
            &self.core.options.changelog_overrides,
        )
    }
}
