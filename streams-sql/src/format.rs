//! The serialization formats of `KEY_FORMAT` and `VALUE_FORMAT`: `JSON`, `KAFKA` (one
//! primitive column, Kafka's own serializers) and `DELIMITED` (comma-separated), as serdes of
//! [`Row`]s.

use std::sync::Arc;

use serde_json::Value as Json;
use streams_core::serde::{Serde, SerdeRef};

use crate::json::find_field;
pub use crate::json::{from_json, to_json, write_json};
use crate::types::SqlType;
pub use crate::value::java_double;
use crate::value::{Row, Value};

/// A serialization format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per value (field names matched case-insensitively on read), or one
    /// JSON value per key.
    Json,
    /// Kafka's serializers of one primitive column: strings as UTF-8, `INT` as 4 and
    /// `BIGINT` as 8 big-endian bytes, `DOUBLE` as the 8 bytes of its bits.
    Kafka,
    /// Comma-separated values in column order.
    Delimited,
    /// Confluent's Avro wire format through the schema registry: a record of the columns, or
    /// a one-column key's value alone.
    Avro,
}

impl Format {
    /// The format named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_uppercase().as_str() {
            "JSON" => Some(Format::Json),
            "KAFKA" => Some(Format::Kafka),
            "DELIMITED" => Some(Format::Delimited),
            "AVRO" => Some(Format::Avro),
            _ => None,
        }
    }

    /// The name as written in `WITH (...)`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Kafka => "KAFKA",
            Format::Delimited => "DELIMITED",
            Format::Avro => "AVRO",
        }
    }
}

/// Why `format` cannot hold `columns` (`what` names the setting), when it cannot: Kafka's
/// serializers have no `DECIMAL`, so ksqlDB's KAFKA format refuses it.
pub(crate) fn unsupported_type(
    format: Format,
    columns: &[(String, SqlType)],
    what: &str,
) -> Option<String> {
    let (name, t) = columns
        .iter()
        .find(|(_, t)| format == Format::Kafka && matches!(t, SqlType::Decimal(..)))?;
    Some(format!(
        "{what} 'KAFKA' does not support type {t} (column {name}): use JSON or AVRO"
    ))
}

/// Kafka's serializer bytes of one primitive value.
fn kafka_bytes(v: &Value, out: &mut Vec<u8>) -> Result<bool, String> {
    match v {
        Value::Null => return Ok(false),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int(i) => out.extend_from_slice(&i.to_be_bytes()),
        Value::BigInt(i) | Value::Timestamp(i) => out.extend_from_slice(&i.to_be_bytes()),
        Value::Double(d) => out.extend_from_slice(&d.to_bits().to_be_bytes()),
        Value::Boolean(b) => out.push(u8::from(*b)),
        other => return Err(format!("the KAFKA format has no encoding for {other}")),
    }
    Ok(true)
}

fn from_kafka_bytes(b: &[u8], ty: &SqlType) -> Result<Value, String> {
    let fixed = |n: usize| -> Result<[u8; 8], String> {
        if b.len() != n {
            return Err(format!("expected {n} bytes for {ty}, got {}", b.len()));
        }
        let mut buf = [0u8; 8];
        buf[8 - n..].copy_from_slice(b);
        Ok(buf)
    };
    Ok(match ty {
        SqlType::String => {
            Value::String(String::from_utf8(b.to_vec()).map_err(|e| format!("invalid UTF-8: {e}"))?)
        }
        SqlType::Int => Value::Int(i64::from_be_bytes(fixed(4)?) as i32),
        SqlType::BigInt => Value::BigInt(i64::from_be_bytes(fixed(8)?)),
        SqlType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(8)?)),
        SqlType::Double => Value::Double(f64::from_bits(u64::from_be_bytes(fixed(8)?))),
        SqlType::Boolean => Value::Boolean(b.first().is_some_and(|x| *x != 0)),
        other => return Err(format!("the KAFKA format cannot hold {other}")),
    })
}

