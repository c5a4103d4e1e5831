//! The cache of one store: sorted entries with least-recently-used and dirty orders.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::rc::Rc;

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
pub(super) type Key = Rc<[u8]>;

/// A dirty entry leaving the cache: key, value (`None` = delete), record timestamp.
pub(super) type Dirty = (Key, Option<Vec<u8>>, i64);

/// A cached key and its value (`None` = a cached delete).
pub(super) type Cached = (Vec<u8>, Option<Vec<u8>>);

/// The cache of one store, as Kafka Streams' `NamedCache`: sorted for range reads, with
/// least-recently-used eviction and dirty keys flushed in the order they became dirty.
///
/// Entries are found by hash, and a sorted set of the keys serves range reads: a read or an
/// overwrite, the common case of an aggregation, then costs one hash look-up instead of a
/// walk down a tree comparing keys byte by byte; only new and leaving keys touch the
/// sorted set.
#[derive(Debug, Default)]
pub(super) struct NamedCache {
    entries: HashMap<Key, CacheEntry>,
    sorted: BTreeSet<Key>,
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
    pub(super) fn get(&mut self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(key)?;
        if let Some(k) = self.lru.remove(&entry.lru_tick) {
            self.lru.insert(tick, k);
        }
        entry.lru_tick = tick;
        Some(entry.value.clone())
    }

    pub(super) fn put_dirty(&mut self, key: &[u8], value: Option<Vec<u8>>, timestamp: i64) {
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
            self.sorted.insert(Rc::clone(&shared));
            self.entries.insert(shared, entry);
        }
    }

    /// Removes the least recently used entry; returns it if it was dirty.
    pub(super) fn evict_lru(&mut self) -> Option<Option<Dirty>> {
        let (_, key) = self.lru.pop_first()?;
        let entry = self.entries.remove(&*key)?;
        self.sorted.remove(&*key);
        self.bytes -= entry.size(&key);
        Some(entry.dirty_tick.map(|t| {
            self.dirty.remove(&t);
            (key, entry.value, entry.timestamp)
        }))
    }

    /// Every dirty entry in flush order, marking them clean. Cached deletes leave the cache.
    pub(super) fn take_dirty(&mut self) -> Vec<Dirty> {
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
                self.sorted.remove(&*key);
                self.lru.remove(&lru_tick);
                self.bytes -= size;
                out.push((key, None, timestamp));
            } else {
                out.push((key, entry.value.clone(), entry.timestamp));
            }
        }
        out
    }

    pub(super) fn snapshot(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Vec<Cached> {
        self.sorted
            .range::<[u8], _>((from, to))
            .filter_map(|k| Some((k.to_vec(), self.entries.get(&**k)?.value.clone())))
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes charged for the entries held now.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cached value of `key` (`Some(None)` for a cached delete), leaving the LRU order
    /// as it is.
    pub(super) fn peek(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.entries.get(key).map(|e| e.value.clone())
    }

    pub(super) fn clear(&mut self) {
        *self = NamedCache::default();
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
        assert!(cache.sorted.is_empty());
    }

    #[test]
    fn range_reads_come_out_sorted_and_follow_evictions_and_flushed_deletes() {
        let mut cache = NamedCache::default();
        for k in [b"d", b"a", b"c", b"b"] {
            cache.put_dirty(k, Some(k.to_vec()), 0);
        }
        cache.put_dirty(b"c", None, 0);
        let keys = |c: &NamedCache| -> Vec<Vec<u8>> {
            c.snapshot(Bound::Included(&b"b"[..]), Bound::Unbounded)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(
            keys(&cache),
            vec![b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        cache.take_dirty();
        assert_eq!(
            keys(&cache),
            vec![b"b".to_vec(), b"d".to_vec()],
            "c was a delete"
        );
        cache.evict_lru();
        assert_eq!(
            keys(&cache),
            vec![b"b".to_vec()],
            "d was used least recently"
        );
    }
}
