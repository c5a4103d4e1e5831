//! The state two join processors of one task share: stream time and the "outer" store of
//! held-back non-matches, in Kafka Streams' byte formats.
//!
//! The outer store is a key-value store whose keys are Java's `TimestampedKeyAndJoinSide`
//! (8-byte big-endian timestamp, one byte 1 for the left side or 0 for the right, the key's
//! bytes), so that iterating it visits held-back records by timestamp, right side first,
//! then by key. Each value is a list of Java's `LeftOrRightValue`s (one byte 1/0 for
//! left/right, the value's bytes) in Java's `ListSerde` layout: a strategy byte (1, variable
//! size), a 4-byte count, then a 4-byte length before each entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use streams_core::{Error, Result, TaskId};

/// `ListSerde`'s flag for entries of varying size.
const VARIABLE_SIZE: u8 = 1;
/// `ListSerde`'s length of a null entry.
const NULL_ENTRY: i32 = -1;
/// Bytes before the key in an outer-store key: timestamp and side.
const KEY_PREFIX_LEN: usize = 9;

/// The side of a join a record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinSide {
    /// The stream the join is called on.
    Left,
    /// The stream passed to the join.
    Right,
}

impl JoinSide {
    /// The byte that marks the side in the outer store's keys and values: 1 for left, 0 for
    /// right, as Java's `TimestampedKeyAndJoinSide` and `LeftOrRightValue`.
    pub(crate) fn byte(self) -> u8 {
        u8::from(self == JoinSide::Left)
    }

    /// The side across the join.
    pub(crate) fn other(self) -> JoinSide {
        match self {
            JoinSide::Left => JoinSide::Right,
            JoinSide::Right => JoinSide::Left,
        }
    }
}

/// Stream time as both join processors of a task see it (Kafka Streams' `TimeTracker`):
/// the largest timestamp either side processed, the smallest timestamp held back in the
/// outer store since the last emission, and the wall-clock time before which held-back
/// records are not looked at again.
///
/// The two processors of a task run on one thread, one call at a time; the atomics only
/// make the shared handle `Send`.
#[derive(Debug)]
pub(crate) struct TimeTracker {
    stream_time: AtomicI64,
    min_time: AtomicI64,
    next_time_to_emit: AtomicI64,
}

impl Default for TimeTracker {
    fn default() -> Self {
        TimeTracker {
            stream_time: AtomicI64::new(-1),
            min_time: AtomicI64::new(i64::MAX),
            next_time_to_emit: AtomicI64::new(0),
        }
    }
}

impl TimeTracker {
    pub(crate) fn advance_stream_time(&self, ts: i64) {
        self.stream_time.fetch_max(ts, Ordering::Relaxed);
    }

    pub(crate) fn stream_time(&self) -> i64 {
        self.stream_time.load(Ordering::Relaxed)
    }

    pub(crate) fn update_min_time(&self, ts: i64) {
        self.min_time.fetch_min(ts, Ordering::Relaxed);
    }

    pub(crate) fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Relaxed)
    }

    pub(crate) fn set_min_time(&self, ts: i64) {
        self.min_time.store(ts, Ordering::Relaxed);
    }

    pub(crate) fn next_time_to_emit(&self) -> i64 {
        self.next_time_to_emit.load(Ordering::Relaxed)
    }

    pub(crate) fn set_next_time_to_emit(&self, ts: i64) {
        self.next_time_to_emit.store(ts, Ordering::Relaxed);
    }
}

/// The trackers of one join, one per task (Kafka Streams' `TimeTrackerSupplier`).
#[derive(Debug, Default)]
pub(crate) struct TimeTrackers {
    by_task: Mutex<HashMap<TaskId, Arc<TimeTracker>>>,
}

impl TimeTrackers {
    /// The tracker of `task`, made on first use.
    pub(crate) fn get(&self, task: TaskId) -> Arc<TimeTracker> {
        let mut map = self.by_task.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(task).or_default())
    }

    /// Forgets the tracker of a closed task.
    pub(crate) fn remove(&self, task: TaskId) {
        self.by_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&task);
    }
}

fn malformed(store: &str, what: &str) -> Error {
    Error::Store {
        store: store.to_owned(),
        reason: format!("malformed outer-join store entry: {what}"),
        source: None,
    }
}

/// Starts an outer-store key in `out`: timestamp and side. The caller appends the key.
pub(crate) fn begin_key(out: &mut Vec<u8>, timestamp: i64, side: JoinSide) {
    out.clear();
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.push(side.byte());
}

