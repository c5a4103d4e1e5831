//! The per-task state manager: builds, restores, flushes, checkpoints and closes stores.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::memory::StoreMemory;
use crate::state::builder::{
    BuiltStore, ChangelogWriter, StoreBuilder, StoreContext, changelog_topic_name,
};
use crate::state::changelog::ChangelogReader;
use crate::state::checkpoint::OffsetCheckpoint;
use crate::state::directory::StateDirectory;
use crate::state::store::StateStore;
use crate::state::store_metrics::StoreMetrics;
use crate::state::stored_position::StoredPosition;
use crate::task_id::TaskId;

/// Follows restores, as Kafka Streams' `StateRestoreListener`. Every method has an empty
/// default.
pub trait StateRestoreListener {
    /// A store starts restoring `[start_offset, end_offset)` of its changelog partition.
    fn on_restore_start(
        &mut self,
        store: &str,
        topic: &str,
        partition: i32,
        start_offset: i64,
        end_offset: i64,
    ) {
        let _ = (store, topic, partition, start_offset, end_offset);
    }

    /// A batch was applied; `batch_end_offset` is the offset of its last record.
    fn on_batch_restored(
        &mut self,
        store: &str,
        topic: &str,
        partition: i32,
        batch_end_offset: i64,
        num_restored: u64,
    ) {
        let _ = (store, topic, partition, batch_end_offset, num_restored);
    }

    /// A store finished restoring `total_restored` records.
    fn on_restore_end(&mut self, store: &str, topic: &str, partition: i32, total_restored: u64) {
        let _ = (store, topic, partition, total_restored);
    }
}

/// What the restore of one store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRestoreSummary {
    /// The store.
    pub store: String,
    /// Its changelog partition, `None` when logging is disabled.
    pub changelog: Option<(String, i32)>,
    /// The offset the restore started from (`None` when nothing was read).
    pub start_offset: Option<i64>,
    /// The changelog's end offset when the restore started.
    pub end_offset: i64,
    /// How many records were applied.
    pub restored: u64,
    /// Why the store's files were wiped before restoring, if they were.
    pub wiped: Option<String>,
}

/// What [`StateManager::register_and_restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    /// One entry per store, in registration order.
    pub stores: Vec<StoreRestoreSummary>,
    /// Records applied across all stores.
    pub total_restored: u64,
    /// Wall-clock time of the whole restore.
    pub elapsed: Duration,
}

struct ManagedStore {
    builder: Arc<dyn StoreBuilder>,
    built: BuiltStore,
    changelog: Option<(String, i32)>,
    persistent: bool,
    /// The offset of the last changelog record the store holds.
    offset: Option<i64>,
    /// The offset the checkpoint file last recorded for the store.
    checkpointed: Option<i64>,
}

/// Default records per restore batch: large enough that a RocksDB write batch amortises
/// its cost, small enough to bound memory.
const DEFAULT_RESTORE_BATCH: usize = 10_000;
/// Default records between checkpoints during a restore (Kafka Streams uses 10 000 for
/// its offset-delta threshold; a restore flushes RocksDB at each, so it is larger here).
const DEFAULT_RESTORE_CHECKPOINT_INTERVAL: u64 = 250_000;
/// Empty reads in a row after which a restore that has not reached the end offset fails.
const MAX_EMPTY_READS: u32 = 1_000;
/// Changelog records, summed over a task's persistent stores, written since the last
/// checkpoint beyond which a commit flushes the stores and writes a new checkpoint: Kafka
/// Streams' `OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT`.
pub const CHECKPOINT_OFFSET_DELTA: i64 = 10_000;

