//! The typed store traits processors use, and the timestamped value type.

use crate::error::{Error, Result};
use crate::serde::{Serde, SerdeRef};
use crate::window::Windowed;

/// A value with the timestamp of the record that last updated it, as a timestamped
/// key-value or window store keeps it.
///
/// On the wire (in the store and in Java's format) it is the 8-byte big-endian timestamp
/// followed by the value's bytes; the changelog carries the plain value, with the
/// timestamp as the record's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueAndTimestamp<V> {
    /// The value.
    pub value: V,
    /// The timestamp in milliseconds.
    pub timestamp: i64,
}

impl<V> ValueAndTimestamp<V> {
    /// A value with its timestamp.
    pub const fn new(value: V, timestamp: i64) -> Self {
        ValueAndTimestamp { value, timestamp }
    }
}

/// The serde of [`ValueAndTimestamp<V>`]: the 8-byte big-endian timestamp, then the value
/// as the inner serde writes it. A value the inner serde reports as null makes the whole
/// thing null.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use streams_core::Serde;
/// use streams_core::state::{ValueAndTimestamp, ValueAndTimestampSerde};
///
/// struct Raw;
/// impl Serde<Vec<u8>> for Raw {
///     fn serialize(&self, _: &str, v: &Vec<u8>, out: &mut Vec<u8>) -> streams_core::Result<bool> {
///         out.extend_from_slice(v);
///         Ok(true)
///     }
///     fn deserialize(&self, _: &str, d: Option<&[u8]>) -> streams_core::Result<Vec<u8>> {
///         Ok(d.unwrap_or_default().to_vec())
///     }
/// }
///
/// let serde = ValueAndTimestampSerde::new(Arc::new(Raw));
/// let mut buf = Vec::new();
/// serde.serialize("t", &ValueAndTimestamp::new(b"v".to_vec(), 7), &mut buf)?;
/// assert_eq!(buf, [0, 0, 0, 0, 0, 0, 0, 7, b'v']);
/// assert_eq!(serde.deserialize("t", Some(&buf))?, ValueAndTimestamp::new(b"v".to_vec(), 7));
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct ValueAndTimestampSerde<V> {
    inner: SerdeRef<V>,
}

impl<V> ValueAndTimestampSerde<V> {
    /// Wraps the value's serde.
    pub fn new(inner: SerdeRef<V>) -> Self {
        ValueAndTimestampSerde { inner }
    }
}

impl<V> Clone for ValueAndTimestampSerde<V> {
    fn clone(&self) -> Self {
        ValueAndTimestampSerde {
            inner: self.inner.clone(),
        }
    }
}

impl<V: 'static> Serde<ValueAndTimestamp<V>> for ValueAndTimestampSerde<V> {
    fn serialize(
        &self,
        topic: &str,
        value: &ValueAndTimestamp<V>,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        let start = out.len();
        out.extend_from_slice(&value.timestamp.to_be_bytes());
        if self.inner.serialize(topic, &value.value, out)? {
            Ok(true)
        } else {
            out.truncate(start);
            Ok(false)
        }
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<ValueAndTimestamp<V>> {
        let data =
            data.ok_or_else(|| Error::deserialization("timestamped value", topic, "null data"))?;
        let (ts, rest) = data.split_first_chunk::<8>().ok_or_else(|| {
            Error::deserialization("timestamped value", topic, "fewer than 8 bytes")
        })?;
        Ok(ValueAndTimestamp {
            timestamp: i64::from_be_bytes(*ts),
            value: self.inner.deserialize(topic, Some(rest))?,
        })
    }

    fn is_null(&self, value: &ValueAndTimestamp<V>) -> bool {
        self.inner.is_null(&value.value)
    }
}

/// An iterator over typed key-value pairs that borrows its store, so it cannot outlive it.
pub type KeyValueIter<'a, K, V> = Box<dyn Iterator<Item = Result<(K, V)>> + 'a>;

/// An iterator over the windows of one key: (window start, value), borrowing its store.
pub type WindowIter<'a, V> = Box<dyn Iterator<Item = Result<(i64, V)>> + 'a>;

/// An iterator over windowed keys and values, borrowing its store.
pub type WindowedIter<'a, K, V> = Box<dyn Iterator<Item = Result<(Windowed<K>, V)>> + 'a>;

/// Reads of a typed key-value store, as Kafka Streams' `ReadOnlyKeyValueStore`.
///
/// Keys order as their serialized bytes do (unsigned, lexicographic). Ranges are inclusive
/// at both ends and `None` leaves an end open.
pub trait ReadOnlyKeyValueStore<K, V> {
    /// The value of `key`, if any.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn get(&self, key: &K) -> Result<Option<V>>;

    /// The entries from `from` to `to`, ascending.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>>;

    /// The entries from `from` to `to`, descending.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<KeyValueIter<'_, K, V>>;

    /// Every entry, ascending.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    fn all(&self) -> Result<KeyValueIter<'_, K, V>> {
        self.range(None, None)
    }

    /// Every entry, descending.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    fn reverse_all(&self) -> Result<KeyValueIter<'_, K, V>> {
        self.reverse_range(None, None)
    }

    /// The entries whose serialized key starts with `prefix` (serialize the prefix with the
    /// key serde, or any serde that writes a prefix of the key's bytes), ascending.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_, K, V>>;

    /// An estimate of the number of entries.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    fn approximate_num_entries(&self) -> Result<u64>;
}

/// A typed key-value store, as Kafka Streams' `KeyValueStore`.
pub trait KeyValueStore<K, V>: ReadOnlyKeyValueStore<K, V> {
    /// Sets `key` to `value`. A value the serde reports as null deletes the key.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn put(&mut self, key: &K, value: &V) -> Result<()>;

    /// Sets `key` to `value` unless it has a value, which is returned.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>>;

    /// Puts every entry, in order.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn put_all(&mut self, entries: &[(K, V)]) -> Result<()> {
        for (k, v) in entries {
            self.put(k, v)?;
        }
        Ok(())
    }

    /// Deletes `key`, returning the value it had.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn delete(&mut self, key: &K) -> Result<Option<V>>;
}

/// Reads of a typed window store, as Kafka Streams' `ReadOnlyWindowStore`.
pub trait ReadOnlyWindowStore<K, V> {
    /// The value of `key` in the window starting at `window_start`.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn fetch_at(&self, key: &K, window_start: i64) -> Result<Option<V>>;

    /// The windows of `key` starting in `[time_from, time_to]`, by ascending start.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<WindowIter<'_, V>>;

    /// The windows of every key starting in `[time_from, time_to]`.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowedIter<'_, K, V>>;

    /// Every unexpired window of every key.
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn all(&self) -> Result<WindowedIter<'_, K, V>>;
}

/// A typed window store, as Kafka Streams' `WindowStore`.
pub trait WindowStore<K, V>: ReadOnlyWindowStore<K, V> {
    /// Stores `value` for `key` in the window starting at `window_start`. A value the serde
    /// reports as null deletes it (ignored when duplicates are retained).
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn put(&mut self, key: &K, value: &V, window_start: i64) -> Result<()>;

    /// Deletes the value of `key` in the window starting at `window_start` (ignored when
    /// duplicates are retained, as in Kafka Streams).
    ///
    /// # Errors
    ///
    /// A serde error, or [`Error::Store`] when the store fails.
    fn delete(&mut self, key: &K, window_start: i64) -> Result<()>;
}
