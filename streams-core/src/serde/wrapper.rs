//! Serdes built on another serde: nullable values and windowed keys.

use super::{Serde, SerdeRef, null_data};
use crate::error::{Error, Result};
use crate::window::{Window, Windowed};

/// The width of a timestamp in a windowed key.
const TIMESTAMP_SIZE: usize = 8;

/// A nullable serde: `None` is Kafka's null; see [`Serdes::option`](super::Serdes::option).
pub struct OptionSerde<T> {
    inner: SerdeRef<T>,
}

impl<T> OptionSerde<T> {
    /// Wraps `inner`, which handles the non-null data.
    pub fn new(inner: SerdeRef<T>) -> Self {
        OptionSerde { inner }
    }
}

impl<T> Clone for OptionSerde<T> {
    fn clone(&self) -> Self {
        OptionSerde {
            inner: self.inner.clone(),
        }
    }
}

impl<T> std::fmt::Debug for OptionSerde<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OptionSerde")
    }
}

impl<T: 'static> Serde<Option<T>> for OptionSerde<T> {
    fn serialize(&self, topic: &str, value: &Option<T>, out: &mut Vec<u8>) -> Result<bool> {
        match value {
            None => Ok(false),
            Some(value) => self.inner.serialize(topic, value, out),
        }
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Option<T>> {
        match data {
            None => Ok(None),
            Some(data) => self.inner.deserialize(topic, Some(data)).map(Some),
        }
    }

    fn is_null(&self, value: &Option<T>) -> bool {
        // `Some` of a value the inner serde writes as null (such as `Some(())`) is null too.
        value.as_ref().is_none_or(|value| self.inner.is_null(value))
    }

    fn serialize_partition_key(
        &self,
        topic: &str,
        value: &Option<T>,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        match value {
            None => Ok(false),
            Some(value) => self.inner.serialize_partition_key(topic, value, out),
        }
    }
}

/// Serializes the base key of a windowed key, which must not be null: a window of a null
/// key has no meaning, and Java would fail on it too.
fn serialize_base_key<K: 'static>(
    inner: &dyn Serde<K>,
    topic: &str,
    key: &K,
    out: &mut Vec<u8>,
) -> Result<()> {
    if inner.serialize(topic, key, out)? {
        Ok(())
    } else {
        Err(Error::serialization(
            "windowed key",
            topic,
            "the base key of a windowed key serialized to null",
        ))
    }
}

/// Splits non-null windowed key data into the base key's bytes and `N` trailing
/// timestamp bytes.
fn split_windowed<'a, const N: usize>(
    topic: &str,
    data: Option<&'a [u8]>,
) -> Result<(&'a [u8], &'a [u8; N])> {
    let data = data.ok_or_else(|| null_data("windowed key", topic))?;
    data.split_last_chunk::<N>().ok_or_else(|| {
        Error::deserialization(
            "windowed key",
            topic,
            format!(
                "windowed key data of {} bytes is shorter than its {N} bytes of window timestamps",
                data.len()
            ),
        )
    })
}

fn read_timestamp(bytes: &[u8]) -> i64 {
    let mut buf = [0; TIMESTAMP_SIZE];
    buf.copy_from_slice(&bytes[..TIMESTAMP_SIZE]);
    i64::from_be_bytes(buf)
}

/// Keys of time windows in Java's `TimeWindowedSerializer` layout; see
/// [`Serdes::time_windowed`](super::Serdes::time_windowed).
pub struct TimeWindowedSerde<K> {
    inner: SerdeRef<K>,
    window_size_ms: i64,
}

impl<K> TimeWindowedSerde<K> {
    /// Wraps `inner`, the base key's serde, for windows `window_size_ms` long. The size
    /// gives deserialized windows their end, which the bytes do not hold.
    pub fn new(inner: SerdeRef<K>, window_size_ms: i64) -> Self {
        TimeWindowedSerde {
            inner,
            window_size_ms,
        }
    }

