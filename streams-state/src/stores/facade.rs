//! The `Stores` facade: factory methods for suppliers and builders.

use std::sync::Arc;
use std::time::Duration;

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::{ValueAndTimestamp, ValueAndTimestampSerde};

use super::key_value_builder::KeyValueStoreBuilder;
use super::key_value_suppliers::{InMemoryKeyValueStoreSupplier, RocksDbKeyValueStoreSupplier};
use super::supplier::{
    KeyValueBytesStoreSupplier, VersionedBytesStoreSupplier, WindowBytesStoreSupplier,
};
use super::versioned_builder::VersionedKeyValueStoreBuilder;
use super::versioned_supplier::RocksDbVersionedStoreSupplier;
use super::window_builder::WindowStoreBuilder;
use super::window_suppliers::{
    InMemoryWindowStoreSupplier, RocksDbWindowStoreSupplier, WindowSpec,
};

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
        RocksDbKeyValueStoreSupplier::new(name.into())
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
        InMemoryKeyValueStoreSupplier::new(name.into())
    }

    /// A RocksDB versioned key-value store keeping `history_retention` of history (see
    /// [`VersionedKeyValueStore`](crate::VersionedKeyValueStore)), as Kafka Streams'
    /// `persistentVersionedKeyValueStore`, with Kafka Streams' default segment interval
    /// for the retention: the granularity at which expired history is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](streams_core::Error::Config) when the retention does not fit in
    /// 64-bit milliseconds.
    pub fn persistent_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: Duration,
    ) -> Result<RocksDbVersionedStoreSupplier> {
        RocksDbVersionedStoreSupplier::new(name.into(), history_retention, None)
    }

    /// [`persistent_versioned_key_value_store`](Self::persistent_versioned_key_value_store)
    /// with the segment interval given.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](streams_core::Error::Config) when a duration does not fit in
    /// 64-bit milliseconds or the segment interval is under 1 ms.
    pub fn persistent_versioned_key_value_store_with_segment_interval(
        name: impl Into<String>,
        history_retention: Duration,
        segment_interval: Duration,
    ) -> Result<RocksDbVersionedStoreSupplier> {
        RocksDbVersionedStoreSupplier::new(name.into(), history_retention, Some(segment_interval))
    }

    /// A segmented RocksDB window store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](streams_core::Error::Config) when the window size is under 1 ms
    /// or the retention is smaller than the window size.
    pub fn persistent_window_store(
        name: impl Into<String>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<RocksDbWindowStoreSupplier> {
        Ok(RocksDbWindowStoreSupplier::new(WindowSpec::new(
            name.into(),
            retention,
            window_size,
            retain_duplicates,
        )?))
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
        Ok(InMemoryWindowStoreSupplier::new(WindowSpec::new(
            name.into(),
            retention,
            window_size,
            retain_duplicates,
        )?))
    }

    /// A builder of typed key-value stores over `supplier`'s stores.
    pub fn key_value_store_builder<K: 'static, V: 'static>(
        supplier: impl KeyValueBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> KeyValueStoreBuilder<K, V> {
        KeyValueStoreBuilder::new(Arc::new(supplier), key_serde, value_serde, false)
    }

    /// A builder of [`TimestampedKeyValueStore`](crate::TimestampedKeyValueStore)s: values
    /// are stored with the timestamp of their last update, and logged with it as the
    /// record timestamp.
    pub fn timestamped_key_value_store_builder<K: 'static, V: 'static>(
        supplier: impl KeyValueBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> KeyValueStoreBuilder<K, ValueAndTimestamp<V>> {
        KeyValueStoreBuilder::new(
            Arc::new(supplier),
            key_serde,
            Arc::new(ValueAndTimestampSerde::new(value_serde)),
            true,
        )
    }

    /// A builder of [`VersionedKeyValueStore`](crate::VersionedKeyValueStore)s over
    /// `supplier`'s stores, logged by default and never cached.
    pub fn versioned_key_value_store_builder<K: 'static, V: 'static>(
        supplier: impl VersionedBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> VersionedKeyValueStoreBuilder<K, V> {
        VersionedKeyValueStoreBuilder::new(Arc::new(supplier), key_serde, value_serde)
    }

    /// A builder of typed window stores over `supplier`'s stores.
    pub fn window_store_builder<K: 'static, V: 'static>(
        supplier: impl WindowBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> WindowStoreBuilder<K, V> {
        WindowStoreBuilder::new(Arc::new(supplier), key_serde, value_serde, false)
    }

    /// A builder of [`TimestampedWindowStore`](crate::TimestampedWindowStore)s.
    pub fn timestamped_window_store_builder<K: 'static, V: 'static>(
        supplier: impl WindowBytesStoreSupplier + 'static,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> WindowStoreBuilder<K, ValueAndTimestamp<V>> {
        WindowStoreBuilder::new(
            Arc::new(supplier),
            key_serde,
            Arc::new(ValueAndTimestampSerde::new(value_serde)),
            true,
        )
    }
}
