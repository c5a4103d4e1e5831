//! Serdes for any `serde` type: JSON and bincode.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Serde, null_data};
use crate::error::{Error, Result};

/// What a codec serde names in its errors: the format and the Rust type.
fn describe<T>(format: &str) -> String {
    format!("{format} value of type {}", type_name::<T>())
}

/// Drops whatever a failed encoder left behind, so a failed `serialize` does not leave
/// half a value in the caller's buffer.
fn rollback<E>(out: &mut Vec<u8>, start: usize, result: Result<(), E>) -> Result<(), E> {
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Any `serde` type as JSON; see [`Serdes::json`](super::Serdes::json).
pub struct JsonSerde<T> {
    // `fn() -> T` keeps the serde `Send + Sync` whatever `T` is: it holds no `T`.
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    /// A JSON serde for `T`.
    pub const fn new() -> Self {
        JsonSerde { _type: PhantomData }
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonSerde<T> {}

impl<T> fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonSerde<{}>", type_name::<T>())
    }
}

impl<T> Serde<T> for JsonSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<bool> {
        let start = out.len();
        let result = serde_json::to_writer(&mut *out, value);
        rollback(out, start, result)
            .map_err(|e| Error::serialization(describe::<T>("JSON"), topic, e))?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T> {
        let data = data.ok_or_else(|| null_data(&describe::<T>("JSON"), topic))?;
        serde_json::from_slice(data)
            .map_err(|e| Error::deserialization(describe::<T>("JSON"), topic, e))
    }
}

/// Any `serde` type in bincode's standard configuration; see
/// [`Serdes::bincode`](super::Serdes::bincode).
pub struct BincodeSerde<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> BincodeSerde<T> {
    /// A bincode serde for `T`.
    pub const fn new() -> Self {
        BincodeSerde { _type: PhantomData }
    }
}

impl<T> Default for BincodeSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for BincodeSerde<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for BincodeSerde<T> {}

impl<T> fmt::Debug for BincodeSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BincodeSerde<{}>", type_name::<T>())
    }
}

