//! The typed stores processors use: serdes over a stack of bytes layers.

use std::cell::Cell;

use streams_core::serde::SerdeRef;
use streams_core::state::{
    CacheFlushEntry, KeyValueBytesIter, KeyValueBytesStore, KeyValueIter, KeyValueStore,
    ReadOnlyKeyValueStore, ReadOnlyWindowStore, StateStore, ValueAndTimestamp, WindowBytesStore,
    WindowIter, WindowStore, WindowedIter,
};
use streams_core::window::{Window, Windowed};
use streams_core::{Error, Result};

use crate::delegate::delegate_state_store;
use crate::window_key;

/// An update released by a store's cache, deserialized: what the owning processor forwards
/// (key, new value, old value, timestamp), as Kafka Streams' cache flush listener.
#[derive(Debug, Clone, PartialEq)]
pub struct FlushedEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value now in the store; `None` for a delete.
    pub new_value: Option<V>,
    /// The value the store held before; `None` if it had none.
    pub old_value: Option<V>,
    /// The timestamp of the record that made the update.
    pub timestamp: i64,
}

/// An update released by a window store's cache, deserialized.
#[derive(Debug, Clone, PartialEq)]
pub struct FlushedWindowEntry<K, V> {
    /// The key and its window.
    pub key: Windowed<K>,
    /// The value now in the store; `None` for a delete.
    pub new_value: Option<V>,
    /// The value the store held before; `None` if it had none.
    pub old_value: Option<V>,
    /// The timestamp of the record that made the update.
    pub timestamp: i64,
}

/// The serialized bounds of a range.
type RangeBytes = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The serdes and the scratch buffer shared by the typed stores.
pub(crate) struct Codec<K, V> {
    store: String,
    /// The topic name handed to serdes: the changelog topic, as Kafka Streams' metered
    /// stores do.
    topic: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    key_buf: Cell<Vec<u8>>,
    pub(crate) value_buf: Vec<u8>,
}

impl<K: 'static, V: 'static> Codec<K, V> {
    pub(crate) fn new(
        store: &str,
        topic: String,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        Codec {
            store: store.to_owned(),
            topic,
            key_serde,
            value_serde,
            key_buf: Cell::new(Vec::new()),
            value_buf: Vec::new(),
        }
    }