/// The state of one task, as Kafka Streams' `ProcessorStateManager`: the only thing a task
/// talks to about its stores.
///
/// # Lifecycle
///
/// 1. [`new`](Self::new) with the task's store builders.
/// 2. [`register_and_restore`](Self::register_and_restore) once: builds every store and
///    brings it up to date from its changelog.
/// 3. Per record or punctuation: [`set_timestamp`](Self::set_timestamp).
/// 4. At commit: the processors flush their caches (forwarding), then
///    [`commit`](Self::commit) empties the other caches, then the producer is flushed,
///    then [`maybe_checkpoint`](Self::maybe_checkpoint) with the offsets the collector
///    wrote. ([`flush`](Self::flush) and [`checkpoint`](Self::checkpoint) do the same
///    unconditionally.)
/// 5. [`close`](Self::close) (clean) or [`close_dirty`](Self::close_dirty).
///
/// # Checkpoints
///
/// The checkpoint file holds, for each persistent logged store, the offset of the last
/// changelog record its files contain. Without a valid entry a persistent store is wiped
/// and restored from the beginning; a corrupt checkpoint file counts as none (logged with
/// `tracing::warn!`). In-memory stores always restore from the beginning.
///
/// Under at-least-once (the default) the checkpoint stays on disk while processing. As in
/// Kafka Streams, a commit rewrites it only once the stores' changelogs have advanced more
/// than [`CHECKPOINT_OFFSET_DELTA`] records past it, flushing the stores (RocksDB's
/// memtables) first: flushing RocksDB at every commit would write small files many times a
/// second. A crash replays at most that much more of the changelog.
///
/// Unlike Kafka Streams, the commit does not wait for that flush: it starts it in the
/// background ([`StateStore::flush_in_background`]) with the offsets the stores have
/// reached, and a later commit that finds it done ([`StateStore::flush_done`]) writes the
/// checkpoint with those offsets. A crash in between replays from the checkpoint before.
/// A flush still under way after ten commits is waited for.
///
/// With [`with_exactly_once`](Self::with_exactly_once) the file is deleted once the restore
/// is done and only written again by a clean [`close`](Self::close): while processing, the
/// files may hold writes of a transaction that will be aborted. Instead, after every
/// transaction commit each persistent store records its position in its own files
/// ([`StateStore::commit_position`]), and the stores are flushed once their changelogs
/// have advanced [`CHECKPOINT_OFFSET_DELTA`] records past the last flush. After a crash a
/// store whose files say [`StoredPosition::Committed`] is kept and restores only the
/// changelog after that offset: at most the records written since its last flush, as with
/// Kafka Streams' transactional state stores (KIP-892). A store whose files hold
/// uncommitted writes, or that records no position, is wiped and restored in full, as
/// Kafka Streams does for a corrupted task.
///
/// A restore writes a checkpoint (after flushing the store) every
/// [`restore_checkpoint_interval`](Self::with_restore_checkpoint_interval) records and when
/// it fails partway, so an interrupted restore resumes where the last checkpoint says.
pub struct StateManager {
    task_id: TaskId,
    task_dir: PathBuf,
    builders: Vec<Arc<dyn StoreBuilder>>,
    stores: Vec<ManagedStore>,
    ctx: StoreContext,
    checkpoint: OffsetCheckpoint,
    listener: Option<Box<dyn StateRestoreListener>>,
    exactly_once: bool,
    restore_batch: usize,
    restore_checkpoint_interval: u64,
    registered: bool,
    /// The restore under way, between [`register`](Self::register) and its last step.
    restoring: Option<Restoring>,
    /// A restore whose last step is done, until [`finish_restore`](Self::finish_restore).
    finished: Option<Restoring>,
    /// The stores whose changelogs a standby replica follows (positioned in its reader).
    following: Vec<usize>,
    /// The flush a commit started in the background, if it is not known to be done.
    background_flush: Option<BackgroundFlush>,
}

/// A flush of the stores started by a commit ([`StateStore::flush_in_background`]).
struct BackgroundFlush {
    /// Each store's offset when it started: what the stores' files hold once it is done.
    offsets: Vec<Option<i64>>,
    /// Commits that found it still under way.
    waited: u32,
}

/// Commits that may find a background flush still under way before the next one waits
/// for the stores: under a write load that keeps RocksDB's memtables flushing, the
/// checkpoint would otherwise fall ever further behind.
const MAX_BACKGROUND_FLUSH_WAITS: u32 = 10;

/// Where a stepwise restore stands.
struct Restoring {
    summaries: Vec<StoreRestoreSummary>,
    /// The store being restored.
    index: usize,
    /// Its progress, once its changelog is positioned.
    current: Option<StoreProgress>,
    total: u64,
    started: Instant,
}

/// The restore of one store's changelog partition.
struct StoreProgress {
    topic: String,
    partition: i32,
    end: i64,
    position: i64,
    restored: u64,
    since_checkpoint: u64,
    empty_reads: u32,
    /// Already wiped once because the log start moved past the position.
    reset: bool,
}

impl std::fmt::Debug for StateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateManager")
            .field("task_id", &self.task_id)
            .field("task_dir", &self.task_dir)
            .field(
                "stores",
                &self
                    .builders
                    .iter()
                    .map(|b| b.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field("exactly_once", &self.exactly_once)
            .finish_non_exhaustive()
    }
}

impl StateManager {
    /// A manager for `task_id`, whose state lives in `task_dir`
    /// (`<state.dir>/<application.id>/<taskId>`, see [`StateDirectory::task_dir`]). Stores
    /// log to `changelog` on `partition`; `cache_bytes` is split evenly between the stores.
    /// With `cache_bytes` 0 no store gets a caching layer, as in Kafka Streams.
    pub fn new(
        task_id: TaskId,
        application_id: impl Into<String>,
        task_dir: impl Into<PathBuf>,
        builders: Vec<Arc<dyn StoreBuilder>>,
        changelog: Rc<RefCell<dyn ChangelogWriter>>,
        partition: i32,
        cache_bytes: usize,
    ) -> Self {
        let task_dir = task_dir.into();
        let per_store = cache_bytes / builders.len().max(1);
        let ctx = StoreContext::new(application_id, task_id, task_dir.clone(), changelog)
            .with_partition(partition)
            .with_cache_bytes(per_store)
            .with_caching(cache_bytes > 0);
        StateManager {
            task_id,
            checkpoint: OffsetCheckpoint::in_dir(&task_dir),
            task_dir,
            builders,
            stores: Vec::new(),
            ctx,
            listener: None,
            exactly_once: false,
            restore_batch: DEFAULT_RESTORE_BATCH,
            restore_checkpoint_interval: DEFAULT_RESTORE_CHECKPOINT_INTERVAL,
            registered: false,
            restoring: None,
            finished: None,
            following: Vec::new(),
            background_flush: None,
        }
    }

    /// The same manager with its persistent stores drawing on `memory` (see
    /// [`StoreContext::with_store_memory`]).
    #[must_use]
    pub fn with_store_memory(mut self, memory: Option<StoreMemory>) -> Self {
        self.ctx = self.ctx.with_store_memory(memory);
        self
    }

