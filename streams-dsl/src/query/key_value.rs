//! [`KeyValueStoreQuery`]: queries of a key-value store.

use streams_core::Result;
use streams_core::state::ReadOnlyKeyValueStore;
use streams_state::TypedKeyValueStore;

use super::{Target, query_type};

/// Queries of a key-value store (a DSL table, aggregation or `Stores::key_value_store`),
/// whose values are `V` as stored: `ValueAndTimestamp<T>` for the DSL's timestamped stores.
///
/// # Examples
///
/// ```no_run
/// use streams_dsl::prelude::*;
/// use streams_dsl::query::KeyValueStoreQuery;
///
/// # fn f(streams: &KafkaStreams) -> streams_dsl::Result<()> {
/// let counts = KeyValueStoreQuery::<String, ValueAndTimestamp<i64>>::new(
///     &streams.handle(),
///     "clicks-per-user",
///     Serdes::string(),
/// );
/// if let Some(count) = counts.get(&"user-3".to_owned())? {
///     println!("user-3 clicked {} times", count.value);
/// }
/// # Ok(())
/// # }
/// ```
pub struct KeyValueStoreQuery<K, V> {
    target: Target<K>,
    _values: std::marker::PhantomData<fn() -> V>,
}

query_type!(KeyValueStoreQuery);

impl<K, V> KeyValueStoreQuery<K, V>
where
    K: Clone + Send + Sync + 'static,
    V: Send + 'static,
{
    /// The value of `key`, from the task that holds it.
    ///
    /// # Errors
    ///
    /// [`QueryUnavailable`](streams_core::Error::QueryUnavailable) when this instance does not
    /// hold the key's task as an active, restored task, or is not running; the store's
    /// read errors.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.target
            .query_key(key, |s: &TypedKeyValueStore<K, V>, key| s.get(key))
    }

    /// The entries with keys from `from` to `to` (inclusive, open when `None`) of this
    /// instance's tasks, each task's in the store's key order.
    ///
    /// # Errors
    ///
    /// [`QueryUnavailable`](streams_core::Error::QueryUnavailable) when a task of the store is
    /// restoring or the instance is not running; the store's read errors.
    pub fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>> {
        let (from, to) = (from.cloned(), to.cloned());
        self.target.query_all(move |s: &TypedKeyValueStore<K, V>| {
            s.range(from.as_ref(), to.as_ref())?.collect()
        })
    }

    /// The entries whose serialized keys start with `prefix` of this instance's tasks.
    ///
    /// # Errors
    ///
    /// As [`range`](Self::range).
    pub fn prefix_scan(&self, prefix: &[u8]) -> Result<Vec<(K, V)>> {
        let prefix = prefix.to_vec();
        self.target
            .query_all(move |s: &TypedKeyValueStore<K, V>| s.prefix_scan(&prefix)?.collect())
    }

    /// Every entry of this instance's tasks.
    ///
    /// # Errors
    ///
    /// As [`range`](Self::range).
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        self.target
            .query_all(|s: &TypedKeyValueStore<K, V>| s.all()?.collect())
    }

    /// The approximate number of entries of this instance's tasks.
    ///
    /// # Errors
    ///
    /// As [`range`](Self::range).
    pub fn approximate_num_entries(&self) -> Result<u64> {
        let counts = self
            .target
            .query_all(|s: &TypedKeyValueStore<K, V>| Ok(vec![s.approximate_num_entries()?]))?;
        Ok(counts.into_iter().sum())
    }
}
