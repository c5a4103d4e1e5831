//! Serdes for strings, bytes, fixed-width numbers, booleans and the unit type.
//!
//! The fixed-width formats and their error messages are those of Java's
//! `org.apache.kafka.common.serialization` classes, so that data and diagnostics match
//! what Java applications on the same topics produce.

use super::{Serde, null_data};
use crate::error::{Error, Result};

/// UTF-8 strings; see [`Serdes::string`](super::Serdes::string).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, _topic: &str, value: &String, out: &mut Vec<u8>) -> Result<bool> {
        out.extend_from_slice(value.as_bytes());
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<String> {
        let data = data.ok_or_else(|| null_data("String", topic))?;
        // Validating before copying keeps the output string the only allocation.
        std::str::from_utf8(data)
            .map(str::to_owned)
            .map_err(|e| Error::deserialization("String", topic, e))
    }
}

/// Raw bytes; see [`Serdes::bytes`](super::Serdes::bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, _topic: &str, value: &Vec<u8>, out: &mut Vec<u8>) -> Result<bool> {
        out.extend_from_slice(value);
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Vec<u8>> {
        data.map(<[u8]>::to_vec)
            .ok_or_else(|| null_data("Vec<u8>", topic))
    }
}

/// Copies exactly `N` bytes out of non-null data, or fails with Java's message for the
/// deserializer named `java_name`.
fn fixed<const N: usize>(
    what: &'static str,
    java_name: &'static str,
    topic: &str,
    data: Option<&[u8]>,
) -> Result<[u8; N]> {
    let data = data.ok_or_else(|| null_data(what, topic))?;
    <[u8; N]>::try_from(data).map_err(|_| {
        Error::deserialization(
            what,
            topic,
            format!("Size of data received by {java_name} is not {N}"),
        )
    })
}

macro_rules! fixed_width_serde {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $java_name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl Serde<$ty> for $name {
            fn serialize(&self, _topic: &str, value: &$ty, out: &mut Vec<u8>) -> Result<bool> {
                out.extend_from_slice(&value.to_be_bytes());
                Ok(true)
            }

            fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<$ty> {
                fixed(stringify!($ty), $java_name, topic, data).map(<$ty>::from_be_bytes)
            }
        }
    };
}

fixed_width_serde!(
    /// `i16` as 2 bytes big-endian; see [`Serdes::i16`](super::Serdes::i16).
    I16Serde,
    i16,
    "ShortDeserializer"
);
fixed_width_serde!(
    /// `i32` as 4 bytes big-endian; see [`Serdes::i32`](super::Serdes::i32).
    I32Serde,
    i32,
    "IntegerDeserializer"
);
fixed_width_serde!(
    /// `i64` as 8 bytes big-endian; see [`Serdes::i64`](super::Serdes::i64).
    I64Serde,
    i64,
    "LongDeserializer"
);
// Java's Float and Double deserializers name themselves just "Deserializer" in this message.
fixed_width_serde!(
    /// `f32` as the 4 big-endian bytes of its bits; see [`Serdes::f32`](super::Serdes::f32).
    ///
    /// The bits are kept as they are, NaN payloads included, as Java's
    /// `floatToRawIntBits` does.
    F32Serde,
    f32,
    "Deserializer"
);
fixed_width_serde!(
    /// `f64` as the 8 big-endian bytes of its bits; see [`Serdes::f64`](super::Serdes::f64).
    ///
    /// The bits are kept as they are, NaN payloads included, as Java's
    /// `doubleToRawLongBits` does.
    F64Serde,
    f64,
    "Deserializer"
);

/// `bool` as one byte, 1 or 0; see [`Serdes::bool`](super::Serdes::bool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoolSerde;

