//! The caching layer over key-value bytes stores.

use std::ops::Bound;

use streams_core::Result;
use streams_core::state::{
    CacheFlushEntry, KeyValueBytesIter, KeyValueBytesStore, StateStore, StoreContext,
};

use super::cache::Cache;
use super::layer::{CachingLayer, caching_state_store};
use super::merge::MergeIter;
use super::named_cache::Dirty;

/// A write-back cache over a key-value bytes store, as Kafka Streams'
/// `CachingKeyValueStore`.
///
/// Puts and deletes stay in the cache until it is flushed (at commit) or runs over its
/// byte budget; until then, several updates of one key cost one write below and one
/// update downstream. Released updates queue up as [`CacheFlushEntry`]s, with the value
/// the store below held before, for the owning processor to take with
/// [`take_evicted`](KeyValueBytesStore::take_evicted) after its writes and with
/// [`flush_cache`](KeyValueBytesStore::flush_cache) at commit. Each goes below under its
/// own record timestamp, so the changelog carries it.
///
/// Reads consult the cache first; range reads merge a snapshot of the cached range with
/// the store's iterator. Reads do not fill the cache.
pub struct CachingKeyValueStore {
    inner: Box<dyn KeyValueBytesStore>,
    cache: Cache,
    send_old_values: bool,
}

impl std::fmt::Debug for CachingKeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingKeyValueStore")
            .field("store", &self.cache.store)
            .field("budget", &self.cache.budget)
            .field("cached_bytes", &self.cache.bytes())
            .finish_non_exhaustive()
    }
}

impl CachingKeyValueStore {
    /// Wraps `inner` with a cache of `ctx.cache_bytes()` bytes.
    pub fn new(inner: Box<dyn KeyValueBytesStore>, ctx: &StoreContext) -> Self {
        let cache = Cache::new(inner.name(), ctx);
        CachingKeyValueStore {
            inner,
            cache,
            send_old_values: true,
        }
    }

    /// Bytes the cache holds now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Entries the cache holds now.
    pub fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    fn merged<'a>(
        &'a self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
        store: KeyValueBytesIter<'a>,
    ) -> KeyValueBytesIter<'a> {
        if matches!((from, to), (Some(f), Some(t)) if f > t) {
            return Box::new(std::iter::empty());
        }
        let mut snapshot = self.cache.snapshot(
            from.map_or(Bound::Unbounded, Bound::Included),
            to.map_or(Bound::Unbounded, Bound::Included),
        );
        if reverse {
            snapshot.reverse();
        }
        Box::new(MergeIter::new(snapshot, store, reverse))
    }
}

impl CachingLayer for CachingKeyValueStore {
    type Inner = dyn KeyValueBytesStore;

    fn cache_mut(&mut self) -> &mut Cache {
        &mut self.cache
    }

    fn inner_mut(&mut self) -> &mut Self::Inner {
        self.inner.as_mut()
    }

    fn write_dirty(&mut self, dirty: Vec<Dirty>) -> Result<()> {
        let inner = &mut self.inner;
        let send_old = self.send_old_values;
        self.cache.write_through(dirty, |key, value| {
            // As Kafka Streams' CachingKeyValueStore: the old value is read for a delete
            // (to skip deleting what is not there) or when it is sent downstream.
            let old = if value.is_none() || send_old {
                inner.get(key)?
            } else {
                None
            };
            if value.is_none() && old.is_none() {
                return Ok(None);
            }
            inner.put(key, value)?;
            Ok(Some(old))
        })
    }
}

impl StateStore for CachingKeyValueStore {
    caching_state_store!();
}

impl KeyValueBytesStore for CachingKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.cache.get(key) {
            Some(cached) => Ok(cached),
            None => self.inner.get(key),
        }
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.cache.put(key, value);
        let evicted = self.cache.evict();
        self.write_dirty(evicted)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(existing) = self.get(key)? {
            return Ok(Some(existing));
        }
        self.put(key, Some(value))?;
        Ok(None)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?;
        self.put(key, None)?;
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>> {
        let store = self.inner.range(from, to)?;
        Ok(self.merged(from, to, false, store))
    }

    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>> {
        let store = self.inner.reverse_range(from, to)?;
        Ok(self.merged(from, to, true, store))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>> {
        let store = self.inner.prefix_scan(prefix)?;
        let snapshot: Vec<_> = self
            .cache
            .snapshot(Bound::Included(prefix), Bound::Unbounded)
            .into_iter()
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect();
        Ok(Box::new(MergeIter::new(snapshot, store, false)))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }

    fn caching_enabled(&self) -> bool {
        true
    }

    fn set_send_old_values(&mut self, send: bool) {
        self.send_old_values = send;
    }

    fn take_evicted(&mut self) -> Vec<CacheFlushEntry> {
        self.cache.take_pending()
    }

    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        self.flush_cache_layer(sink)
    }
}