/// Splits an outer-store key into timestamp, side and key bytes.
pub(crate) fn decode_key<'a>(store: &str, bytes: &'a [u8]) -> Result<(i64, JoinSide, &'a [u8])> {
    if bytes.len() < KEY_PREFIX_LEN {
        return Err(malformed(store, "a key shorter than 9 bytes"));
    }
    let (prefix, key) = bytes.split_at(KEY_PREFIX_LEN);
    let (ts, side) = prefix.split_at(8);
    let ts: [u8; 8] = ts
        .try_into()
        .map_err(|_| malformed(store, "a key without a timestamp"))?;
    let side = if side[0] == JoinSide::Left.byte() {
        JoinSide::Left
    } else {
        JoinSide::Right
    };
    Ok((i64::from_be_bytes(ts), side, key))
}

/// Writes into `out` the list `existing` (or an empty one) with `entry` appended.
pub(crate) fn append_entry(
    store: &str,
    existing: Option<&[u8]>,
    entry: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    out.clear();
    let len = i32::try_from(entry.len()).map_err(|_| malformed(store, "an entry over 2 GiB"))?;
    match existing {
        None => {
            out.push(VARIABLE_SIZE);
            out.extend_from_slice(&1i32.to_be_bytes());
        }
        Some(list) => {
            if list.len() < 5 {
                return Err(malformed(store, "a list shorter than 5 bytes"));
            }
            let count: [u8; 4] = list[1..5]
                .try_into()
                .map_err(|_| malformed(store, "a list without a count"))?;
            out.push(list[0]);
            out.extend_from_slice(&i32::from_be_bytes(count).saturating_add(1).to_be_bytes());
            out.extend_from_slice(&list[5..]);
        }
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    Ok(())
}

/// The entries of a stored list, in order; null entries are skipped.
pub(crate) fn entries<'a>(
    store: &'a str,
    list: &'a [u8],
) -> impl Iterator<Item = Result<&'a [u8]>> + 'a {
    let mut rest = list.get(5..).unwrap_or_default();
    let mut failed = list.len() < 5 || list[0] != VARIABLE_SIZE;
    std::iter::from_fn(move || {
        loop {
            if failed {
                failed = false;
                rest = &[];
                return Some(Err(malformed(
                    store,
                    "a value that is not a variable-size list",
                )));
            }
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = i32::from_be_bytes(*len);
            if len == NULL_ENTRY {
                rest = tail;
                continue;
            }
            let Some(n) = usize::try_from(len).ok().filter(|n| *n <= tail.len()) else {
                rest = &[];
                return Some(Err(malformed(store, "an entry longer than its list")));
            };
            let (entry, tail) = tail.split_at(n);
            rest = tail;
            return Some(Ok(entry));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_by_time_then_right_before_left_then_key() {
        let key = |ts, side, k: &[u8]| {
            let mut out = Vec::new();
            begin_key(&mut out, ts, side);
            out.extend_from_slice(k);
            out
        };
        let (left, right) = (JoinSide::Left, JoinSide::Right);
        assert!(key(1, left, b"z") < key(2, right, b"a"));
        assert!(key(2, right, b"z") < key(2, left, b"a"));
        assert!(key(2, left, b"a") < key(2, left, b"b"));
        let k = key(7, left, b"abc");
        assert_eq!(decode_key("s", &k).ok(), Some((7, left, &b"abc"[..])));
        assert!(decode_key("s", &k[..8]).is_err());
    }

    #[test]
    fn lists_use_java_list_serde_layout_and_append() -> Result<()> {
        let mut one = Vec::new();
        append_entry("s", None, b"\x01ab", &mut one)?;
        assert_eq!(one, [1, 0, 0, 0, 1, 0, 0, 0, 3, 1, b'a', b'b']);
        let mut two = Vec::new();
        append_entry("s", Some(&one), b"\x00c", &mut two)?;
        assert_eq!(&two[..5], [1, 0, 0, 0, 2]);
        let got: Vec<&[u8]> = entries("s", &two).collect::<Result<_>>()?;
        assert_eq!(got, [&b"\x01ab"[..], &b"\x00c"[..]]);
        assert!(entries("s", &[1, 0, 0, 0, 1, 0, 0, 0, 9, 1]).any(|e| e.is_err()));
        assert!(entries("s", &[0]).any(|e| e.is_err()));
        Ok(())
    }

    #[test]
    fn trackers_are_per_task_and_shared_within_one() {
        let trackers = TimeTrackers::default();
        let a = trackers.get(TaskId {
            subtopology: 0,
            partition: 0,
        });
        let b = trackers.get(TaskId {
            subtopology: 0,
            partition: 0,
        });
        let c = trackers.get(TaskId {
            subtopology: 0,
            partition: 1,
        });
        a.advance_stream_time(5);
        assert_eq!(b.stream_time(), 5);
        assert_eq!(c.stream_time(), -1);
        a.update_min_time(9);
        a.update_min_time(3);
        assert_eq!(b.min_time(), 3);
        trackers.remove(TaskId {
            subtopology: 0,
            partition: 0,
        });
        assert_eq!(
            trackers
                .get(TaskId {
                    subtopology: 0,
                    partition: 0
                })
                .stream_time(),
            -1
        );
    }
}
