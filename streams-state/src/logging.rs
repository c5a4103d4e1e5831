//! The change-logging layers: every write also goes to the store's changelog topic.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use streams_core::state::{
    ChangelogRecord, ChangelogWriter, KeyValueBytesIter, KeyValueBytesStore, StateStore,
    StoreContext, WindowBytesIter, WindowBytesStore,
};
use streams_core::{Error, Result};

use crate::delegate::delegate_lifecycle;
use crate::error::StateError;
use crate::window_key;

mod versioned;

pub use versioned::ChangeLoggingVersionedBytesStore;

/// Where and how a layer logs.
struct Log {
    store: String,
    topic: String,
    partition: i32,
    writer: Rc<RefCell<dyn ChangelogWriter>>,
    timestamp: Rc<Cell<i64>>,
    /// Values are `ValueAndTimestamp` bytes: the changelog gets the plain value with the
    /// embedded timestamp as the record timestamp, as Kafka Streams'
    /// `ChangeLoggingTimestamped*` stores do.
    timestamped: bool,
}

impl Log {
    fn new(store: &str, ctx: &StoreContext, timestamped: bool) -> Self {
        Log {
            store: store.to_owned(),
            topic: ctx.changelog_topic(store),
            partition: ctx.partition(),
            writer: ctx.changelog().clone(),
            timestamp: ctx.timestamp_source().clone(),
            timestamped,
        }
    }

    fn send(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let (value, timestamp) = match value {
            Some(v) if self.timestamped => {
                let (ts, plain) =
                    v.split_first_chunk::<8>()
                        .ok_or_else(|| StateError::InvalidArgument {
                            store: self.store.clone(),
                            reason: format!(
                                "a timestamped value has at least 8 bytes, this one {}",
                                v.len()
                            ),
                        })?;
                (Some(plain), i64::from_be_bytes(*ts))
            }
            other => (other, self.timestamp.get()),
        };
        self.send_at(key, value, timestamp)
    }

    /// Sends `value` (already in its changelog form) with the given record timestamp.
    fn send_at(&self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        let mut writer = self.writer.try_borrow_mut().map_err(|_| {
            Error::IllegalState(format!(
                "the changelog writer is borrowed while store '{}' logs a write",
                self.store
            ))
        })?;
        writer.send(&self.topic, self.partition, key, value, timestamp)
    }

    /// Turns changelog values back into the stored form (prepending the record timestamp
    /// for timestamped stores) and hands the batch to `apply`. One buffer holds every
    /// converted value of the batch.
    fn restore(
        &self,
        records: &[ChangelogRecord<'_>],
        apply: impl FnOnce(&[ChangelogRecord<'_>]) -> Result<()>,
    ) -> Result<()> {
        if !self.timestamped {
            return apply(records);
        }
        let total: usize = records
            .iter()
            .map(|r| r.value.map_or(0, |v| v.len() + 8))
            .sum();
        let mut arena = Vec::with_capacity(total);
        let mut spans = Vec::with_capacity(records.len());
        for r in records {
            spans.push(r.value.map(|v| {
                let start = arena.len();
                arena.extend_from_slice(&r.timestamp.to_be_bytes());
                arena.extend_from_slice(v);
                start..arena.len()
            }));
        }
        let converted: Vec<ChangelogRecord<'_>> = records
            .iter()
            .zip(spans)
            .map(|(r, span)| ChangelogRecord {
                value: span.and_then(|s| arena.get(s)),
                ..*r
            })
            .collect();
        apply(&converted)
    }
}

/// Logs every put and delete of a key-value bytes store to
/// `<application.id>-<store>-changelog` on the task's partition (a delete is a tombstone),
/// as Kafka Streams' `ChangeLoggingKeyValueBytesStore`.
///
/// Records carry the current record timestamp of the [`StoreContext`], or for a
/// timestamped store the value's own timestamp. Restoring does not log.
pub struct ChangeLoggingKeyValueBytesStore {
    inner: Box<dyn KeyValueBytesStore>,
    log: Log,
}

impl std::fmt::Debug for ChangeLoggingKeyValueBytesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLoggingKeyValueBytesStore")
            .field("store", &self.log.store)
            .field("topic", &self.log.topic)
            .field("partition", &self.log.partition)
            .finish_non_exhaustive()
    }
}

impl ChangeLoggingKeyValueBytesStore {
    /// Wraps `inner`, logging through `ctx`'s changelog writer. `timestamped` says whether
    /// values are `ValueAndTimestamp` bytes.
    pub fn new(inner: Box<dyn KeyValueBytesStore>, ctx: &StoreContext, timestamped: bool) -> Self {
        let log = Log::new(inner.name(), ctx, timestamped);
        ChangeLoggingKeyValueBytesStore { inner, log }
    }
}

impl StateStore for ChangeLoggingKeyValueBytesStore {
    delegate_lifecycle!(inner);

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        let inner = &mut self.inner;
        self.log.restore(records, |r| inner.restore_batch(r))
    }
}

