//! The state a caching layer keeps: its cache, byte budget, record timestamp and released
//! updates.

use std::cell::{Cell, RefCell};
use std::ops::Bound;
use std::rc::Rc;

use streams_core::Result;
use streams_core::state::{CacheFlushEntry, StoreContext};

use super::named_cache::{Cached, Dirty, NamedCache};

/// What the caching layers share: the cache, its budget, the record timestamp, and the
/// updates released but not yet taken by the processor.
pub(super) struct Cache {
    pub(super) store: String,
    cache: RefCell<NamedCache>,
    pub(super) budget: usize,
    timestamp: Rc<Cell<i64>>,
    pending: Vec<CacheFlushEntry>,
    /// Reads answered and not answered by the cache (reads take `&self`).
    hits: Cell<u64>,
    misses: Cell<u64>,
}

impl Cache {
    pub(super) fn new(store: &str, ctx: &StoreContext) -> Self {
        Cache {
            store: store.to_owned(),
            cache: RefCell::new(NamedCache::default()),
            budget: ctx.cache_bytes(),
            timestamp: ctx.timestamp_source().clone(),
            pending: Vec::new(),
            hits: Cell::new(0),
            misses: Cell::new(0),
        }
    }

    /// Writes dirty entries below with `write` (given key, value, and returning the old
    /// value), each under its own record timestamp so that the change-logging layer stamps
    /// it as Kafka Streams does, and queues the releases.
    pub(super) fn write_through(
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

    pub(super) fn put(&mut self, key: &[u8], value: Option<&[u8]>) {
        let ts = self.timestamp.get();
        self.cache
            .get_mut()
            .put_dirty(key, value.map(<[u8]>::to_vec), ts);
    }

    /// Evicts while over budget. When a dirty entry goes, every dirty entry is flushed
    /// with it (the evicted one first), as Kafka Streams' `NamedCache.evict` does.
    pub(super) fn evict(&mut self) -> Vec<Dirty> {
        let mut out = Vec::new();
        loop {
            let cache = self.cache.get_mut();
            if cache.bytes() <= self.budget || cache.len() == 0 {
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

    pub(super) fn take_dirty(&mut self) -> Vec<Dirty> {
        self.cache.get_mut().take_dirty()
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let found = match self.cache.try_borrow_mut() {
            Ok(mut cache) => cache.get(key),
            // Only reachable if a read re-enters the cache during another read; answering
            // without touching the LRU order is still correct.
            Err(_) => self.cache.try_borrow().ok().and_then(|c| c.peek(key)),
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.set(counter.get() + 1);
        found
    }

    /// The reads [`get`](Self::get) answered from the cache, and those it did not.
    pub(super) fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.get(), self.misses.get())
    }

    pub(super) fn snapshot(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Vec<Cached> {
        self.cache
            .try_borrow()
            .map(|c| c.snapshot(from, to))
            .unwrap_or_default()
    }

    pub(super) fn bytes(&self) -> usize {
        self.cache.try_borrow().map(|c| c.bytes()).unwrap_or(0)
    }

    pub(super) fn len(&self) -> usize {
        self.cache.try_borrow().map(|c| c.len()).unwrap_or(0)
    }

    /// The updates released since the last call, for the owning processor.
    pub(super) fn take_pending(&mut self) -> Vec<CacheFlushEntry> {
        std::mem::take(&mut self.pending)
    }

    /// Drops every entry and every release not yet taken.
    pub(super) fn clear(&mut self) {
        self.cache.get_mut().clear();
        self.pending.clear();
    }
}
