//! Value getters: how a join looks up a table's current value for a key.
//!
//! A materialized table reads its store; a table derived without a store (a filter, a
//! `map_values`) applies its rule to its parent's value, as Kafka Streams' value getters do.
//! A getter over a versioned store is versioned, and so is one derived from it: it also
//! answers "the value as of a timestamp" (Kafka Streams' `KTableValueGetter.isVersioned`).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::state::{ReadOnlyKeyValueStore, ValueAndTimestamp};
use streams_core::{Error, Result};
use streams_state::{TimestampedKeyValueStore, VersionedKeyValueStore};

/// Reads one key's current value and its timestamp.
pub(crate) trait ValueGetter<K, V> {
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<V>>>;

    /// The value valid at `as_of`; a table that is not versioned knows only its latest.
    fn get_as_of(&mut self, key: &K, as_of: i64) -> Result<Option<ValueAndTimestamp<V>>> {
        let _ = as_of;
        self.get(key)
    }

    /// Whether [`get_as_of`](Self::get_as_of) reads history: the table's values come from a
    /// versioned store.
    fn is_versioned(&self) -> bool {
        false
    }
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

/// Reads a table materialized in a versioned store.
struct VersionedStoreGetter<K, V>(Rc<RefCell<VersionedKeyValueStore<K, V>>>);

impl<K: 'static, V: 'static> ValueGetter<K, V> for VersionedStoreGetter<K, V> {
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<V>>> {
        let found = self.0.borrow().get(key)?;
        Ok(found.map(|r| ValueAndTimestamp::new(r.value, r.timestamp)))
    }

    fn get_as_of(&mut self, key: &K, as_of: i64) -> Result<Option<ValueAndTimestamp<V>>> {
        let found = self.0.borrow().get_as_of(key, as_of)?;
        Ok(found.map(|r| ValueAndTimestamp::new(r.value, r.timestamp)))
    }

    fn is_versioned(&self) -> bool {
        true
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
        // A table store is timestamped or versioned, as Kafka Streams' `KeyValueStoreWrapper`
        // finds out by trying both.
        let any = lookup(&self.store)?;
        match any.downcast::<RefCell<TimestampedKeyValueStore<K, V>>>() {
            Ok(store) => Ok(Box::new(StoreGetter(store))),
            Err(any) => any
                .downcast::<RefCell<VersionedKeyValueStore<K, V>>>()
                .map(|store| Box::new(VersionedStoreGetter(store)) as Box<dyn ValueGetter<K, V>>)
                .map_err(|_| Error::StoreNotAvailable(self.store.clone())),
        }
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
        let found = self.parent.get(key)?;
        Ok(self.apply(key, found))
    }

    fn get_as_of(&mut self, key: &K, as_of: i64) -> Result<Option<ValueAndTimestamp<VR>>> {
        let found = self.parent.get_as_of(key, as_of)?;
        Ok(self.apply(key, found))
    }

    fn is_versioned(&self) -> bool {
        self.parent.is_versioned()
    }
}

impl<K, V, F> MappedGetter<K, V, F> {
    fn apply<VR>(
        &self,
        key: &K,
        found: Option<ValueAndTimestamp<V>>,
    ) -> Option<ValueAndTimestamp<VR>>
    where
        F: Fn(&K, V) -> Option<VR>,
    {
        found.and_then(|vt| {
            let ts = vt.timestamp;
            (self.f)(key, vt.value).map(|v| ValueAndTimestamp::new(v, ts))
        })
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