impl KeyValueBytesStore for ChangeLoggingKeyValueBytesStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }

    fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.inner.put(key, value)?;
        self.log.send(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let previous = self.inner.put_if_absent(key, value)?;
        if previous.is_none() {
            self.log.send(key, Some(value))?;
        }
        Ok(previous)
    }

    fn put_all(&mut self, entries: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        self.inner.put_all(entries)?;
        for (k, v) in entries {
            self.log.send(k, *v)?;
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.inner.delete(key)?;
        self.log.send(key, None)?;
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueBytesIter<'_>> {
        self.inner.range(from, to)
    }

    fn reverse_range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<KeyValueBytesIter<'_>> {
        self.inner.reverse_range(from, to)
    }

    fn all(&self) -> Result<KeyValueBytesIter<'_>> {
        self.inner.all()
    }

    fn reverse_all(&self) -> Result<KeyValueBytesIter<'_>> {
        self.inner.reverse_all()
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueBytesIter<'_>> {
        self.inner.prefix_scan(prefix)
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}

/// Logs every put of a window bytes store, keyed by the window-store key (key, window
/// start, sequence number), as Kafka Streams' `ChangeLoggingWindowBytesStore`.
pub struct ChangeLoggingWindowBytesStore {
    inner: Box<dyn WindowBytesStore>,
    log: Log,
    seqnum: u32,
    key_buf: Vec<u8>,
}

impl std::fmt::Debug for ChangeLoggingWindowBytesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLoggingWindowBytesStore")
            .field("store", &self.log.store)
            .field("topic", &self.log.topic)
            .finish_non_exhaustive()
    }
}

impl ChangeLoggingWindowBytesStore {
    /// Wraps `inner`, logging through `ctx`'s changelog writer. `timestamped` says whether
    /// values are `ValueAndTimestamp` bytes.
    pub fn new(inner: Box<dyn WindowBytesStore>, ctx: &StoreContext, timestamped: bool) -> Self {
        let log = Log::new(inner.name(), ctx, timestamped);
        ChangeLoggingWindowBytesStore {
            inner,
            log,
            seqnum: 0,
            key_buf: Vec::new(),
        }
    }
}

impl StateStore for ChangeLoggingWindowBytesStore {
    delegate_lifecycle!(inner);

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        let inner = &mut self.inner;
        self.log.restore(records, |r| inner.restore_batch(r))
    }
}

impl WindowBytesStore for ChangeLoggingWindowBytesStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        let dups = self.inner.retain_duplicates();
        if value.is_none() && dups {
            return Ok(());
        }
        // Mirrors the sequence number the store below assigns, so the changelog key is
        // the key the store holds.
        if dups {
            self.seqnum = (self.seqnum + 1) & 0x7FFF_FFFF;
        }
        self.inner.put(key, value, window_start)?;
        self.key_buf.clear();
        window_key::encode_into(
            key,
            window_start,
            if dups { self.seqnum } else { 0 },
            &mut self.key_buf,
        );
        self.log.send(&self.key_buf, value)
    }

    fn fetch_at(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.inner.fetch_at(key, window_start)
    }

    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.inner.fetch(key, time_from, time_to)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.inner.fetch_all(time_from, time_to)
    }

    fn all(&self) -> Result<WindowBytesIter<'_>> {
        self.inner.all()
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }

    fn window_size(&self) -> i64 {
        self.inner.window_size()
    }

    fn retain_duplicates(&self) -> bool {
        self.inner.retain_duplicates()
    }
}