    /// Follows restores with `listener`.
    #[must_use]
    pub fn with_restore_listener(mut self, listener: Box<dyn StateRestoreListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Handles the checkpoint as Kafka Streams does under `exactly_once_v2` (see the type's
    /// documentation).
    #[must_use]
    pub fn with_exactly_once(mut self, exactly_once: bool) -> Self {
        self.exactly_once = exactly_once;
        self
    }

    /// Reads the changelog in batches of `records` (at least 1).
    #[must_use]
    pub fn with_restore_batch_size(mut self, records: usize) -> Self {
        self.restore_batch = records.max(1);
        self
    }

    /// Flushes and checkpoints a restoring persistent store every `records` records.
    #[must_use]
    pub fn with_restore_checkpoint_interval(mut self, records: u64) -> Self {
        self.restore_checkpoint_interval = records.max(1);
        self
    }

    /// The task.
    pub fn task_id(&self) -> TaskId {
        self.task_id
    }

    /// The task's state directory.
    pub fn task_dir(&self) -> &Path {
        &self.task_dir
    }

    /// The context stores are built with.
    pub fn context(&self) -> &StoreContext {
        &self.ctx
    }

    /// The cell holding the current record timestamp, shared with every store (the
    /// change-logging layers stamp changelog records with it).
    pub fn timestamp_source(&self) -> Rc<Cell<i64>> {
        self.ctx.timestamp_source().clone()
    }

    /// Sets the current record timestamp; the task calls it before each record and each
    /// punctuation.
    pub fn set_timestamp(&self, timestamp: i64) {
        self.ctx.timestamp_source().set(timestamp);
    }

    /// The changelog partitions of the stores with logging enabled, in registration order.
    /// Available before [`register_and_restore`](Self::register_and_restore).
    pub fn changelog_partitions(&self) -> Vec<(String, i32)> {
        self.builders
            .iter()
            .filter(|b| b.logging_enabled())
            .map(|b| {
                (
                    changelog_topic_name(self.ctx.application_id(), b.name()),
                    self.ctx.partition(),
                )
            })
            .collect()
    }

    /// The offset of the last changelog record each logged store holds, as known now.
    pub fn changelog_offsets(&self) -> HashMap<(String, i32), i64> {
        self.stores
            .iter()
            .filter_map(|s| Some((s.changelog.clone()?, s.offset?)))
            .collect()
    }

    /// The store named `name` as `Rc<dyn Any>` (whose concrete type is `RefCell<S>` for the
    /// store type `S` its builder makes), for a processor to downcast once at init.
    pub fn store(&self, name: &str) -> Option<Rc<dyn Any>> {
        self.built_store(name).map(BuiltStore::as_any)
    }

    /// The store named `name` as its concrete type, or `None` if it is missing or of
    /// another type.
    pub fn typed_store<S: 'static>(&self, name: &str) -> Option<Rc<RefCell<S>>> {
        self.built_store(name)?.downcast::<S>()
    }

    /// The built store named `name`.
    pub fn built_store(&self, name: &str) -> Option<&BuiltStore> {
        self.stores
            .iter()
            .find(|s| s.built.name() == name)
            .map(|s| &s.built)
    }

    /// Changelog records still to restore in the partition being restored now (the end
    /// offset it had when its restore began, less the position); 0 when not restoring. The
    /// stores whose restore has not begun yet are not counted: their end offsets are read
    /// when it begins.
    pub fn restore_remaining(&self) -> u64 {
        self.restoring
            .as_ref()
            .and_then(|r| r.current.as_ref())
            .map_or(0, |p| u64::try_from(p.end - p.position).unwrap_or(0))
    }

    /// The metrics of every store, summed (see [`StoreMetrics::add`]). A store in use right
    /// now (borrowed) is left out of this report.
    pub fn store_metrics(&self) -> StoreMetrics {
        let mut total = StoreMetrics::default();
        for s in &self.stores {
            if let Ok(store) = s.built.state_store().try_borrow() {
                total.add(&store.metrics());
            }
        }
        total
    }

    /// The names of the registered stores, in registration order.
    pub fn store_names(&self) -> Vec<&str> {
        self.stores.iter().map(|s| s.built.name()).collect()
    }

    /// Builds every store and restores the logged ones from their changelogs:
    /// [`register`](Self::register), then [`restore_step`](Self::restore_step) until done,
    /// then [`finish_restore`](Self::finish_restore).
    ///
    /// See the type's documentation for how checkpoints decide where each restore starts.
    /// A persistent store whose files RocksDB reports as corrupt, whose checkpoint is
    /// ahead of its changelog, or below its changelog's log start, is wiped and restored
    /// from the beginning.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when called twice; otherwise the first error a store, the
    /// reader or the file system reports. A restore that fails partway has checkpointed
    /// what it applied to persistent stores, so the next attempt resumes from there.
    pub fn register_and_restore(
        &mut self,
        reader: &mut dyn ChangelogReader,
    ) -> Result<RestoreSummary> {
        self.register()?;
        while !self.restore_step(reader, usize::MAX)? {}
        self.finish_restore()
    }

    /// Builds every store, wiping those whose files cannot be trusted, and prepares their
    /// restore. Under exactly-once a task whose logged persistent stores have no
    /// checkpointed offset was not closed cleanly (the checkpoint is deleted while
    /// processing): each persistent store, the ones without a changelog too, is then kept
    /// only if its own files say they hold a committed state
    /// ([`StateStore::stored_position`]), and wiped otherwise, since they may hold writes of
    /// an aborted transaction.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when called twice; otherwise the first error a store or the
    /// file system reports.
    pub fn register(&mut self) -> Result<()> {
        if self.registered {
            return Err(Error::IllegalState(format!(
                "the stores of task {} are already registered",
                self.task_id
            )));
        }
        self.registered = true;
        let started = Instant::now();
        fs::create_dir_all(&self.task_dir).map_err(|e| Error::StateDir {
            path: self.task_dir.display().to_string(),
            reason: "cannot create the task state directory".into(),
            source: Some(e),
        })?;
        let checkpointed = match self.checkpoint.read() {
            Ok(offsets) => offsets,
            Err(e) => {
                tracing::warn!(
                    task = %self.task_id,
                    path = %self.checkpoint.path().display(),
                    error = %e,
                    "the checkpoint file is unreadable; wiping the persistent stores and restoring them from their changelogs"
                );
                self.checkpoint.delete()?;
                HashMap::new()
            }
        };

        // As Kafka Streams' task-corrupted check: a logged persistent store without a
        // checkpointed offset under exactly-once means the task was not closed cleanly.
        let app = self.ctx.application_id().to_owned();
        let partition = self.ctx.partition();
        let unclean = self.exactly_once
            && self.builders.iter().any(|b| {
                b.persistent()
                    && b.logging_enabled()
                    && !checkpointed
                        .contains_key(&(changelog_topic_name(&app, b.name()), partition))
            });
        let mut summaries = Vec::with_capacity(self.builders.len());
        for builder in self.builders.clone() {
            let (managed, wiped) = self.open_store(builder, &checkpointed, unclean)?;
            summaries.push(StoreRestoreSummary {
                store: managed.built.name().to_owned(),
                changelog: managed.changelog.clone(),
                start_offset: None,
                end_offset: 0,
                restored: 0,
                wiped,
            });
            self.stores.push(managed);
        }
        self.restoring = Some(Restoring {
            summaries,
            index: 0,
            current: None,
            total: 0,
            started,
        });
        Ok(())
    }

    /// Restores up to about `max_records` more changelog records (whole batches), store
    /// after store; returns whether every store is up to date. A stream thread calls it
    /// between polls of its consumer, so that a long restore never keeps the thread out of
    /// its group (Kafka Streams' state updater).
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] before [`register`](Self::register); otherwise the first
    /// error a store or the reader reports, after checkpointing what was applied.
    pub fn restore_step(
        &mut self,
        reader: &mut dyn ChangelogReader,
        max_records: usize,
    ) -> Result<bool> {
        let Some(mut restoring) = self.restoring.take() else {
            if self.registered {
                return Ok(true);
            }
            return Err(Error::IllegalState(format!(
                "the stores of task {} are not registered",
                self.task_id
            )));
        };
        let result = self.advance(&mut restoring, reader, max_records);
        let done = matches!(result, Ok(true));
        if !done {
            self.restoring = Some(restoring);
        } else {
            self.finished = Some(restoring);
        }
        if result.is_err()
            && let Some(mut r) = self.restoring.take()
        {
            // The next attempt starts over from the checkpoint.
            if let Some(p) = r.current.take() {
                reader.unassign(&p.topic, p.partition);
            }
        }
        result
    }

