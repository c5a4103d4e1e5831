//! [`SessionStoreQuery`]: queries of a session store.

use streams_core::Result;
use streams_core::state::{ReadOnlyWindowStore, ValueAndTimestamp};
use streams_core::window::Window;
use streams_state::TimestampedWindowStore;

use super::{Target, query_type};

/// Queries of the session store of a session-windowed aggregation (the DSL keeps a session
/// under its end, with its start as the value's timestamp). Keys are the base keys.
pub struct SessionStoreQuery<K, V> {
    target: Target<K>,
    _values: std::marker::PhantomData<fn() -> V>,
}

query_type!(SessionStoreQuery);

impl<K, V> SessionStoreQuery<K, V>
where
    K: Clone + Send + Sync + 'static,
    V: Send + 'static,
{
    /// Every session of `key` with its aggregate, in end order, from the task that holds
    /// the key: Java's `ReadOnlySessionStore.fetch(key)`.
    ///
    /// # Errors
    ///
    /// [`QueryUnavailable`](streams_core::Error::QueryUnavailable) when this instance does not
    /// hold the key's task as an active, restored task, or is not running; the store's
    /// read errors.
    pub fn fetch(&self, key: &K) -> Result<Vec<(Window, V)>> {
        self.target
            .query_key(key, |s: &TimestampedWindowStore<K, V>, key| {
                s.fetch(key, i64::MIN, i64::MAX)?
                    .map(|e| {
                        e.map(|(end, v): (i64, ValueAndTimestamp<V>)| {
                            (Window::new(v.timestamp, end), v.value)
                        })
                    })
                    .collect()
            })
    }
}