    /// Runs `f` on the serialized key, reusing one buffer across calls.
    pub(crate) fn with_key<R>(&self, key: &K, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
        let mut buf = self.key_buf.take();
        buf.clear();
        let out = match self.key_serde.serialize(&self.topic, key, &mut buf) {
            Ok(true) => f(&buf),
            Ok(false) => Err(self.null_key()),
            Err(e) => Err(e),
        };
        self.key_buf.set(buf);
        out
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>> {
        self.with_key(key, |k| Ok(k.to_vec()))
    }

    fn null_key(&self) -> Error {
        Error::Store {
            store: self.store.clone(),
            reason: "a state store key cannot be null".into(),
            source: None,
        }
    }

    /// Serializes `value` into the value buffer; `false` when the serde says it is null.
    pub(crate) fn encode_value(&mut self, value: &V) -> Result<bool> {
        self.value_buf.clear();
        self.value_serde
            .serialize(&self.topic, value, &mut self.value_buf)
    }

    fn key(&self, bytes: &[u8]) -> Result<K> {
        self.key_serde.deserialize(&self.topic, Some(bytes))
    }

    pub(crate) fn value(&self, bytes: &[u8]) -> Result<V> {
        self.value_serde.deserialize(&self.topic, Some(bytes))
    }

    pub(crate) fn opt_value(&self, bytes: Option<&[u8]>) -> Result<Option<V>> {
        bytes.map(|b| self.value(b)).transpose()
    }

    fn pairs<'a>(&'a self, iter: KeyValueBytesIter<'a>) -> KeyValueIter<'a, K, V> {
        Box::new(iter.map(move |item| {
            let (k, v) = item?;
            Ok((self.key(&k)?, self.value(&v)?))
        }))
    }
}

/// A typed key-value store: serdes over a stack of bytes layers (caching, change-logging,
/// RocksDB or memory), as Kafka Streams' `MeteredKeyValueStore`.
///
/// Its type does not depend on the layers, which it holds as a
/// `Box<dyn KeyValueBytesStore>`; processors and the test driver name it by key and value
/// types alone. A processor gets it once, at init, as `Rc<RefCell<TypedKeyValueStore<K,
/// V>>>` from the state manager.
///
/// Iterators borrow the store, so they cannot outlive it (nor a `RefCell` borrow of it).
/// An iterator used while the borrow lasts:
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// use streams_core::serde::Serdes;
/// use streams_core::state::ReadOnlyKeyValueStore;
/// use streams_state::{InMemoryKeyValueStore, TypedKeyValueStore};
///
/// let store: TypedKeyValueStore<String, String> = TypedKeyValueStore::new(
///     Box::new(InMemoryKeyValueStore::new("s")),
///     "app-s-changelog",
///     Serdes::string(),
///     Serdes::string(),
/// );
/// let shared = Rc::new(RefCell::new(store));
///
/// let guard = shared.borrow();
/// let iter = guard.all().ok();
/// drop(iter);
/// ```
///
/// An iterator cannot escape the borrow it came from:
///
/// ```compile_fail,E0597
/// # use std::cell::RefCell;
/// # use std::rc::Rc;
/// #
/// # use streams_core::serde::Serdes;
/// # use streams_core::state::ReadOnlyKeyValueStore;
/// # use streams_state::{InMemoryKeyValueStore, TypedKeyValueStore};
/// #
/// # let store: TypedKeyValueStore<String, String> = TypedKeyValueStore::new(
/// #     Box::new(InMemoryKeyValueStore::new("s")),
/// #     "app-s-changelog",
/// #     Serdes::string(),
/// #     Serdes::string(),
/// # );
/// # let shared = Rc::new(RefCell::new(store));
/// #
/// let iter = {
///     let guard = shared.borrow();
///     guard.all().ok()
/// };
/// drop(iter);
/// ```
pub struct TypedKeyValueStore<K, V> {
    inner: Box<dyn KeyValueBytesStore>,
    codec: Codec<K, V>,
}

/// A key-value store of values with the timestamp of their last update, as Kafka Streams'
/// `TimestampedKeyValueStore` (the store holds Java's format: 8-byte timestamp, value).
pub type TimestampedKeyValueStore<K, V> = TypedKeyValueStore<K, ValueAndTimestamp<V>>;

impl<K, V> std::fmt::Debug for TypedKeyValueStore<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedKeyValueStore")
            .field("store", &self.codec.store)
            .field("topic", &self.codec.topic)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> TypedKeyValueStore<K, V> {
    /// Types `inner` with the serdes; `topic` is the name handed to them (the changelog
    /// topic).
    pub fn new(
        inner: Box<dyn KeyValueBytesStore>,
        topic: impl Into<String>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        let codec = Codec::new(inner.name(), topic.into(), key_serde, value_serde);
        TypedKeyValueStore { inner, codec }
    }

    /// The bytes store underneath.
    pub fn bytes_store(&self) -> &dyn KeyValueBytesStore {
        self.inner.as_ref()
    }

    /// The bytes store underneath, mutably.
    pub fn bytes_store_mut(&mut self) -> &mut dyn KeyValueBytesStore {
        self.inner.as_mut()
    }

    /// Whether a caching layer holds writes back.
    pub fn caching_enabled(&self) -> bool {
        self.inner.caching_enabled()
    }

    /// Whether released updates carry the value the store held before: see
    /// [`KeyValueBytesStore::set_send_old_values`]. A processor that forwards no old
    /// values turns them off, saving a read per released update.
    pub fn set_send_old_values(&mut self, send: bool) {
        self.inner.set_send_old_values(send);
    }

    /// The updates the cache released since the last call (after evictions), deserialized,
    /// for the processor to forward. Empty without caching.
    ///
    /// # Errors
    ///
    /// A deserialization error; the updates are gone from the cache regardless.
    pub fn take_evicted(&mut self) -> Result<Vec<FlushedEntry<K, V>>> {
        self.inner
            .take_evicted()
            .into_iter()
            .map(|e| self.flushed(e))
            .collect()
    }

    /// Writes every dirty cache entry below and hands each released update to `forward`,
    /// in order. The owning processor calls it at commit. Does nothing without caching.
    ///
    /// # Errors
    ///
    /// A store or deserialization error; the updates delivered before it stay delivered.
    pub fn flush_cache(&mut self, mut forward: impl FnMut(FlushedEntry<K, V>)) -> Result<()> {
        let mut raw = Vec::new();
        self.inner.flush_cache(&mut |e| raw.push(e))?;
        for e in raw {
            forward(self.flushed(e)?);
        }
        Ok(())
    }

    fn flushed(&self, e: CacheFlushEntry) -> Result<FlushedEntry<K, V>> {
        Ok(FlushedEntry {
            key: self.codec.key(&e.key)?,
            new_value: self.codec.opt_value(e.new_value.as_deref())?,
            old_value: self.codec.opt_value(e.old_value.as_deref())?,
            timestamp: e.timestamp,
        })
    }

    fn range_bytes(&self, from: Option<&K>, to: Option<&K>) -> Result<RangeBytes> {
        Ok((
            from.map(|k| self.codec.key_bytes(k)).transpose()?,
            to.map(|k| self.codec.key_bytes(k)).transpose()?,
        ))
    }
}

impl<K: 'static, V: 'static> StateStore for TypedKeyValueStore<K, V> {
    delegate_state_store!(inner);
}

impl<K: 'static, V: 'static> ReadOnlyKeyValueStore<K, V> for TypedKeyValueStore<K, V> {
    fn get(&self, key: &K) -> Result<Option<V>> {
        let bytes = self.codec.with_key(key, |k| self.inner.get(k))?;
        self.codec.opt_value(bytes.as_deref())
    }

    fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        let (f, t) = self.range_bytes(from, to)?;
        Ok(self
            .codec
            .pairs(self.inner.range(f.as_deref(), t.as_deref())?))
    }

    fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>> {
        let (f, t) = self.range_bytes(from, to)?;
        Ok(self
            .codec
            .pairs(self.inner.reverse_range(f.as_deref(), t.as_deref())?))
    }

    fn all(&self) -> Result<KeyValueIter<'_, K, V>> {
        Ok(self.codec.pairs(self.inner.all()?))
    }

    fn reverse_all(&self) -> Result<KeyValueIter<'_, K, V>> {
        Ok(self.codec.pairs(self.inner.reverse_all()?))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_, K, V>> {
        Ok(self.codec.pairs(self.inner.prefix_scan(prefix)?))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}

impl<K: 'static, V: 'static> KeyValueStore<K, V> for TypedKeyValueStore<K, V> {
    fn put(&mut self, key: &K, value: &V) -> Result<()> {
        let present = self.codec.encode_value(value)?;
        let value_bytes = std::mem::take(&mut self.codec.value_buf);
        let inner = &mut self.inner;
        let out = self.codec.with_key(key, |k| {
            inner.put(k, present.then_some(value_bytes.as_slice()))
        });
        self.codec.value_buf = value_bytes;
        out
    }

    fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>> {
        if !self.codec.encode_value(value)? {
            // A null value never replaces anything, so this is a read.
            return self.get(key);
        }
        let value_bytes = std::mem::take(&mut self.codec.value_buf);
        let inner = &mut self.inner;
        let previous = self
            .codec
            .with_key(key, |k| inner.put_if_absent(k, &value_bytes));
        self.codec.value_buf = value_bytes;
        self.codec.opt_value(previous?.as_deref())
    }

    fn put_all(&mut self, entries: &[(K, V)]) -> Result<()> {
        let mut keys = Vec::with_capacity(entries.len());
        let mut values = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            keys.push(self.codec.key_bytes(k)?);
            values.push(
                self.codec
                    .encode_value(v)?
                    .then(|| self.codec.value_buf.clone()),
            );
        }
        let batch: Vec<(&[u8], Option<&[u8]>)> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        self.inner.put_all(&batch)
    }

    fn delete(&mut self, key: &K) -> Result<Option<V>> {
        let inner = &mut self.inner;
        let old = self.codec.with_key(key, |k| inner.delete(k))?;
        self.codec.opt_value(old.as_deref())
    }
}

/// A typed window store: serdes over a stack of window bytes layers, as Kafka Streams'
/// `MeteredWindowStore`. Like [`TypedKeyValueStore`], its type does not depend on the
/// layers.
pub struct TypedWindowStore<K, V> {
    inner: Box<dyn WindowBytesStore>,
    codec: Codec<K, V>,
}

/// A window store of values with the timestamp of their last update, as Kafka Streams'
/// `TimestampedWindowStore`.
pub type TimestampedWindowStore<K, V> = TypedWindowStore<K, ValueAndTimestamp<V>>;