    /// The window size the deserializer assumes.
    pub fn window_size_ms(&self) -> i64 {
        self.window_size_ms
    }
}

impl<K> Clone for TimeWindowedSerde<K> {
    fn clone(&self) -> Self {
        TimeWindowedSerde {
            inner: self.inner.clone(),
            window_size_ms: self.window_size_ms,
        }
    }
}

impl<K> std::fmt::Debug for TimeWindowedSerde<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeWindowedSerde")
            .field("window_size_ms", &self.window_size_ms)
            .finish_non_exhaustive()
    }
}

impl<K: 'static> Serde<Windowed<K>> for TimeWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>, out: &mut Vec<u8>) -> Result<bool> {
        serialize_base_key(&*self.inner, topic, &value.key, out)?;
        out.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(true)
    }

    /// The base key only: windowed keys are partitioned on their base key.
    fn serialize_partition_key(
        &self,
        topic: &str,
        value: &Windowed<K>,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        serialize_base_key(&*self.inner, topic, &value.key, out)?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Windowed<K>> {
        let (key, start) = split_windowed::<TIMESTAMP_SIZE>(topic, data)?;
        let start = i64::from_be_bytes(*start);
        // Java caps an overflowing end at Long.MAX_VALUE rather than wrapping.
        let end = start.saturating_add(self.window_size_ms);
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(key, Window::new(start, end)))
    }
}

/// Keys of session windows in Java's `SessionWindowedSerializer` layout; see
/// [`Serdes::session_windowed`](super::Serdes::session_windowed).
pub struct SessionWindowedSerde<K> {
    inner: SerdeRef<K>,
}

impl<K> SessionWindowedSerde<K> {
    /// Wraps `inner`, the base key's serde.
    pub fn new(inner: SerdeRef<K>) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K> Clone for SessionWindowedSerde<K> {
    fn clone(&self) -> Self {
        SessionWindowedSerde {
            inner: self.inner.clone(),
        }
    }
}

impl<K> std::fmt::Debug for SessionWindowedSerde<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionWindowedSerde")
    }
}

