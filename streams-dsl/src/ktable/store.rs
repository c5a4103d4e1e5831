//! Materializing a table: its store, and forwarding its updates through the store's cache.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::ProcessorContext;
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore, StoreBuilder, ValueAndTimestamp};
use streams_core::{Error, Headers, Record, Result, SerdeRef};
use streams_state::{Stores, TimestampedKeyValueStore};

use super::Change;
use crate::materialized::{Materialized, StoreType};

/// The store builder a `Materialized` describes, for a table of timestamped values.
pub(crate) fn timestamped_kv_builder<K: 'static, V: 'static>(
    name: &str,
    m: &Materialized<K, V>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
) -> Arc<dyn StoreBuilder> {
    let builder = match m.store_type {
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
    Arc::new(builder)
}

/// A processor's handle on a table store: writes updates and forwards them, at once without
/// a cache, or when the cache releases them (eviction, commit) with one.
pub(crate) struct TableStore<K, V> {
    name: String,
    store: Option<Rc<RefCell<TimestampedKeyValueStore<K, V>>>>,
}

impl<K: Clone + 'static, V: Clone + 'static> TableStore<K, V> {
    pub(crate) fn new(name: String) -> Self {
        TableStore { name, store: None }
    }

    pub(crate) fn init<KO, VO>(&mut self, ctx: &ProcessorContext<'_, KO, VO>) -> Result<()> {
        self.store = Some(ctx.state_store::<TimestampedKeyValueStore<K, V>>(&self.name)?);
        Ok(())
    }

    fn store(&self) -> Result<&Rc<RefCell<TimestampedKeyValueStore<K, V>>>> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::StoreNotAvailable(self.name.clone()))
    }

    pub(crate) fn get(&self, key: &K) -> Result<Option<ValueAndTimestamp<V>>> {
        self.store()?.borrow().get(key)
    }

    /// Stores `new` (or deletes on `None`) and forwards the change.
    pub(crate) fn put_and_forward(
        &mut self,
        key: K,
        change: Change<V>,
        timestamp: i64,
        headers: Headers,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let store = Rc::clone(self.store()?);
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
        let Some(store) = self.store.as_ref().map(Rc::clone) else {
            return Ok(());
        };
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
