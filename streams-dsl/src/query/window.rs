//! [`WindowStoreQuery`]: queries of a window store.

use streams_core::Result;
use streams_core::state::ReadOnlyWindowStore;
use streams_core::window::{Window, Windowed};
use streams_state::TypedWindowStore;

use super::{Target, query_type};

/// Queries of a window store (a time-windowed or sliding aggregation, or
/// `Stores::window_store`), whose values are `V` as stored: `ValueAndTimestamp<T>` for the
/// DSL's windowed aggregations. Keys are the base keys, not the windowed ones.
pub struct WindowStoreQuery<K, V> {
    target: Target<K>,
    _values: std::marker::PhantomData<fn() -> V>,
}

query_type!(WindowStoreQuery);

impl<K, V> WindowStoreQuery<K, V>
where
    K: Clone + Ord + Send + Sync + 'static,
    V: Send + 'static,
{
    /// The windows of `key` starting from `time_from` to `time_to` (inclusive), in start
    /// order, from the task that holds the key: Java's `fetch(key, from, to)`.
    ///
    /// # Errors
    ///
    /// [`QueryUnavailable`](streams_core::Error::QueryUnavailable) when this instance does not
    /// hold the key's task as an active, restored task, or is not running; the store's
    /// read errors.
    pub fn fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(Window, V)>> {
        self.target
            .query_key(key, move |s: &TypedWindowStore<K, V>, key| {
                let size = s.window_size();
                s.fetch(key, time_from, time_to)?
                    .map(|e| {
                        e.map(|(start, v)| (Window::new(start, start.saturating_add(size)), v))
                    })
                    .collect()
            })
    }

    /// The windows of keys from `key_from` to `key_to` (inclusive) starting from
    /// `time_from` to `time_to`, of this instance's tasks: Java's
    /// `fetch(keyFrom, keyTo, from, to)`.
    ///
    /// # Errors
    ///
    /// As [`fetch_all`](Self::fetch_all).
    pub fn fetch_key_range(
        &self,
        key_from: &K,
        key_to: &K,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        let (lo, hi) = (key_from.clone(), key_to.clone());
        self.target.query_all(move |s: &TypedWindowStore<K, V>| {
            let mut out = Vec::new();
            for e in s.fetch_all(time_from, time_to)? {
                let (k, v) = e?;
                if k.key >= lo && k.key <= hi {
                    out.push((k, v));
                }
            }
            Ok(out)
        })
    }

    /// Every window starting from `time_from` to `time_to` of this instance's tasks.
    ///
    /// # Errors
    ///
    /// [`QueryUnavailable`](streams_core::Error::QueryUnavailable) when a task of the store is
    /// restoring or the instance is not running; the store's read errors.
    pub fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<(Windowed<K>, V)>> {
        self.target
            .query_all(move |s: &TypedWindowStore<K, V>| s.fetch_all(time_from, time_to)?.collect())
    }
}