impl Serde<bool> for BoolSerde {
    fn serialize(&self, _topic: &str, value: &bool, out: &mut Vec<u8>) -> Result<bool> {
        out.push(u8::from(*value));
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<bool> {
        match fixed::<1>("bool", "BooleanDeserializer", topic, data)? {
            [0] => Ok(false),
            [1] => Ok(true),
            // Java prints the byte signed.
            [b] => Err(Error::deserialization(
                "bool",
                topic,
                format!(
                    "Unexpected byte received by BooleanDeserializer: {}",
                    b as i8
                ),
            )),
        }
    }
}

/// `()` as Kafka's null; see [`Serdes::unit`](super::Serdes::unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitSerde;

impl Serde<()> for UnitSerde {
    fn serialize(&self, _topic: &str, _value: &(), _out: &mut Vec<u8>) -> Result<bool> {
        Ok(false)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<()> {
        match data {
            None => Ok(()),
            Some(_) => Err(Error::deserialization(
                "()",
                topic,
                "Data should be null for a VoidDeserializer.",
            )),
        }
    }

    fn is_null(&self, _value: &()) -> bool {
        true
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::error::Error as _;
    use std::fmt::Debug;

    use super::*;
    use crate::serde::{SerdeRef, Serdes};

    const TOPIC: &str = "topic";

    fn to_bytes<T: 'static>(serde: &SerdeRef<T>, value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(serde.serialize(TOPIC, value, &mut out).unwrap());
        out
    }

    fn round_trip<T: PartialEq + Debug + 'static>(serde: &SerdeRef<T>, value: T, bytes: &[u8]) {
        assert_eq!(to_bytes(serde, &value), bytes, "serializing {value:?}");
        assert_eq!(serde.deserialize(TOPIC, Some(bytes)).unwrap(), value);
        assert!(!serde.is_null(&value));
    }

    /// The message of the error's cause, where serdes put the specific problem.
    fn cause<T: Debug>(result: Result<T>) -> String {
        let err = result.unwrap_err();
        assert!(
            matches!(err, Error::Deserialization { ref topic, .. } if topic == TOPIC),
            "{err:?}"
        );
        err.source().unwrap().to_string()
    }

    fn assert_rejects_null<T: Debug + 'static>(serde: &SerdeRef<T>) {
        let message = cause(serde.deserialize(TOPIC, None));
        assert!(message.contains("null"), "{message}");
        assert!(message.contains("Serdes::option"), "{message}");
    }

    #[test]
    fn string_is_utf8() {
        let serde = Serdes::string();
        round_trip(&serde, "hello".to_owned(), b"hello");
        round_trip(&serde, String::new(), b"");
        round_trip(&serde, "ß€😀".to_owned(), "ß€😀".as_bytes());
        round_trip(
            &serde,
            "é".to_owned(),
            &[0xc3, 0xa9], // Java: "é".getBytes(UTF_8)
        );
    }

    #[test]
    fn string_rejects_invalid_utf8_and_null() {
        let serde = Serdes::string();
        let message = cause(serde.deserialize(TOPIC, Some(&[b'a', 0xff])));
        assert!(message.contains("utf-8"), "{message}");
        assert_rejects_null(&serde);
    }

    #[test]
    fn serialize_appends_to_the_buffer() {
        let mut out = b"prefix".to_vec();
        Serdes::string()
            .serialize(TOPIC, &"x".to_owned(), &mut out)
            .unwrap();
        Serdes::i16().serialize(TOPIC, &1, &mut out).unwrap();
        assert_eq!(out, b"prefixx\x00\x01");
    }

    #[test]
    fn bytes_pass_through() {
        let serde = Serdes::bytes();
        round_trip(&serde, vec![0, 1, 0xff], &[0, 1, 0xff]);
        round_trip(&serde, vec![], &[]);
        assert_rejects_null(&serde);
    }

