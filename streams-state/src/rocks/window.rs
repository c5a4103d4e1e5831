//! The segmented RocksDB window store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, ReadOptions, WriteBatch, WriteOptions};
use streams_core::Result;
use streams_core::state::{
    ChangelogRecord, StateStore, StoreMetrics, StoredPosition, WindowBytesEntry, WindowBytesIter,
    WindowBytesStore,
};

use crate::error::StateError;
use crate::rocks::handle::db_metrics;
use crate::rocks::key_filter::KeyFilter;
use crate::rocks::opener::{self, OpenAhead, SegmentSpec};
use crate::rocks::position::{self, PositionMarker};
use crate::rocks::{KeyLayout, RawIter, RocksDbConfigSetter, RocksDbResources, open_db};
use crate::window_key;

/// The smallest segment interval, as Kafka Streams' 60 seconds.
const MIN_SEGMENT_INTERVAL_MS: i64 = 60_000;

struct Segment {
    db: DB,
    path: PathBuf,
    marker: PositionMarker,
    /// The keys written to it, when it was created by this store object (not found on
    /// disk): a fetch of a key it rules out skips the segment.
    keys: Option<KeyFilter>,
}

/// A segment dropped from the store, its directory not yet deleted.
struct Expired {
    id: i64,
    path: PathBuf,
    /// Hears when its database, closing on the opener thread, is closed.
    closed: Option<std::sync::mpsc::Receiver<()>>,
}

impl Segment {
    fn may_hold(&self, key: &[u8]) -> bool {
        self.keys.as_ref().is_none_or(|f| f.may_hold(key))
    }

    fn record(&mut self, key: &[u8]) {
        if let Some(filter) = &mut self.keys {
            filter.insert(key);
        }
    }
}

/// Which stored windows the reads of a [`RocksDbWindowStore`] treat as expired, after the
/// Kafka Streams store it stands in for. Writes and segment expiry are the same for all
/// three; only the cut of `fetch_at`, `fetch` and `fetch_all` differs.
///
/// Kafka Streams' DSL asks for a time-ordered RocksDB store when an aggregation emits on
/// window close, and the time-ordered stores cut their reads differently (its in-memory
/// stores have no time-ordered variant and always cut as [`KeyOrdered`](Self::KeyOrdered)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WindowReads {
    /// `RocksDBWindowStore` and `RocksDBSessionStore`: every read skips windows starting
    /// before `observed - retention + 1`. The default.
    #[default]
    KeyOrdered,
    /// `RocksDBTimeOrderedWindowStore` (emit-on-close time and sliding windows): every read
    /// skips windows starting before `observed - retention`, keeping one millisecond more,
    /// so that a window whose end is exactly the close time is still found when it closes.
    TimeOrderedWindows,
    /// `RocksDBTimeOrderedSessionStore` (emit-on-close session windows, stored by session
    /// end): reads of one key cut as [`KeyOrdered`](Self::KeyOrdered); `fetch_all` skips
    /// only what expired segments took, so a closed session is still found after stream
    /// time passed its end by more than the retention.
    TimeOrderedSessions,
}

