//! The RocksDB versioned key-value store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, ReadOptions, WriteBatch};
use streams_core::Result;
use streams_core::state::{
    ChangelogRecord, PUT_RETURN_CODE_NOT_PUT, PUT_RETURN_CODE_VALID_TO_UNDEFINED, StateStore,
    VersionedBytesStore, VersionedRecord,
};

use super::handle::{DbHandle, handle_lifecycle};
use super::kv::prefix_upper_bound;
use super::versioned_layout as layout;
use crate::error::StateError;
use crate::rocks::{RocksDbConfigSetter, RocksDbResources};

/// Kafka Streams' `ConsumerRecord.NO_TIMESTAMP`: the observed stream time of an empty store.
const NO_TIMESTAMP: i64 = -1;

/// One stored version: its timestamp and its value, `None` for a tombstone.
struct Version {
    ts: i64,
    value: Option<Vec<u8>>,
}

impl Version {
    fn record(self, valid_to: Option<i64>) -> Option<VersionedRecord<Vec<u8>>> {
        let ts = self.ts;
        self.value.map(|v| VersionedRecord::new(v, ts, valid_to))
    }
}

/// A persistent versioned key-value store of bytes in one RocksDB database, at
/// `<state.dir>/<application.id>/<taskId>/rocksdb/<store>` when built by the
/// [`Stores`](crate::Stores) facade: the rules of [`VersionedBytesStore`], as Kafka Streams'
/// `RocksDBVersionedStore`.
///
/// Every version is one entry; expired history is dropped each time the observed stream
/// time minus the history retention crosses a multiple of the segment interval, the
/// granularity at which Kafka Streams drops its segments. Reads never see expired history
/// whether it is dropped yet or not. The observed stream time is kept on disk, so a store
/// reopened from its files rejects the same late writes as before.
///
/// # Examples
///
/// ```
/// use streams_core::state::{VersionedBytesStore, VersionedRecord, StateStore};
/// use streams_state::{RocksDbResources, RocksDbVersionedStore};
///
/// let dir = tempfile::tempdir()?;
/// let mut store = RocksDbVersionedStore::open("s", dir.path().join("s"), 100, 50, RocksDbResources::shared(), None)?;
/// store.put(b"k", Some(b"v1"), 10)?;
/// assert_eq!(store.put(b"k", Some(b"v0"), 5)?, 10); // valid until the version at 10
/// assert_eq!(store.get_as_of(b"k", 7)?, Some(VersionedRecord::new(b"v0".to_vec(), 5, Some(10))));
/// store.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RocksDbVersionedStore {
    handle: DbHandle,
    history_retention: i64,
    segment_interval: i64,
    observed_stream_time: i64,
}

impl std::fmt::Debug for RocksDbVersionedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbVersionedStore")
            .field("handle", &self.handle)
            .field("history_retention", &self.history_retention)
            .field("observed_stream_time", &self.observed_stream_time)
            .finish()
    }
}

