//! Global key-value stores: one bytes store shared by every thread of an application
//! instance, seen by each task through its own typed view.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use streams_core::Result;
use streams_core::serde::SerdeRef;
use streams_core::state::{
    ChangelogRecord, GlobalStore, KeyValueBytesIter, KeyValueBytesStore, StateStore,
};

use crate::error::StateError;
use crate::typed::TypedKeyValueStore;

/// A bytes store threads can share.
pub type SharedKeyValueBytesStore = Box<dyn KeyValueBytesStore + Send + Sync>;

/// The one shared bytes store behind every view. Reads take the lock shared, writes
/// exclusively; a poisoned lock is taken over (every bytes-store call is complete or has
/// no effect, so a panic elsewhere leaves the store consistent).
struct Shared {
    name: String,
    persistent: bool,
    store: RwLock<SharedKeyValueBytesStore>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, SharedKeyValueBytesStore> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, SharedKeyValueBytesStore> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A global key-value store: built once per application instance by
/// [`KeyValueStoreBuilder`](crate::KeyValueStoreBuilder) and handed to every task as a
/// [`TypedKeyValueStore`] over a [`GlobalBytesView`] of the shared bytes store.
pub(crate) struct GlobalKeyValueStore<K, V> {
    shared: Arc<Shared>,
    topic: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: 'static, V: 'static> GlobalKeyValueStore<K, V> {
    pub(crate) fn new(
        name: &str,
        topic: &str,
        store: SharedKeyValueBytesStore,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Self {
        GlobalKeyValueStore {
            shared: Arc::new(Shared {
                name: name.to_owned(),
                persistent: store.persistent(),
                store: RwLock::new(store),
            }),
            topic: topic.to_owned(),
            key_serde,
            value_serde,
            _types: PhantomData,
        }
    }

    fn view(&self, writable: bool) -> Rc<dyn Any> {
        let bytes = GlobalBytesView {
            shared: Arc::clone(&self.shared),
            writable,
        };
        Rc::new(RefCell::new(TypedKeyValueStore::new(
            Box::new(bytes),
            self.topic.clone(),
            self.key_serde.clone(),
            self.value_serde.clone(),
        )))
    }
}

impl<K: 'static, V: 'static> GlobalStore for GlobalKeyValueStore<K, V> {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn persistent(&self) -> bool {
        self.shared.persistent
    }

    fn read_only_view(&self) -> Rc<dyn Any> {
        self.view(false)
    }

    fn writable_view(&self) -> Rc<dyn Any> {
        self.view(true)
    }

    fn flush(&self) -> Result<()> {
        self.shared.write().flush()
    }

    fn close(&self) -> Result<()> {
        self.shared.write().close()
    }
}

/// One task's handle on a global store's bytes: reads go to the shared store under its
/// read lock; writes fail unless the view belongs to the global processor. Range scans
/// copy their entries while holding the lock, so an iterator never blocks the global
/// thread.
pub(crate) struct GlobalBytesView {
    shared: Arc<Shared>,
    writable: bool,
}

impl std::fmt::Debug for GlobalBytesView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalBytesView")
            .field("store", &self.shared.name)
            .field("writable", &self.writable)
            .finish()
    }
}

impl GlobalBytesView {
    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(StateError::ReadOnly {
                store: self.shared.name.clone(),
            }
            .into())
        }
    }

    fn collected(
        &self,
        scan: impl FnOnce(&dyn KeyValueBytesStore) -> Result<KeyValueBytesIter<'_>>,
    ) -> Result<KeyValueBytesIter<'_>> {
        let guard = self.shared.read();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = scan(guard.as_ref())?.collect::<Result<Vec<_>>>()?;
        Ok(Box::new(entries.into_iter().map(Ok)))
    }
}

impl StateStore for GlobalBytesView {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn persistent(&self) -> bool {
        self.shared.persistent
    }

    fn flush(&mut self) -> Result<()> {
        if self.writable {
            self.shared.write().flush()
        } else {
            Ok(())
        }
    }

    fn commit(&mut self) -> Result<()> {
        if self.writable {
            self.shared.write().commit()
        } else {
            Ok(())
        }
    }

    /// A view does not close the shared store; its owner does.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.check_writable()?;
        self.shared.write().restore_batch(records)
    }
}

impl KeyValueBytesStore for GlobalBytesView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.shared.read().get(key)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.check_writable()?;
        self.shared.write().put(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_writable()?;
        self.shared.write().put_if_absent(key, value)
    }

    fn put_all(&mut self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        self.check_writable()?;
        self.shared.write().put_all(entries)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_writable()?;
        self.shared.write().delete(key)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>> {
        self.collected(|s| s.range(from, to))
    }

    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>> {
        self.collected(|s| s.reverse_range(from, to))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>> {
        self.collected(|s| s.prefix_scan(prefix))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.shared.read().approximate_num_entries()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;
    use streams_core::serde::Serdes;
    use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore};

    fn store() -> GlobalKeyValueStore<String, String> {
        GlobalKeyValueStore::new(
            "g",
            "topic",
            Box::new(InMemoryKeyValueStore::new("g")),
            Serdes::string(),
            Serdes::string(),
        )
    }

    fn typed(any: Rc<dyn Any>) -> Rc<RefCell<TypedKeyValueStore<String, String>>> {
        any.downcast::<RefCell<TypedKeyValueStore<String, String>>>()
            .unwrap()
    }

    #[test]
    fn views_share_one_store_and_only_the_writable_one_writes() {
        let global = store();
        let writer = typed(global.writable_view());
        let reader = typed(global.read_only_view());
        writer
            .borrow_mut()
            .put(&"a".to_owned(), &"1".to_owned())
            .unwrap();
        writer
            .borrow_mut()
            .put(&"b".to_owned(), &"2".to_owned())
            .unwrap();
        assert_eq!(
            reader.borrow().get(&"a".to_owned()).unwrap(),
            Some("1".into())
        );
        let all: Vec<(String, String)> = reader
            .borrow()
            .all()
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            all,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let err = reader
            .borrow_mut()
            .put(&"c".to_owned(), &"3".to_owned())
            .unwrap_err();
        assert!(err.to_string().contains("'g'"), "{err}");
        assert!(
            format!("{:?}", std::error::Error::source(&err)).contains("ReadOnly"),
            "{err:?}"
        );
        assert_eq!(reader.borrow().get(&"c".to_owned()).unwrap(), None);
    }

    #[test]
    fn the_shared_store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GlobalKeyValueStore<Rc<String>, Rc<String>>>();
        assert_send_sync::<crate::RocksDbKeyValueStore>();
        assert_send_sync::<InMemoryKeyValueStore>();
    }
}
