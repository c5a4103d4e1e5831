//! The caching layers: writes are held in a byte-bounded cache, de-duplicated per key, and
//! released to the layers below (and to the owning processor) on flush or eviction.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::rc::Rc;

use streams_core::Result;
use streams_core::state::{
    CacheFlushEntry, ChangelogRecord, KeyValueBytesIter, KeyValueBytesStore, StateStore,
    StoreContext, WindowBytesEntry, WindowBytesIter, WindowBytesStore,
};

use crate::window_key;

/// Bytes charged per entry on top of its key and value, for the map nodes and bookkeeping.
const ENTRY_OVERHEAD: usize = 64;

#[derive(Debug)]
struct CacheEntry {
    value: Option<Vec<u8>>,
    timestamp: i64,
    lru_tick: u64,
    dirty_tick: Option<u64>,
}

impl CacheEntry {
    fn size(&self, key: &[u8]) -> usize {
        key.len() + self.value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
    }
}

/// A cached key, shared by the entry map and the LRU and dirty orders: one allocation
/// per key in the cache, not three.
type Key = Rc<[u8]>;

/// A dirty entry leaving the cache: key, value (`None` = delete), record timestamp.
type Dirty = (Key, Option<Vec<u8>>, i64);

/// A cached key and its value (`None` = a cached delete).
type Cached = (Vec<u8>, Option<Vec<u8>>);

/// The cache of one store, as Kafka Streams' `NamedCache`: sorted for range reads, with
/// least-recently-used eviction and dirty keys flushed in the order they became dirty.
#[derive(Debug, Default)]
struct NamedCache {
    entries: BTreeMap<Key, CacheEntry>,
    lru: BTreeMap<u64, Key>,
    dirty: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
}

impl NamedCache {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The cached value of `key` (`Some(None)` for a cached delete), marking it used.
    fn get(&mut self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(key)?;
        if let Some(k) = self.lru.remove(&entry.lru_tick) {
            self.lru.insert(tick, k);
        }
        entry.lru_tick = tick;
        Some(entry.value.clone())
    }

    fn put_dirty(&mut self, key: &[u8], value: Option<Vec<u8>>, timestamp: i64) {
        let lru_tick = self.next_tick();
        let dirty_tick = self.next_tick();
        if let Some(entry) = self.entries.get_mut(key) {
            self.bytes -= entry.size(key);
            let shared = self
                .lru
                .remove(&entry.lru_tick)
                .unwrap_or_else(|| key.into());
            self.lru.insert(lru_tick, Rc::clone(&shared));
            // Re-dirtying moves the key to the back of the flush order, as Kafka Streams does.
            if let Some(old) = entry.dirty_tick {
                self.dirty.remove(&old);
            }
            self.dirty.insert(dirty_tick, shared);
            entry.value = value;
            entry.timestamp = timestamp;
            entry.lru_tick = lru_tick;
            entry.dirty_tick = Some(dirty_tick);
            self.bytes += entry.size(key);
        } else {
            let entry = CacheEntry {
                value,
                timestamp,
                lru_tick,
                dirty_tick: Some(dirty_tick),
            };
            self.bytes += entry.size(key);
            let shared: Key = key.into();
            self.lru.insert(lru_tick, Rc::clone(&shared));
            self.dirty.insert(dirty_tick, Rc::clone(&shared));
            self.entries.insert(shared, entry);
        }
    }

    /// Removes the least recently used entry; returns it if it was dirty.
    fn evict_lru(&mut self) -> Option<Option<Dirty>> {
        let (_, key) = self.lru.pop_first()?;
        let entry = self.entries.remove(&*key)?;
        self.bytes -= entry.size(&key);
        Some(entry.dirty_tick.map(|t| {
            self.dirty.remove(&t);
            (key, entry.value, entry.timestamp)
        }))
    }

