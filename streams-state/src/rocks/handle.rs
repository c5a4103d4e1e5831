//! One open RocksDB database of a store: what every single-database store holds and does
//! the same way (open, write without the write-ahead log, flush, close).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, WriteBatch, WriteOptions};
use streams_core::Result;
use streams_core::state::StoreMetrics;

use crate::error::StateError;
use crate::rocks::position::{self, PositionMarker};
use crate::rocks::{KeyLayout, RocksDbConfigSetter, RocksDbResources, open_db};

/// A store's database. Writes skip RocksDB's write-ahead log: the changelog is the log, and
/// [`flush`](Self::flush) (at checkpoints) makes the memtables durable, as in Kafka
/// Streams. Every write goes through [`write`](Self::write) or
/// [`db_for_write`](Self::db_for_write), which keep the database's position (see
/// [`position`]).
pub(crate) struct DbHandle {
    name: String,
    path: PathBuf,
    db: Option<DB>,
    write_options: WriteOptions,
    marker: PositionMarker,
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
        let db = open_db(
            &name,
            &path,
            &resources,
            setter.as_deref(),
            KeyLayout::Plain,
        )?;
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        Ok(DbHandle {
            name,
            path,
            db: Some(db),
            write_options,
            marker: PositionMarker::new(),
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

    /// The database, to write to it directly: its position is marked uncommitted first.
    pub(crate) fn db_for_write(&self) -> Result<&DB> {
        let db = self.db()?;
        self.marker
            .before_write(db, &self.name, &self.write_options)?;
        Ok(db)
    }

    /// Applies `batch` atomically; `op` says what it does, for the error.
    pub(crate) fn write(&self, batch: WriteBatch, op: &'static str) -> Result<()> {
        self.db_for_write()?
            .write_opt(batch, &self.write_options)
            .map_err(StateError::rocks(&self.name, op))?;
        Ok(())
    }

    /// Writes the memtables out (the data and the position together).
    pub(crate) fn flush(&self) -> Result<()> {
        position::flush(self.db()?, &self.name)?;
        Ok(())
    }

    /// Starts writing the memtables out, without waiting.
    pub(crate) fn flush_in_background(&self) -> Result<()> {
        position::flush_in_background(self.db()?, &self.name)?;
        Ok(())
    }

    /// Whether what [`flush_in_background`](Self::flush_in_background) started is done.
    pub(crate) fn flush_done(&self) -> Result<bool> {
        Ok(position::flush_done(self.db()?, &self.name)?)
    }

    /// Records that every write so far is committed, with the changelog applied up to
    /// `offset`.
    pub(crate) fn commit_position(&self, offset: Option<i64>) -> Result<()> {
        self.marker
            .commit(self.db()?, &self.name, &self.write_options, offset)?;
        Ok(())
    }

    /// What the files say about the database's position.
    pub(crate) fn stored_position(&self) -> streams_core::state::StoredPosition {
        match self.db().map(|db| position::read(db, &self.name)) {
            Ok(Ok(p)) => p.unwrap_or(streams_core::state::StoredPosition::Committed(None)),
            Ok(Err(e)) => {
                tracing::warn!(store = %self.name, error = %e, "could not read the store's position");
                streams_core::state::StoredPosition::Unknown
            }
            Err(_) => streams_core::state::StoredPosition::Unknown,
        }
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

/// What RocksDB reports about `db`, read from its properties (zero where one is missing).
pub(crate) fn db_metrics(db: &DB) -> StoreMetrics {
    let property = |name: &str| db.property_int_value(name).ok().flatten().unwrap_or(0);
    let mut m = StoreMetrics::default();
    m.rocksdb_live_data_bytes = property("rocksdb.estimate-live-data-size");
    m.rocksdb_memtable_bytes = property("rocksdb.cur-size-all-mem-tables");
    m.rocksdb_block_cache_bytes = property("rocksdb.block-cache-usage");
    m
}

/// The [`StateStore`](streams_core::state::StateStore) methods of a store whose `handle`
/// field is its [`DbHandle`]: all but `restore_batch`, which depends on the store's layout.
/// A commit has nothing to do: writes are in RocksDB's memtables, which `flush` writes out
/// before a checkpoint.
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

        fn flush_in_background(&mut self) -> ::streams_core::Result<()> {
            self.handle.flush_in_background()
        }

        fn flush_done(&mut self) -> ::streams_core::Result<bool> {
            self.handle.flush_done()
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

        fn commit_position(&mut self, offset: Option<i64>) -> ::streams_core::Result<()> {
            self.handle.commit_position(offset)
        }

        fn stored_position(&self) -> ::streams_core::state::StoredPosition {
            self.handle.stored_position()
        }
    };
}

pub(crate) use handle_lifecycle;
