//! Value getters: how a join looks up a table's current value for a key.
//!
//! A materialized table reads its store; a table derived without a store (a filter, a
//! `map_values`) applies its rule to its parent's value, as Kafka Streams' value getters do.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::state::{ReadOnlyKeyValueStore, ValueAndTimestamp};
use streams_core::{Error, Result};
use streams_state::TimestampedKeyValueStore;

/// Reads one key's current value and its timestamp.
pub(crate) trait ValueGetter<K, V> {
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<V>>>;
}

/// Makes a task's getter once, at processor init, from the stores the processor is
/// connected to.
pub(crate) trait ValueGetterSupplier<K, V>: Send + Sync {
    /// The stores a processor using this getter must be connected to.
    fn stores(&self) -> Vec<String>;
    fn getter(
        &self,
        lookup: &dyn Fn(&str) -> Result<Rc<dyn Any>>,
    ) -> Result<Box<dyn ValueGetter<K, V>>>;
}

pub(crate) type GetterRef<K, V> = Arc<dyn ValueGetterSupplier<K, V>>;

/// Reads a materialized table's store.
pub(crate) struct StoreGetterSupplier {
    pub(crate) store: String,
}

struct StoreGetter<K, V>(Rc<RefCell<TimestampedKeyValueStore<K, V>>>);

impl<K: 'static, V: 'static> ValueGetter<K, V> for StoreGetter<K, V> {
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<V>>> {
        self.0.borrow().get(key)
    }
}

impl<K: 'static, V: 'static> ValueGetterSupplier<K, V> for StoreGetterSupplier {
    fn stores(&self) -> Vec<String> {
        vec![self.store.clone()]
    }

    fn getter(
        &self,
        lookup: &dyn Fn(&str) -> Result<Rc<dyn Any>>,
    ) -> Result<Box<dyn ValueGetter<K, V>>> {
        let store = lookup(&self.store)?
            .downcast::<RefCell<TimestampedKeyValueStore<K, V>>>()
            .map_err(|_| Error::StoreNotAvailable(self.store.clone()))?;
        Ok(Box::new(StoreGetter(store)))
    }
}

/// Applies `f` to the parent's value: `None` from `f` means the key is absent here.
pub(crate) struct MappedGetterSupplier<K, V, F> {
    pub(crate) parent: GetterRef<K, V>,
    pub(crate) f: Arc<F>,
}

struct MappedGetter<K, V, F> {
    parent: Box<dyn ValueGetter<K, V>>,
    f: Arc<F>,
}

impl<K, V, VR, F> ValueGetter<K, VR> for MappedGetter<K, V, F>
where
    F: Fn(&K, V) -> Option<VR>,
{
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<VR>>> {
        Ok(self.parent.get(key)?.and_then(|vt| {
            let ts = vt.timestamp;
            (self.f)(key, vt.value).map(|v| ValueAndTimestamp::new(v, ts))
        }))
    }
}

impl<K, V, VR, F> ValueGetterSupplier<K, VR> for MappedGetterSupplier<K, V, F>
where
    K: 'static,
    V: 'static,
    F: Fn(&K, V) -> Option<VR> + Send + Sync + 'static,
{
    fn stores(&self) -> Vec<String> {
        self.parent.stores()
    }

    fn getter(
        &self,
        lookup: &dyn Fn(&str) -> Result<Rc<dyn Any>>,
    ) -> Result<Box<dyn ValueGetter<K, VR>>> {
        Ok(Box::new(MappedGetter {
            parent: self.parent.getter(lookup)?,
            f: Arc::clone(&self.f),
        }))
    }
}
