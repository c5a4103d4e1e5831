//! Serialization between typed keys and values and Kafka's bytes.
//!
//! A [`Serde<T>`] turns a `T` into bytes and back. Kafka's *null* (a missing key, a
//! tombstone value) is part of the type: a serde for `T` that cannot be null rejects null
//! data with a clear error, and [`Serdes::option`] wraps any serde so that `None` maps to
//! Kafka's null. Operators that follow Kafka Streams' null rules (aggregations drop null
//! keys and values, a null table value is a delete) ask the serde with [`Serde::is_null`].

use std::sync::Arc;

use crate::error::Result;

/// Converts values of type `T` to and from Kafka's bytes.
///
/// Implementations must be deterministic: equal values serialize to equal bytes, because
/// state stores and partitioners compare serialized keys.
pub trait Serde<T>: Send + Sync + 'static {
    /// Appends the serialized form of `value` to `out`, which the caller has cleared.
    ///
    /// Returns `Ok(false)` when `value` is Kafka's null, in which case nothing is written.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`](crate::Error::Serialization) when the value cannot be encoded.
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<bool>;

    /// Reads a value from `data`, which is `None` for Kafka's null.
    ///
    /// # Errors
    ///
    /// [`Error::Deserialization`](crate::Error::Deserialization) when the bytes are malformed,
    /// or when `data` is null and `T` cannot represent null.
    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T>;

    /// Whether `value` stands for Kafka's null. Only nullable serdes (such as
    /// [`Serdes::option`]) return `true`.
    fn is_null(&self, _value: &T) -> bool {
        false
    }
}

/// A shared, type-erased serde. Cloning it is a reference-count increment.
pub type SerdeRef<T> = Arc<dyn Serde<T>>;

impl<T, S: Serde<T> + ?Sized> Serde<T> for Arc<S> {
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<bool> {
        (**self).serialize(topic, value, out)
    }
    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T> {
        (**self).deserialize(topic, data)
    }
    fn is_null(&self, value: &T) -> bool {
        (**self).is_null(value)
    }
}