/// A persistent window store split into time segments, as Kafka Streams'
/// `RocksDBWindowStore`.
///
/// # Layout
///
/// One RocksDB database per segment, in `<taskId>/<store>/<store>.<segmentId * interval>`,
/// as in Kafka Streams, so that expiring a segment is closing its database and deleting
/// its directory: no compaction, no tombstones. The segment interval is
/// `max(retention / 2, 60 s)` and a record's segment is `window_start / interval`, so about
/// three segments are live at a time. All segments share the process's block cache and
/// write-buffer manager. Each segment this store creates also keeps a 32 KiB Bloom filter
/// of its keys in memory, so that fetching a key skips the segments that never held it
/// without creating a RocksDB iterator; segments found on disk at open have none.
///
/// Keys are window-store keys ([`window_key`]): the key, the 8-byte big-endian window
/// start, the 4-byte sequence number.
///
/// # Retention
///
/// The observed stream time is the largest window start put or restored. A put whose
/// segment is older than the segment of `observed - retention` is dropped, and such
/// segments are deleted; fetches skip entries older than `observed - retention + 1`, or
/// as [`with_reads`](Self::with_reads) sets.
pub struct RocksDbWindowStore {
    name: String,
    dir: PathBuf,
    retention: i64,
    window_size: i64,
    segment_interval: i64,
    retain_duplicates: bool,
    reads: WindowReads,
    seqnum: u32,
    observed: i64,
    segments: BTreeMap<i64, Segment>,
    /// Segments dropped but not yet deleted (see `delete_expired`).
    expired: Vec<Expired>,
    /// Segments dropped before the flush under way started: deleted once it is done.
    expired_before_flush: Vec<Expired>,
    write_options: WriteOptions,
    resources: Arc<RocksDbResources>,
    setter: Option<Arc<dyn RocksDbConfigSetter>>,
    /// The segment after the newest, being opened on the opener thread.
    ahead: Option<OpenAhead>,
    closed: bool,
}

