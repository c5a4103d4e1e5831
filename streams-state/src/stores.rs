//! Store suppliers, store builders and the `Stores` facade.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use streams_core::serde::SerdeRef;
use streams_core::state::{
    BuiltStore, GlobalStore, KeyValueBytesStore, StoreBuilder, StoreContext, ValueAndTimestamp,
    ValueAndTimestampSerde, WindowBytesStore, key_value_changelog_config, window_changelog_config,
};
use streams_core::{Error, Result};

use crate::caching::{CachingKeyValueStore, CachingWindowStore};
use crate::global::{GlobalKeyValueStore, SharedKeyValueBytesStore};
use crate::logging::{ChangeLoggingKeyValueBytesStore, ChangeLoggingWindowBytesStore};
use crate::memory::{InMemoryKeyValueStore, InMemoryWindowStore};
use crate::rocks::{
    RocksDbConfigSetter, RocksDbKeyValueStore, RocksDbResources, RocksDbWindowStore, WindowReads,
};
use crate::typed::{TypedKeyValueStore, TypedWindowStore};

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
    /// directory is `dir` (`<state.dir>/<application.id>/global`). The default reports that
    /// this supplier's stores cannot be shared; the RocksDB and in-memory suppliers can.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the stores cannot be shared, or whatever opening reports.
    fn get_shared(&self, dir: &Path) -> Result<SharedKeyValueBytesStore> {
        let _ = dir;
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

#[derive(Debug, Clone)]
struct WindowSpec {
    name: String,
    retention: i64,
    window_size: i64,
    retain_duplicates: bool,
}

impl WindowSpec {
    fn new(
        name: String,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<Self> {
        let ms = |d: Duration, key: &str| {
            i64::try_from(d.as_millis()).map_err(|_| Error::Config {
                key: key.to_owned(),
                reason: format!("{d:?} is too large"),
            })
        };
        let retention = ms(retention, "retention")?;
        let window_size = ms(window_size, "window_size")?;
        if window_size <= 0 {
            return Err(Error::Config {
                key: "window_size".into(),
                reason: format!("the window size of store '{name}' must be at least 1 ms"),
            });
        }
        if retention < window_size {
            return Err(Error::Config {
                key: "retention".into(),
                reason: format!(
                    "the retention period of store '{name}' ({retention} ms) cannot be smaller than its window size ({window_size} ms)"
                ),
            });
        }
        Ok(WindowSpec {
            name,
            retention,
            window_size,
            retain_duplicates,
        })
    }
}

/// Supplies segmented [`RocksDbWindowStore`]s at `<task dir>/<name>/`.
#[derive(Clone)]
pub struct RocksDbWindowStoreSupplier {
    spec: WindowSpec,
    reads: WindowReads,
    resources: Option<Arc<RocksDbResources>>,
    setter: Option<Arc<dyn RocksDbConfigSetter>>,
}

impl std::fmt::Debug for RocksDbWindowStoreSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbWindowStoreSupplier")
            .field("spec", &self.spec)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl RocksDbWindowStoreSupplier {
    /// Makes stores whose reads cut expired windows as `reads` says: Kafka Streams'
    /// time-ordered stores for [`WindowReads::TimeOrderedWindows`] and
    /// [`WindowReads::TimeOrderedSessions`].
    #[must_use]
    pub fn with_reads(mut self, reads: WindowReads) -> Self {
        self.reads = reads;
        self
    }

    /// Tunes each segment with `setter`.
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

impl WindowBytesStoreSupplier for RocksDbWindowStoreSupplier {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn persistent(&self) -> bool {
        true
    }
    fn retention_period(&self) -> i64 {
        self.spec.retention
    }
    fn window_size(&self) -> i64 {
        self.spec.window_size
    }
    fn retain_duplicates(&self) -> bool {
        self.spec.retain_duplicates
    }
    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>> {
        let s = &self.spec;
        let resources = self
            .resources
            .clone()
            .unwrap_or_else(RocksDbResources::shared);
        Ok(Box::new(
            RocksDbWindowStore::open(
                &s.name,
                ctx.state_dir().join(&s.name),
                s.retention,
                s.window_size,
                s.retain_duplicates,
                resources,
                self.setter.clone(),
            )?
            .with_reads(self.reads),
        ))
    }
}

/// Supplies [`InMemoryWindowStore`]s.
#[derive(Debug, Clone)]
pub struct InMemoryWindowStoreSupplier {
    spec: WindowSpec,
}

impl WindowBytesStoreSupplier for InMemoryWindowStoreSupplier {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn persistent(&self) -> bool {
        false
    }
    fn retention_period(&self) -> i64 {
        self.spec.retention
    }
    fn window_size(&self) -> i64 {
        self.spec.window_size
    }
    fn retain_duplicates(&self) -> bool {
        self.spec.retain_duplicates
    }
    fn get(&self, _ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>> {
        let s = &self.spec;
        Ok(Box::new(InMemoryWindowStore::new(
            &s.name,
            s.retention,
            s.window_size,
            s.retain_duplicates,
        )))
    }
}

/// The layers a builder puts over its bytes store. Kafka Streams' defaults: logging on
/// (with no extra topic configuration), caching off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Whether writes are cached until commit or eviction.
    pub caching: bool,
    /// Whether writes go to the changelog topic.
    pub logging: bool,
    /// Topic configuration overriding the changelog defaults.
    pub changelog_overrides: BTreeMap<String, String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            caching: false,
            logging: true,
            changelog_overrides: BTreeMap::new(),
        }
    }
}

macro_rules! option_setters {
    () => {
        /// Caches writes until commit or eviction (see
        /// [`CachingKeyValueStore`](crate::CachingKeyValueStore)). As in Kafka Streams, the
        /// layer is left out when the configured cache size
        /// (`statestore.cache.max.bytes`) is 0
        /// ([`StoreContext::caching_allowed`](streams_core::state::StoreContext::caching_allowed)).
        #[must_use]
        pub fn with_caching_enabled(mut self) -> Self {
            self.options.caching = true;
            self
        }

        /// Writes go straight through to the layers below.
        #[must_use]
        pub fn with_caching_disabled(mut self) -> Self {
            self.options.caching = false;
            self
        }

        /// Logs every write to the changelog topic, created with `config` over the defaults.
        #[must_use]
        pub fn with_logging_enabled(mut self, config: BTreeMap<String, String>) -> Self {
            self.options.logging = true;
            self.options.changelog_overrides = config;
            self
        }

        /// No changelog: the store is not fault tolerant (a persistent one keeps what is on
        /// disk; an in-memory one starts empty).
        #[must_use]
        pub fn with_logging_disabled(mut self) -> Self {
            self.options.logging = false;
            self
        }

        /// The layers this builder adds.
        pub fn options(&self) -> &StoreOptions {
            &self.options
        }
    };
}

/// Builds typed key-value stores for each task, as Kafka Streams'
/// `KeyValueStoreBuilder`: bytes store, then change-logging, then caching, then serdes.
pub struct KeyValueStoreBuilder<K, V> {
    supplier: Arc<dyn KeyValueBytesStoreSupplier>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    timestamped: bool,
    options: StoreOptions,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> std::fmt::Debug for KeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueStoreBuilder")
            .field("name", &self.supplier.name())
            .field("timestamped", &self.timestamped)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> KeyValueStoreBuilder<K, V> {
    option_setters!();

    /// Builds the typed store for one task, without wrapping it for the state manager.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store reports.
    pub fn build_store(&self, ctx: &StoreContext) -> Result<TypedKeyValueStore<K, V>> {
        let mut store = self.supplier.get(ctx)?;
        if self.options.logging {
            store = Box::new(ChangeLoggingKeyValueBytesStore::new(
                store,
                ctx,
                self.timestamped,
            ));
        }
        if self.options.caching && ctx.caching_allowed() {
            store = Box::new(CachingKeyValueStore::new(store, ctx));
        }
        Ok(TypedKeyValueStore::new(
            store,
            ctx.changelog_topic(self.supplier.name()),
            self.key_serde.clone(),
            self.value_serde.clone(),
        ))
    }
}

impl<K: 'static, V: 'static> StoreBuilder for KeyValueStoreBuilder<K, V> {
    fn name(&self) -> &str {
        self.supplier.name()
    }
    fn logging_enabled(&self) -> bool {
        self.options.logging
    }
    fn persistent(&self) -> bool {
        self.supplier.persistent()
    }
    fn changelog_config(&self) -> BTreeMap<String, String> {
        key_value_changelog_config(&self.options.changelog_overrides)
    }
    fn build(&self, ctx: &StoreContext) -> Result<BuiltStore> {
        Ok(BuiltStore::new(self.build_store(ctx)?))
    }

    /// The bytes store from the supplier's
    /// [`get_shared`](KeyValueBytesStoreSupplier::get_shared), without caching or logging
    /// layers, typed with the serdes (which are handed `topic`). Every task sees it as a
    /// read-only [`TypedKeyValueStore`]`<K, V>`; the global processor as a writable one.
    fn build_global(&self, dir: &Path, topic: &str) -> Result<Arc<dyn GlobalStore>> {
        let bytes = self.supplier.get_shared(dir)?;
        Ok(Arc::new(GlobalKeyValueStore::new(
            self.supplier.name(),
            topic,
            bytes,
            self.key_serde.clone(),
            self.value_serde.clone(),
        )))
    }
}

/// Builds typed window stores for each task, as Kafka Streams' `WindowStoreBuilder`.
///
/// Caching is ignored (with a warning) for stores that retain duplicates, as in Kafka
/// Streams.
pub struct WindowStoreBuilder<K, V> {
    supplier: Arc<dyn WindowBytesStoreSupplier>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    timestamped: bool,
    options: StoreOptions,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> std::fmt::Debug for WindowStoreBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowStoreBuilder")
            .field("name", &self.supplier.name())
            .field("timestamped", &self.timestamped)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> WindowStoreBuilder<K, V> {
    option_setters!();

    /// Builds the typed store for one task, without wrapping it for the state manager.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store reports.
    pub fn build_store(&self, ctx: &StoreContext) -> Result<TypedWindowStore<K, V>> {
        let mut store = self.supplier.get(ctx)?;
        if self.options.logging {
            store = Box::new(ChangeLoggingWindowBytesStore::new(
                store,
                ctx,
                self.timestamped,
            ));
        }
        if self.options.caching && ctx.caching_allowed() {
            if self.supplier.retain_duplicates() {
                tracing::warn!(store = %self.supplier.name(), "caching is disabled for a window store that retains duplicates");
            } else {
                store = Box::new(CachingWindowStore::new(store, ctx)?);
            }
        }
        Ok(TypedWindowStore::new(
            store,
            ctx.changelog_topic(self.supplier.name()),
            self.key_serde.clone(),
            self.value_serde.clone(),
        ))
    }
}

impl<K: 'static, V: 'static> StoreBuilder for WindowStoreBuilder<K, V> {
    fn name(&self) -> &str {
        self.supplier.name()
    }
    fn logging_enabled(&self) -> bool {
        self.options.logging
    }
    fn persistent(&self) -> bool {
        self.supplier.persistent()
    }
    fn changelog_config(&self) -> BTreeMap<String, String> {
        window_changelog_config(
            self.supplier.retention_period(),
            &self.options.changelog_overrides,
        )
    }
    fn build(&self, ctx: &StoreContext) -> Result<BuiltStore> {
        Ok(BuiltStore::new(self.build_store(ctx)?))
    }
}

/// Factory methods for stores, as Kafka Streams' `Stores`.
///
/// Suppliers make the innermost bytes store; builders add serdes, caching and logging.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use streams_core::state::StoreBuilder;
/// use streams_state::Stores;
/// # use streams_core::{Result, Serde};
/// # struct Long;
/// # impl Serde<i64> for Long {
/// #     fn serialize(&self, _: &str, v: &i64, out: &mut Vec<u8>) -> Result<bool> { out.extend_from_slice(&v.to_be_bytes()); Ok(true) }
/// #     fn deserialize(&self, _: &str, d: Option<&[u8]>) -> Result<i64> { Ok(i64::from_be_bytes(d.unwrap_or_default().try_into().unwrap_or_default())) }
/// # }
///
/// let supplier = Stores::persistent_window_store("clicks", Duration::from_secs(3600), Duration::from_secs(60), false)?;
/// let builder = Stores::timestamped_window_store_builder(supplier, Arc::new(Long), Arc::new(Long)).with_caching_enabled();
/// assert_eq!(builder.changelog_config()["cleanup.policy"], "compact,delete");
/// assert_eq!(builder.changelog_config()["retention.ms"], (3_600_000 + 86_400_000).to_string());
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Stores;

impl Stores {
    /// A RocksDB key-value store.
    pub fn persistent_key_value_store(name: impl Into<String>) -> RocksDbKeyValueStoreSupplier {
        RocksDbKeyValueStoreSupplier {
            name: name.into(),
            resources: None,
            setter: None,
        }
    }

    /// A RocksDB key-value store for timestamped values. The bytes store is the same as
    /// [`persistent_key_value_store`](Self::persistent_key_value_store)'s; the timestamped
    /// builder gives the values their format.
    pub fn persistent_timestamped_key_value_store(
        name: impl Into<String>,
    ) -> RocksDbKeyValueStoreSupplier {
        Self::persistent_key_value_store(name)
    }

    /// An in-memory key-value store.
    pub fn in_memory_key_value_store(name: impl Into<String>) -> InMemoryKeyValueStoreSupplier {
        InMemoryKeyValueStoreSupplier { name: name.into() }
    }

    /// A segmented RocksDB window store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the window size is under 1 ms or the retention is smaller
    /// than the window size.
    pub fn persistent_window_store(
        name: impl Into<String>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<RocksDbWindowStoreSupplier> {
        Ok(RocksDbWindowStoreSupplier {
            spec: WindowSpec::new(name.into(), retention, window_size, retain_duplicates)?,
            reads: WindowReads::KeyOrdered,
            resources: None,
            setter: None,
        })
    }

    /// An in-memory window store.
    ///
    /// # Errors
    ///
    /// As [`persistent_window_store`](Self::persistent_window_store).
    pub fn in_memory_window_store(
        name: impl Into<String>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<InMemoryWindowStoreSupplier> {
        Ok(InMemoryWindowStoreSupplier {
            spec: WindowSpec::new(name.into(), retention, window_size, retain_duplicates)?,
        })
    }

    /// A builder of typed key-value stores over `supplier`'s stores.
    pub fn key_value_store_builder<K: 'static, V: 'static>(
        supplier: impl KeyValueBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> KeyValueStoreBuilder<K, V> {
        KeyValueStoreBuilder {
            supplier: Arc::new(supplier),
            key_serde,
            value_serde,
            timestamped: false,
            options: StoreOptions::default(),
            _types: PhantomData,
        }
    }

    /// A builder of [`TimestampedKeyValueStore`](crate::TimestampedKeyValueStore)s: values
    /// are stored with the timestamp of their last update, and logged with it as the
    /// record timestamp.
    pub fn timestamped_key_value_store_builder<K: 'static, V: 'static>(
        supplier: impl KeyValueBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> KeyValueStoreBuilder<K, ValueAndTimestamp<V>> {
        KeyValueStoreBuilder {
            supplier: Arc::new(supplier),
            key_serde,
            value_serde: Arc::new(ValueAndTimestampSerde::new(value_serde)),
            timestamped: true,
            options: StoreOptions::default(),
            _types: PhantomData,
        }
    }

    /// A builder of typed window stores over `supplier`'s stores.
    pub fn window_store_builder<K: 'static, V: 'static>(
        supplier: impl WindowBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> WindowStoreBuilder<K, V> {
        WindowStoreBuilder {
            supplier: Arc::new(supplier),
            key_serde,
            value_serde,
            timestamped: false,
            options: StoreOptions::default(),
            _types: PhantomData,
        }
    }

    /// A builder of [`TimestampedWindowStore`](crate::TimestampedWindowStore)s.
    pub fn timestamped_window_store_builder<K: 'static, V: 'static>(
        supplier: impl WindowBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> WindowStoreBuilder<K, ValueAndTimestamp<V>> {
        WindowStoreBuilder {
            supplier: Arc::new(supplier),
            key_serde,
            value_serde: Arc::new(ValueAndTimestampSerde::new(value_serde)),
            timestamped: true,
            options: StoreOptions::default(),
            _types: PhantomData,
        }
    }
}
