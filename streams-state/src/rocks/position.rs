//! A database's position, kept in its own files so that a restart under exactly-once can
//! trust them after a crash.
//!
//! # Design
//!
//! Writes skip RocksDB's write-ahead log, so after a crash a database holds what its last
//! memtable flush wrote: a prefix, in write order, of everything written to it. The flush
//! may be one the store asked for or one RocksDB made on its own (a full memtable, the
//! shared write-buffer manager), in the middle of a transaction that is later aborted.
//!
//! Each database has a second column family with one key, the position, and is opened with
//! `atomic_flush`, so that every flush, automatic ones included, persists both column
//! families up to the same write. The position is written:
//! - as *uncommitted*, before the first data write after a commit;
//! - as *committed at offset o*, by [`PositionMarker::commit`] once the transaction that
//!   holds the store's changelog up to `o` is committed.
//!
//! Any persisted prefix that ends inside a transaction holds the *uncommitted* mark written
//! before the transaction's first write and not the *committed* mark written after its
//! last, so it reads as uncommitted and the store is wiped. A prefix that ends between a
//! commit mark and the next data write holds exactly the committed state, so the store is
//! kept and restores its changelog after `o` only. A database that never had a position
//! (written before positions existed) reads as unknown unless it is empty.
//!
//! The cost is one small write per database per commit and one at the first write after
//! it; no data is buffered outside RocksDB.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rocksdb::{
    ColumnFamilyDescriptor, DB, FlushOptions, IteratorMode, Options, ReadOptions, WriteOptions,
};
use streams_core::state::StoredPosition;

use crate::error::StateError;

/// The column family of the position.
pub(crate) const POSITION_CF: &str = "streams.position";
const POSITION_KEY: &[u8] = b"position";
const UNCOMMITTED: u8 = 0;
const COMMITTED: u8 = 1;
/// `last_committed` before any commit: no offset is this small.
const NEVER: i64 = i64::MIN;
/// `last_committed` for a commit without changelog offset.
const NO_OFFSET: i64 = -1;

/// The column families every store database is opened with: the data under `options`, the
/// position under small options of its own.
pub(crate) fn column_families(options: &Options) -> Vec<ColumnFamilyDescriptor> {
    let mut position = Options::default();
    position.set_write_buffer_size(64 * 1024);
    vec![
        ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, options.clone()),
        ColumnFamilyDescriptor::new(POSITION_CF, position),
    ]
}

/// Keeps a database's position up to date: marks it uncommitted before the first write
/// after a commit, and committed at each commit.
#[derive(Debug)]
pub(crate) struct PositionMarker {
    /// Whether the uncommitted mark is written and no commit mark followed it.
    uncommitted: AtomicBool,
    /// The offset of the last commit mark ([`NEVER`], [`NO_OFFSET`] or an offset).
    last_committed: AtomicI64,
}

impl PositionMarker {
    pub(crate) fn new() -> Self {
        PositionMarker {
            uncommitted: AtomicBool::new(false),
            last_committed: AtomicI64::new(NEVER),
        }
    }

    /// Call before every data write.
    pub(crate) fn before_write(
        &self,
        db: &DB,
        store: &str,
        options: &WriteOptions,
    ) -> Result<(), StateError> {
        if !self.uncommitted.load(Ordering::Relaxed) {
            write(db, store, options, &[UNCOMMITTED])?;
            self.uncommitted.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Marks the database as holding exactly its changelog up to `offset`, every write
    /// committed. Nothing is written when nothing changed since the last mark.
    pub(crate) fn commit(
        &self,
        db: &DB,
        store: &str,
        options: &WriteOptions,
        offset: Option<i64>,
    ) -> Result<(), StateError> {
        let encoded = offset.unwrap_or(NO_OFFSET);
        if !self.uncommitted.load(Ordering::Relaxed)
            && self.last_committed.load(Ordering::Relaxed) == encoded
        {
            return Ok(());
        }
        let mut value = [0u8; 10];
        value[0] = COMMITTED;
        let len = match offset {
            Some(o) => {
                value[1] = 1;
                value[2..10].copy_from_slice(&o.to_be_bytes());
                10
            }
            None => 2,
        };
        write(db, store, options, &value[..len])?;
        self.uncommitted.store(false, Ordering::Relaxed);
        self.last_committed.store(encoded, Ordering::Relaxed);
        Ok(())
    }
}

fn position_cf<'a>(db: &'a DB, store: &str) -> Result<&'a rocksdb::ColumnFamily, StateError> {
    db.cf_handle(POSITION_CF)
        .ok_or_else(|| StateError::InvalidArgument {
            store: store.to_owned(),
            reason: format!("the database has no '{POSITION_CF}' column family"),
        })
}

