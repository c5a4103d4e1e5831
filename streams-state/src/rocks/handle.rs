//! One open RocksDB database of a store: what every single-database store holds and does
//! the same way (open, write without the write-ahead log, flush, close).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, WriteBatch, WriteOptions};
use streams_core::Result;
use streams_core::state::StoreMetrics;

use crate::error::StateError;
use crate::rocks::{RocksDbConfigSetter, RocksDbResources, open_db};

/// A store's database. Writes skip RocksDB's write-ahead log: the changelog is the log, and
/// [`flush`](Self::flush) (every commit) makes the memtables durable, as in Kafka Streams.
pub(crate) struct DbHandle {
    name: String,
    path: PathBuf,
    db: Option<DB>,
    write_options: WriteOptions,
    setter: Option<Arc<dyn RocksDbConfigSetter>>,
    // Keeps the shared cache alive at least as long as the database using it.
    _resources: Arc<RocksDbResources>,
}

impl std::fmt::Debug for DbHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbHandle")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("open", &self.db.is_some())
            .finish()
    }
}

impl DbHandle {
    /// Opens (or creates) the database of store `name` in directory `path`.
    ///
    /// # Errors
    ///
    /// As [`open_db`].
    pub(crate) fn open(
        name: String,
        path: PathBuf,
        resources: Arc<RocksDbResources>,
        setter: Option<Arc<dyn RocksDbConfigSetter>>,
    ) -> Result<Self> {
        let db = open_db(&name, &path, &resources, setter.as_deref())?;
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        Ok(DbHandle {
            name,
            path,
            db: Some(db),
            write_options,
            setter,
            _resources: resources,
        })
    }

    /// The store's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The store's directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The database, or the error of a closed store.
    pub(crate) fn db(&self) -> Result<&DB> {
        self.db
            .as_ref()
            .ok_or_else(|| StateError::closed(&self.name).into())
    }

    /// Whether the database is open.
    pub(crate) fn is_open(&self) -> bool {
        self.db.is_some()
    }

    /// The options of every write.
    pub(crate) fn write_options(&self) -> &WriteOptions {
        &self.write_options
    }

    /// Applies `batch` atomically; `op` says what it does, for the error.
    pub(crate) fn write(&self, batch: WriteBatch, op: &'static str) -> Result<()> {
        self.db()?
            .write_opt(batch, &self.write_options)
            .map_err(StateError::rocks(&self.name, op))?;
        Ok(())
    }

    /// Writes the memtables out.
    pub(crate) fn flush(&self) -> Result<()> {
        self.db()?
            .flush()
            .map_err(StateError::rocks(&self.name, "flush"))?;
        Ok(())
    }

    /// Closes the database (once) and tells the config setter.
    pub(crate) fn close(&mut self) {
        if self.db.take().is_some()
            && let Some(setter) = &self.setter
        {
            setter.close(&self.name);
        }
    }
}

/// The [`StateStore`](streams_core::state::StateStore) methods of a store whose `handle`
/// field is its [`DbHandle`]: all but `restore_batch`, which depends on the store's layout.
/// A commit has nothing to do: writes are in RocksDB's memtables, which `flush` writes out
/// before a checkpoint.
/// What RocksDB reports about `db`, read from its properties (zero where one is missing).
pub(crate) fn db_metrics(db: &DB) -> StoreMetrics {
    let property = |name: &str| db.property_int_value(name).ok().flatten().unwrap_or(0);
    let mut m = StoreMetrics::default();
    m.rocksdb_live_data_bytes = property("rocksdb.estimate-live-data-size");
    m.rocksdb_memtable_bytes = property("rocksdb.cur-size-all-mem-tables");
    m.rocksdb_block_cache_bytes = property("rocksdb.block-cache-usage");
    m
}

macro_rules! handle_lifecycle {
    () => {
        fn name(&self) -> &str {
            self.handle.name()
        }

        fn persistent(&self) -> bool {
            true
        }

        fn flush(&mut self) -> ::streams_core::Result<()> {
            self.handle.flush()
        }

        fn commit(&mut self) -> ::streams_core::Result<()> {
            self.handle.db().map(|_| ())
        }

        fn close(&mut self) -> ::streams_core::Result<()> {
            self.handle.close();
            Ok(())
        }

        fn metrics(&self) -> ::streams_core::state::StoreMetrics {
            self.handle
                .db()
                .map(crate::rocks::handle::db_metrics)
                .unwrap_or_default()
        }
    };
}

pub(crate) use handle_lifecycle;