impl RocksDbVersionedStore {
    /// Opens (or creates) the store `name` in directory `path`, keeping history for
    /// `history_retention` ms and dropping it in steps of `segment_interval` ms.
    ///
    /// # Errors
    ///
    /// [`Error::StoreCorrupted`](streams_core::Error::StoreCorrupted) when RocksDB finds the
    /// files damaged, [`Error::Store`](streams_core::Error::Store) for other failures or a
    /// negative retention or an interval under 1 ms.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        history_retention: i64,
        segment_interval: i64,
        resources: Arc<RocksDbResources>,
        setter: Option<Arc<dyn RocksDbConfigSetter>>,
    ) -> Result<Self> {
        let name = name.into();
        if history_retention < 0 || segment_interval < 1 {
            return Err(StateError::InvalidArgument {
                store: name,
                reason: format!(
                    "history retention ({history_retention} ms) cannot be negative and the \
                     segment interval ({segment_interval} ms) must be at least 1 ms"
                ),
            }
            .into());
        }
        let handle = DbHandle::open(name, path.into(), resources, setter)?;
        let stored = handle
            .db()?
            .get(layout::META_STREAM_TIME)
            .map_err(StateError::rocks(
                handle.name(),
                "read the observed stream time",
            ))?;
        let observed_stream_time = stored
            .as_deref()
            .and_then(layout::decode_stream_time)
            .unwrap_or(NO_TIMESTAMP);
        Ok(RocksDbVersionedStore {
            handle,
            history_retention,
            segment_interval,
            observed_stream_time,
        })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        self.handle.path()
    }

    /// The largest timestamp put so far (-1 before the first put).
    pub fn observed_stream_time(&self) -> i64 {
        self.observed_stream_time
    }

    fn name(&self) -> &str {
        self.handle.name()
    }

    fn db(&self) -> Result<&DB> {
        self.handle.db()
    }

    fn cutoff(&self) -> i64 {
        self.observed_stream_time
            .saturating_sub(self.history_retention)
    }

    fn prefix(&self, key: &[u8]) -> Result<Vec<u8>> {
        layout::version_prefix(key).ok_or_else(|| {
            StateError::InvalidArgument {
                store: self.name().to_owned(),
                reason: "a key of 4 GiB or more cannot be stored".into(),
            }
            .into()
        })
    }

    fn version(&self, entry_key: &[u8], stored: &[u8]) -> Result<Version> {
        let ts = layout::version_ts(entry_key);
        let value = layout::decode_value(stored);
        match (ts, value) {
            (Some(ts), Some(value)) => Ok(Version {
                ts,
                value: value.map(<[u8]>::to_vec),
            }),
            _ => Err(StateError::InvalidArgument {
                store: self.name().to_owned(),
                reason: "a stored version is malformed".into(),
            }
            .into()),
        }
    }

    /// The version of the key with `prefix` at or before `ts` (`floor`), or the first one
    /// at or after it.
    fn seek(&self, prefix: &[u8], ts: i64, floor: bool) -> Result<Option<Version>> {
        let db = self.db()?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(prefix.to_vec());
        if let Some(upper) = prefix_upper_bound(prefix) {
            ro.set_iterate_upper_bound(upper);
        }
        let mut raw = db.raw_iterator_opt(ro);
        let target = layout::version_key(prefix, ts);
        if floor {
            raw.seek_for_prev(&target);
        } else {
            raw.seek(&target);
        }
        match raw.item() {
            Some((k, v)) => self.version(k, v).map(Some),
            None => {
                raw.status()
                    .map_err(StateError::rocks(self.name(), "seek a version"))?;
                Ok(None)
            }
        }
    }

    fn floor(&self, prefix: &[u8], ts: i64) -> Result<Option<Version>> {
        self.seek(prefix, ts, true)
    }

    /// The first version strictly after `ts`.
    fn after(&self, prefix: &[u8], ts: i64) -> Result<Option<Version>> {
        match ts.checked_add(1) {
            Some(next) => self.seek(prefix, next, false),
            None => Ok(None),
        }
    }

    /// The first version strictly before `ts`.
    fn before(&self, prefix: &[u8], ts: i64) -> Result<Option<Version>> {
        match ts.checked_sub(1) {
            Some(prev) => self.floor(prefix, prev),
            None => Ok(None),
        }
    }

    fn expiry(&self, expiry: i64, key: &[u8], ts: i64) -> Result<Vec<u8>> {
        layout::expiry_key(expiry, key, ts).ok_or_else(|| {
            StateError::InvalidArgument {
                store: self.name().to_owned(),
                reason: "a key of 4 GiB or more cannot be stored".into(),
            }
            .into()
        })
    }

    /// Stores the version, keeping the expiry index in step: a version expires at the
    /// next version's timestamp, a latest tombstone at its own, a latest value never.
    fn do_put(&mut self, key: &[u8], value: Option<&[u8]>, ts: i64) -> Result<i64> {
        if ts < self.cutoff() {
            tracing::warn!(store = %self.name(), timestamp = ts, observed_stream_time = self.observed_stream_time,
                "skipping a versioned put older than the history retention");
            return Ok(PUT_RETURN_CODE_NOT_PUT);
        }
        let prefix = self.prefix(key)?;
        let previous = self.before(&prefix, ts)?;
        let next = self.after(&prefix, ts)?;
        let own_key = layout::version_key(&prefix, ts);
        let existing = self
            .db()?
            .get(&own_key)
            .map_err(StateError::rocks(self.name(), "get"))?
            .map(|stored| self.version(&own_key, &stored))
            .transpose()?;
        let expiry_of = |v: &Version| {
            next.as_ref()
                .map(|n| n.ts)
                .or(v.value.is_none().then_some(v.ts))
        };
        let mut batch = WriteBatch::default();
        if let Some(p) = &previous {
            let old = match &existing {
                Some(_) => Some(ts),
                None => expiry_of(p),
            };
            if let Some(old) = old {
                batch.delete(self.expiry(old, key, p.ts)?);
            }
            batch.put(self.expiry(ts, key, p.ts)?, []);
        }
        if let Some(old) = existing.as_ref().and_then(expiry_of) {
            batch.delete(self.expiry(old, key, ts)?);
        }
        batch.put(&own_key, layout::encode_value(value));
        let new = Version {
            ts,
            value: value.map(|_| Vec::new()),
        };
        if let Some(expiry) = expiry_of(&new) {
            batch.put(self.expiry(expiry, key, ts)?, []);
        }
        let old_cutoff = self.cutoff();
        if ts > self.observed_stream_time {
            self.observed_stream_time = ts;
            batch.put(layout::META_STREAM_TIME, ts.to_be_bytes());
        }
        self.handle.write(batch, "put a version")?;
        let new_cutoff = self.cutoff();
        if new_cutoff.div_euclid(self.segment_interval)
            > old_cutoff.div_euclid(self.segment_interval)
        {
            self.drop_expired(new_cutoff)?;
        }
        Ok(next.map_or(PUT_RETURN_CODE_VALID_TO_UNDEFINED, |n| n.ts))
    }

    /// Drops every version no read can reach: those expiring at or before `cutoff`.
    fn drop_expired(&self, cutoff: i64) -> Result<()> {
        let db = self.db()?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(layout::expiry_start());
        ro.set_iterate_upper_bound(layout::expiry_after(cutoff));
        let mut raw = db.raw_iterator_opt(ro);
        raw.seek_to_first();
        let mut batch = WriteBatch::default();
        while let Some(index_key) = raw.key() {
            if let Some(version) = layout::version_key_of_expiry(index_key) {
                batch.delete(version);
            }
            batch.delete(index_key);
            raw.next();
        }
        raw.status()
            .map_err(StateError::rocks(self.name(), "scan expired versions"))?;
        drop(raw);
        self.handle.write(batch, "drop expired versions")
    }
}

