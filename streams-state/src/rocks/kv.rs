//! The RocksDB key-value store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, ReadOptions, WriteBatch};
use streams_core::Result;
use streams_core::state::{ChangelogRecord, KeyValueBytesIter, KeyValueBytesStore, StateStore};

use super::handle::{DbHandle, handle_lifecycle};
use crate::error::StateError;
use crate::rocks::{RawIter, RocksDbConfigSetter, RocksDbResources};

/// A persistent key-value store of bytes in one RocksDB database, at
/// `<state.dir>/<application.id>/<taskId>/rocksdb/<store>` when built by the
/// [`Stores`](crate::Stores) facade.
///
/// Writes skip RocksDB's write-ahead log: the changelog is the log, and
/// [`flush`](StateStore::flush) (every commit) makes the memtables durable, as in Kafka
/// Streams. A restore applies each batch as one write batch.
///
/// # Examples
///
/// ```
/// use streams_core::state::{KeyValueBytesStore, StateStore};
/// use streams_state::{RocksDbKeyValueStore, RocksDbResources};
///
/// let dir = tempfile::tempdir()?;
/// let mut store = RocksDbKeyValueStore::open("s", dir.path().join("s"), RocksDbResources::shared(), None)?;
/// store.put(b"k", Some(b"v"))?;
/// assert_eq!(store.get(b"k")?, Some(b"v".to_vec()));
/// store.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RocksDbKeyValueStore {
    handle: DbHandle,
}

impl std::fmt::Debug for RocksDbKeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbKeyValueStore")
            .field("name", &self.handle.name())
            .field("path", &self.handle.path())
            .field("open", &self.handle.is_open())
            .finish()
    }
}

impl RocksDbKeyValueStore {
    /// Opens (or creates) the store `name` in directory `path`.
    ///
    /// # Errors
    ///
    /// [`Error::StoreCorrupted`](streams_core::Error::StoreCorrupted) when RocksDB finds the
    /// files damaged, [`Error::Store`](streams_core::Error::Store) for other failures.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: Arc<RocksDbResources>,
        setter: Option<Arc<dyn RocksDbConfigSetter>>,
    ) -> Result<Self> {
        Ok(RocksDbKeyValueStore {
            handle: DbHandle::open(name.into(), path.into(), resources, setter)?,
        })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        self.handle.path()
    }

    fn db(&self) -> Result<&DB> {
        self.handle.db()
    }

    fn iter(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<KeyValueBytesIter<'_>> {
        let db = self.db()?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            tracing::warn!(store = %self.handle.name(), "range with from > to is empty; check the order of the bounds and the key serde");
            return Ok(Box::new(std::iter::empty()));
        }
        let mut ro = ReadOptions::default();
        if let Some(f) = from {
            ro.set_iterate_lower_bound(f.to_vec());
        }
        if let Some(t) = to {
            // The upper bound is exclusive; `to` followed by a zero byte is the smallest key
            // after `to`.
            let mut upper = Vec::with_capacity(t.len() + 1);
            upper.extend_from_slice(t);
            upper.push(0);
            ro.set_iterate_upper_bound(upper);
        }
        Ok(Box::new(self.positioned(db, ro, reverse)))
    }

    fn positioned<'a>(&'a self, db: &'a DB, ro: ReadOptions, reverse: bool) -> RawIter<'a> {
        let mut raw = db.raw_iterator_opt(ro);
        if reverse {
            raw.seek_to_last();
        } else {
            raw.seek_to_first();
        }
        RawIter::new(raw, self.handle.name(), reverse)
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when there is
/// none (an empty prefix, or one of only 0xFF bytes).
pub(crate) fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|b| *b != 0xFF)?;
    let mut upper = prefix[..=last].to_vec();
    upper[last] += 1;
    Some(upper)
}

impl StateStore for RocksDbKeyValueStore {
    handle_lifecycle!();

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for r in records {
            match r.value {
                Some(v) => batch.put(r.key, v),
                None => batch.delete(r.key),
            }
        }
        self.handle.write(batch, "write a restore batch")
    }
}

impl KeyValueBytesStore for RocksDbKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db()?
            .get(key)
            .map_err(StateError::rocks(self.handle.name(), "get"))?)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let db = self.handle.db_for_write()?;
        match value {
            Some(v) => db.put_opt(key, v, self.handle.write_options()),
            None => db.delete_opt(key, self.handle.write_options()),
        }
        .map_err(StateError::rocks(self.handle.name(), "put"))?;
        Ok(())
    }

    fn put_all(&mut self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (k, v) in entries {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            }
        }
        self.handle.write(batch, "put a batch")
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>> {
        self.iter(from, to, false)
    }

    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>> {
        self.iter(from, to, true)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>> {
        let db = self.db()?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(prefix.to_vec());
        if let Some(upper) = prefix_upper_bound(prefix) {
            ro.set_iterate_upper_bound(upper);
        }
        Ok(Box::new(self.positioned(db, ro, false)))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        let n = self
            .db()?
            .property_int_value("rocksdb.estimate-num-keys")
            .map_err(StateError::rocks(
                self.handle.name(),
                "read the estimated number of keys",
            ))?;
        Ok(n.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bounds() {
        assert_eq!(prefix_upper_bound(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_upper_bound(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_upper_bound(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_upper_bound(b""), None);
    }
}
