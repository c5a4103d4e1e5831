//! RocksDB options: process-wide shared memory, and per-store tuning callbacks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, ErrorKind, Options, WriteBufferManager,
};

use streams_core::StoreMemory;

use crate::error::StateError;

/// The default size of the block cache shared by every RocksDB store of the process.
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The default memtable budget shared by every RocksDB store of the process. The
/// memtables are charged to the block cache, so block cache plus memtables stay within
/// [`DEFAULT_BLOCK_CACHE_BYTES`] however many partitions the process owns.
pub const DEFAULT_WRITE_BUFFER_MANAGER_BYTES: usize = 32 * 1024 * 1024;

/// The memtables' allocation unit (see [`open_db`]).
const ARENA_BLOCK_BYTES: usize = 64 * 1024;

/// Memory shared by RocksDB stores: one LRU block cache and one write-buffer manager.
///
/// Every store opened with the same resources draws from the same budget, so memory does
/// not grow with the number of partitions a process owns. By default all stores use
/// [`RocksDbResources::shared`].
pub struct RocksDbResources {
    // The rocksdb handles are `Send` but not `Sync`; the mutex makes the resources
    // shareable between the threads that open stores. It is only taken when a store opens.
    inner: Mutex<Handles>,
    block_cache_bytes: usize,
    write_buffer_bytes: usize,
}

struct Handles {
    cache: Cache,
    write_buffer_manager: WriteBufferManager,
}

impl std::fmt::Debug for RocksDbResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbResources")
            .field("block_cache_bytes", &self.block_cache_bytes)
            .field("write_buffer_bytes", &self.write_buffer_bytes)
            .finish()
    }
}

impl RocksDbResources {
    /// A block cache of `block_cache_bytes` and a write-buffer manager limiting all
    /// memtables to `write_buffer_bytes`, charged to that cache.
    pub fn new(block_cache_bytes: usize, write_buffer_bytes: usize) -> Arc<Self> {
        let cache = Cache::new_lru_cache(block_cache_bytes);
        let write_buffer_manager = WriteBufferManager::new_write_buffer_manager_with_cache(
            write_buffer_bytes,
            false,
            cache.clone(),
        );
        Arc::new(RocksDbResources {
            inner: Mutex::new(Handles {
                cache,
                write_buffer_manager,
            }),
            block_cache_bytes,
            write_buffer_bytes,
        })
    }

    /// The process-wide resources ([`DEFAULT_BLOCK_CACHE_BYTES`] and
    /// [`DEFAULT_WRITE_BUFFER_MANAGER_BYTES`]), created on first use.
    pub fn shared() -> Arc<Self> {
        static SHARED: OnceLock<Arc<RocksDbResources>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                RocksDbResources::new(
                    DEFAULT_BLOCK_CACHE_BYTES,
                    DEFAULT_WRITE_BUFFER_MANAGER_BYTES,
                )
            })
            .clone()
    }

    /// The resources for a memory budget's RocksDB share: one block cache and write-buffer
    /// manager per distinct `memory`, created on first use and shared by every store opened
    /// with the same share, so that all stores of an instance draw on one budget.
    pub fn for_memory(memory: StoreMemory) -> Arc<Self> {
        static BY_MEMORY: OnceLock<Mutex<HashMap<StoreMemory, Arc<RocksDbResources>>>> =
            OnceLock::new();
        let mut map = BY_MEMORY
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(memory).or_insert_with(|| {
            RocksDbResources::new(memory.block_cache_bytes, memory.write_buffer_bytes)
        }))
    }

    /// The block cache's capacity in bytes.
    pub fn block_cache_bytes(&self) -> usize {
        self.block_cache_bytes
    }

    /// The memtable budget in bytes.
    pub fn write_buffer_bytes(&self) -> usize {
        self.write_buffer_bytes
    }

    /// Bytes the block cache holds now (including memtables charged to it).
    pub fn block_cache_usage(&self) -> usize {
        self.handles(|h| h.cache.get_usage())
    }

    fn handles<R>(&self, f: impl FnOnce(&Handles) -> R) -> R {
        // A panic while holding the lock cannot leave the handles half-updated: they are
        // never mutated.
        let guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }
}

/// Adjusts the RocksDB options of each store as it opens, as Kafka Streams'
/// `RocksDBConfigSetter`. Both methods have defaults that change nothing.
///
/// # Examples
///
/// ```
/// use rocksdb::{BlockBasedOptions, Options};
/// use streams_state::RocksDbConfigSetter;
///
/// struct BiggerBlocks;
/// impl RocksDbConfigSetter for BiggerBlocks {
///     fn set_config(&self, _store: &str, _options: &mut Options, table: &mut BlockBasedOptions) {
///         table.set_block_size(16 * 1024);
///     }
/// }
/// ```
pub trait RocksDbConfigSetter: Send + Sync {
    /// Called before store `store_name` opens, with the defaults already applied to
    /// `options` and `table` (the table options are installed after this returns, so
    /// changes to them take effect).
    fn set_config(&self, store_name: &str, options: &mut Options, table: &mut BlockBasedOptions) {
        let _ = (store_name, options, table);
    }

