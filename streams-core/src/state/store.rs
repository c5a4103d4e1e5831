//! The bytes-level store traits.

use crate::error::Result;
use crate::state::store_metrics::StoreMetrics;
use crate::state::stored_position::StoredPosition;

/// One record of a changelog topic, borrowed from the reader's buffer.
///
/// Restoring hands stores whole slices of these, so that a batch costs no allocation beyond
/// the bytes the reader already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangelogRecord<'a> {
    /// The key bytes: the store key (for window stores, the window-store key with its
    /// timestamp and sequence number).
    pub key: &'a [u8],
    /// The value bytes, `None` for a tombstone (a delete).
    pub value: Option<&'a [u8]>,
    /// The record's timestamp in milliseconds.
    pub timestamp: i64,
    /// The record's offset in its changelog partition.
    pub offset: i64,
}

/// The lifecycle of a state store, which is all the state manager needs of it.
pub trait StateStore {
    /// The store's name, unique within a topology.
    fn name(&self) -> &str;

    /// Whether the store keeps its data on disk, so that a valid checkpoint lets a restart
    /// skip the part of the changelog already applied.
    fn persistent(&self) -> bool;

    /// Makes every write so far durable (persistent stores) and empties write-back caches
    /// into the layers below.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn flush(&mut self) -> Result<()>;

    /// What a commit asks of the store between checkpoints: empty write-back caches into
    /// the layers below (and so into the changelog), without forcing anything to disk.
    /// Kafka Streams' commit does the same (`flushCache`), and flushes the stores
    /// themselves only before it writes a checkpoint.
    ///
    /// The default calls [`flush`](Self::flush), which does both. Stores without a cache
    /// return `Ok(())`; layers pass the call down.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn commit(&mut self) -> Result<()> {
        self.flush()
    }

    /// Starts what [`flush`](Self::flush) does without waiting for the storage: a commit
    /// that is due a checkpoint calls it, and writes the checkpoint only once
    /// [`flush_done`](Self::flush_done) says everything written before the call is durable, so
    /// that the stream thread does not wait for the disk. Write-back caches are emptied
    /// into the layers below before it returns, as [`commit`](Self::commit) empties them.
    ///
    /// The default flushes and waits. Layers pass the call down.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn flush_in_background(&mut self) -> Result<()> {
        self.flush()
    }

    /// Whether everything written before the last
    /// [`flush_in_background`](Self::flush_in_background) is durable. The default says it
    /// is, as its `flush_in_background` waits.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn flush_done(&mut self) -> Result<bool> {
        Ok(true)
    }

    /// Releases the store's resources. Calls after `close` fail.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn close(&mut self) -> Result<()>;

    /// Applies a batch of changelog records in order, without logging them again.
    ///
    /// A `None` value deletes the key. Stores apply the whole batch at once where they can
    /// (one RocksDB write batch with the write-ahead log off).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()>;

    /// The store's counters and sizes, for the application's metrics. Layers add theirs to
    /// the store below's; the default reports nothing.
    fn metrics(&self) -> StoreMetrics {
        StoreMetrics::default()
    }

    /// Records in the store's own files that it holds exactly its changelog up to
    /// `changelog_offset` (`None` for none) and that every write so far is committed. Under
    /// exactly-once the state manager calls it after each transaction commits, and flushes
    /// the store from time to time; a restart after a crash then keeps the files and
    /// restores only what follows (see [`StoredPosition`]). Stores that cannot record it
    /// keep the default, which does nothing; layers pass the call down.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn commit_position(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        let _ = changelog_offset;
        Ok(())
    }

    /// What the store's files say about its position, read when the store is opened after
    /// a restart without a checkpoint file (see [`StoredPosition`]). The default,
    /// [`StoredPosition::Unknown`], makes an unclean restart under exactly-once wipe the
    /// store.
    fn stored_position(&self) -> StoredPosition {
        StoredPosition::Unknown
    }
}

/// An iterator over key-value pairs of bytes, borrowing its store.
pub type KeyValueBytesIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + 'a>;

/// An update held back by a caching layer and released when the cache flushes or evicts it.
///
/// The owning processor forwards it downstream as Kafka Streams' cache flush listener does:
/// key, new value, old value (what the store below held before), and the timestamp of the
/// record that made the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFlushEntry {
    /// The key bytes (for window stores, the window-store key).
    pub key: Vec<u8>,
    /// The value now in the store, `None` for a delete.
    pub new_value: Option<Vec<u8>>,
    /// The value the store held before this flush, `None` if it had none (and always
    /// `None` for a put when the caching layer was told not to send old values).
    pub old_value: Option<Vec<u8>>,
    /// The timestamp of the record whose processing made the update.
    pub timestamp: i64,
}

/// A key-value store of bytes, ordered by the unsigned lexicographic order of keys.
///
/// All ranges are inclusive at both ends, as Kafka Streams' `range(from, to)`; `None`
/// leaves that end open. A range whose `from` is greater than its `to` is empty.
pub trait KeyValueBytesStore: StateStore {
    /// The value of `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Sets `key` to `value`; `None` deletes the key.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()>;