impl StateStore for RocksDbVersionedStore {
    handle_lifecycle!();

    /// Replays changelog records as puts: each record is a version (a null value a
    /// tombstone) at the record's timestamp, so the observed stream time is recovered with
    /// the data, and records already too old are skipped, as Kafka Streams does.
    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        for r in records {
            self.do_put(r.key, r.value, r.timestamp)?;
        }
        Ok(())
    }
}

impl VersionedBytesStore for RocksDbVersionedStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64> {
        self.do_put(key, value, timestamp)
    }

    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        if timestamp < self.cutoff() {
            tracing::warn!(store = %self.name(), timestamp, "skipping a versioned delete older than the history retention");
            return Ok(None);
        }
        let existing = self.get_as_of(key, timestamp)?;
        self.do_put(key, None, timestamp)?;
        Ok(existing)
    }

    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        let prefix = self.prefix(key)?;
        Ok(self.floor(&prefix, i64::MAX)?.and_then(|v| v.record(None)))
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        let prefix = self.prefix(key)?;
        if as_of < self.cutoff() {
            // Only the latest value, which never expires, can answer a read this old.
            return Ok(self
                .floor(&prefix, i64::MAX)?
                .filter(|latest| latest.ts <= as_of)
                .and_then(|latest| latest.record(None)));
        }
        let Some(found) = self.floor(&prefix, as_of)? else {
            return Ok(None);
        };
        let valid_to = self.after(&prefix, found.ts)?.map(|n| n.ts);
        Ok(found.record(valid_to))
    }

    fn history_retention(&self) -> i64 {
        self.history_retention
    }
}