impl<K, V> std::fmt::Debug for TypedWindowStore<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedWindowStore")
            .field("store", &self.codec.store)
            .field("topic", &self.codec.topic)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> TypedWindowStore<K, V> {
    /// Types `inner` with the serdes; `topic` is the name handed to them.
    pub fn new(
        inner: Box<dyn WindowBytesStore>,
        topic: impl Into<String>,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        let codec = Codec::new(inner.name(), topic.into(), key_serde, value_serde);
        TypedWindowStore { inner, codec }
    }

    /// The bytes store underneath.
    pub fn bytes_store(&self) -> &dyn WindowBytesStore {
        self.inner.as_ref()
    }

    /// The window size in milliseconds.
    pub fn window_size(&self) -> i64 {
        self.inner.window_size()
    }

    /// The retention period in milliseconds.
    pub fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }

    /// Whether a caching layer holds writes back.
    pub fn caching_enabled(&self) -> bool {
        self.inner.caching_enabled()
    }

    /// Whether released updates carry the value the store held before: see
    /// [`WindowBytesStore::set_send_old_values`]. A processor that forwards no old values
    /// turns them off, saving a read per released update.
    pub fn set_send_old_values(&mut self, send: bool) {
        self.inner.set_send_old_values(send);
    }

    /// The updates the cache released since the last call, deserialized.
    ///
    /// # Errors
    ///
    /// A deserialization error.
    pub fn take_evicted(&mut self) -> Result<Vec<FlushedWindowEntry<K, V>>> {
        self.inner
            .take_evicted()
            .into_iter()
            .map(|e| self.flushed(e))
            .collect()
    }

    /// Writes every dirty cache entry below and hands each released update to `forward`.
    ///
    /// # Errors
    ///
    /// A store or deserialization error.
    pub fn flush_cache(&mut self, mut forward: impl FnMut(FlushedWindowEntry<K, V>)) -> Result<()> {
        let mut raw = Vec::new();
        self.inner.flush_cache(&mut |e| raw.push(e))?;
        for e in raw {
            forward(self.flushed(e)?);
        }
        Ok(())
    }

    fn windowed(&self, key: K, start: i64) -> Windowed<K> {
        Windowed::new(
            key,
            Window::new(start, start.saturating_add(self.inner.window_size())),
        )
    }

    fn flushed(&self, e: CacheFlushEntry) -> Result<FlushedWindowEntry<K, V>> {
        let (key, start, _) = window_key::decode(&e.key).ok_or_else(|| Error::Store {
            store: self.codec.store.clone(),
            reason: "a cache entry has a malformed window-store key".into(),
            source: None,
        })?;
        Ok(FlushedWindowEntry {
            key: self.windowed(self.codec.key(key)?, start),
            new_value: self.codec.opt_value(e.new_value.as_deref())?,
            old_value: self.codec.opt_value(e.old_value.as_deref())?,
            timestamp: e.timestamp,
        })
    }
}

impl<K: 'static, V: 'static> StateStore for TypedWindowStore<K, V> {
    delegate_state_store!(inner);
}

impl<K: 'static, V: 'static> ReadOnlyWindowStore<K, V> for TypedWindowStore<K, V> {
    fn fetch_at(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        let bytes = self
            .codec
            .with_key(key, |k| self.inner.fetch_at(k, window_start))?;
        self.codec.opt_value(bytes.as_deref())
    }

    fn fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<WindowIter<'_, V>> {
        let iter = self
            .codec
            .with_key(key, |k| self.inner.fetch(k, time_from, time_to))?;
        Ok(Box::new(iter.map(move |item| {
            let e = item?;
            Ok((e.window_start, self.codec.value(&e.value)?))
        })))
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowedIter<'_, K, V>> {
        let iter = self.inner.fetch_all(time_from, time_to)?;
        Ok(Box::new(iter.map(move |item| {
            let e = item?;
            Ok((
                self.windowed(self.codec.key(&e.key)?, e.window_start),
                self.codec.value(&e.value)?,
            ))
        })))
    }

    fn all(&self) -> Result<WindowedIter<'_, K, V>> {
        let iter = self.inner.all()?;
        Ok(Box::new(iter.map(move |item| {
            let e = item?;
            Ok((
                self.windowed(self.codec.key(&e.key)?, e.window_start),
                self.codec.value(&e.value)?,
            ))
        })))
    }
}

impl<K: 'static, V: 'static> WindowStore<K, V> for TypedWindowStore<K, V> {
    fn put(&mut self, key: &K, value: &V, window_start: i64) -> Result<()> {
        let present = self.codec.encode_value(value)?;
        let value_bytes = std::mem::take(&mut self.codec.value_buf);
        let inner = &mut self.inner;
        let out = self.codec.with_key(key, |k| {
            inner.put(k, present.then_some(value_bytes.as_slice()), window_start)
        });
        self.codec.value_buf = value_bytes;
        out
    }

    fn delete(&mut self, key: &K, window_start: i64) -> Result<()> {
        let inner = &mut self.inner;
        self.codec
            .with_key(key, |k| inner.put(k, None, window_start))
    }
}