    /// Whether the stores are registered and still restoring.
    pub fn is_restoring(&self) -> bool {
        self.restoring.is_some()
    }

    fn advance(
        &mut self,
        r: &mut Restoring,
        reader: &mut dyn ChangelogReader,
        max_records: usize,
    ) -> Result<bool> {
        let mut read: usize = 0;
        loop {
            if r.index >= self.stores.len() {
                return Ok(true);
            }
            if read >= max_records {
                return Ok(false);
            }
            let progress = match r.current.take() {
                Some(p) => p,
                None => {
                    let index = r.index;
                    match self.begin_store(index, reader, &mut r.summaries[index])? {
                        Some(p) => p,
                        None => {
                            r.index += 1;
                            continue;
                        }
                    }
                }
            };
            let mut progress = progress;
            let index = r.index;
            let budget = self.restore_batch.min(max_records - read);
            match self.read_some(index, reader, &mut progress, budget) {
                Ok(n) => read += n,
                Err(Error::ChangelogOutOfRange { .. }) if !progress.reset => {
                    // The log start moved past the position while reading: start over.
                    let name = self.stores[index].built.name().to_owned();
                    let reason = format!(
                        "changelog {}-{} no longer holds offset {}",
                        progress.topic, progress.partition, progress.position
                    );
                    tracing::warn!(task = %self.task_id, store = %name, "{reason}: wiping the store and restoring it from the log start");
                    reader.unassign(&progress.topic, progress.partition);
                    self.rebuild_wiped(index)?;
                    r.summaries[index].wiped = Some(reason);
                    match self.begin_store(index, reader, &mut r.summaries[index])? {
                        Some(mut p) => {
                            p.reset = true;
                            r.current = Some(p);
                        }
                        None => r.index += 1,
                    }
                    continue;
                }
                Err(e) => {
                    self.fail_store(index, reader, &progress, &e);
                    r.summaries[index].restored = progress.restored;
                    return Err(e);
                }
            }
            r.summaries[index].restored = progress.restored;
            if progress.position >= progress.end {
                reader.unassign(&progress.topic, progress.partition);
                r.total += progress.restored;
                let name = self.stores[index].built.name().to_owned();
                if let Some(l) = self.listener.as_mut() {
                    l.on_restore_end(
                        &name,
                        &progress.topic,
                        progress.partition,
                        progress.restored,
                    );
                }
                r.index += 1;
            } else {
                r.current = Some(progress);
            }
        }
    }