impl std::fmt::Debug for RocksDbWindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbWindowStore")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("retention", &self.retention)
            .field("segment_interval", &self.segment_interval)
            .field("reads", &self.reads)
            .field("segments", &self.segments.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RocksDbWindowStore {
    /// Opens the store `name` in directory `dir` (its segments are subdirectories), opening
    /// the segments already there.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](streams_core::Error::Store) for a retention or window size that is
    /// not positive or a directory that cannot be read;
    /// [`Error::StoreCorrupted`](streams_core::Error::StoreCorrupted) when a segment's files
    /// are damaged.
    pub fn open(
        name: impl Into<String>,
        dir: impl Into<PathBuf>,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
        resources: Arc<RocksDbResources>,
        setter: Option<Arc<dyn RocksDbConfigSetter>>,
    ) -> Result<Self> {
        let name = name.into();
        let dir = dir.into();
        if retention_ms <= 0 || window_size_ms <= 0 {
            return Err(StateError::InvalidArgument {
                store: name,
                reason: format!("retention ({retention_ms} ms) and window size ({window_size_ms} ms) must be positive"),
            }
            .into());
        }
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        let mut store = RocksDbWindowStore {
            segment_interval: (retention_ms / 2).max(MIN_SEGMENT_INTERVAL_MS),
            name,
            dir,
            retention: retention_ms,
            window_size: window_size_ms,
            retain_duplicates,
            reads: WindowReads::KeyOrdered,
            seqnum: 0,
            observed: -1,
            segments: BTreeMap::new(),
            expired: Vec::new(),
            expired_before_flush: Vec::new(),
            write_options,
            resources,
            setter,
            ahead: None,
            closed: false,
        };
        store.open_existing()?;
        Ok(store)
    }

    /// Cuts reads as `reads` says (see [`WindowReads`]).
    #[must_use]
    pub fn with_reads(mut self, reads: WindowReads) -> Self {
        self.reads = reads;
        self
    }

    /// How reads treat expired windows.
    pub fn reads(&self) -> WindowReads {
        self.reads
    }

    /// The segment interval in milliseconds.
    pub fn segment_interval(&self) -> i64 {
        self.segment_interval
    }

    /// The ids of the segments that exist, ascending.
    pub fn segment_ids(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn open_existing(&mut self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|source| self.io_error("create", &self.dir, source))?;
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|source| self.io_error("list", &self.dir, source))?;
        let prefix = format!("{}.", self.name);
        let mut ids = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(start) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|s| s.parse::<i64>().ok())
            else {
                continue;
            };
            ids.push(start / self.segment_interval);
        }
        for id in ids {
            self.get_or_create(id)?;
        }
        Ok(())
    }

    fn io_error(&self, op: &'static str, path: &Path, source: std::io::Error) -> StateError {
        StateError::Io {
            store: self.name.clone(),
            op,
            path: path.to_owned(),
            source,
        }
    }

    fn segment_id(&self, timestamp: i64) -> i64 {
        // Truncating division, as Java's, so that early stream times keep every segment.
        timestamp / self.segment_interval
    }

    fn min_live_segment(&self) -> i64 {
        self.segment_id(self.observed - self.retention)
    }

    /// The earliest window start that `fetch_at` and `fetch` return.
    fn min_key_read_time(&self) -> i64 {
        let cut = match self.reads {
            WindowReads::KeyOrdered | WindowReads::TimeOrderedSessions => 1,
            WindowReads::TimeOrderedWindows => 0,
        };
        (self.observed - self.retention + cut).max(0)
    }

    /// The earliest window start that `fetch_all` returns.
    fn min_all_read_time(&self) -> i64 {
        match self.reads {
            WindowReads::TimeOrderedSessions => 0,
            WindowReads::KeyOrdered | WindowReads::TimeOrderedWindows => self.min_key_read_time(),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(StateError::closed(&self.name).into())
        } else {
            Ok(())
        }
    }

    fn segment_path(&self, id: i64) -> PathBuf {
        self.dir
            .join(format!("{}.{}", self.name, id * self.segment_interval))
    }

    fn get_or_create(&mut self, id: i64) -> Result<()> {
        if self.segments.contains_key(&id) {
            return Ok(());
        }
        let path = self.segment_path(id);
        let opened = match self.ahead.take() {
            // Opened ahead from a directory that did not exist: fresh.
            Some(ahead) if ahead.id == id => ahead.wait().map(|db| (db, true)),
            other => {
                self.ahead = other;
                None
            }
        };
        let (db, fresh) = match opened {
            Some((db, fresh)) => (db?, fresh),
            None => {
                // A directory left by an earlier run holds keys the filter would not know.
                let fresh = !path.exists();
                let db = open_db(
                    &self.name,
                    &path,
                    &self.resources,
                    self.setter.as_deref(),
                    KeyLayout::WindowKeys,
                )?;
                (db, fresh)
            }
        };
        self.segments.insert(
            id,
            Segment {
                db,
                path,
                marker: PositionMarker::new(),
                keys: fresh.then(KeyFilter::new),
            },
        );
        self.open_ahead(id + 1);
        Ok(())
    }

    /// Starts opening segment `id` on the opener thread, unless one is being opened
    /// already, it exists, or its directory does (left by an earlier run: opened when
    /// needed, as it may hold data).
    fn open_ahead(&mut self, id: i64) {
        if self.ahead.is_some() || self.segments.contains_key(&id) || id < self.min_live_segment() {
            return;
        }
        let path = self.segment_path(id);
        if path.exists() {
            return;
        }
        self.ahead = OpenAhead::start(SegmentSpec {
            store: self.name.clone(),
            id,
            path,
            resources: Arc::clone(&self.resources),
            setter: self.setter.clone(),
        });
    }

    /// Waits until the expired segments' databases are closed.
    fn wait_for_closes(&mut self) {
        for expired in self
            .expired
            .iter_mut()
            .chain(&mut self.expired_before_flush)
        {
            if let Some(closed) = expired.closed.take() {
                let _ = closed.recv();
            }
        }
    }

    /// Closes and deletes the segment opened ahead, unused (it was created empty).
    fn discard_ahead(&mut self) {
        let Some(ahead) = self.ahead.take() else {
            return;
        };
        let path = ahead.path.clone();
        if let Some(Ok(db)) = ahead.wait() {
            drop(db);
            if let Some(setter) = &self.setter {
                setter.close(&self.name);
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(store = %self.name, path = %path.display(), error = %e, "could not delete a segment opened ahead");
        }
    }

    fn drop_expired(&mut self) {
        let min_live = self.min_live_segment();
        if self
            .segments
            .first_key_value()
            .is_none_or(|(&oldest, _)| oldest >= min_live)
        {
            return;
        }
        if self.ahead.as_ref().is_some_and(|a| a.id < min_live) {
            self.discard_ahead();
        }
        let live = self.segments.split_off(&min_live);
        let expired = std::mem::replace(&mut self.segments, live);
        for (id, segment) in expired {
            let Segment { db, path, .. } = segment;
            let closed = opener::close_in_background(db);
            if let Some(setter) = &self.setter {
                setter.close(&self.name);
            }
            self.expired.push(Expired { id, path, closed });
        }
    }

    /// Deletes the directories of the segments dropped since the last call. A segment is
    /// deleted only once the state that dropped it is committed or flushed: a crash before
    /// that finds it again, as the committed state still had it.
    fn delete_expired(&mut self) {
        let expired = std::mem::take(&mut self.expired);
        self.delete_segments(expired);
        let before = std::mem::take(&mut self.expired_before_flush);
        self.delete_segments(before);
    }

    fn delete_segments(&self, segments: Vec<Expired>) {
        for Expired { id, path, closed } in segments {
            // Its files go once its database is closed.
            if let Some(closed) = closed {
                let _ = closed.recv();
            }
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(store = %self.name, segment = id, path = %path.display(), error = %e, "could not delete an expired segment");
            }
        }
    }

    fn put_store_key(
        &mut self,
        store_key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<()> {
        self.observed = self.observed.max(window_start);
        let id = self.segment_id(window_start);
        if id < self.min_live_segment() {
            tracing::debug!(store = %self.name, window_start, observed = self.observed, "skipping a record for an expired segment");
            return Ok(());
        }
        if value.is_some() {
            self.get_or_create(id)?;
        }
        if let Some(segment) = self.segments.get_mut(&id) {
            if value.is_some()
                && let Some((key, _, _)) = window_key::decode(store_key)
            {
                segment.record(key);
            }
            segment
                .marker
                .before_write(&segment.db, &self.name, &self.write_options)?;
            match value {
                Some(v) => segment.db.put_opt(store_key, v, &self.write_options),
                None => segment.db.delete_opt(store_key, &self.write_options),
            }
            .map_err(StateError::rocks(&self.name, "put"))?;
        }
        self.drop_expired();
        Ok(())
    }

    /// The entries between `lower` and `upper`, both window-store keys of one key, read in
    /// prefix mode: a memtable or table whose prefix bloom filter rules the key out is
    /// skipped without a seek. Every entry of that key in the range comes out; entries of
    /// keys that extend it (`k\0` for `k`) sort among them and may or may not, so callers
    /// keep only the key's own.
    fn key_iter<'a>(&'a self, segment: &'a Segment, lower: &[u8], upper: Vec<u8>) -> RawIter<'a> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(upper);
        let mut raw = segment.db.raw_iterator_opt(ro);
        raw.seek(lower);
        RawIter::new(raw, &self.name, false)
    }

    /// Every entry of a segment, in key order.
    fn all_iter<'a>(&'a self, segment: &'a Segment) -> RawIter<'a> {
        let mut ro = ReadOptions::default();
        ro.set_total_order_seek(true);
        let mut raw = segment.db.raw_iterator_opt(ro);
        raw.seek_to_first();
        RawIter::new(raw, &self.name, false)
    }
}