    /// Called when store `store_name` closes, to release what `set_config` allocated.
    fn close(&self, store_name: &str) {
        let _ = store_name;
    }
}

/// Opens (creating if needed) the database of a store at `path` with the crate's defaults:
///
/// - the block cache and write-buffer manager of `resources`;
/// - 4 KiB blocks, a 10-bit bloom filter, index and filter blocks in the block cache;
/// - 16 MiB memtables, at most 3 per store (Kafka Streams' values), allocated in 64 KiB
///   blocks;
/// - LZ4 compression; at most 2 background jobs per store;
/// - then whatever `setter` changes;
/// - for [`KeyLayout::WindowKeys`], whatever the setter did: the record key as prefix
///   extractor, so that the bloom filters of the tables and memtables hold key prefixes;
///   and no flush when the database closes: the window store flushes its live segments
///   itself when it closes, and an expired segment, deleted next, needs none.
///
/// Writes are made with the write-ahead log disabled by the stores: the changelog topic is
/// the log, as in Kafka Streams.
pub(crate) fn open_db(
    store: &str,
    path: &Path,
    resources: &RocksDbResources,
    setter: Option<&dyn RocksDbConfigSetter>,
    keys: KeyLayout,
) -> Result<DB, StateError> {
    std::fs::create_dir_all(path).map_err(|source| StateError::Io {
        store: store.to_owned(),
        op: "create the store directory",
        path: path.to_owned(),
        source,
    })?;
    let mut options = if keys == KeyLayout::WindowKeys {
        // A window segment's database is closed when the segment expires, and then
        // deleted: RocksDB's flush at close (the default without a write-ahead log) would
        // compress and write out its memtables only to delete them. The store's own close
        // flushes its live segments instead.
        Options::default()
            .get_options_from_string("avoid_flush_during_shutdown=true")
            .map_err(|source| StateError::RocksDb {
                store: store.to_owned(),
                op: "set the segment options",
                source,
            })?
    } else {
        Options::default()
    };
    options.create_if_missing(true);
    options.set_write_buffer_size(16 * 1024 * 1024);
    options.set_max_write_buffer_number(3);
    // A memtable reserves its arena in blocks (1 MiB by default), and the write-buffer
    // manager counts reserved blocks: with one block per memtable of dozens of stores and
    // segments the shared budget is full before anything is written, and every write then
    // flushes a nearly empty memtable, piling up files until the process runs out of file
    // descriptors. Small blocks keep the reservation close to what memtables hold.
    options.set_arena_block_size(ARENA_BLOCK_BYTES);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_max_background_jobs(2);
    let mut table = BlockBasedOptions::default();
    table.set_block_size(4 * 1024);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    resources.handles(|h| {
        table.set_block_cache(&h.cache);
        options.set_write_buffer_manager(&h.write_buffer_manager);
    });
    if let Some(setter) = setter {
        setter.set_config(store, &mut options, &mut table);
    }
    options.set_block_based_table_factory(&table);
    // The position's guarantee rests on these (see `position`), whatever the setter chose.
    options.create_missing_column_families(true);
    options.set_atomic_flush(true);
    if keys == KeyLayout::WindowKeys {
        // Reads of one key go by its prefix (see `window_key::record_key_prefix`), so the
        // extractor must be this one whatever the setter chose.
        options.set_prefix_extractor(crate::window_key::record_key_prefix());
        // The memtable's bloom filter takes this share of the write buffer (32 KiB of a
        // 16 MiB memtable, about 10 bits a key for 26,000 keys). It counts against the
        // shared write-buffer budget, which a larger share would fill with filters alone
        // and turn into a flush at every write.
        options.set_memtable_prefix_bloom_ratio(0.002);
    }
    let families = super::position::column_families(&options);
    DB::open_cf_descriptors(&options, path, families).map_err(|source| {
        if is_corruption(&source) {
            StateError::Corrupted {
                store: store.to_owned(),
                path: path.to_owned(),
                source,
            }
        } else {
            StateError::RocksDb {
                store: store.to_owned(),
                op: "open the database",
                source,
            }
        }
    })
}

/// How a database's keys are laid out, which says how it can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLayout {
    /// Keys as they are, read in key order.
    Plain,
    /// Window-store keys ([`window_key`](crate::window_key)): reads of one key seek by its
    /// prefix, with bloom filters over the prefixes.
    WindowKeys,
}

/// Whether an open failure means the files are damaged (rather than, say, locked by
/// another process), so that wiping and restoring is the cure.
fn is_corruption(e: &rocksdb::Error) -> bool {
    match e.kind() {
        ErrorKind::Corruption => true,
        ErrorKind::IOError | ErrorKind::InvalidArgument | ErrorKind::NotFound => {
            let msg = e.to_string().to_ascii_lowercase();
            !msg.contains("lock")
                && (msg.contains("no such file")
                    || msg.contains("does not exist")
                    || msg.contains("corrupt"))
        }
        _ => false,
    }
}