    /// Completes the restore: the stores are flushed; under exactly-once the checkpoint file
    /// is deleted and each store records its position in its own files instead, under
    /// at-least-once the checkpoint is written.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] when the stores are still restoring; a store or file-system
    /// error.
    pub fn finish_restore(&mut self) -> Result<RestoreSummary> {
        if self.restoring.is_some() {
            return Err(Error::IllegalState(format!(
                "the stores of task {} are still restoring",
                self.task_id
            )));
        }
        let Some(r) = self.finished.take() else {
            return Err(Error::IllegalState(format!(
                "the stores of task {} have not been restored",
                self.task_id
            )));
        };
        if self.exactly_once {
            self.checkpoint.delete()?;
            self.flush_committed()?;
        } else {
            self.flush()?;
            self.write_checkpoint()?;
        }
        let elapsed = r.started.elapsed();
        tracing::info!(task = %self.task_id, records = r.total, elapsed_ms = elapsed.as_millis() as u64, "state restored");
        Ok(RestoreSummary {
            stores: r.summaries,
            total_restored: r.total,
            elapsed,
        })
    }

    fn open_store(
        &self,
        builder: Arc<dyn StoreBuilder>,
        checkpointed: &HashMap<(String, i32), i64>,
        unclean: bool,
    ) -> Result<(ManagedStore, Option<String>)> {
        let name = builder.name().to_owned();
        let persistent = builder.persistent();
        let changelog = builder.logging_enabled().then(|| {
            (
                changelog_topic_name(self.ctx.application_id(), &name),
                self.ctx.partition(),
            )
        });
        let mut offset = match (&changelog, persistent) {
            (Some(tp), true) => checkpointed.get(tp).copied(),
            _ => None,
        };
        // Under exactly-once, a store the checkpoint file does not vouch for may still
        // vouch for itself (its position, read once it is open).
        let ask_store =
            self.exactly_once && persistent && offset.is_none() && (changelog.is_some() || unclean);
        let mut wiped = None;
        if persistent
            && changelog.is_some()
            && offset.is_none()
            && !ask_store
            && StateDirectory::wipe_store(&self.task_dir, &name)?
        {
            let reason = "no valid checkpoint for the store".to_owned();
            tracing::warn!(task = %self.task_id, store = %name, "{reason}: wiped its files; restoring it from the beginning of its changelog");
            wiped = Some(reason);
        }
        let mut built = match builder.build(&self.ctx) {
            Ok(built) => built,
            Err(e @ Error::StoreCorrupted { .. }) if persistent => {
                tracing::warn!(task = %self.task_id, store = %name, error = %e, "the store's files are corrupt: wiping them and restoring from the beginning of its changelog");
                StateDirectory::wipe_store(&self.task_dir, &name)?;
                offset = None;
                wiped = Some(format!("corrupt store files: {e}"));
                builder.build(&self.ctx)?
            }
            Err(e) => return Err(e),
        };
        if ask_store && wiped.is_none() {
            let position = built
                .state_store()
                .try_borrow()
                .map(|s| s.stored_position())
                .unwrap_or_default();
            match position {
                StoredPosition::Committed(at) => {
                    offset = changelog.as_ref().and(at);
                    tracing::info!(task = %self.task_id, store = %name, offset = ?offset, "kept the store's files: they hold a committed state");
                }
                other => {
                    let reason = if other == StoredPosition::Uncommitted {
                        "the store holds writes made after the last commit under exactly-once"
                    } else if changelog.is_some() {
                        "no valid checkpoint for the store"
                    } else {
                        "the task was not closed cleanly under exactly-once"
                    }
                    .to_owned();
                    close_store(&built)?;
                    if StateDirectory::wipe_store(&self.task_dir, &name)? {
                        tracing::warn!(task = %self.task_id, store = %name, "{reason}: wiped its files; restoring it from the beginning of its changelog");
                        wiped = Some(reason);
                    }
                    built = builder.build(&self.ctx)?;
                }
            }
        }
        Ok((
            ManagedStore {
                builder,
                built,
                changelog,
                persistent,
                offset,
                checkpointed: offset,
            },
            wiped,
        ))
    }

