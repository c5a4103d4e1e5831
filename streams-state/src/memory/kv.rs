//! The in-memory key-value store.

use std::collections::BTreeMap;
use std::ops::Bound;

use streams_core::Result;
use streams_core::state::{ChangelogRecord, KeyValueBytesIter, KeyValueBytesStore, StateStore};

use crate::error::StateError;

/// A key-value store of bytes in a `BTreeMap`, as Kafka Streams' `InMemoryKeyValueStore`.
///
/// It is not persistent: after a restart it is restored from the beginning of its
/// changelog.
///
/// # Examples
///
/// ```
/// use streams_core::state::KeyValueBytesStore;
/// use streams_state::InMemoryKeyValueStore;
///
/// let mut store = InMemoryKeyValueStore::new("s");
/// store.put(b"a", Some(b"1"))?;
/// assert_eq!(store.put_if_absent(b"a", b"2")?, Some(b"1".to_vec()));
/// assert_eq!(store.delete(b"a")?, Some(b"1".to_vec()));
/// assert_eq!(store.get(b"a")?, None);
/// # Ok::<(), streams_core::Error>(())
/// ```
///
/// # Iterators borrow the store
///
/// An iterator cannot outlive its store, and the store cannot be written to or closed
/// while an iterator is live: both need `&mut`. Used before the store is closed, it works:
///
/// ```
/// use streams_core::state::{KeyValueBytesStore, StateStore};
/// use streams_state::InMemoryKeyValueStore;
///
/// let mut store = InMemoryKeyValueStore::new("s");
/// let iter = store.all().ok();
/// drop(iter);
/// store.close().ok();
/// ```
///
/// It cannot be kept after the store is dropped:
///
/// ```compile_fail,E0597
/// use streams_core::state::KeyValueBytesStore;
/// use streams_state::InMemoryKeyValueStore;
///
/// let iter = {
///     let store = InMemoryKeyValueStore::new("s");
///     store.all().ok()
/// };
/// drop(iter);
/// ```
///
/// nor across a close:
///
/// ```compile_fail,E0502
/// use streams_core::state::{KeyValueBytesStore, StateStore};
/// use streams_state::InMemoryKeyValueStore;
///
/// let mut store = InMemoryKeyValueStore::new("s");
/// let iter = store.all().ok();
/// store.close().ok();
/// drop(iter);
/// ```
#[derive(Debug, Default)]
pub struct InMemoryKeyValueStore {
    name: String,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    closed: bool,
}

impl InMemoryKeyValueStore {
    /// An empty store.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            map: BTreeMap::new(),
            closed: false,
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(StateError::closed(&self.name).into())
        } else {
            Ok(())
        }
    }

    fn bounds<'k>(
        from: Option<&'k [u8]>,
        to: Option<&'k [u8]>,
    ) -> (Bound<&'k [u8]>, Bound<&'k [u8]>) {
        (
            from.map_or(Bound::Unbounded, Bound::Included),
            to.map_or(Bound::Unbounded, Bound::Included),
        )
    }

    fn inverted(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> bool {
        let inverted = matches!((from, to), (Some(f), Some(t)) if f > t);
        if inverted {
            tracing::warn!(store = %self.name, "range with from > to is empty; check the order of the bounds and the key serde");
        }
        inverted
    }
}

impl StateStore for InMemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        false
    }

    fn flush(&mut self) -> Result<()> {
        self.check_open()
    }

    fn commit(&mut self) -> Result<()> {
        self.check_open()
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        self.map.clear();
        Ok(())
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.check_open()?;
        for r in records {
            match r.value {
                Some(v) => {
                    self.map.insert(r.key.to_vec(), v.to_vec());
                }
                None => {
                    self.map.remove(r.key);
                }
            }
        }
        Ok(())
    }
}

impl KeyValueBytesStore for InMemoryKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.check_open()?;
        match value {
            Some(v) => {
                if let Some(existing) = self.map.get_mut(key) {
                    existing.clear();
                    existing.extend_from_slice(v);
                } else {
                    self.map.insert(key.to_vec(), v.to_vec());
                }
            }
            None => {
                self.map.remove(key);
            }
        }
        Ok(())
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if let Some(existing) = self.map.get(key) {
            return Ok(Some(existing.clone()));
        }
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(None)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.map.remove(key))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>> {
        self.check_open()?;
        if self.inverted(from, to) {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(Box::new(
            self.map
                .range::<[u8], _>(Self::bounds(from, to))
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        ))
    }

    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>> {
        self.check_open()?;
        if self.inverted(from, to) {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(Box::new(
            self.map
                .range::<[u8], _>(Self::bounds(from, to))
                .rev()
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        ))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>> {
        self.check_open()?;
        let prefix = prefix.to_vec();
        Ok(Box::new(
            self.map
                .range::<[u8], _>((Bound::Included(prefix.as_slice()), Bound::Unbounded))
                .take_while(move |(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        ))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.check_open()?;
        Ok(self.map.len() as u64)
    }
}
