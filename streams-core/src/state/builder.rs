//! Store builders, the context they build in, and the built store handle.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use crate::error::Result;
use crate::memory::StoreMemory;
use crate::state::global::GlobalStore;
use crate::state::store::StateStore;
use crate::task_id::TaskId;

/// Where change-logging layers send their records: the task's record collector in the
/// Kafka runtime, an [`InMemoryChangelog`](crate::state::InMemoryChangelog) in tests and the
/// test driver.
pub trait ChangelogWriter {
    /// Sends one changelog record; `None` is a tombstone.
    ///
    /// # Errors
    ///
    /// Whatever the sink reports, typically [`Error::Kafka`](crate::Error::Kafka).
    fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()>;
}

/// The name of a store's changelog topic: `<application.id>-<store>-changelog`.
///
/// # Examples
///
/// ```
/// assert_eq!(streams_core::state::changelog_topic_name("app", "counts"), "app-counts-changelog");
/// ```
pub fn changelog_topic_name(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}

/// The extra retention a window or session changelog keeps beyond the store's retention,
/// Kafka Streams' `windowstore.changelog.additional.retention.ms` default (24 hours).
pub const WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// The topic configuration of a key-value store's changelog, `cleanup.policy=compact`,
/// with `overrides` applied on top.
pub fn key_value_changelog_config(
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut config = BTreeMap::from([("cleanup.policy".to_owned(), "compact".to_owned())]);
    config.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    config
}

/// The topic configuration of a versioned key-value store's changelog, as Kafka Streams'
/// `VersionedChangelogTopicConfig`: `cleanup.policy=compact` and `min.compaction.lag.ms` =
/// the history retention + 24 hours, so that compaction keeps every version the store may
/// still need on restore; `overrides` applied on top.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// let c = streams_core::state::versioned_changelog_config(60_000, &BTreeMap::new());
/// assert_eq!(c["cleanup.policy"], "compact");
/// assert_eq!(c["min.compaction.lag.ms"], (60_000 + 86_400_000).to_string());
/// ```
pub fn versioned_changelog_config(
    history_retention_ms: i64,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let lag = history_retention_ms.saturating_add(WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS);
    let mut config = BTreeMap::from([
        ("cleanup.policy".to_owned(), "compact".to_owned()),
        ("min.compaction.lag.ms".to_owned(), lag.to_string()),
    ]);
    config.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    config
}

/// The topic configuration of a window or session store's changelog:
/// `cleanup.policy=compact,delete` and `retention.ms` = the store's retention + 24 h,
/// with `overrides` applied on top.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// let c = streams_core::state::window_changelog_config(60_000, &BTreeMap::new());
/// assert_eq!(c["cleanup.policy"], "compact,delete");
/// assert_eq!(c["retention.ms"], (60_000 + 86_400_000).to_string());
/// ```
pub fn window_changelog_config(
    retention_ms: i64,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let retention = retention_ms.saturating_add(WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS);
    let mut config = BTreeMap::from([
        ("cleanup.policy".to_owned(), "compact,delete".to_owned()),
        ("retention.ms".to_owned(), retention.to_string()),
    ]);
    config.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    config
}

/// What a store needs from its task when it is built.
///
/// Cloning it is cheap: the changelog writer and the timestamp are shared handles.
#[derive(Clone)]
pub struct StoreContext {
    application_id: String,
    task_id: TaskId,
    partition: i32,
    state_dir: PathBuf,
    changelog: Rc<RefCell<dyn ChangelogWriter>>,
    timestamp: Rc<Cell<i64>>,
    cache_bytes: usize,
    caching: bool,
    memory: Option<StoreMemory>,
}

impl fmt::Debug for StoreContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreContext")
            .field("application_id", &self.application_id)
            .field("task_id", &self.task_id)
            .field("partition", &self.partition)
            .field("state_dir", &self.state_dir)
            .field("timestamp", &self.timestamp.get())
            .field("cache_bytes", &self.cache_bytes)
            .field("caching", &self.caching)
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl StoreContext {
    /// A context for the given task: its changelog partition is the task's partition, the
    /// record timestamp starts at 0, and the cache budget is 10 MiB (Kafka Streams'
    /// `statestore.cache.max.bytes` default).
    pub fn new(
        application_id: impl Into<String>,
        task_id: TaskId,
        state_dir: impl Into<PathBuf>,
        changelog: Rc<RefCell<dyn ChangelogWriter>>,
    ) -> Self {
        StoreContext {
            application_id: application_id.into(),
            task_id,
            partition: task_id.partition,
            state_dir: state_dir.into(),
            changelog,
            timestamp: Rc::new(Cell::new(0)),
            cache_bytes: 10 * 1024 * 1024,
            caching: true,
            memory: None,
        }
    }

    /// The same context with another changelog partition.
    #[must_use]
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = partition;
        self
    }

    /// The same context reading the record timestamp from `timestamp`, which the task sets
    /// before each record and punctuation.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Rc<Cell<i64>>) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same context with another cache budget in bytes.
    #[must_use]
    pub fn with_cache_bytes(mut self, cache_bytes: usize) -> Self {
        self.cache_bytes = cache_bytes;
        self
    }

    /// The same context with caching layers allowed or not. Kafka Streams strips every
    /// store's caching layer when `statestore.cache.max.bytes` is 0
    /// (`InternalTopologyBuilder.rewriteTopology`), so that stores configured with caching
    /// behave exactly as stores without it; the state manager turns caching off here then.
    #[must_use]
    pub fn with_caching(mut self, caching: bool) -> Self {
        self.caching = caching;
        self
    }

    /// The same context with the memory persistent stores draw on: the RocksDB share of
    /// `memory.budget.bytes` (see [`MemoryBudget`](crate::MemoryBudget)), or `None` for the
    /// store suppliers' own default.
    #[must_use]
    pub fn with_store_memory(mut self, memory: Option<StoreMemory>) -> Self {
        self.memory = memory;
        self
    }

    /// The memory persistent stores draw on, when the instance has a memory budget.
    pub fn store_memory(&self) -> Option<StoreMemory> {
        self.memory
    }

    /// Whether builders may add a caching layer: `false` when the configured cache size is
    /// 0, whatever the store's own setting.
    pub fn caching_allowed(&self) -> bool {
        self.caching
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The task.
    pub fn task_id(&self) -> TaskId {
        self.task_id
    }

    /// The partition of the task's changelogs.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The task's state directory, `<state.dir>/<application.id>/<taskId>`.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The sink of changelog records.
    pub fn changelog(&self) -> &Rc<RefCell<dyn ChangelogWriter>> {
        &self.changelog
    }

    /// The shared cell holding the current record timestamp.
    pub fn timestamp_source(&self) -> &Rc<Cell<i64>> {
        &self.timestamp
    }

    /// The timestamp of the record (or punctuation) being processed.
    pub fn timestamp(&self) -> i64 {
        self.timestamp.get()
    }

    /// The cache budget in bytes for the store being built.
    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// The changelog topic of `store`.
    pub fn changelog_topic(&self, store: &str) -> String {
        changelog_topic_name(&self.application_id, store)
    }
}