    /// Positions the reader for the restore of store `index`; `None` when it is up to date.
    fn begin_store(
        &mut self,
        index: usize,
        reader: &mut dyn ChangelogReader,
        summary: &mut StoreRestoreSummary,
    ) -> Result<Option<StoreProgress>> {
        let Some((topic, partition)) = self.stores[index].changelog.clone() else {
            return Ok(None);
        };
        let name = self.stores[index].built.name().to_owned();
        let end = reader.end_offset(&topic, partition)?;
        summary.end_offset = end;

        if let Some(offset) = self.stores[index].offset {
            let reason = if offset >= end {
                // The changelog was recreated or truncated: the files cannot be trusted.
                Some(format!(
                    "checkpointed offset {offset} is beyond the changelog end offset {end}"
                ))
            } else {
                let start = reader.start_offset(&topic, partition)?;
                // Records between the checkpoint and the log start are gone: continuing
                // would leave the store without them.
                (offset + 1 < start).then(|| {
                    format!(
                        "checkpointed offset {offset} is below the changelog start offset {start}"
                    )
                })
            };
            if let Some(reason) = reason {
                tracing::warn!(task = %self.task_id, store = %name, "{reason}: wiping the store and restoring it from the beginning");
                self.rebuild_wiped(index)?;
                summary.wiped = Some(reason);
            }
        }

        let start = self.stores[index].offset.map(|o| o + 1);
        // Nothing to read (an empty changelog, or a checkpoint at its end): no seek, so the
        // restore consumer never fetches the partition. A fetch of a partition with nothing
        // to return waits at the broker (`fetch.wait.max.ms`), and the next store's offset
        // look-up would wait behind it on the same connection.
        let first = match start {
            Some(s) => s,
            None => reader.start_offset(&topic, partition)?,
        };
        if first >= end {
            return Ok(None);
        }
        reader.seek(&topic, partition, start)?;
        let position = reader.position(&topic, partition)?;
        if position >= end {
            reader.unassign(&topic, partition);
            return Ok(None);
        }
        summary.start_offset = Some(position);
        tracing::info!(task = %self.task_id, store = %name, topic = %topic, partition, from = position, to = end, "restoring store");
        if let Some(l) = self.listener.as_mut() {
            l.on_restore_start(&name, &topic, partition, position, end);
        }
        Ok(Some(StoreProgress {
            topic,
            partition,
            end,
            position,
            restored: 0,
            since_checkpoint: 0,
            empty_reads: 0,
            reset: false,
        }))
    }

    /// Reads at most one batch of up to `max` records into store `index`.
    fn read_some(
        &mut self,
        index: usize,
        reader: &mut dyn ChangelogReader,
        p: &mut StoreProgress,
        max: usize,
    ) -> Result<usize> {
        let name = self.stores[index].built.name().to_owned();
        let (read, last) = self.apply_batch(index, reader, &p.topic, p.partition, max);
        let n = read?;
        if n == 0 {
            p.empty_reads += 1;
            if p.empty_reads > MAX_EMPTY_READS {
                return Err(Error::IllegalState(format!(
                    "restore of store '{name}' from {}-{} stalled at offset {} before end offset {}",
                    p.topic, p.partition, p.position, p.end
                )));
            }
        } else {
            p.empty_reads = 0;
        }
        p.restored += n as u64;
        p.since_checkpoint += n as u64;
        if let (Some(l), Some(offset)) = (self.listener.as_mut(), last) {
            l.on_batch_restored(&name, &p.topic, p.partition, offset, n as u64);
        }
        if self.stores[index].persistent && p.since_checkpoint >= self.restore_checkpoint_interval {
            self.checkpoint_restoring(index)?;
            p.since_checkpoint = 0;
        }
        p.position = reader.position(&p.topic, p.partition)?;
        Ok(n)
    }

    /// Reads one batch of up to `max` records of store `index`'s changelog into it, moving
    /// its offset past what was applied even when the read fails partway; returns the read's
    /// result and the offset of the last record applied.
    fn apply_batch(
        &mut self,
        index: usize,
        reader: &mut dyn ChangelogReader,
        topic: &str,
        partition: i32,
        max: usize,
    ) -> (Result<usize>, Option<i64>) {
        let name = self.stores[index].built.name().to_owned();
        let store = self.stores[index].built.state_store().clone();
        let mut last = None;
        let read = reader.read_batch(topic, partition, max.max(1), &mut |records| {
            let mut s = store.try_borrow_mut().map_err(|_| {
                Error::IllegalState(format!(
                    "store '{name}' is in use while applying its changelog"
                ))
            })?;
            s.restore_batch(records)?;
            if let Some(r) = records.last() {
                last = Some(r.offset);
            }
            Ok(())
        });
        if let Some(offset) = last {
            self.stores[index].offset = Some(offset);
        }
        (read, last)
    }

    fn fail_store(
        &mut self,
        index: usize,
        reader: &mut dyn ChangelogReader,
        p: &StoreProgress,
        error: &Error,
    ) {
        reader.unassign(&p.topic, p.partition);
        let name = self.stores[index].built.name().to_owned();
        if self.stores[index].persistent
            && p.since_checkpoint > 0
            && let Err(ckpt_err) = self.checkpoint_restoring(index)
        {
            tracing::warn!(task = %self.task_id, store = %name, error = %ckpt_err, "could not checkpoint a failed restore");
        }
        tracing::warn!(task = %self.task_id, store = %name, restored = p.restored, error = %error, "restore failed partway");
    }

    /// Makes what a restoring store has applied durable, then records it in the checkpoint
    /// (and, under exactly-once, in the store's files: the checkpoint file is deleted once
    /// the restore is done).
    fn checkpoint_restoring(&mut self, index: usize) -> Result<()> {
        if self.exactly_once {
            self.commit_position(index)?;
        }
        flush_store(&self.stores[index].built)?;
        self.write_checkpoint()
    }

    fn commit_position(&self, index: usize) -> Result<()> {
        let s = &self.stores[index];
        if !s.persistent {
            return Ok(());
        }
        let offset = s.changelog.as_ref().and(s.offset);
        borrow_store(&s.built)?.commit_position(offset)
    }

    fn commit_positions(&self) -> Result<()> {
        (0..self.stores.len()).try_for_each(|i| self.commit_position(i))
    }