impl<K: 'static> Serde<Windowed<K>> for SessionWindowedSerde<K> {
    fn serialize(&self, topic: &str, value: &Windowed<K>, out: &mut Vec<u8>) -> Result<bool> {
        serialize_base_key(&*self.inner, topic, &value.key, out)?;
        // End before start, as Java's SessionKeySchema lays it out.
        out.extend_from_slice(&value.window.end.to_be_bytes());
        out.extend_from_slice(&value.window.start.to_be_bytes());
        Ok(true)
    }

    /// The base key only: windowed keys are partitioned on their base key.
    fn serialize_partition_key(
        &self,
        topic: &str,
        value: &Windowed<K>,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        serialize_base_key(&*self.inner, topic, &value.key, out)?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Windowed<K>> {
        let (key, times) = split_windowed::<{ 2 * TIMESTAMP_SIZE }>(topic, data)?;
        let end = read_timestamp(&times[..TIMESTAMP_SIZE]);
        let start = read_timestamp(&times[TIMESTAMP_SIZE..]);
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(key, Window::new(start, end)))
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::serde::Serdes;

    const TOPIC: &str = "windowed";

    fn to_bytes<T: 'static>(serde: &SerdeRef<T>, value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(serde.serialize(TOPIC, value, &mut out).unwrap());
        out
    }

    fn cause<T: std::fmt::Debug>(result: Result<T>) -> String {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Deserialization { .. } | Error::Serialization { .. }
            ),
            "{err:?}"
        );
        err.source().unwrap().to_string()
    }

    #[test]
    fn option_maps_none_to_null() {
        let serde = Serdes::option(Serdes::i32());
        let mut out = Vec::new();
        assert!(!serde.serialize(TOPIC, &None, &mut out).unwrap());
        assert!(out.is_empty());
        assert!(serde.is_null(&None));
        assert!(!serde.is_null(&Some(0)));
        assert_eq!(serde.deserialize(TOPIC, None).unwrap(), None);
        assert_eq!(to_bytes(&serde, &Some(-1)), [0xff; 4]);
        assert_eq!(
            serde.deserialize(TOPIC, Some(&[0, 0, 0, 7])).unwrap(),
            Some(7)
        );
    }

    #[test]
    fn option_delegates_errors_and_empty_data() {
        let serde = Serdes::option(Serdes::i32());
        assert_eq!(
            cause(serde.deserialize(TOPIC, Some(&[1]))),
            "Size of data received by IntegerDeserializer is not 4"
        );
        // Empty data is not null: a nullable string keeps "" and null apart.
        let serde = Serdes::option(Serdes::string());
        assert_eq!(
            serde.deserialize(TOPIC, Some(&[])).unwrap(),
            Some(String::new())
        );
        assert_eq!(serde.deserialize(TOPIC, None).unwrap(), None);
    }

    #[test]
    fn option_of_a_null_value_is_null() {
        let serde = Serdes::option(Serdes::unit());
        assert!(serde.is_null(&Some(())));
        assert!(!serde.serialize(TOPIC, &Some(()), &mut Vec::new()).unwrap());
        let nested = Serdes::option(Serdes::option(Serdes::i64()));
        assert!(nested.is_null(&Some(None)));
        assert!(!nested.is_null(&Some(Some(1))));
    }

    #[test]
    fn time_windowed_matches_java_layout() {
        let serde = Serdes::time_windowed(Serdes::string(), 5000);
        let key = Windowed::new(
            "key".to_owned(),
            Window::new(1_700_000_000_000, 1_700_000_005_000),
        );
        let bytes = to_bytes(&serde, &key);
        // Java: ByteBuffer.allocate(3 + 8).put("key".getBytes()).putLong(1700000000000L)
        assert_eq!(
            bytes,
            [
                b'k', b'e', b'y', 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00
            ]
        );
        assert_eq!(serde.deserialize(TOPIC, Some(&bytes)).unwrap(), key);
        assert!(!serde.is_null(&key));
    }

    #[test]
    fn time_windowed_end_comes_from_the_window_size() {
        let serde = Serdes::time_windowed(Serdes::i32(), 10);
        // The stored end is not in the bytes, so a window of another size reads back with
        // the configured one.
        let bytes = to_bytes(&serde, &Windowed::new(1, Window::new(100, 500)));
        assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 100]);
        let read = serde.deserialize(TOPIC, Some(&bytes)).unwrap();
        assert_eq!(read, Windowed::new(1, Window::new(100, 110)));
    }

    #[test]
    fn time_windowed_end_saturates() {
        let serde = Serdes::time_windowed(Serdes::bytes(), i64::MAX);
        let mut bytes = vec![7];
        bytes.extend_from_slice(&1000i64.to_be_bytes());
        let read = serde.deserialize(TOPIC, Some(&bytes)).unwrap();
        assert_eq!(read.window(), Window::new(1000, i64::MAX));
        assert_eq!(read.key(), &[7]);
    }

    #[test]
    fn time_windowed_with_an_empty_key() {
        let serde = Serdes::time_windowed(Serdes::string(), 1);
        let bytes = 5i64.to_be_bytes();
        let read = serde.deserialize(TOPIC, Some(&bytes)).unwrap();
        assert_eq!(read, Windowed::new(String::new(), Window::new(5, 6)));
    }

    #[test]
    fn time_windowed_rejects_short_and_null_data() {
        let serde = Serdes::time_windowed(Serdes::string(), 1);
        let message = cause(serde.deserialize(TOPIC, Some(&[0; 7])));
        assert!(message.contains("7 bytes"), "{message}");
        let message = cause(serde.deserialize(TOPIC, None));
        assert!(
            message.contains("null") && message.contains("Serdes::option"),
            "{message}"
        );
        // The inner serde's errors come through.
        let mut bytes = vec![0xff];
        bytes.extend_from_slice(&0i64.to_be_bytes());
        assert!(serde.deserialize(TOPIC, Some(&bytes)).is_err());
    }

    #[test]
    fn windowed_base_key_must_not_be_null() {
        let serde = Serdes::time_windowed(Serdes::unit(), 1);
        let message = cause(serde.serialize(
            TOPIC,
            &Windowed::new((), Window::new(0, 1)),
            &mut Vec::new(),
        ));
        assert!(message.contains("null"), "{message}");
        let serde = Serdes::session_windowed(Serdes::option(Serdes::i32()));
        let key = Windowed::new(None, Window::new(0, 1));
        assert!(serde.serialize(TOPIC, &key, &mut Vec::new()).is_err());
    }

    #[test]
    fn session_windowed_matches_java_layout() {
        let serde = Serdes::session_windowed(Serdes::string());
        let key = Windowed::new("ab".to_owned(), Window::new(0x0102, 0x0a0b));
        let bytes = to_bytes(&serde, &key);
        // Java: SessionKeySchema.toBinary: key, then end, then start.
        assert_eq!(
            bytes,
            [
                b'a', b'b', //
                0, 0, 0, 0, 0, 0, 0x0a, 0x0b, //
                0, 0, 0, 0, 0, 0, 0x01, 0x02,
            ]
        );
        assert_eq!(serde.deserialize(TOPIC, Some(&bytes)).unwrap(), key);
    }

    #[test]
    fn session_windowed_round_trips_extremes() {
        let serde = Serdes::session_windowed(Serdes::i64());
        for window in [
            Window::new(0, 0),
            Window::new(5, 5),
            Window::new(0, i64::MAX),
            Window::new(i64::MIN, -1),
        ] {
            let key = Windowed::new(-9, window);
            let bytes = to_bytes(&serde, &key);
            assert_eq!(bytes.len(), 24);
            assert_eq!(serde.deserialize(TOPIC, Some(&bytes)).unwrap(), key);
        }
    }

    #[test]
    fn session_windowed_rejects_short_and_null_data() {
        let serde = Serdes::session_windowed(Serdes::bytes());
        let message = cause(serde.deserialize(TOPIC, Some(&[0; 15])));
        assert!(message.contains("15 bytes"), "{message}");
        assert!(serde.deserialize(TOPIC, None).is_err());
        let read = serde.deserialize(TOPIC, Some(&[0; 16])).unwrap();
        assert_eq!(read, Windowed::new(vec![], Window::new(0, 0)));
    }

    #[test]
    fn windowed_keys_partition_on_their_base_key() {
        let key = Windowed::new("user".to_owned(), Window::new(10, 20));
        for serde in [
            Serdes::time_windowed(Serdes::string(), 10),
            Serdes::session_windowed(Serdes::string()),
        ] {
            let mut out = Vec::new();
            assert!(
                serde
                    .serialize_partition_key(TOPIC, &key, &mut out)
                    .unwrap()
            );
            assert_eq!(out, b"user");
        }
        let nullable = Serdes::option(Serdes::time_windowed(Serdes::string(), 10));
        let mut out = Vec::new();
        assert!(
            nullable
                .serialize_partition_key(TOPIC, &Some(key), &mut out)
                .unwrap()
        );
        assert_eq!(out, b"user");
        // Plain serdes hash their serialized form.
        assert!(
            !Serdes::string()
                .serialize_partition_key(TOPIC, &"k".to_owned(), &mut out)
                .unwrap()
        );
    }

    #[test]
    fn wrappers_are_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<OptionSerde<String>>();
        check::<TimeWindowedSerde<String>>();
        check::<SessionWindowedSerde<Vec<u8>>>();
        check::<SerdeRef<Windowed<String>>>();
    }
}
