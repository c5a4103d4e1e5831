//! The typed versioned key-value store processors use.

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::{StateStore, VersionedBytesStore, VersionedRecord};

use crate::delegate::delegate_state_store;
use crate::typed::Codec;

/// A typed versioned key-value store: serdes over a stack of versioned bytes layers
/// (change-logging, RocksDB), as Kafka Streams' `MeteredVersionedKeyValueStore`. Versioned
/// stores have no caching layer, in Kafka Streams either. A processor gets it once, at init,
/// with `ctx.state_store::<VersionedKeyValueStore<K, V>>(name)`.
///
/// The rules are [`VersionedBytesStore`]'s: every put is a version valid from its timestamp
/// until the next version's; a put with an existing version's timestamp replaces it; a
/// tombstone is a version; history older than the observed stream time minus the history
/// retention is dropped and cannot be written or read, while the latest value never
/// expires.
///
/// # Examples
///
/// ```
/// use streams_core::serde::Serdes;
/// use streams_core::state::{PUT_RETURN_CODE_NOT_PUT, PUT_RETURN_CODE_VALID_TO_UNDEFINED, VersionedRecord};
/// use streams_state::{RocksDbResources, RocksDbVersionedStore, VersionedKeyValueStore};
///
/// let dir = tempfile::tempdir()?;
/// let bytes = RocksDbVersionedStore::open("tiers", dir.path().join("tiers"), 1_000, 500, RocksDbResources::shared(), None)?;
/// let mut tiers = VersionedKeyValueStore::new(Box::new(bytes), "app-tiers-changelog", Serdes::string(), Serdes::string());
/// let alice = "alice".to_string();
/// assert_eq!(tiers.put(&alice, Some(&"gold".to_string()), 2_000)?, PUT_RETURN_CODE_VALID_TO_UNDEFINED);
/// assert_eq!(tiers.put(&alice, Some(&"silver".to_string()), 1_500)?, 2_000); // out of order
/// assert_eq!(tiers.put(&alice, Some(&"bronze".to_string()), 900)?, PUT_RETURN_CODE_NOT_PUT); // older than 2000 - 1000
/// assert_eq!(tiers.get_as_of(&alice, 1_700)?, Some(VersionedRecord::new("silver".to_string(), 1_500, Some(2_000))));
/// assert_eq!(tiers.get(&alice)?, Some(VersionedRecord::new("gold".to_string(), 2_000, None)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VersionedKeyValueStore<K, V> {
    inner: Box<dyn VersionedBytesStore>,
    codec: Codec<K, V>,
}

impl<K, V> std::fmt::Debug for VersionedKeyValueStore<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionedKeyValueStore")
            .field("store", &self.inner.name())
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> VersionedKeyValueStore<K, V> {
    /// Types `inner` with the serdes; `topic` is the name handed to them (the changelog
    /// topic).
    pub fn new(
        inner: Box<dyn VersionedBytesStore>,
        topic: impl Into<String>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        let codec = Codec::new(inner.name(), topic.into(), key_serde, value_serde);
        VersionedKeyValueStore { inner, codec }
    }

    /// Adds the version `value` of `key` valid from `timestamp`; `None` (or a value the
    /// serde reports as null) adds a tombstone. Returns the timestamp until which the new
    /// version is valid, [`PUT_RETURN_CODE_VALID_TO_UNDEFINED`] when it is the latest, or
    /// [`PUT_RETURN_CODE_NOT_PUT`] when `timestamp` is older than the observed stream time
    /// minus the history retention and nothing was stored.
    ///
    /// [`PUT_RETURN_CODE_VALID_TO_UNDEFINED`]: streams_core::state::PUT_RETURN_CODE_VALID_TO_UNDEFINED
    /// [`PUT_RETURN_CODE_NOT_PUT`]: streams_core::state::PUT_RETURN_CODE_NOT_PUT
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`](streams_core::Error::Store) when the store fails.
    pub fn put(&mut self, key: &K, value: Option<&V>, timestamp: i64) -> Result<i64> {
        let present = match value {
            Some(v) => self.codec.encode_value(v)?,
            None => false,
        };
        let value_bytes = std::mem::take(&mut self.codec.value_buf);
        let inner = &mut self.inner;
        let out = self.codec.with_key(key, |k| {
            inner.put(k, present.then_some(value_bytes.as_slice()), timestamp)
        });
        self.codec.value_buf = value_bytes;
        out
    }

    /// Adds a tombstone for `key` at `timestamp` and returns the version valid at
    /// `timestamp` before it; `None` without storing anything when `timestamp` is older than
    /// the observed stream time minus the history retention.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`](streams_core::Error::Store) when the store fails.
    pub fn delete(&mut self, key: &K, timestamp: i64) -> Result<Option<VersionedRecord<V>>> {
        let inner = &mut self.inner;
        let old = self.codec.with_key(key, |k| inner.delete(k, timestamp))?;
        self.typed(old)
    }

    /// The latest version of `key`; `None` if there is none or it is a tombstone.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`](streams_core::Error::Store) when the store fails.
    pub fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>> {
        let found = self.codec.with_key(key, |k| self.inner.get(k))?;
        self.typed(found)
    }

    /// The version of `key` valid at `as_of`, with the timestamp until which it is valid;
    /// `None` if there is none or it is a tombstone. When `as_of` is older than the observed
    /// stream time minus the history retention only the latest value can answer (if its
    /// timestamp is at or before `as_of`).
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`](streams_core::Error::Store) when the store fails.
    pub fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>> {
        let found = self
            .codec
            .with_key(key, |k| self.inner.get_as_of(k, as_of))?;
        self.typed(found)
    }

    /// How far behind the observed stream time versions stay readable, in milliseconds.
    pub fn history_retention(&self) -> i64 {
        self.inner.history_retention()
    }

    fn typed(&self, found: Option<VersionedRecord<Vec<u8>>>) -> Result<Option<VersionedRecord<V>>> {
        found
            .map(|r| {
                Ok(VersionedRecord::new(
                    self.codec.value(&r.value)?,
                    r.timestamp,
                    r.valid_to,
                ))
            })
            .transpose()
    }
}

impl<K: 'static, V: 'static> StateStore for VersionedKeyValueStore<K, V> {
    delegate_state_store!(inner);
}