    /// Every dirty entry in flush order, marking them clean. Cached deletes leave the cache.
    fn take_dirty(&mut self) -> Vec<Dirty> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out = Vec::with_capacity(dirty.len());
        for (_, key) in dirty {
            let Some(entry) = self.entries.get_mut(&*key) else {
                continue;
            };
            entry.dirty_tick = None;
            if entry.value.is_none() {
                let size = entry.size(&key);
                let lru_tick = entry.lru_tick;
                let timestamp = entry.timestamp;
                self.entries.remove(&*key);
                self.lru.remove(&lru_tick);
                self.bytes -= size;
                out.push((key, None, timestamp));
            } else {
                out.push((key, entry.value.clone(), entry.timestamp));
            }
        }
        out
    }

    fn snapshot(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Vec<Cached> {
        self.entries
            .range::<[u8], _>((from, to))
            .map(|(k, e)| (k.to_vec(), e.value.clone()))
            .collect()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn clear(&mut self) {
        *self = NamedCache::default();
    }
}

/// What the caching layers share: the cache, its budget, the record timestamp, and the
/// updates released but not yet taken by the processor.
struct Cache {
    store: String,
    cache: RefCell<NamedCache>,
    budget: usize,
    timestamp: Rc<Cell<i64>>,
    pending: Vec<CacheFlushEntry>,
}

impl Cache {
    fn new(store: &str, ctx: &StoreContext) -> Self {
        Cache {
            store: store.to_owned(),
            cache: RefCell::new(NamedCache::default()),
            budget: ctx.cache_bytes(),
            timestamp: ctx.timestamp_source().clone(),
            pending: Vec::new(),
        }
    }

    /// Writes dirty entries below with `write` (given key, value, and returning the old
    /// value), each under its own record timestamp so that the change-logging layer stamps
    /// it as Kafka Streams does, and queues the releases.
    fn write_through(
        &mut self,
        dirty: Vec<Dirty>,
        mut write: impl FnMut(&[u8], Option<&[u8]>) -> Result<Option<Option<Vec<u8>>>>,
    ) -> Result<()> {
        let current = self.timestamp.get();
        let mut outcome = Ok(());
        for (key, new_value, timestamp) in dirty {
            self.timestamp.set(timestamp);
            match write(&key, new_value.as_deref()) {
                Ok(Some(old_value)) => self.pending.push(CacheFlushEntry {
                    key: key.to_vec(),
                    new_value,
                    old_value,
                    timestamp,
                }),
                Ok(None) => {}
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        self.timestamp.set(current);
        outcome
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        let ts = self.timestamp.get();
        self.cache
            .get_mut()
            .put_dirty(key, value.map(<[u8]>::to_vec), ts);
    }

    /// Evicts while over budget. When a dirty entry goes, every dirty entry is flushed
    /// with it (the evicted one first), as Kafka Streams' `NamedCache.evict` does.
    fn evict(&mut self) -> Vec<Dirty> {
        let mut out = Vec::new();
        loop {
            let cache = self.cache.get_mut();
            if cache.bytes <= self.budget || cache.len() == 0 {
                break;
            }
            match cache.evict_lru() {
                None => break,
                Some(Some(evicted)) => {
                    out.push(evicted);
                    out.extend(cache.take_dirty());
                }
                Some(None) => {}
            }
        }
        out
    }

    fn take_dirty(&mut self) -> Vec<Dirty> {
        self.cache.get_mut().take_dirty()
    }

    fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        match self.cache.try_borrow_mut() {
            Ok(mut cache) => cache.get(key),
            // Only reachable if a read re-enters the cache during another read; answering
            // without touching the LRU order is still correct.
            Err(_) => self
                .cache
                .try_borrow()
                .ok()
                .and_then(|c| c.entries.get(key).map(|e| e.value.clone())),
        }
    }

    fn snapshot(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Vec<Cached> {
        self.cache
            .try_borrow()
            .map(|c| c.snapshot(from, to))
            .unwrap_or_default()
    }

    fn bytes(&self) -> usize {
        self.cache.try_borrow().map(|c| c.bytes).unwrap_or(0)
    }

    fn len(&self) -> usize {
        self.cache.try_borrow().map(|c| c.len()).unwrap_or(0)
    }
}

/// Merges a snapshot of cache entries with the store's iterator: on equal keys the cache
/// wins, and cached deletes hide the store's entry.
struct MergeIter<'a> {
    cache: Peekable<std::vec::IntoIter<Cached>>,
    store: Peekable<KeyValueBytesIter<'a>>,
    reverse: bool,
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.cache.peek(), self.store.peek()) {
                (None, None) => return None,
                (None, Some(_)) | (_, Some(Err(_))) => return self.store.next(),
                (Some(_), None) => Ordering::Less,
                (Some((ck, _)), Some(Ok((sk, _)))) => {
                    let o = ck.as_slice().cmp(sk.as_slice());
                    if self.reverse { o.reverse() } else { o }
                }
            };
            match order {
                Ordering::Greater => return self.store.next(),
                Ordering::Equal => {
                    self.store.next();
                }
                Ordering::Less => {}
            }
            if let Some((k, Some(v))) = self.cache.next() {
                return Some(Ok((k, v)));
            }
        }
    }
}

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
        Box::new(MergeIter {
            cache: snapshot.into_iter().peekable(),
            store: store.peekable(),
            reverse,
        })
    }
}