    /// Records every persistent store's position in its files and flushes them, so that
    /// the files hold the stores' current, committed offsets.
    fn flush_committed(&mut self) -> Result<()> {
        self.commit_positions()?;
        self.flush()?;
        self.mark_flushed();
        Ok(())
    }

    /// Remembers that the persistent stores' files now hold their current offsets.
    fn mark_flushed(&mut self) {
        for s in &mut self.stores {
            if s.persistent && s.changelog.is_some() {
                s.checkpointed = s.offset;
            }
        }
    }

    fn rebuild_wiped(&mut self, index: usize) -> Result<()> {
        close_store(&self.stores[index].built)?;
        let name = self.stores[index].built.name().to_owned();
        StateDirectory::wipe_store(&self.task_dir, &name)?;
        let built = self.stores[index].builder.build(&self.ctx)?;
        self.stores[index].built = built;
        self.stores[index].offset = None;
        self.stores[index].checkpointed = None;
        Ok(())
    }

    /// Flushes every store: caches into the layers below, RocksDB memtables to disk.
    ///
    /// # Errors
    ///
    /// The first store error; the other stores are still flushed.
    pub fn flush(&mut self) -> Result<()> {
        // Waiting for every store makes whatever a background flush started durable too.
        self.background_flush = None;
        self.on_every_store(|st| st.flush())
    }