fn text_value(s: &str, ty: &SqlType) -> Result<Value, String> {
    if s.is_empty() && *ty != SqlType::String {
        return Ok(Value::Null);
    }
    from_json(&Json::String(s.to_owned()), ty)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The serde of rows of `columns` in `format`: a key serde when `key` (a row of the key
/// columns; none makes every key null), else a value serde.
#[derive(Debug, Clone)]
pub struct RowSerde {
    format: Format,
    columns: Arc<[(String, SqlType)]>,
    key: bool,
    avro: crate::avro::LazyAvro,
}

impl RowSerde {
    /// The serde of key rows.
    pub fn key(format: Format, columns: Vec<(String, SqlType)>) -> SerdeRef<Row> {
        Arc::new(RowSerde {
            format,
            columns: columns.into(),
            key: true,
            avro: Default::default(),
        })
    }

    /// The serde of value rows.
    pub fn value(format: Format, columns: Vec<(String, SqlType)>) -> SerdeRef<Row> {
        Arc::new(RowSerde {
            format,
            columns: columns.into(),
            key: false,
            avro: Default::default(),
        })
    }

    fn avro(&self) -> Result<&crate::avro::AvroRows, String> {
        self.avro
            .get_or_init(|| crate::avro::AvroRows::new(&self.columns, self.key))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn encode(&self, topic: &str, row: &Row, out: &mut Vec<u8>) -> Result<bool, String> {
        if self.key && (self.columns.is_empty() || row.is_all_null()) {
            return Ok(false);
        }
        match self.format {
            Format::Avro => {
                self.avro()?.encode(topic, &self.columns, row, out)?;
                Ok(true)
            }
            Format::Kafka => {
                if self.columns.len() != 1 {
                    return Err(format!(
                        "the KAFKA format holds one column, not {}",
                        self.columns.len()
                    ));
                }
                kafka_bytes(row.get(0), out)
            }
            Format::Json if self.key && self.columns.len() == 1 => {
                write_json(row.get(0), &self.columns[0].1, out);
                Ok(true)
            }
            Format::Json => {
                out.push(b'{');
                for (i, (n, t)) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json(&Value::String(n.clone()), &SqlType::String, out);
                    out.push(b':');
                    write_json(row.get(i), t, out);
                }
                out.push(b'}');
                Ok(true)
            }
            Format::Delimited => {
                let parts: Vec<String> = (0..self.columns.len())
                    .map(|i| text_of(row.get(i)))
                    .collect();
                out.extend_from_slice(parts.join(",").as_bytes());
                Ok(true)
            }
        }
    }

    fn decode(&self, topic: &str, data: &[u8]) -> Result<Row, String> {
        match self.format {
            Format::Avro => self.avro()?.decode(topic, &self.columns, data),
            Format::Kafka => {
                let Some((_, ty)) = self.columns.first() else {
                    return Ok(Row::default());
                };
                Ok(Row(vec![from_kafka_bytes(data, ty)?]))
            }
            Format::Json => {
                let j: Json = serde_json::from_slice(data).map_err(|e| e.to_string())?;
                match j {
                    Json::Object(obj) if !self.key => self
                        .columns
                        .iter()
                        .map(|(n, t)| {
                            find_field(&obj, n).map_or(Ok(Value::Null), |v| from_json(v, t))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(Row),
                    other if self.columns.len() == 1 => {
                        Ok(Row(vec![from_json(&other, &self.columns[0].1)?]))
                    }
                    other => Err(format!("expected a JSON object, got {other}")),
                }
            }
            Format::Delimited => {
                let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
                let parts: Vec<&str> = text.split(',').collect();
                if parts.len() != self.columns.len() {
                    return Err(format!(
                        "expected {} delimited columns, got {}",
                        self.columns.len(),
                        parts.len()
                    ));
                }
                parts
                    .iter()
                    .zip(self.columns.iter())
                    .map(|(p, (_, t))| text_value(p, t))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            }
        }
    }
}

impl Serde<Row> for RowSerde {
    fn serialize(&self, topic: &str, value: &Row, out: &mut Vec<u8>) -> streams_core::Result<bool> {
        self.encode(topic, value, out).map_err(|e| {
            streams_core::Error::serialization(if self.key { "key" } else { "value" }, topic, e)
        })
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> streams_core::Result<Row> {
        let what = if self.key { "key" } else { "value" };
        match data {
            None if self.key => Ok(Row(vec![Value::Null; self.columns.len()])),
            None => Err(streams_core::Error::deserialization(
                what,
                topic,
                "a null value is not a row",
            )),
            Some(_) if self.key && self.columns.is_empty() => Ok(Row::default()),
            Some(d) => self
                .decode(topic, d)
                .map_err(|e| streams_core::Error::deserialization(what, topic, e)),
        }
    }

    fn is_null(&self, value: &Row) -> bool {
        self.key && (self.columns.is_empty() || value.is_all_null())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1234.5), "1234.5");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(java_double(0.0001), "1.0E-4");
    }

    #[test]
    fn json_rows_read_case_insensitively_and_write_upper_case_names() {
        let serde = RowSerde::value(
            Format::Json,
            vec![
                ("CUSTOMERID".into(), SqlType::String),
                ("TOTAL".into(), SqlType::Double),
            ],
        );
        let row = serde
            .deserialize("t", Some(br#"{"customerId":"c1","total":2}"#))
            .unwrap();
        assert_eq!(
            row,
            Row(vec![Value::String("c1".into()), Value::Double(2.0)])
        );
        let mut out = Vec::new();
        serde.serialize("t", &row, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"CUSTOMERID":"c1","TOTAL":2.0}"#
        );
        assert!(
            serde
                .deserialize("t", Some(br#"{"total":"lots"}"#))
                .is_err()
        );
    }
}