impl Drop for RocksDbWindowStore {
    /// Waits for the segments the opener thread is opening or closing (and deletes the one
    /// opened ahead), so that a store opened again in the same directory (after a task is
    /// dropped without closing) never finds one locked.
    fn drop(&mut self) {
        self.discard_ahead();
        self.wait_for_closes();
    }
}

/// A window entry as stored: key, window start, value.
type Decoded = (Vec<u8>, i64, Vec<u8>);

fn decode_entry(item: Result<(Vec<u8>, Vec<u8>)>) -> Option<Result<Decoded>> {
    match item {
        Err(e) => Some(Err(e)),
        Ok((k, v)) => {
            let (key, ts, _) = window_key::decode(&k)?;
            let key_len = key.len();
            let mut k = k;
            k.truncate(key_len);
            Some(Ok((k, ts, v)))
        }
    }
}

impl StateStore for RocksDbWindowStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        true
    }

    fn flush(&mut self) -> Result<()> {
        self.check_open()?;
        for segment in self.segments.values() {
            position::flush(&segment.db, &self.name)?;
        }
        self.delete_expired();
        Ok(())
    }

    /// Starts the flush of every segment; the segments expired before it are deleted once
    /// [`flush_done`](Self::flush_done) sees it done.
    fn flush_in_background(&mut self) -> Result<()> {
        self.check_open()?;
        for segment in self.segments.values() {
            position::flush_in_background(&segment.db, &self.name)?;
        }
        let expired = std::mem::take(&mut self.expired);
        self.expired_before_flush.extend(expired);
        Ok(())
    }

    fn flush_done(&mut self) -> Result<bool> {
        self.check_open()?;
        for segment in self.segments.values() {
            if !position::flush_done(&segment.db, &self.name)? {
                return Ok(false);
            }
        }
        let before = std::mem::take(&mut self.expired_before_flush);
        self.delete_segments(before);
        Ok(true)
    }

    /// Marks every segment committed at `offset` (see [`StateStore::commit_position`]),
    /// then deletes the segments that expired before it.
    fn commit_position(&mut self, offset: Option<i64>) -> Result<()> {
        self.check_open()?;
        for segment in self.segments.values() {
            segment
                .marker
                .commit(&segment.db, &self.name, &self.write_options, offset)?;
        }
        self.delete_expired();
        Ok(())
    }

    /// The lowest committed position of the segments, or uncommitted if one holds writes
    /// after its last commit (see [`StoredPosition::combine`]). Segments with neither a
    /// position nor data add nothing.
    fn stored_position(&self) -> StoredPosition {
        let mut combined: Option<StoredPosition> = None;
        for segment in self.segments.values() {
            let part = match position::read(&segment.db, &self.name) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(store = %self.name, error = %e, "could not read a segment's position");
                    StoredPosition::Unknown
                }
            };
            combined = Some(combined.map_or(part, |c| c.combine(part)));
        }
        combined.unwrap_or(StoredPosition::Committed(None))
    }

    /// Nothing to do: writes are in RocksDB's memtables, which [`flush`](Self::flush)
    /// writes out before a checkpoint.
    fn commit(&mut self) -> Result<()> {
        self.check_open()
    }

    fn metrics(&self) -> StoreMetrics {
        let mut total = StoreMetrics::default();
        for segment in self.segments.values() {
            total.add(&db_metrics(&segment.db));
        }
        total
    }

    fn close(&mut self) -> Result<()> {
        if !self.closed {
            self.closed = true;
            self.discard_ahead();
            self.wait_for_closes();
            let segments = std::mem::take(&mut self.segments);
            // Segments do not flush when their database closes (see `open_db`).
            let mut first = None;
            for segment in segments.values() {
                if let Err(e) = position::flush(&segment.db, &self.name) {
                    first.get_or_insert(e);
                }
            }
            if let Some(setter) = &self.setter {
                for _ in &segments {
                    setter.close(&self.name);
                }
            }
            if let Some(e) = first {
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.check_open()?;
        let mut batches: BTreeMap<i64, WriteBatch> = BTreeMap::new();
        for r in records {
            let Some((_, ts, _)) = window_key::decode(r.key) else {
                return Err(StateError::MalformedRecord {
                    store: self.name.clone(),
                    offset: r.offset,
                    reason: format!(
                        "a window-store key has at least 12 bytes, this one {}",
                        r.key.len()
                    ),
                }
                .into());
            };
            self.observed = self.observed.max(ts);
            let id = self.segment_id(ts);
            if id < self.min_live_segment() {
                continue;
            }
            self.get_or_create(id)?;
            if r.value.is_some()
                && let Some(segment) = self.segments.get_mut(&id)
                && let Some((key, _, _)) = window_key::decode(r.key)
            {
                segment.record(key);
            }
            let batch = batches.entry(id).or_default();
            match r.value {
                Some(v) => batch.put(r.key, v),
                None => batch.delete(r.key),
            }
        }
        for (id, batch) in batches {
            if let Some(segment) = self.segments.get(&id) {
                segment
                    .marker
                    .before_write(&segment.db, &self.name, &self.write_options)?;
                segment
                    .db
                    .write_opt(batch, &self.write_options)
                    .map_err(StateError::rocks(&self.name, "write a restore batch"))?;
            }
        }
        self.drop_expired();
        Ok(())
    }
}

impl WindowBytesStore for RocksDbWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        self.check_open()?;
        if window_start < 0 {
            return Err(StateError::InvalidArgument {
                store: self.name.clone(),
                reason: format!("window start {window_start} is negative"),
            }
            .into());
        }
        if value.is_none() && self.retain_duplicates {
            return Ok(());
        }
        if self.retain_duplicates {
            self.seqnum = (self.seqnum + 1) & 0x7FFF_FFFF;
        }
        let seq = if self.retain_duplicates {
            self.seqnum
        } else {
            0
        };
        window_key::with_encoded(key, window_start, seq, |store_key| {
            self.put_store_key(store_key, window_start, value)
        })
    }

    fn fetch_at(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if window_start < self.min_key_read_time() {
            return Ok(None);
        }
        let Some(segment) = self
            .segments
            .get(&self.segment_id(window_start))
            .filter(|s| s.may_hold(key))
        else {
            return Ok(None);
        };
        if !self.retain_duplicates {
            return window_key::with_encoded(key, window_start, 0, |store_key| {
                segment
                    .db
                    .get(store_key)
                    .map_err(|e| StateError::rocks(&self.name, "get")(e).into())
            });
        }
        let lower = window_key::encode(key, window_start, 0);
        let mut upper = window_key::encode(key, window_start, u32::MAX);
        upper.push(0);
        for item in self
            .key_iter(segment, &lower, upper)
            .filter_map(decode_entry)
        {
            let (k, ts, v) = item?;
            if k == key && ts == window_start {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.min_key_read_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        let range = self.segment_id(from)..=self.segment_id(time_to);
        let held: Vec<&Segment> = self
            .segments
            .range(range)
            .map(|(_, segment)| segment)
            .filter(|segment| segment.may_hold(key))
            .collect();
        if held.is_empty() {
            return Ok(Box::new(std::iter::empty()));
        }
        let lower = window_key::encode(key, from, 0);
        let mut upper = window_key::encode(key, time_to, u32::MAX);
        upper.push(0);
        let wanted = key.to_vec();
        Ok(Box::new(
            held.into_iter()
                .flat_map(move |segment| self.key_iter(segment, &lower, upper.clone()))
                .filter_map(decode_entry)
                .filter_map(move |item| match item {
                    Err(e) => Some(Err(e)),
                    Ok((k, ts, value)) => (k == wanted && ts >= from && ts <= time_to).then(|| {
                        Ok(WindowBytesEntry {
                            key: k,
                            window_start: ts,
                            value,
                        })
                    }),
                }),
        ))
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.min_all_read_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        let range = self.segment_id(from)..=self.segment_id(time_to);
        Ok(Box::new(
            self.segments
                .range(range)
                .flat_map(move |(_, segment)| self.all_iter(segment))
                .filter_map(decode_entry)
                .filter_map(move |item| match item {
                    Err(e) => Some(Err(e)),
                    Ok((key, ts, value)) => (ts >= from && ts <= time_to).then(|| {
                        Ok(WindowBytesEntry {
                            key,
                            window_start: ts,
                            value,
                        })
                    }),
                }),
        ))
    }

    fn retention_period(&self) -> i64 {
        self.retention
    }

    fn window_size(&self) -> i64 {
        self.window_size
    }

    fn retain_duplicates(&self) -> bool {
        self.retain_duplicates
    }
}