impl<T> Serde<T> for BincodeSerde<T>
where
    T: Serialize + DeserializeOwned + 'static,
{
    fn serialize(&self, topic: &str, value: &T, out: &mut Vec<u8>) -> Result<bool> {
        let start = out.len();
        let result =
            bincode::serde::encode_into_std_write(value, &mut *out, bincode::config::standard())
                .map(drop);
        rollback(out, start, result)
            .map_err(|e| Error::serialization(describe::<T>("bincode"), topic, e))?;
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T> {
        let data = data.ok_or_else(|| null_data(&describe::<T>("bincode"), topic))?;
        let (value, read) = bincode::serde::decode_from_slice(data, bincode::config::standard())
            .map_err(|e| Error::deserialization(describe::<T>("bincode"), topic, e))?;
        // Trailing bytes mean the data was written for another type; reading a prefix
        // would silently return a wrong value.
        if read != data.len() {
            return Err(Error::deserialization(
                describe::<T>("bincode"),
                topic,
                format!(
                    "{} trailing bytes after the value ({} bytes in all)",
                    data.len() - read,
                    data.len()
                ),
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::error::Error as _;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::serde::{SerdeRef, Serdes};

    const TOPIC: &str = "orders";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Order {
        id: u64,
        item: String,
        quantity: i32,
        tags: Vec<String>,
        note: Option<String>,
    }

    fn order() -> Order {
        Order {
            id: 42,
            item: "tea".to_owned(),
            quantity: -3,
            tags: vec!["green".to_owned(), "loose".to_owned()],
            note: None,
        }
    }

    fn to_bytes<T: 'static>(serde: &SerdeRef<T>, value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(serde.serialize(TOPIC, value, &mut out).unwrap());
        out
    }

    #[test]
    fn json_round_trip() {
        let serde = Serdes::json::<Order>();
        let bytes = to_bytes(&serde, &order());
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"id":42,"item":"tea","quantity":-3,"tags":["green","loose"],"note":null}"#
        );
        assert_eq!(serde.deserialize(TOPIC, Some(&bytes)).unwrap(), order());
        assert!(!serde.is_null(&order()));
    }

    #[test]
    fn json_of_plain_values() {
        let serde = Serdes::json::<Vec<i64>>();
        assert_eq!(to_bytes(&serde, &vec![1, -2]), b"[1,-2]");
        let serde = Serdes::json::<String>();
        assert_eq!(to_bytes(&serde, &"a\"b".to_owned()), br#""a\"b""#);
    }

    #[test]
    fn json_rejects_malformed_data_and_null() {
        let serde = Serdes::json::<Order>();
        let err = serde.deserialize(TOPIC, Some(b"{\"id\":")).unwrap_err();
        assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
        assert!(err.to_string().contains("JSON value of type"), "{err}");
        assert!(serde.deserialize(TOPIC, Some(b"")).is_err());
        assert!(serde.deserialize(TOPIC, Some(b"{} x")).is_err());

        let err = serde.deserialize(TOPIC, None).unwrap_err();
        let cause = err.source().unwrap().to_string();
        assert!(
            cause.contains("null") && cause.contains("Serdes::option"),
            "{cause}"
        );
    }

    #[test]
    fn json_serialization_failure_leaves_the_buffer_as_it_was() {
        // JSON object keys must be strings.
        let serde = Serdes::json::<BTreeMap<(i32, i32), i32>>();
        let mut out = b"kept".to_vec();
        let err = serde
            .serialize(TOPIC, &BTreeMap::from([((1, 2), 3)]), &mut out)
            .unwrap_err();
        assert!(matches!(err, Error::Serialization { .. }), "{err:?}");
        assert_eq!(out, b"kept");
    }

    #[test]
    fn bincode_round_trip() {
        let serde = Serdes::bincode::<Order>();
        let bytes = to_bytes(&serde, &order());
        // Standard config: varint integers, zigzag for signed ones, length-prefixed strings.
        let mut expected = vec![42, 3];
        expected.extend_from_slice(b"tea");
        expected.push(5); // zigzag(-3)
        expected.extend_from_slice(&[2, 5]);
        expected.extend_from_slice(b"green");
        expected.push(5);
        expected.extend_from_slice(b"loose");
        expected.push(0); // None
        assert_eq!(bytes, expected);
        assert_eq!(serde.deserialize(TOPIC, Some(&bytes)).unwrap(), order());
    }

    #[test]
    fn bincode_rejects_trailing_and_truncated_bytes() {
        let serde = Serdes::bincode::<Order>();
        let mut bytes = to_bytes(&serde, &order());
        bytes.push(0);
        let err = serde.deserialize(TOPIC, Some(&bytes)).unwrap_err();
        assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
        assert!(
            err.source()
                .unwrap()
                .to_string()
                .contains("1 trailing bytes"),
            "{err:?}"
        );
        bytes.truncate(bytes.len() - 3);
        assert!(serde.deserialize(TOPIC, Some(&bytes)).is_err());
        assert!(serde.deserialize(TOPIC, Some(&[])).is_err());
        assert!(serde.deserialize(TOPIC, None).is_err());
    }

    #[test]
    fn bincode_appends_to_the_buffer() {
        let serde = Serdes::bincode::<u16>();
        let mut out = vec![9];
        serde.serialize(TOPIC, &300, &mut out).unwrap();
        // 300 does not fit a single varint byte: marker 251 then u16 little-endian.
        assert_eq!(out, [9, 251, 0x2c, 0x01]);
    }

    #[test]
    fn codec_serdes_are_send_sync_whatever_the_type() {
        fn check<T: Send + Sync + 'static>() {}
        // Rc is neither Send nor Sync; the serde holds none.
        check::<JsonSerde<std::rc::Rc<u8>>>();
        check::<BincodeSerde<std::rc::Rc<u8>>>();
        assert_eq!(format!("{:?}", JsonSerde::<u8>::new()), "JsonSerde<u8>");
    }
}