/// A built store: one `Rc<RefCell<S>>` seen both as a [`StateStore`] (for the state
/// manager) and as `dyn Any` (for the processor, which downcasts it once at init).
#[derive(Clone)]
pub struct BuiltStore {
    name: String,
    lifecycle: Rc<RefCell<dyn StateStore>>,
    any: Rc<dyn Any>,
}

impl fmt::Debug for BuiltStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltStore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl BuiltStore {
    /// Wraps a store.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::cell::RefCell;
    /// use streams_core::state::{BuiltStore, ChangelogRecord, StateStore};
    ///
    /// struct Noop;
    /// impl StateStore for Noop {
    ///     fn name(&self) -> &str { "noop" }
    ///     fn persistent(&self) -> bool { false }
    ///     fn flush(&mut self) -> streams_core::Result<()> { Ok(()) }
    ///     fn close(&mut self) -> streams_core::Result<()> { Ok(()) }
    ///     fn restore_batch(&mut self, _: &[ChangelogRecord<'_>]) -> streams_core::Result<()> { Ok(()) }
    /// }
    ///
    /// let built = BuiltStore::new(Noop);
    /// let typed: Option<Rc<RefCell<Noop>>> = built.downcast::<Noop>();
    /// assert!(typed.is_some());
    /// assert!(built.downcast::<String>().is_none());
    /// ```
    pub fn new<S: StateStore + 'static>(store: S) -> Self {
        let name = store.name().to_owned();
        let cell = Rc::new(RefCell::new(store));
        BuiltStore {
            name,
            lifecycle: cell.clone(),
            any: cell,
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store as a [`StateStore`], for lifecycle calls and restoring.
    pub fn state_store(&self) -> &Rc<RefCell<dyn StateStore>> {
        &self.lifecycle
    }

    /// The store as `Rc<dyn Any>`; its concrete type is `RefCell<S>`.
    pub fn as_any(&self) -> Rc<dyn Any> {
        self.any.clone()
    }

    /// The store as its concrete type `S`, or `None` if it is of another type.
    pub fn downcast<S: 'static>(&self) -> Option<Rc<RefCell<S>>> {
        self.any.clone().downcast::<RefCell<S>>().ok()
    }
}

/// Describes a store and builds one instance per task, as Kafka Streams' `StoreBuilder`.
///
/// The topology holds builders (hence `Send + Sync`); each task builds its own stores on its
/// own thread.
pub trait StoreBuilder: Send + Sync {
    /// The store's name.
    fn name(&self) -> &str;

    /// Whether every write goes to the changelog topic.
    fn logging_enabled(&self) -> bool;

    /// Whether the store keeps its data on disk.
    fn persistent(&self) -> bool;

    /// The configuration of the changelog topic (`cleanup.policy` and so on).
    fn changelog_config(&self) -> BTreeMap<String, String>;

    /// Builds the store for one task.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when it cannot be opened,
    /// [`Error::StoreCorrupted`](crate::Error::StoreCorrupted) when its files are damaged.
    fn build(&self, ctx: &StoreContext) -> Result<BuiltStore>;

    /// Opens the store as a global store in `dir` (`<state.dir>/<application.id>/global`),
    /// fed from `topic`, whose name the store hands its serdes, drawing on `memory` as
    /// [`StoreContext::store_memory`] says. Global stores have neither a changelog (the topic
    /// is one) nor a cache.
    ///
    /// The default reports that this kind of store cannot be global; key-value store
    /// builders support it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when this kind of store cannot be global or
    /// cannot be opened.
    fn build_global(
        &self,
        dir: &Path,
        topic: &str,
        memory: Option<StoreMemory>,
    ) -> Result<Arc<dyn GlobalStore>> {
        let _ = (dir, topic, memory);
        Err(crate::Error::Store {
            store: self.name().to_owned(),
            reason: "this kind of store cannot be a global store; use a key-value store".into(),
            source: None,
        })
    }
}