impl StateStore for CachingKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }

    fn flush(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        self.write_dirty(dirty)?;
        self.inner.flush()
    }

    fn commit(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        self.write_dirty(dirty)?;
        self.inner.commit()
    }

    fn close(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        let written = self.write_dirty(dirty);
        self.cache.cache.get_mut().clear();
        self.cache.pending.clear();
        let closed = self.inner.close();
        written.and(closed)
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.inner.restore_batch(records)
    }
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
        Ok(Box::new(MergeIter {
            cache: snapshot.into_iter().peekable(),
            store: store.peekable(),
            reverse: false,
        }))
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
        std::mem::take(&mut self.cache.pending)
    }

    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        let dirty = self.cache.take_dirty();
        let written = self.write_dirty(dirty);
        for entry in std::mem::take(&mut self.cache.pending) {
            sink(entry);
        }
        written
    }
}

/// A write-back cache over a window bytes store, as Kafka Streams' `CachingWindowStore`.
///
/// It behaves as [`CachingKeyValueStore`] does, keyed by window-store keys; released
/// [`CacheFlushEntry`]s carry window-store keys (see [`window_key`]). It refuses stores
/// that retain duplicates, for which Kafka Streams disables caching.
///
/// [`fetch_all`](WindowBytesStore::fetch_all) merges in memory and returns entries by
/// window start, then key.
pub struct CachingWindowStore {
    inner: Box<dyn WindowBytesStore>,
    cache: Cache,
    observed: i64,
    key_buf: Vec<u8>,
    send_old_values: bool,
}

impl std::fmt::Debug for CachingWindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingWindowStore")
            .field("store", &self.cache.store)
            .field("budget", &self.cache.budget)
            .finish_non_exhaustive()
    }
}

impl CachingWindowStore {
    /// Wraps `inner` with a cache of `ctx.cache_bytes()` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](streams_core::Error::Store) when `inner` retains duplicates.
    pub fn new(inner: Box<dyn WindowBytesStore>, ctx: &StoreContext) -> Result<Self> {
        if inner.retain_duplicates() {
            return Err(crate::StateError::InvalidArgument {
                store: inner.name().to_owned(),
                reason: "caching cannot be enabled on a window store that retains duplicates"
                    .into(),
            }
            .into());
        }
        let cache = Cache::new(inner.name(), ctx);
        Ok(CachingWindowStore {
            inner,
            cache,
            observed: -1,
            key_buf: Vec::new(),
            send_old_values: true,
        })
    }