    #[test]
    fn short_matches_java() {
        let serde = Serdes::i16();
        round_trip(&serde, 1, &[0x00, 0x01]);
        round_trip(&serde, -1, &[0xff, 0xff]);
        round_trip(&serde, 0x1234, &[0x12, 0x34]);
        round_trip(&serde, i16::MIN, &[0x80, 0x00]);
        round_trip(&serde, i16::MAX, &[0x7f, 0xff]);
        for len in [0, 1, 3] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![0; len]))),
                "Size of data received by ShortDeserializer is not 2"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn integer_matches_java() {
        let serde = Serdes::i32();
        round_trip(&serde, 1, &[0, 0, 0, 1]);
        round_trip(&serde, -1, &[0xff, 0xff, 0xff, 0xff]);
        round_trip(&serde, 0x1234_5678, &[0x12, 0x34, 0x56, 0x78]);
        round_trip(&serde, i32::MIN, &[0x80, 0, 0, 0]);
        round_trip(&serde, i32::MAX, &[0x7f, 0xff, 0xff, 0xff]);
        for len in [0, 3, 5, 8] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![0; len]))),
                "Size of data received by IntegerDeserializer is not 4"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn long_matches_java() {
        let serde = Serdes::i64();
        round_trip(&serde, 1, &[0, 0, 0, 0, 0, 0, 0, 1]);
        round_trip(&serde, -1, &[0xff; 8]);
        round_trip(&serde, 0, &[0; 8]);
        round_trip(
            &serde,
            1_700_000_000_000, // a timestamp, as Java's ByteBuffer.putLong writes it
            &[0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00],
        );
        round_trip(&serde, i64::MIN, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
        for len in [0, 4, 7, 9] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![0; len]))),
                "Size of data received by LongDeserializer is not 8"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn float_matches_java() {
        let serde = Serdes::f32();
        round_trip(&serde, 1.5, &[0x3f, 0xc0, 0x00, 0x00]);
        round_trip(&serde, -2.0, &[0xc0, 0x00, 0x00, 0x00]);
        round_trip(&serde, 0.1, &[0x3d, 0xcc, 0xcc, 0xcd]);
        round_trip(&serde, f32::INFINITY, &[0x7f, 0x80, 0x00, 0x00]);
        // -0.0 == 0.0, so compare bits rather than values.
        assert_eq!(to_bytes(&serde, &-0.0), [0x80, 0, 0, 0]);
        let nan = serde
            .deserialize(TOPIC, Some(&[0x7f, 0x80, 0x00, 0x01]))
            .unwrap();
        assert_eq!(nan.to_bits(), 0x7f80_0001, "NaN payload kept");
        assert_eq!(to_bytes(&serde, &nan), [0x7f, 0x80, 0x00, 0x01]);
        for len in [0, 3, 5] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![0; len]))),
                "Size of data received by Deserializer is not 4"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn double_matches_java() {
        let serde = Serdes::f64();
        round_trip(&serde, 1.5, &[0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        round_trip(&serde, -1.0, &[0xbf, 0xf0, 0, 0, 0, 0, 0, 0]);
        round_trip(
            &serde,
            0.1,
            &[0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
        );
        round_trip(&serde, f64::NEG_INFINITY, &[0xff, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to_bytes(&serde, &-0.0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        let nan = serde
            .deserialize(TOPIC, Some(&[0x7f, 0xf0, 0, 0, 0, 0, 0, 0x02]))
            .unwrap();
        assert_eq!(nan.to_bits(), 0x7ff0_0000_0000_0002, "NaN payload kept");
        for len in [0, 4, 9] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![0; len]))),
                "Size of data received by Deserializer is not 8"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn boolean_matches_java() {
        let serde = Serdes::bool();
        round_trip(&serde, true, &[0x01]);
        round_trip(&serde, false, &[0x00]);
        assert_eq!(
            cause(serde.deserialize(TOPIC, Some(&[0xff]))),
            "Unexpected byte received by BooleanDeserializer: -1"
        );
        assert_eq!(
            cause(serde.deserialize(TOPIC, Some(&[2]))),
            "Unexpected byte received by BooleanDeserializer: 2"
        );
        for len in [0, 2] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(&vec![1; len]))),
                "Size of data received by BooleanDeserializer is not 1"
            );
        }
        assert_rejects_null(&serde);
    }

    #[test]
    fn unit_is_always_null() {
        let serde = Serdes::unit();
        let mut out = Vec::new();
        assert!(!serde.serialize(TOPIC, &(), &mut out).unwrap());
        assert!(out.is_empty());
        assert!(serde.is_null(&()));
        serde.deserialize(TOPIC, None).unwrap();
        for data in [&[][..], &[0][..]] {
            assert_eq!(
                cause(serde.deserialize(TOPIC, Some(data))),
                "Data should be null for a VoidDeserializer."
            );
        }
    }

    #[test]
    fn deserialization_errors_name_the_type_and_topic() {
        let err = Serdes::i64().deserialize("counts", Some(&[1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to deserialize i64 from topic 'counts'"
        );
    }

    #[test]
    fn serdes_are_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<StringSerde>();
        check::<BytesSerde>();
        check::<I16Serde>();
        check::<I32Serde>();
        check::<I64Serde>();
        check::<F32Serde>();
        check::<F64Serde>();
        check::<BoolSerde>();
        check::<UnitSerde>();
    }
}
