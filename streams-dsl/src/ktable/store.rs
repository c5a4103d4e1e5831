//! Materializing a table: its store, and forwarding its updates through the store's cache.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::ProcessorContext;
use streams_core::state::{
    KeyValueStore, PUT_RETURN_CODE_NOT_PUT, PUT_RETURN_CODE_VALID_TO_UNDEFINED,
    ReadOnlyKeyValueStore, StoreBuilder, ValueAndTimestamp,
};
use streams_core::{Error, Headers, Record, Result, SerdeRef};
use streams_state::{Stores, TimestampedKeyValueStore, VersionedKeyValueStore};

use super::Change;
use crate::materialized::{Materialized, StoreType};

/// The store builder a `Materialized` describes for a table: timestamped values, or a
/// versioned store (never cached) for [`StoreType::Versioned`].
///
/// # Errors
///
/// [`Error::Config`] when the history retention does not fit in 64-bit milliseconds.
pub(crate) fn table_store_builder<K: 'static, V: 'static>(
    name: &str,
    m: &Materialized<K, V>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
) -> Result<Arc<dyn StoreBuilder>> {
    let builder = match m.store_type {
        StoreType::Versioned { history_retention } => {
            let builder = Stores::versioned_key_value_store_builder(
                Stores::persistent_versioned_key_value_store(name, history_retention)?,
                key_serde,
                value_serde,
            );
            return Ok(if m.logging {
                Arc::new(builder.with_logging_enabled(m.logging_config.clone()))
            } else {
                Arc::new(builder.with_logging_disabled())
            });
        }
        StoreType::RocksDb => Stores::timestamped_key_value_store_builder(
            Stores::persistent_timestamped_key_value_store(name),
            key_serde,
            value_serde,
        ),
        StoreType::InMemory => Stores::timestamped_key_value_store_builder(
            Stores::in_memory_key_value_store(name),
            key_serde,
            value_serde,
        ),
    };
    let builder = if m.caching {
        builder.with_caching_enabled()
    } else {
        builder.with_caching_disabled()
    };
    let builder = if m.logging {
        builder.with_logging_enabled(m.logging_config.clone())
    } else {
        builder.with_logging_disabled()
    };
    Ok(Arc::new(builder))
}

/// The two kinds of table store, as Kafka Streams' `KeyValueStoreWrapper`.
enum Kind<K, V> {
    Timestamped(Rc<RefCell<TimestampedKeyValueStore<K, V>>>),
    Versioned(Rc<RefCell<VersionedKeyValueStore<K, V>>>),
}

/// A processor's handle on a table store: writes updates and forwards them, at once without
/// a cache, or when the cache releases them (eviction, commit) with one. A versioned store
/// has no cache: an update it rejects as older than its history retention is dropped, and
/// one older than the key's latest version is forwarded as not the latest.
pub(crate) struct TableStore<K, V> {
    name: String,
    store: Option<Kind<K, V>>,
}

impl<K: Clone + 'static, V: Clone + 'static> TableStore<K, V> {
    pub(crate) fn new(name: String) -> Self {
        TableStore { name, store: None }
    }

    pub(crate) fn init<KO, VO>(&mut self, ctx: &ProcessorContext<'_, KO, VO>) -> Result<()> {
        let any = ctx.state_store_any(&self.name)?;
        let kind = match any.downcast::<RefCell<TimestampedKeyValueStore<K, V>>>() {
            Ok(store) => Kind::Timestamped(store),
            Err(any) => Kind::Versioned(
                any.downcast::<RefCell<VersionedKeyValueStore<K, V>>>()
                    .map_err(|_| Error::StoreNotAvailable(self.name.clone()))?,
            ),
        };
        self.store = Some(kind);
        Ok(())
    }

    fn store(&self) -> Result<&Kind<K, V>> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::StoreNotAvailable(self.name.clone()))
    }

    /// The key's latest value.
    pub(crate) fn get(&self, key: &K) -> Result<Option<ValueAndTimestamp<V>>> {
        match self.store()? {
            Kind::Timestamped(s) => s.borrow().get(key),
            Kind::Versioned(s) => Ok(s
                .borrow()
                .get(key)?
                .map(|r| ValueAndTimestamp::new(r.value, r.timestamp))),
        }
    }

    /// Stores `new` (or deletes on `None`) and forwards the change.
    pub(crate) fn put_and_forward(
        &mut self,
        key: K,
        mut change: Change<V>,
        timestamp: i64,
        headers: Headers,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let store = match self.store()? {
            Kind::Timestamped(s) => Rc::clone(s),
            Kind::Versioned(s) => {
                let code = s.borrow_mut().put(&key, change.new.as_ref(), timestamp)?;
                if code == PUT_RETURN_CODE_NOT_PUT {
                    ctx.record_dropped();
                    return Ok(());
                }
                change.is_latest = code == PUT_RETURN_CODE_VALID_TO_UNDEFINED;
                return ctx.forward(Record {
                    key,
                    value: change,
                    timestamp,
                    headers,
                });
            }
        };
        let mut s = store.borrow_mut();
        match &change.new {
            Some(v) => s.put(&key, &ValueAndTimestamp::new(v.clone(), timestamp))?,
            None => {
                s.delete(&key)?;
            }
        }
        if s.caching_enabled() {
            let evicted = s.take_evicted()?;
            drop(s);
            for e in evicted {
                ctx.forward(Record {
                    key: e.key,
                    value: Change::new(e.new_value.map(|v| v.value), e.old_value.map(|v| v.value)),
                    timestamp: e.timestamp,
                    headers: Headers::new(),
                })?;
            }
            Ok(())
        } else {
            drop(s);
            ctx.forward(Record {
                key,
                value: change,
                timestamp,
                headers,
            })
        }
    }

    /// Forwards what the cache holds; called at commit.
    pub(crate) fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let Some(Kind::Timestamped(store)) = self.store.as_ref() else {
            return Ok(());
        };
        let store = Rc::clone(store);
        let mut released = Vec::new();
        store.borrow_mut().flush_cache(|e| released.push(e))?;
        for e in released {
            ctx.forward(Record {
                key: e.key,
                value: Change::new(e.new_value.map(|v| v.value), e.old_value.map(|v| v.value)),
                timestamp: e.timestamp,
                headers: Headers::new(),
            })?;
        }
        Ok(())
    }
}