    fn min_live_time(&self) -> i64 {
        (self.observed - self.inner.retention_period() + 1).max(0)
    }

    fn write_dirty(&mut self, dirty: Vec<Dirty>) -> Result<()> {
        let inner = &mut self.inner;
        let send_old = self.send_old_values;
        self.cache.write_through(dirty, |store_key, value| {
            let Some((key, ts, _)) = window_key::decode(store_key) else {
                return Ok(None);
            };
            // As Kafka Streams' CachingWindowStore: the old value is read for a delete or
            // when it is sent downstream.
            let old = if value.is_none() || send_old {
                inner.fetch_at(key, ts)?
            } else {
                None
            };
            if value.is_none() && old.is_none() {
                return Ok(None);
            }
            inner.put(key, value, ts)?;
            Ok(Some(old))
        })
    }

    fn cached_window_entries(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Vec<(Vec<u8>, i64, Option<Vec<u8>>)> {
        self.cache
            .snapshot(from, to)
            .into_iter()
            .filter_map(|(k, v)| {
                let (key, ts, _) = window_key::decode(&k)?;
                Some((key.to_vec(), ts, v))
            })
            .collect()
    }
}

impl StateStore for CachingWindowStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }

    fn flush(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        self.write_dirty(dirty)?;
        self.inner.flush()
    }

    fn commit(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        self.write_dirty(dirty)?;
        self.inner.commit()
    }

    fn close(&mut self) -> Result<()> {
        let dirty = self.cache.take_dirty();
        let written = self.write_dirty(dirty);
        self.cache.cache.get_mut().clear();
        self.cache.pending.clear();
        let closed = self.inner.close();
        written.and(closed)
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.inner.restore_batch(records)
    }
}