fn write(db: &DB, store: &str, options: &WriteOptions, value: &[u8]) -> Result<(), StateError> {
    let cf = position_cf(db, store)?;
    db.put_cf_opt(cf, POSITION_KEY, value, options)
        .map_err(StateError::rocks(store, "record the store's position"))
}

/// What the database's files say (see the module documentation); `None` for a database
/// with neither a position nor data (one created after the last flush).
pub(crate) fn read(db: &DB, store: &str) -> Result<Option<StoredPosition>, StateError> {
    let cf = position_cf(db, store)?;
    let stored = db
        .get_cf(cf, POSITION_KEY)
        .map_err(StateError::rocks(store, "read the store's position"))?;
    Ok(match stored.as_deref() {
        Some([COMMITTED, 0]) => Some(StoredPosition::Committed(None)),
        Some([COMMITTED, 1, rest @ ..]) => Some(match <[u8; 8]>::try_from(rest) {
            Ok(bytes) => StoredPosition::Committed(Some(i64::from_be_bytes(bytes))),
            Err(_) => StoredPosition::Unknown,
        }),
        Some([UNCOMMITTED]) => Some(StoredPosition::Uncommitted),
        Some(_) => Some(StoredPosition::Unknown),
        None if is_empty(db) => None,
        None => Some(StoredPosition::Unknown),
    })
}

/// Whether the data column family holds nothing. Read in total order: a window store's
/// database reads by key prefix otherwise.
fn is_empty(db: &DB) -> bool {
    let mut ro = ReadOptions::default();
    ro.set_total_order_seek(true);
    db.iterator_opt(IteratorMode::Start, ro).next().is_none()
}

/// Writes the memtables of both column families out, as one atomic flush.
pub(crate) fn flush(db: &DB, store: &str) -> Result<(), StateError> {
    flush_with(db, store, true)
}

/// Starts the atomic flush of both column families and returns; [`flush_done`] says when it
/// is done.
pub(crate) fn flush_in_background(db: &DB, store: &str) -> Result<(), StateError> {
    flush_with(db, store, false)
}

fn flush_with(db: &DB, store: &str, wait: bool) -> Result<(), StateError> {
    let position = position_cf(db, store)?;
    let data = data_cf(db, store)?;
    let mut options = FlushOptions::default();
    options.set_wait(wait);
    db.flush_cfs_opt(&[&data, &position], &options)
        .map_err(StateError::rocks(store, "flush"))
}

/// Whether every memtable but the ones being written to is out: no immutable memtable
/// is waiting for, or in, a flush.
pub(crate) fn flush_done(db: &DB, store: &str) -> Result<bool, StateError> {
    let pending = |cf: &rocksdb::ColumnFamily| {
        db.property_int_value_cf(cf, rocksdb::properties::NUM_IMMUTABLE_MEM_TABLE)
            .map_err(StateError::rocks(store, "read the memtables' state"))
    };
    Ok(pending(data_cf(db, store)?)?.unwrap_or(0) == 0
        && pending(position_cf(db, store)?)?.unwrap_or(0) == 0)
}

fn data_cf<'a>(db: &'a DB, store: &str) -> Result<&'a rocksdb::ColumnFamily, StateError> {
    db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
        .ok_or_else(|| StateError::InvalidArgument {
            store: store.to_owned(),
            reason: "the database has no default column family".into(),
        })
}
