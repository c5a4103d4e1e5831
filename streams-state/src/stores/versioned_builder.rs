//! The builder of typed versioned key-value stores.

use std::collections::BTreeMap;
use std::sync::Arc;

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::{
    StoreBuilder, StoreContext, VersionedBytesStore, versioned_changelog_config,
};

use super::builder_core::{BuilderCore, LayeredSupplier, logging_setters, store_builder_methods};
use super::supplier::VersionedBytesStoreSupplier;
use crate::logging::ChangeLoggingVersionedBytesStore;
use crate::typed_versioned::VersionedKeyValueStore;

impl LayeredSupplier for dyn VersionedBytesStoreSupplier {
    type Store = dyn VersionedBytesStore;

    fn name(&self) -> &str {
        VersionedBytesStoreSupplier::name(self)
    }

    fn persistent(&self) -> bool {
        true
    }

    fn open(&self, ctx: &StoreContext) -> Result<Box<dyn VersionedBytesStore>> {
        self.get(ctx)
    }

    fn with_logging(
        &self,
        store: Box<dyn VersionedBytesStore>,
        ctx: &StoreContext,
        _timestamped: bool,
    ) -> Box<dyn VersionedBytesStore> {
        Box::new(ChangeLoggingVersionedBytesStore::new(store, ctx))
    }

    /// Versioned stores are never cached, as in Kafka Streams.
    fn with_caching(
        &self,
        store: Box<dyn VersionedBytesStore>,
        _ctx: &StoreContext,
    ) -> Result<Box<dyn VersionedBytesStore>> {
        Ok(store)
    }
}

/// Builds [`VersionedKeyValueStore`]s for each task, as Kafka Streams'
/// `VersionedKeyValueStoreBuilder`: bytes store, then change-logging (on by default), then
/// serdes. There is no caching layer to turn on: Kafka Streams' versioned stores have none.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_core::serde::Serdes;
/// use streams_core::state::StoreBuilder;
/// use streams_state::Stores;
///
/// let builder = Stores::versioned_key_value_store_builder(
///     Stores::persistent_versioned_key_value_store("tiers", Duration::from_secs(60))?,
///     Serdes::string(),
///     Serdes::string(),
/// );
/// assert!(builder.logging_enabled());
/// assert_eq!(builder.changelog_config()["min.compaction.lag.ms"], (60_000 + 86_400_000).to_string());
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct VersionedKeyValueStoreBuilder<K, V> {
    core: BuilderCore<dyn VersionedBytesStoreSupplier, K, V>,
}

impl<K, V> std::fmt::Debug for VersionedKeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt_as("VersionedKeyValueStoreBuilder", f)
    }
}

impl<K: 'static, V: 'static> VersionedKeyValueStoreBuilder<K, V> {
    /// A builder over `supplier`'s stores, logging on.
    pub(super) fn new(
        supplier: Arc<dyn VersionedBytesStoreSupplier>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        VersionedKeyValueStoreBuilder {
            core: BuilderCore::new(supplier, key_serde, value_serde, false),
        }
    }

    logging_setters!();

    /// The history retention of the stores, in milliseconds.
    pub fn history_retention(&self) -> i64 {
        self.core.supplier.history_retention()
    }

    /// Builds the typed store for one task, without wrapping it for the state manager.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store reports.
    pub fn build_store(&self, ctx: &StoreContext) -> Result<VersionedKeyValueStore<K, V>> {
        self.core.build_with(ctx, VersionedKeyValueStore::new)
    }
}

impl<K: 'static, V: 'static> StoreBuilder for VersionedKeyValueStoreBuilder<K, V> {
    store_builder_methods!();
    fn changelog_config(&self) -> BTreeMap<String, String> {
        versioned_changelog_config(
            self.core.supplier.history_retention(),
            &self.core.options.changelog_overrides,
        )
    }
}