impl WindowBytesStore for CachingWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        if window_start < 0 {
            return Err(crate::StateError::InvalidArgument {
                store: self.cache.store.clone(),
                reason: format!("window start {window_start} is negative"),
            }
            .into());
        }
        self.observed = self.observed.max(window_start);
        self.key_buf.clear();
        window_key::encode_into(key, window_start, 0, &mut self.key_buf);
        let store_key = std::mem::take(&mut self.key_buf);
        self.cache.put(&store_key, value);
        self.key_buf = store_key;
        let evicted = self.cache.evict();
        self.write_dirty(evicted)
    }

    fn fetch_at(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        if window_start < self.min_live_time() {
            return Ok(None);
        }
        match window_key::with_encoded(key, window_start, 0, |k| self.cache.get(k)) {
            Some(cached) => Ok(cached),
            None => self.inner.fetch_at(key, window_start),
        }
    }

    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        let from = time_from.max(self.min_live_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        let lower = window_key::encode(key, from, 0);
        let upper = window_key::encode(key, time_to, u32::MAX);
        let cached: Vec<(i64, Option<Vec<u8>>)> = self
            .cached_window_entries(Bound::Included(&lower), Bound::Included(&upper))
            .into_iter()
            .filter(|(k, ts, _)| k == key && *ts >= from && *ts <= time_to)
            .map(|(_, ts, v)| (ts, v))
            .collect();
        let mut cached = cached.into_iter().peekable();
        let mut store = self.inner.fetch(key, from, time_to)?.peekable();
        let key = key.to_vec();
        Ok(Box::new(std::iter::from_fn(move || {
            loop {
                let order = match (cached.peek(), store.peek()) {
                    (None, None) => return None,
                    (None, Some(_)) | (_, Some(Err(_))) => return store.next(),
                    (Some(_), None) => Ordering::Less,
                    (Some((cts, _)), Some(Ok(e))) => cts.cmp(&e.window_start),
                };
                match order {
                    Ordering::Greater => return store.next(),
                    Ordering::Equal => {
                        store.next();
                    }
                    Ordering::Less => {}
                }
                if let Some((ts, Some(value))) = cached.next() {
                    return Some(Ok(WindowBytesEntry {
                        key: key.clone(),
                        window_start: ts,
                        value,
                    }));
                }
            }
        })))
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        let from = time_from.max(self.min_live_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        let mut merged: BTreeMap<(i64, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        for entry in self.inner.fetch_all(from, time_to)? {
            let e = entry?;
            merged.insert((e.window_start, e.key), Some(e.value));
        }
        for (key, ts, value) in self.cached_window_entries(Bound::Unbounded, Bound::Unbounded) {
            if ts >= from && ts <= time_to {
                merged.insert((ts, key), value);
            }
        }
        Ok(Box::new(merged.into_iter().filter_map(
            |((window_start, key), value)| {
                value.map(|value| {
                    Ok(WindowBytesEntry {
                        key,
                        window_start,
                        value,
                    })
                })
            },
        )))
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }

    fn window_size(&self) -> i64 {
        self.inner.window_size()
    }

    fn retain_duplicates(&self) -> bool {
        false
    }

    fn caching_enabled(&self) -> bool {
        true
    }

    fn set_send_old_values(&mut self, send: bool) {
        self.send_old_values = send;
    }

    fn take_evicted(&mut self) -> Vec<CacheFlushEntry> {
        std::mem::take(&mut self.cache.pending)
    }

    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        let dirty = self.cache.take_dirty();
        let written = self.write_dirty(dirty);
        for entry in std::mem::take(&mut self.cache.pending) {
            sink(entry);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(dirty: &[Dirty]) -> Vec<&[u8]> {
        dirty.iter().map(|(k, _, _)| &**k).collect()
    }

    #[test]
    fn reads_refresh_recency_so_eviction_takes_the_least_recently_used() {
        let mut cache = NamedCache::default();
        cache.put_dirty(b"a", Some(b"1".to_vec()), 1);
        cache.put_dirty(b"b", Some(b"2".to_vec()), 2);
        cache.put_dirty(b"c", Some(b"3".to_vec()), 3);
        assert_eq!(cache.get(b"a"), Some(Some(b"1".to_vec())));
        let evicted = cache.evict_lru().flatten().map(|(k, _, _)| k.to_vec());
        assert_eq!(
            evicted,
            Some(b"b".to_vec()),
            "a was read after b was written"
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn dirty_keys_flush_in_the_order_they_last_became_dirty() {
        let mut cache = NamedCache::default();
        cache.put_dirty(b"a", Some(vec![1]), 1);
        cache.put_dirty(b"b", Some(vec![2]), 2);
        cache.put_dirty(b"a", Some(vec![3]), 3);
        cache.put_dirty(b"c", None, 4);
        let dirty = cache.take_dirty();
        assert_eq!(keys_of(&dirty), vec![&b"b"[..], b"a", b"c"]);
        assert_eq!(dirty[1].1, Some(vec![3]), "the latest value of a");
        assert!(cache.take_dirty().is_empty(), "all clean now");
        assert_eq!(cache.len(), 2, "the flushed delete left the cache");
        assert_eq!(cache.get(b"c"), None);
    }

    #[test]
    fn byte_accounting_follows_puts_overwrites_and_evictions() {
        let mut cache = NamedCache::default();
        cache.put_dirty(b"k", Some(vec![0; 10]), 0);
        assert_eq!(cache.bytes, 1 + 10 + ENTRY_OVERHEAD);
        cache.put_dirty(b"k", Some(vec![0; 30]), 0);
        assert_eq!(cache.bytes, 1 + 30 + ENTRY_OVERHEAD);
        cache.put_dirty(b"k", None, 0);
        assert_eq!(cache.bytes, 1 + ENTRY_OVERHEAD);
        cache.evict_lru();
        assert_eq!(cache.bytes, 0);
        assert!(cache.lru.is_empty() && cache.dirty.is_empty() && cache.entries.is_empty());
    }
}
