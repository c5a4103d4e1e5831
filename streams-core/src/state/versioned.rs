//! Versioned key-value stores (KIP-889): the record type, the put return codes and the
//! bytes-level trait.

use crate::error::Result;
use crate::state::store::StateStore;

/// What [`VersionedBytesStore::put`] returns when the new version is the latest of its key
/// (its validity has no end yet), as Kafka Streams' `PUT_RETURN_CODE_VALID_TO_UNDEFINED`.
pub const PUT_RETURN_CODE_VALID_TO_UNDEFINED: i64 = -1;

/// What [`VersionedBytesStore::put`] returns when the put was not applied because its
/// timestamp is older than the observed stream time minus the history retention, as Kafka
/// Streams' `PUT_RETURN_CODE_NOT_PUT`.
pub const PUT_RETURN_CODE_NOT_PUT: i64 = i64::MIN;

/// One version of a key's value: the value, the timestamp from which it is valid, and the
/// timestamp of the next version (exclusive end of its validity), `None` for the latest.
///
/// # Examples
///
/// ```
/// use streams_core::state::VersionedRecord;
///
/// let r = VersionedRecord::new("gold", 10, Some(20));
/// assert!(r.is_valid_at(19));
/// assert!(!r.is_valid_at(20));
/// assert!(VersionedRecord::new("gold", 10, None).is_valid_at(i64::MAX));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionedRecord<V> {
    /// The value.
    pub value: V,
    /// The timestamp from which the value is valid, inclusive, in milliseconds.
    pub timestamp: i64,
    /// The timestamp at which the next version takes over, exclusive; `None` while the value
    /// is the latest.
    pub valid_to: Option<i64>,
}

impl<V> VersionedRecord<V> {
    /// A version valid from `timestamp` until `valid_to`.
    pub const fn new(value: V, timestamp: i64, valid_to: Option<i64>) -> Self {
        VersionedRecord {
            value,
            timestamp,
            valid_to,
        }
    }

    /// Whether this version is the one valid at `time`.
    pub fn is_valid_at(&self, time: i64) -> bool {
        self.timestamp <= time && self.valid_to.is_none_or(|to| time < to)
    }

    /// The same version with its value transformed.
    pub fn map<U>(self, f: impl FnOnce(V) -> U) -> VersionedRecord<U> {
        VersionedRecord {
            value: f(self.value),
            timestamp: self.timestamp,
            valid_to: self.valid_to,
        }
    }
}

/// A store of every version of each key's value, each valid from its timestamp until the
/// next version's, as Kafka Streams' `VersionedBytesStore` (`RocksDBVersionedStore`).
///
/// The rules, the same as Kafka Streams':
///
/// - The store tracks its observed stream time, the largest timestamp put so far. A put or
///   delete older than the observed stream time minus the history retention is not applied
///   ([`PUT_RETURN_CODE_NOT_PUT`]).
/// - A put with the timestamp of an existing version replaces it; a put between two
///   versions is inserted between them (an out-of-order update).
/// - A tombstone (`None`) is a version too: the key has no value from its timestamp until
///   the next version.
/// - Versions no longer valid at the observed stream time minus the history retention are
///   dropped; the latest value of a key is never dropped.
pub trait VersionedBytesStore: StateStore {
    /// Adds the version `value` (`None`: a tombstone) of `key`, valid from `timestamp`.
    /// Returns the timestamp until which it is valid (the next version's),
    /// [`PUT_RETURN_CODE_VALID_TO_UNDEFINED`] when it is the latest, or
    /// [`PUT_RETURN_CODE_NOT_PUT`] when it is too old to be stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64>;

    /// Adds a tombstone for `key` at `timestamp` and returns the version that was valid at
    /// `timestamp` before it, if any; `None` without storing anything when `timestamp` is too
    /// old to be stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord<Vec<u8>>>>;

    /// The latest version of `key`; `None` if it has none or the latest is a tombstone.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord<Vec<u8>>>>;

    /// The version of `key` valid at `as_of`; `None` if there is none, it is a tombstone, or
    /// `as_of` is older than the observed stream time minus the history retention and the
    /// latest version is newer than `as_of` (the latest value answers any `as_of` at or
    /// after its timestamp).
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the underlying storage fails.
    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord<Vec<u8>>>>;

    /// How far behind the observed stream time versions stay readable, in milliseconds.
    fn history_retention(&self) -> i64;
}
