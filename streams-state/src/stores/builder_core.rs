//! What the key-value and window store builders share: the supplier, the serdes, the
//! layer options, and the order in which the layers go over the bytes store.

use std::marker::PhantomData;
use std::sync::Arc;

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::StoreContext;

use super::options::StoreOptions;

/// A kind of supplier as a builder sees it: the bytes stores it makes, and the layers that
/// go over that kind of store.
pub(super) trait LayeredSupplier {
    /// The bytes store the supplier makes and every layer wraps.
    type Store: ?Sized;

    /// The store's name.
    fn name(&self) -> &str;

    /// Whether the stores keep their data on disk.
    fn persistent(&self) -> bool;

    /// The innermost store for the task described by `ctx`.
    fn open(&self, ctx: &StoreContext) -> Result<Box<Self::Store>>;

    /// `store` with every write logged to the changelog.
    fn with_logging(
        &self,
        store: Box<Self::Store>,
        ctx: &StoreContext,
        timestamped: bool,
    ) -> Box<Self::Store>;

    /// `store` with writes cached, or `store` as it is where this kind of store cannot be
    /// cached.
    fn with_caching(&self, store: Box<Self::Store>, ctx: &StoreContext)
    -> Result<Box<Self::Store>>;
}

/// The state of a store builder over a supplier of kind `S`, for keys `K` and values `V`.
pub(super) struct BuilderCore<S: ?Sized, K, V> {
    pub(super) supplier: Arc<S>,
    pub(super) key_serde: SerdeRef<K>,
    pub(super) value_serde: SerdeRef<V>,
    /// Whether values carry the timestamp of their last update, which the changelog then
    /// uses as the record timestamp.
    pub(super) timestamped: bool,
    pub(super) options: StoreOptions,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<S: LayeredSupplier + ?Sized, K, V> BuilderCore<S, K, V> {
    /// A builder with Kafka Streams' default layers.
    pub(super) fn new(
        supplier: Arc<S>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        timestamped: bool,
    ) -> Self {
        BuilderCore {
            supplier,
            key_serde,
            value_serde,
            timestamped,
            options: StoreOptions::default(),
            _types: PhantomData,
        }
    }

    /// The store's name.
    pub(super) fn name(&self) -> &str {
        self.supplier.name()
    }

    /// Whether the stores keep their data on disk.
    pub(super) fn persistent(&self) -> bool {
        self.supplier.persistent()
    }

    /// The debug form of the builder type called `type_name`.
    pub(super) fn fmt_as(
        &self,
        type_name: &str,
        f: &mut std::fmt::Formatter<'_>,
    ) -> std::fmt::Result {
        f.debug_struct(type_name)
            .field("name", &self.supplier.name())
            .field("timestamped", &self.timestamped)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }

    /// Builds the store for one task: bytes store, then change-logging, then caching, then
    /// `typed`, which is handed the layered store, the changelog topic and the serdes.
    ///
    /// # Errors
    ///
    /// Whatever opening the bytes store or adding a layer reports.
    pub(super) fn build_with<T>(
        &self,
        ctx: &StoreContext,
        typed: impl FnOnce(Box<S::Store>, String, SerdeRef<K>, SerdeRef<V>) -> T,
    ) -> Result<T> {
        let mut store = self.supplier.open(ctx)?;
        if self.options.logging {
            store = self.supplier.with_logging(store, ctx, self.timestamped);
        }
        if self.options.caching && ctx.caching_allowed() {
            store = self.supplier.with_caching(store, ctx)?;
        }
        Ok(typed(
            store,
            ctx.changelog_topic(self.supplier.name()),
            self.key_serde.clone(),
            self.value_serde.clone(),
        ))
    }
}

/// The option setters of a builder whose `core` field is a [`BuilderCore`], so that every
/// builder has the same methods with the same documentation.
macro_rules! option_setters {
    () => {
        $crate::stores::builder_core::logging_setters!();

        /// Caches writes until commit or eviction (see
        /// [`CachingKeyValueStore`](crate::CachingKeyValueStore)). As in Kafka Streams, the
        /// layer is left out when the configured cache size
        /// (`statestore.cache.max.bytes`) is 0
        /// ([`StoreContext::caching_allowed`](streams_core::state::StoreContext::caching_allowed)).
        #[must_use]
        pub fn with_caching_enabled(mut self) -> Self {
            self.core.options.caching = true;
            self
        }

        /// Writes go straight through to the layers below.
        #[must_use]
        pub fn with_caching_disabled(mut self) -> Self {
            self.core.options.caching = false;
            self
        }
    };
}

/// The changelog setters of a builder whose `core` field is a [`BuilderCore`]: all of
/// [`option_setters`] for builders of stores that are never cached (versioned stores).
macro_rules! logging_setters {
    () => {
        /// Logs every write to the changelog topic, created with `config` over the defaults.
        #[must_use]
        pub fn with_logging_enabled(
            mut self,
            config: ::std::collections::BTreeMap<String, String>,
        ) -> Self {
            self.core.options.logging = true;
            self.core.options.changelog_overrides = config;
            self
        }

        /// No changelog: the store is not fault tolerant (a persistent one keeps what is on
        /// disk; an in-memory one starts empty).
        #[must_use]
        pub fn with_logging_disabled(mut self) -> Self {
            self.core.options.logging = false;
            self
        }

        /// The layers this builder adds.
        pub fn options(&self) -> &$crate::StoreOptions {
            &self.core.options
        }
    };
}

/// The [`StoreBuilder`](streams_core::state::StoreBuilder) methods every builder with a
/// `core` field and a `build_store` method shares: all but `changelog_config`, whose topic
/// configuration depends on the kind of store.
macro_rules! store_builder_methods {
    () => {
        fn name(&self) -> &str {
            self.core.name()
        }
        fn logging_enabled(&self) -> bool {
            self.core.options.logging
        }
        fn persistent(&self) -> bool {
            self.core.persistent()
        }
        fn build(
            &self,
            ctx: &::streams_core::state::StoreContext,
        ) -> ::streams_core::Result<::streams_core::state::BuiltStore> {
            Ok(::streams_core::state::BuiltStore::new(
                self.build_store(ctx)?,
            ))
        }
    };
}

pub(super) use {logging_setters, option_setters, store_builder_methods};