    /// Sets `key` to `value` unless it already has a value, which is returned.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.get(key)? {
            Some(existing) => Ok(Some(existing)),
            None => {
                self.put(key, Some(value))?;
                Ok(None)
            }
        }
    }

    /// Applies the entries in order, as a sequence of [`put`](Self::put)s.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn put_all(&mut self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        for (k, v) in entries {
            self.put(k, *v)?;
        }
        Ok(())
    }

    /// Deletes `key`, returning the value it had.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?;
        self.put(key, None)?;
        Ok(old)
    }

    /// The entries with `from <= key <= to`, in ascending key order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>>;

    /// The entries with `from <= key <= to`, in descending key order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>>;

    /// Every entry, in ascending key order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn all(&self) -> Result<KeyValueBytesIter<'_>> {
        self.range(None, None)
    }

    /// Every entry, in descending key order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn reverse_all(&self) -> Result<KeyValueBytesIter<'_>> {
        self.reverse_range(None, None)
    }

    /// The entries whose key starts with `prefix`, in ascending key order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>>;

    /// An estimate of the number of entries (exact for in-memory stores; RocksDB's
    /// `rocksdb.estimate-num-keys` otherwise).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn approximate_num_entries(&self) -> Result<u64>;

    /// Whether a caching layer holds writes back in this stack.
    fn caching_enabled(&self) -> bool {
        false
    }

    /// Tells a caching layer whether the updates it releases must carry the value the
    /// store below held before ([`CacheFlushEntry::old_value`]), as Kafka Streams'
    /// `sendOldValues` does for a cache's flush listener. A caching layer starts with old
    /// values on. With them off, releasing an update reads the store below only for a
    /// delete (a delete of a key the store does not hold is skipped, as before), and
    /// `old_value` is `None` otherwise: one read less per released update. Stores without
    /// a cache ignore the call.
    fn set_send_old_values(&mut self, send: bool) {
        let _ = send;
    }

    /// Takes the updates a caching layer released since the last call (by eviction after a
    /// write, or by a [`StateStore::flush`]). Empty without caching.
    fn take_evicted(&mut self) -> Vec<CacheFlushEntry> {
        Vec::new()
    }

    /// Writes every dirty cache entry to the layers below and hands each released update,
    /// in order, to `sink`. The processor owning a cached store calls it at commit and
    /// forwards what it receives. Does nothing without caching.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the layers below fail.
    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        let _ = sink;
        Ok(())
    }
}

/// One entry of a window store: a key, the start of its window, and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowBytesEntry {
    /// The key bytes, without the window.
    pub key: Vec<u8>,
    /// The window start in milliseconds.
    pub window_start: i64,
    /// The value bytes.
    pub value: Vec<u8>,
}

/// An iterator over window entries, borrowing its store.
pub type WindowBytesIter<'a> = Box<dyn Iterator<Item = Result<WindowBytesEntry>> + 'a>;

/// A store of values per key and window start, with a retention period.
///
/// Entries whose window start is older than the observed stream time (the largest window
/// start put so far) minus the retention period are expired: puts of them are ignored and
/// fetches do not return them. Window starts must not be negative.
///
/// With `retain_duplicates` (the stores of stream-stream joins) every put adds an entry,
/// even for an equal key and window start; a `None` value is then ignored rather than
/// deleting.
pub trait WindowBytesStore: StateStore {
    /// Stores `value` for `key` in the window starting at `window_start`; `None` deletes
    /// (ignored with duplicates retained).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails or the window
    /// start is negative.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()>;

    /// The value of `key` in the window starting exactly at `window_start` (the first one,
    /// with duplicates retained).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn fetch_at(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>>;

    /// The entries of `key` whose window start is in `[time_from, time_to]`, by ascending
    /// window start.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>>;

    /// The entries of every key whose window start is in `[time_from, time_to]`.
    ///
    /// The RocksDB store orders them by segment, then key, then window start; the in-memory
    /// store by window start, then key (as their Java counterparts do).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>>;

    /// Every unexpired entry, in the order of [`fetch_all`](Self::fetch_all).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn all(&self) -> Result<WindowBytesIter<'_>> {
        self.fetch_all(0, i64::MAX)
    }

    /// How long windows are kept, in milliseconds.
    fn retention_period(&self) -> i64;

    /// The window size in milliseconds.
    fn window_size(&self) -> i64;

    /// Whether every put adds an entry (see the trait documentation).
    fn retain_duplicates(&self) -> bool;

    /// Whether a caching layer holds writes back in this stack.
    fn caching_enabled(&self) -> bool {
        false
    }

    /// As [`KeyValueBytesStore::set_send_old_values`].
    fn set_send_old_values(&mut self, send: bool) {
        let _ = send;
    }

    /// Takes the updates a caching layer released since the last call. Their keys are
    /// window-store keys (key, 8-byte big-endian window start, 4-byte sequence number).
    /// Empty without caching.
    fn take_evicted(&mut self) -> Vec<CacheFlushEntry> {
        Vec::new()
    }

    /// Writes every dirty cache entry to the layers below and hands each released update to
    /// `sink`, as [`KeyValueBytesStore::flush_cache`] does. Does nothing without caching.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the layers below fail.
    fn flush_cache(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        let _ = sink;
        Ok(())
    }
}
