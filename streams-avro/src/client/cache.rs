//! What the client remembers, so that the hot path asks the registry once per schema: the
//! schemas by id, the ids by subject and schema, and the latest version per subject.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError, RwLock};

/// A map filled on first use. Reads take a shared lock; a miss is fetched under a second
/// lock, so that threads missing the same entry at once ask the registry once.
pub(crate) struct OnceMap<K, V> {
    entries: RwLock<HashMap<K, V>>,
    fetching: Mutex<()>,
}

impl<K: Eq + Hash + Clone, V: Clone> OnceMap<K, V> {
    pub(crate) fn new() -> Self {
        OnceMap {
            entries: RwLock::new(HashMap::new()),
            fetching: Mutex::new(()),
        }
    }

    /// The entry for `key`, fetched with `fetch` when missing. A failed fetch is not
    /// remembered: the next call asks again.
    pub(crate) fn get_or_fetch<Q, E>(
        &self,
        key: &Q,
        fetch: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        // A poisoned lock only means another thread panicked while holding it; the map
        // itself is never left half-written.
        let _guard = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = self.get(key) {
            return Ok(v);
        }
        let v = fetch()?;
        self.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, value);
    }

    pub(crate) fn retain(&self, mut keep: impl FnMut(&K) -> bool) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| keep(k));
    }
}
