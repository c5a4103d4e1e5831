//! The caching layer over window bytes stores.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use streams_core::Result;
use streams_core::state::{
    CacheFlushEntry, StateStore, StoreContext, WindowBytesEntry, WindowBytesIter, WindowBytesStore,
};

use super::cache::Cache;
use super::layer::{CachingLayer, caching_state_store};
use super::named_cache::Dirty;
use crate::window_key;

/// A write-back cache over a window bytes store, as Kafka Streams' `CachingWindowStore`.
///
/// It behaves as [`CachingKeyValueStore`](crate::CachingKeyValueStore) does, keyed by
/// window-store keys; released [`CacheFlushEntry`]s carry window-store keys (see
/// [`window_key`]). It refuses stores that retain duplicates, for which Kafka Streams
/// disables caching.
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

impl CachingLayer for CachingWindowStore {
    type Inner = dyn WindowBytesStore;

    fn cache_mut(&mut self) -> &mut Cache {
        &mut self.cache
    }

    fn inner_mut(&mut self) -> &mut Self::Inner {
        self.inner.as_mut()
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
}

impl StateStore for CachingWindowStore {
    caching_state_store!();
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
        self.cache.take_pending()
    }

    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        self.flush_cache_layer(sink)
    }
}
