//! Global stores: one instance per application instance (or test driver), filled from a
//! topic by the global sub-topology and read by every task, as Kafka Streams' global
//! state stores.

use std::any::Any;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::memory::StoreMemory;
use crate::state::builder::StoreBuilder;

/// A store shared by every thread of an application instance: written by the global
/// thread (the global sub-topology's processor), read by the processors of every task.
///
/// It hands out typed views, one per task: each is `RefCell<S>` behind `Rc<dyn Any>`, where
/// `S` is the type the same builder gives a task's local store (for a timestamped key-value
/// builder, `TimestampedKeyValueStore<K, V>`), so processors look it up with
/// [`ProcessorContext::state_store`](crate::processor::ProcessorContext::state_store) as
/// any other store. Views are cheap: serdes over a handle of the one shared store.
///
/// There is no changelog: the source topic is the store's changelog, and a restart resumes
/// from the offsets in `<state.dir>/<application.id>/global/.checkpoint`.
pub trait GlobalStore: Send + Sync {
    /// The store's name.
    fn name(&self) -> &str;

    /// Whether the store keeps its data on disk, so that a checkpoint lets a restart skip
    /// what it already holds.
    fn persistent(&self) -> bool;

    /// A view for a stream task's processors: reads see the store as the global thread
    /// left it; writes fail with [`Error::Store`], as Kafka Streams' read-only decorators
    /// do for global stores.
    fn read_only_view(&self) -> Rc<dyn Any>;

    /// A view for the global sub-topology's processor (and for tests), which may write.
    fn writable_view(&self) -> Rc<dyn Any>;

    /// Makes every write so far durable.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the underlying storage fails.
    fn flush(&self) -> Result<()>;

    /// Closes the store; views fail afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the underlying storage fails.
    fn close(&self) -> Result<()>;
}

/// The global stores of a topology, opened in `<state.dir>/<application.id>/global`.
pub(crate) struct GlobalStores {
    stores: Vec<(String, Arc<dyn GlobalStore>)>,
}

impl std::fmt::Debug for GlobalStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stores.iter().map(|(n, _)| n))
            .finish()
    }
}

impl GlobalStores {
    /// No global stores.
    pub(crate) fn empty() -> Self {
        GlobalStores { stores: Vec::new() }
    }

    /// Opens every store of `builders` (store builder and source topic) in `dir`, drawing on
    /// `memory` (see [`StoreBuilder::build_global`]).
    pub(crate) fn open(
        dir: &Path,
        builders: &[(Arc<dyn StoreBuilder>, String)],
        memory: Option<StoreMemory>,
    ) -> Result<Self> {
        if !builders.is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| Error::StateDir {
                path: dir.display().to_string(),
                reason: "cannot create the global state directory".into(),
                source: Some(e),
            })?;
        }
        let mut stores = Vec::with_capacity(builders.len());
        for (builder, topic) in builders {
            let store = builder.build_global(dir, topic, memory)?;
            stores.push((builder.name().to_owned(), store));
        }
        Ok(GlobalStores { stores })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn GlobalStore>> {
        self.stores.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// One read-only view of every store, for a stream task.
    pub(crate) fn read_only_views(&self) -> HashMap<String, Rc<dyn Any>> {
        self.stores
            .iter()
            .map(|(n, s)| (n.clone(), s.read_only_view()))
            .collect()
    }

    /// One writable view of every store, for the global task.
    pub(crate) fn writable_views(&self) -> HashMap<String, Rc<dyn Any>> {
        self.stores
            .iter()
            .map(|(n, s)| (n.clone(), s.writable_view()))
            .collect()
    }

    /// Flushes every store.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut first = None;
        for (_, s) in &self.stores {
            if let Err(e) = s.flush() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Flushes and closes every store.
    pub(crate) fn close(&self) -> Result<()> {
        let mut first = self.flush().err();
        for (_, s) in &self.stores {
            if let Err(e) = s.close() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}