    /// Calls `f` on every store, the ones after a failure included; the first error.
    fn on_every_store(&self, mut f: impl FnMut(&mut dyn StateStore) -> Result<()>) -> Result<()> {
        let mut first = None;
        for s in &self.stores {
            if let Err(e) = borrow_store(&s.built).and_then(|mut st| f(&mut *st)) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// What a commit does to the stores: empties every write-back cache into the layers
    /// below and the changelog ([`StateStore::commit`]), without flushing RocksDB.
    ///
    /// # Errors
    ///
    /// The first store error; the other stores are still committed.
    pub fn commit(&mut self) -> Result<()> {
        self.on_every_store(|st| st.commit())
    }

    /// Records the offsets of the last changelog records the task wrote, as
    /// [`checkpoint`](Self::checkpoint) does, then, once the persistent stores' changelogs
    /// have advanced more than [`CHECKPOINT_OFFSET_DELTA`] records past the last flush,
    /// starts flushing the stores in the background; once a flush is done, under
    /// at-least-once, it rewrites the checkpoint file with the offsets the flush started
    /// at. Returns whether a flush was found done (and checkpointed). Under exactly-once
    /// each persistent store first records its position in its own files
    /// ([`StateStore::commit_position`]).
    ///
    /// Call it after [`commit`](Self::commit) and the producer's flush; under exactly-once,
    /// only once the transaction holding the task's output is committed.
    ///
    /// # Errors
    ///
    /// The first store error while flushing, or [`Error::Io`] when the checkpoint cannot
    /// be written.
    pub fn maybe_checkpoint(&mut self, written: &HashMap<(String, i32), i64>) -> Result<bool> {
        self.record_written(written);
        if self.exactly_once {
            self.commit_positions()?;
        }
        if self.background_flush.is_some() {
            return self.finish_background_flush();
        }
        let delta: i64 = self
            .stores
            .iter()
            .filter(|s| s.persistent && s.changelog.is_some())
            .filter_map(|s| Some(s.offset? - s.checkpointed.unwrap_or(0)))
            .sum();
        if delta <= CHECKPOINT_OFFSET_DELTA {
            return Ok(false);
        }
        self.on_every_store(|st| st.flush_in_background())?;
        self.background_flush = Some(BackgroundFlush {
            offsets: self.stores.iter().map(|s| s.offset).collect(),
            waited: 0,
        });
        // Stores that flush in the foreground are done already.
        if self.stores_flushed()? {
            return self.finish_background_flush();
        }
        Ok(false)
    }

    /// Whether every store says what its last background flush started is durable.
    fn stores_flushed(&self) -> Result<bool> {
        for s in &self.stores {
            if !borrow_store(&s.built)?.flush_done()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Checkpoints what the background flush made durable once every store says it is
    /// done, or, after [`MAX_BACKGROUND_FLUSH_WAITS`] commits, flushes and waits. Returns
    /// whether it checkpointed.
    fn finish_background_flush(&mut self) -> Result<bool> {
        let Some(mut pending) = self.background_flush.take() else {
            return Ok(false);
        };
        if !self.stores_flushed()? {
            pending.waited += 1;
            if pending.waited <= MAX_BACKGROUND_FLUSH_WAITS {
                self.background_flush = Some(pending);
                return Ok(false);
            }
            self.flush()?;
            pending.offsets = self.stores.iter().map(|s| s.offset).collect();
        }
        for (s, offset) in self.stores.iter_mut().zip(&pending.offsets) {
            if s.persistent && s.changelog.is_some() {
                s.checkpointed = *offset;
            }
        }
        if !self.exactly_once {
            self.write_checkpoint_at(&pending.offsets)?;
        }
        Ok(true)
    }

    fn record_written(&mut self, written: &HashMap<(String, i32), i64>) {
        for s in &mut self.stores {
            if let Some(tp) = &s.changelog
                && let Some(offset) = written.get(tp)
            {
                s.offset = Some(*offset);
            }
        }
    }

    /// Records the offsets of the last changelog records the task wrote (from its record
    /// collector, after the producer was flushed) and, under at-least-once, writes the
    /// checkpoint file; under exactly-once each persistent store records its position in
    /// its files instead, which are flushed again. Entries for other partitions are
    /// ignored.
    ///
    /// Call it after [`flush`](Self::flush) (under exactly-once, once the transaction is
    /// committed): the checkpoint claims the files hold every record up to these offsets.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the checkpoint cannot be written, a store error under
    /// exactly-once.
    pub fn checkpoint(&mut self, written: &HashMap<(String, i32), i64>) -> Result<()> {
        self.record_written(written);
        if self.exactly_once {
            self.flush_committed()
        } else {
            self.write_checkpoint()
        }
    }

    fn write_checkpoint(&mut self) -> Result<()> {
        let offsets: Vec<Option<i64>> = self.stores.iter().map(|s| s.offset).collect();
        self.write_checkpoint_at(&offsets)?;
        self.mark_flushed();
        Ok(())
    }

    /// Writes the checkpoint file with `offsets`, one per store.
    fn write_checkpoint_at(&self, offsets: &[Option<i64>]) -> Result<()> {
        let offsets: HashMap<(String, i32), i64> = self
            .stores
            .iter()
            .zip(offsets)
            .filter(|(s, _)| s.persistent)
            .filter_map(|(s, offset)| Some((s.changelog.clone()?, (*offset)?)))
            .collect();
        self.checkpoint.write(&offsets)
    }

    /// Applies what the changelogs hold past the stores' offsets, up to about `max_records`
    /// per store, as a standby replica does once restored: it never processes, it follows
    /// its active task's changelogs. Returns how many records were applied.
    ///
    /// `reader` must read committed records only (`read_committed`): every applied batch is
    /// then committed state, and the store records its position after it, so that files a
    /// crash leaves behind are kept (see [`StoredPosition`]). Between calls the stores
    /// stay positioned in `reader`; whoever owns it unassigns
    /// [`changelog_partitions`](Self::changelog_partitions) once done.
    ///
    /// # Errors
    ///
    /// [`Error::IllegalState`] before the restore is finished; the first error a store or
    /// the reader reports.
    pub fn update_standby(
        &mut self,
        reader: &mut dyn ChangelogReader,
        max_records: usize,
    ) -> Result<u64> {
        if !self.registered || self.restoring.is_some() || self.finished.is_some() {
            return Err(Error::IllegalState(format!(
                "the stores of task {} are not restored",
                self.task_id
            )));
        }
        let mut total = 0;
        for index in 0..self.stores.len() {
            let Some((topic, partition)) = self.stores[index].changelog.clone() else {
                continue;
            };
            if !self.following.contains(&index) {
                reader.seek(&topic, partition, self.stores[index].offset.map(|o| o + 1))?;
                self.following.push(index);
            }
            let (read, last) = self.apply_batch(index, reader, &topic, partition, max_records);
            if last.is_some() {
                self.commit_position(index)?;
            }
            total += read? as u64;
        }
        Ok(total)
    }

    /// Makes a standby replica's stores durable and writes the checkpoint file: what they
    /// hold is committed, so the file is valid in both processing modes, and the task that
    /// takes the replica's place restores only what follows.
    ///
    /// # Errors
    ///
    /// The first store error, or [`Error::Io`] when the checkpoint cannot be written.
    pub fn checkpoint_standby(&mut self) -> Result<()> {
        self.commit_positions()?;
        self.flush()?;
        self.write_checkpoint()
    }

    /// Closes cleanly: flushes every store, writes the checkpoint (in both processing
    /// modes, since a clean close follows a successful commit), and closes the stores.
    ///
    /// # Errors
    ///
    /// The first error; every store is closed regardless.
    pub fn close(mut self) -> Result<()> {
        let mut first = self.flush().err();
        if first.is_none()
            && let Err(e) = self.write_checkpoint()
        {
            first = Some(e);
        }
        for s in &self.stores {
            if let Err(e) = close_store(&s.built) {
                first.get_or_insert(e);
            }
        }
        self.stores.clear();
        first.map_or(Ok(()), Err)
    }

    /// Closes after a failure: the stores are closed without flushing and no checkpoint is
    /// written; under exactly-once the checkpoint file is deleted, so the next start keeps
    /// only the stores whose own files say they hold a committed state (see
    /// [`StoredPosition`]).
    ///
    /// # Errors
    ///
    /// The first error; every store is closed regardless.
    pub fn close_dirty(mut self) -> Result<()> {
        let mut first = None;
        if self.exactly_once
            && let Err(e) = self.checkpoint.delete()
        {
            first = Some(e);
        }
        for s in &self.stores {
            if let Err(e) = close_store(&s.built) {
                first.get_or_insert(e);
            }
        }
        self.stores.clear();
        first.map_or(Ok(()), Err)
    }
}

fn borrow_store<'a>(
    built: &'a BuiltStore,
) -> Result<std::cell::RefMut<'a, dyn StateStore + 'static>> {
    built.state_store().try_borrow_mut().map_err(|_| {
        Error::IllegalState(format!(
            "store '{}' is borrowed by a processor while the state manager needs it",
            built.name()
        ))
    })
}

fn flush_store(built: &BuiltStore) -> Result<()> {
    borrow_store(built)?.flush()
}

fn close_store(built: &BuiltStore) -> Result<()> {
    borrow_store(built)?.close()
}
