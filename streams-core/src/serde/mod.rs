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

    /// Writes the bytes the default partitioner hashes for `value` used as a key, when they
    /// differ from its serialized form, and returns `Ok(true)`; returns `Ok(false)` (the
    /// default, writing nothing) when the serialized key itself is hashed.
    ///
    /// The windowed serdes write the base key only, so that every window of a key lands in
    /// the key's partition, as Java's `WindowedStreamPartitioner` places them.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`](crate::Error::Serialization) when the value cannot be encoded.
    fn serialize_partition_key(
        &self,
        _topic: &str,
        _value: &T,
        _out: &mut Vec<u8>,
    ) -> Result<bool> {
        Ok(false)
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
    fn serialize_partition_key(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<bool> {
        (**self).serialize_partition_key(topic, value, out)
    }
}

mod codec;
mod primitive;
mod wrapper;

pub use codec::{BincodeSerde, JsonSerde};
pub use primitive::{
    BoolSerde, BytesSerde, F32Serde, F64Serde, I16Serde, I32Serde, I64Serde, StringSerde, UnitSerde,
};
pub use wrapper::{OptionSerde, SessionWindowedSerde, TimeWindowedSerde};

use crate::window::Windowed;

/// Constructors for the built-in serdes, each returned as a shareable [`SerdeRef`].
///
/// The fixed-width serdes are byte-compatible with Java's `Serdes.Short`, `Integer`,
/// `Long`, `Float`, `Double` and `Boolean`, and the windowed serdes with Java's
/// `TimeWindowedSerde` and `SessionWindowedSerde`, so topics and changelogs can be
/// shared with Java applications.
///
/// Apart from [`Serdes::unit`] and [`Serdes::option`], none of them accepts Kafka's null:
/// wrap them in [`Serdes::option`] where null keys or values must be read.
#[derive(Debug)]
pub enum Serdes {}

impl Serdes {
    /// UTF-8 strings. Unlike Java's `StringDeserializer`, which substitutes malformed
    /// input, invalid UTF-8 is a deserialization error.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::string();
    /// let mut bytes = Vec::new();
    /// serde.serialize("words", &"héllo".to_owned(), &mut bytes)?;
    /// assert_eq!(bytes, "héllo".as_bytes());
    /// assert_eq!(serde.deserialize("words", Some(&bytes))?, "héllo");
    /// assert!(serde.deserialize("words", Some(&[0xff])).is_err());
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn string() -> SerdeRef<String> {
        Arc::new(StringSerde)
    }

    /// Raw bytes, passed through unchanged (Java's `Serdes.ByteArray`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::bytes();
    /// let mut bytes = Vec::new();
    /// serde.serialize("raw", &vec![1, 2, 3], &mut bytes)?;
    /// assert_eq!(bytes, [1, 2, 3]);
    /// assert_eq!(serde.deserialize("raw", Some(&[]))?, Vec::<u8>::new());
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn bytes() -> SerdeRef<Vec<u8>> {
        Arc::new(BytesSerde)
    }

    /// 16-bit integers, 2 bytes big-endian (Java's `Serdes.Short`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let mut bytes = Vec::new();
    /// Serdes::i16().serialize("t", &-2, &mut bytes)?;
    /// assert_eq!(bytes, [0xff, 0xfe]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn i16() -> SerdeRef<i16> {
        Arc::new(I16Serde)
    }

    /// 32-bit integers, 4 bytes big-endian (Java's `Serdes.Integer`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::i32();
    /// let mut bytes = Vec::new();
    /// serde.serialize("t", &-1, &mut bytes)?;
    /// assert_eq!(bytes, [0xff, 0xff, 0xff, 0xff]);
    ///
    /// // The cause carries Java's message.
    /// use std::error::Error as _;
    /// let err = serde.deserialize("t", Some(&[0, 1])).unwrap_err();
    /// let cause = err.source().map(|c| c.to_string());
    /// assert_eq!(cause.as_deref(), Some("Size of data received by IntegerDeserializer is not 4"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn i32() -> SerdeRef<i32> {
        Arc::new(I32Serde)
    }

    /// 64-bit integers, 8 bytes big-endian (Java's `Serdes.Long`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::i64();
    /// let mut bytes = Vec::new();
    /// serde.serialize("counts", &1, &mut bytes)?;
    /// assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 1]);
    /// assert_eq!(serde.deserialize("counts", Some(&bytes))?, 1);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn i64() -> SerdeRef<i64> {
        Arc::new(I64Serde)
    }

    /// 32-bit floats, the 4 big-endian bytes of their IEEE 754 bits (Java's `Serdes.Float`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let mut bytes = Vec::new();
    /// Serdes::f32().serialize("t", &1.5, &mut bytes)?;
    /// assert_eq!(bytes, [0x3f, 0xc0, 0, 0]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn f32() -> SerdeRef<f32> {
        Arc::new(F32Serde)
    }

    /// 64-bit floats, the 8 big-endian bytes of their IEEE 754 bits (Java's `Serdes.Double`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::f64();
    /// let mut bytes = Vec::new();
    /// serde.serialize("t", &1.5, &mut bytes)?;
    /// assert_eq!(bytes, [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    /// assert_eq!(serde.deserialize("t", Some(&bytes))?, 1.5);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn f64() -> SerdeRef<f64> {
        Arc::new(F64Serde)
    }

    /// Booleans as one byte, `0x01` for true and `0x00` for false (Java's `Serdes.Boolean`).
    /// Any other byte is a deserialization error.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::bool();
    /// let mut bytes = Vec::new();
    /// serde.serialize("t", &true, &mut bytes)?;
    /// assert_eq!(bytes, [1]);
    /// assert!(!serde.deserialize("t", Some(&[0]))?);
    /// assert!(serde.deserialize("t", Some(&[2])).is_err());
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn bool() -> SerdeRef<bool> {
        Arc::new(BoolSerde)
    }

    /// The unit type, always Kafka's null (Java's `Serdes.Void`): for keys or values that
    /// carry no data. Non-null data is a deserialization error.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::unit();
    /// let mut bytes = Vec::new();
    /// assert!(!serde.serialize("t", &(), &mut bytes)?); // null: nothing written
    /// assert!(serde.is_null(&()));
    /// serde.deserialize("t", None)?;
    /// assert!(serde.deserialize("t", Some(&[])).is_err());
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn unit() -> SerdeRef<()> {
        Arc::new(UnitSerde)
    }

    /// Any `serde` type as JSON text, through `serde_json`.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use streams_core::serde::Serdes;
    ///
    /// #[derive(Debug, PartialEq, Serialize, Deserialize)]
    /// struct Order {
    ///     id: u32,
    ///     item: String,
    /// }
    ///
    /// let serde = Serdes::json::<Order>();
    /// let order = Order { id: 7, item: "tea".into() };
    /// let mut bytes = Vec::new();
    /// serde.serialize("orders", &order, &mut bytes)?;
    /// assert_eq!(bytes, br#"{"id":7,"item":"tea"}"#);
    /// assert_eq!(serde.deserialize("orders", Some(&bytes))?, order);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn json<T>() -> SerdeRef<T>
    where
        T: ::serde::Serialize + ::serde::de::DeserializeOwned + 'static,
    {
        Arc::new(JsonSerde::new())
    }

    /// Any `serde` type in bincode's compact binary form, with
    /// `bincode::config::standard()` (variable-length integers, little-endian). Bytes left
    /// over after the value are a deserialization error.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::bincode::<(u32, String)>();
    /// let value = (7, "tea".to_owned());
    /// let mut bytes = Vec::new();
    /// serde.serialize("orders", &value, &mut bytes)?;
    /// assert_eq!(bytes, [7, 3, b't', b'e', b'a']);
    /// assert_eq!(serde.deserialize("orders", Some(&bytes))?, value);
    /// bytes.push(0);
    /// assert!(serde.deserialize("orders", Some(&bytes)).is_err());
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn bincode<T>() -> SerdeRef<T>
    where
        T: ::serde::Serialize + ::serde::de::DeserializeOwned + 'static,
    {
        Arc::new(BincodeSerde::new())
    }

    /// Makes any serde nullable: `None` is Kafka's null, and non-null data goes to `inner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    ///
    /// let serde = Serdes::option(Serdes::string());
    /// let mut bytes = Vec::new();
    /// assert!(!serde.serialize("t", &None, &mut bytes)?);
    /// assert!(serde.is_null(&None));
    /// assert_eq!(serde.deserialize("t", None)?, None);
    /// assert_eq!(serde.deserialize("t", Some(b"hi"))?, Some("hi".to_owned()));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn option<T: 'static>(inner: SerdeRef<T>) -> SerdeRef<Option<T>> {
        Arc::new(OptionSerde::new(inner))
    }

    /// Keys of time windows (tumbling, hopping and sliding), as Java's
    /// `TimeWindowedSerializer`: the key's bytes followed by the window start as 8 bytes
    /// big-endian. The end is not stored; deserializing sets it to start +
    /// `window_size_ms`, saturating at `i64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    /// use streams_core::window::{Window, Windowed};
    ///
    /// let serde = Serdes::time_windowed(Serdes::string(), 100);
    /// let key = Windowed::new("a".to_owned(), Window::new(300, 400));
    /// let mut bytes = Vec::new();
    /// serde.serialize("t", &key, &mut bytes)?;
    /// assert_eq!(bytes, [b'a', 0, 0, 0, 0, 0, 0, 0x01, 0x2c]);
    /// assert_eq!(serde.deserialize("t", Some(&bytes))?, key);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn time_windowed<K: 'static>(
        inner: SerdeRef<K>,
        window_size_ms: i64,
    ) -> SerdeRef<Windowed<K>> {
        Arc::new(TimeWindowedSerde::new(inner, window_size_ms))
    }

    /// Keys of session windows, as Java's `SessionWindowedSerializer`: the key's bytes,
    /// then the window end and then its start, each as 8 bytes big-endian.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::serde::Serdes;
    /// use streams_core::window::{Window, Windowed};
    ///
    /// let serde = Serdes::session_windowed(Serdes::string());
    /// let key = Windowed::new("a".to_owned(), Window::new(1, 2));
    /// let mut bytes = Vec::new();
    /// serde.serialize("t", &key, &mut bytes)?;
    /// assert_eq!(bytes, [b'a', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
    /// assert_eq!(serde.deserialize("t", Some(&bytes))?, key);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn session_windowed<K: 'static>(inner: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        Arc::new(SessionWindowedSerde::new(inner))
    }
}

/// The error for null data given to a serde whose type cannot be null.
fn null_data(what: &str, topic: &str) -> crate::Error {
    crate::Error::deserialization(
        what,
        topic,
        format!(
            "received null data, but {what} cannot be null; \
             wrap the serde in Serdes::option(...) to read Kafka's null as None"
        ),
    )
}
