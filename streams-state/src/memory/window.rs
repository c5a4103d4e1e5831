//! The in-memory window store.

use std::collections::BTreeMap;

use streams_core::Result;
use streams_core::state::{
    ChangelogRecord, StateStore, WindowBytesEntry, WindowBytesIter, WindowBytesStore,
};

use crate::error::StateError;
use crate::window_key;

/// A window store in memory, as Kafka Streams' `InMemoryWindowStore`: a map from window
/// start to a map of keys (followed by their sequence number when duplicates are retained).
///
/// Retention is exact: a put with `window_start <= observed - retention` is dropped, and
/// windows older than `observed - retention + 1` are removed at each put.
///
/// # Examples
///
/// ```
/// use streams_core::state::WindowBytesStore;
/// use streams_state::InMemoryWindowStore;
///
/// let mut store = InMemoryWindowStore::new("w", 1_000, 100, false);
/// store.put(b"k", Some(b"a"), 0)?;
/// store.put(b"k", Some(b"b"), 100)?;
/// let starts: Vec<i64> = store.fetch(b"k", 0, 100)?.map(|e| e.map(|e| e.window_start)).collect::<Result<_, _>>()?;
/// assert_eq!(starts, [0, 100]);
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug)]
pub struct InMemoryWindowStore {
    name: String,
    retention: i64,
    window_size: i64,
    retain_duplicates: bool,
    seqnum: u32,
    observed: i64,
    windows: BTreeMap<i64, BTreeMap<Vec<u8>, Vec<u8>>>,
    closed: bool,
}

impl InMemoryWindowStore {
    /// An empty store keeping windows for `retention_ms` of stream time.
    pub fn new(
        name: impl Into<String>,
        retention_ms: i64,
        window_size_ms: i64,
        retain_duplicates: bool,
    ) -> Self {
        InMemoryWindowStore {
            name: name.into(),
            retention: retention_ms,
            window_size: window_size_ms,
            retain_duplicates,
            seqnum: 0,
            observed: -1,
            windows: BTreeMap::new(),
            closed: false,
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(StateError::closed(&self.name).into())
        } else {
            Ok(())
        }
    }

    fn min_live_time(&self) -> i64 {
        (self.observed - self.retention + 1).max(0)
    }

    fn remove_expired(&mut self) {
        let live = self.windows.split_off(&self.min_live_time());
        self.windows = live;
    }

    fn apply(&mut self, map_key: Vec<u8>, window_start: i64, value: Option<&[u8]>) {
        self.observed = self.observed.max(window_start);
        if window_start <= self.observed - self.retention {
            tracing::debug!(store = %self.name, window_start, observed = self.observed, "skipping an expired window");
            return;
        }
        match value {
            Some(v) => {
                self.windows
                    .entry(window_start)
                    .or_default()
                    .insert(map_key, v.to_vec());
            }
            None => {
                if let Some(keys) = self.windows.get_mut(&window_start) {
                    keys.remove(&map_key);
                    if keys.is_empty() {
                        self.windows.remove(&window_start);
                    }
                }
            }
        }
        self.remove_expired();
    }

    /// The stored key without its sequence number.
    fn strip<'a>(&self, map_key: &'a [u8]) -> &'a [u8] {
        if self.retain_duplicates {
            &map_key[..map_key.len().saturating_sub(4)]
        } else {
            map_key
        }
    }

    fn values_of<'a>(
        &'a self,
        keys: &'a BTreeMap<Vec<u8>, Vec<u8>>,
        key: &[u8],
    ) -> Vec<&'a Vec<u8>> {
        if self.retain_duplicates {
            let mut lower = key.to_vec();
            lower.extend_from_slice(&[0; 4]);
            let mut upper = key.to_vec();
            upper.extend_from_slice(&[0xFF; 4]);
            keys.range(lower..=upper)
                .filter(|(k, _)| k.len() == key.len() + 4)
                .map(|(_, v)| v)
                .collect()
        } else {
            keys.get(key).into_iter().collect()
        }
    }
}

impl StateStore for InMemoryWindowStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        false
    }

    fn flush(&mut self) -> Result<()> {
        self.check_open()
    }

    fn commit(&mut self) -> Result<()> {
        self.check_open()
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        self.windows.clear();
        Ok(())
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> Result<()> {
        self.check_open()?;
        for r in records {
            let Some((key, ts, seq)) = window_key::decode(r.key) else {
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
            let mut map_key = key.to_vec();
            if self.retain_duplicates {
                map_key.extend_from_slice(&seq.to_be_bytes());
            }
            self.apply(map_key, ts, r.value);
        }
        Ok(())
    }
}

impl WindowBytesStore for InMemoryWindowStore {
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
        let mut map_key = key.to_vec();
        if self.retain_duplicates {
            self.seqnum = (self.seqnum + 1) & 0x7FFF_FFFF;
            map_key.extend_from_slice(&self.seqnum.to_be_bytes());
        }
        self.apply(map_key, window_start, value);
        Ok(())
    }

    fn fetch_at(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if window_start < self.min_live_time() {
            return Ok(None);
        }
        Ok(self
            .windows
            .get(&window_start)
            .and_then(|keys| self.values_of(keys, key).first().map(|v| (*v).clone())))
    }

    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.min_live_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        let key = key.to_vec();
        Ok(Box::new(self.windows.range(from..=time_to).flat_map(
            move |(ts, keys)| {
                self.values_of(keys, &key)
                    .into_iter()
                    .map(|v| {
                        Ok(WindowBytesEntry {
                            key: key.clone(),
                            window_start: *ts,
                            value: v.clone(),
                        })
                    })
                    .collect::<Vec<_>>()
            },
        )))
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowBytesIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.min_live_time());
        if time_to < from {
            return Ok(Box::new(std::iter::empty()));
        }
        Ok(Box::new(self.windows.range(from..=time_to).flat_map(
            move |(ts, keys)| {
                keys.iter().map(move |(k, v)| {
                    Ok(WindowBytesEntry {
                        key: self.strip(k).to_vec(),
                        window_start: *ts,
                        value: v.clone(),
                    })
                })
            },
        )))
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
