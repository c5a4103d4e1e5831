//! Typed interactive queries of a running application's stores: Kafka Streams'
//! `QueryableStoreTypes` over a [`StreamsHandle`].
//!
//! Each query type names a store and its key serde. Queries by key go to the one task that
//! holds the key (found with the key serde and the default partitioner, as
//! [`StreamsHandle::task_for_key`] does) and fail with [`Error::QueryUnavailable`] when this
//! instance does not hold that task as an active, restored task: ask
//! [`StreamsHandle::query_metadata_for_key`] which instance does. Range, scan and
//! "all" queries read every task of this instance and concatenate the answers task by task,
//! as Java's composite stores do; each instance answers for its own tasks.
//!
//! Reads see the stores through their caches, as the topology does.
//!
//! With `with_stale_stores()` (Java's `StoreQueryParameters.enableStaleStores()`), a query
//! also reads this instance's standby replicas (`num.standby.replicas`): a key whose task is
//! not active here is answered from its standby, if this instance keeps one, and "all"
//! queries add the standbys' tasks. A standby's answer may lag its active task's.
//!
//! [`Error::QueryUnavailable`]: streams_core::Error::QueryUnavailable

mod key_value;
mod session;
mod window;

use std::sync::Arc;
use std::time::Duration;

use streams_core::runtime::{KeyQueryMetadata, StreamsHandle};
use streams_core::{Error, Result, SerdeRef};

pub use key_value::KeyValueStoreQuery;
pub use session::SessionStoreQuery;
pub use window::WindowStoreQuery;

/// How long a query waits for the stream threads unless told otherwise: one batch of
/// records at most, in practice.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What every query type holds: the instance, the store, its key serde, the timeout and
/// whether standbys answer too.
struct Target<K> {
    handle: StreamsHandle,
    store: Arc<str>,
    key_serde: SerdeRef<K>,
    timeout: Duration,
    stale: bool,
}

impl<K: Clone + Send + Sync + 'static> Target<K> {
    fn new(handle: &StreamsHandle, store: &str, key_serde: SerdeRef<K>) -> Self {
        Target {
            handle: handle.clone(),
            store: store.into(),
            key_serde,
            timeout: DEFAULT_QUERY_TIMEOUT,
            stale: false,
        }
    }

    fn metadata_for_key(&self, key: &K) -> Result<KeyQueryMetadata> {
        self.handle
            .query_metadata_for_key(&self.store, key, &*self.key_serde)
    }

    /// Runs `read` with `key` on the store of the one task that holds `key`: its active
    /// task on this instance, or with stale stores allowed its standby here.
    fn query_key<S, R, F>(&self, key: &K, read: F) -> Result<R>
    where
        S: 'static,
        R: Send + 'static,
        F: Fn(&S, &K) -> Result<R> + Send + Sync + 'static,
    {
        let task = self
            .handle
            .task_for_key(&self.store, key, &*self.key_serde)?;
        let read = Arc::new(read);
        let on_key = |read: Arc<F>, key: K| move |s: &S| read(s, &key);
        let active = self.handle.query_task(
            &self.store,
            task,
            on_key(Arc::clone(&read), key.clone()),
            self.timeout,
        );
        match active {
            Err(Error::QueryUnavailable { .. }) if self.stale => self
                .handle
                .query_standbys(&self.store, on_key(read, key.clone()), self.timeout)?
                .into_iter()
                .find_map(|(t, r)| (t == task).then_some(r))
                .ok_or_else(|| Error::QueryUnavailable {
                    store: self.store.to_string(),
                    reason: format!("task {task} is neither active nor a standby on this instance"),
                }),
            other => other,
        }
    }

    /// Runs `read` on the store of every task of this instance (and of every standby, with
    /// stale stores allowed) and concatenates the answers, task by task.
    fn query_all<S, T, F>(&self, read: F) -> Result<Vec<T>>
    where
        S: 'static,
        T: Send + 'static,
        F: Fn(&S) -> Result<Vec<T>> + Send + Sync + 'static,
    {
        let read = Arc::new(read);
        let all = |read: Arc<F>| move |s: &S| read(s);
        let mut answers = self
            .handle
            .query(&self.store, all(Arc::clone(&read)), self.timeout)?;
        if self.stale {
            let standbys = self
                .handle
                .query_standbys(&self.store, all(read), self.timeout)?;
            answers.extend(standbys);
            answers.sort_by_key(|(task, _)| *task);
        }
        Ok(answers.into_iter().flat_map(|(_, part)| part).collect())
    }
}

/// The constructor, timeout and routing of a query type holding a [`Target`] in `target`.
macro_rules! query_type {
    ($name:ident) => {
        impl<K, V> std::fmt::Debug for $name<K, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("store", &self.target.store)
                    .finish_non_exhaustive()
            }
        }

        impl<K, V> $name<K, V>
        where
            K: Clone + Send + Sync + 'static,
            V: Send + 'static,
        {
            /// Queries of `store` on the instance behind `handle`, whose (base) keys
            /// `key_serde` serializes.
            pub fn new(
                handle: &streams_core::runtime::StreamsHandle,
                store: &str,
                key_serde: streams_core::SerdeRef<K>,
            ) -> Self {
                $name {
                    target: super::Target::new(handle, store, key_serde),
                    _values: std::marker::PhantomData,
                }
            }

            /// Reads this instance's standby replicas too (Java's
            /// `StoreQueryParameters.enableStaleStores()`): see the [module docs](crate::query).
            #[must_use]
            pub fn with_stale_stores(mut self) -> Self {
                self.target.stale = true;
                self
            }

            /// How long to wait for the stream threads (default
            /// [`DEFAULT_QUERY_TIMEOUT`](super::DEFAULT_QUERY_TIMEOUT)).
            pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
                self.target.timeout = timeout;
                self
            }

            /// Which instance holds `key`: see
            /// [`StreamsHandle::query_metadata_for_key`](streams_core::runtime::StreamsHandle::query_metadata_for_key).
            ///
            /// # Errors
            ///
            /// As [`StreamsHandle::query_metadata_for_key`](streams_core::runtime::StreamsHandle::query_metadata_for_key).
            pub fn metadata_for_key(
                &self,
                key: &K,
            ) -> streams_core::Result<streams_core::runtime::KeyQueryMetadata> {
                self.target.metadata_for_key(key)
            }
        }
    };
}
use query_type;
