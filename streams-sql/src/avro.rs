//! `VALUE_FORMAT='AVRO'`: rows in Confluent's Avro wire format through a schema registry.
//! Reading uses the writer's schema (fetched by id) and matches fields to columns by name,
//! ignoring case, as ksqlDB does; writing registers a schema of nullable fields named after
//! the columns (`KsqlDataSourceSchema`).

use std::sync::{Arc, OnceLock, RwLock};

use apache_avro::types::Value as Avro;
use serde_json::{Value as Json, json};
use streams_avro::{GenericAvroSerde, RegistryConfig};
use streams_core::serde::Serde;

use crate::types::SqlType;
use crate::value::{Row, Value};

/// The registry queries use unless told otherwise: the in-process one.
pub const DEFAULT_SCHEMA_REGISTRY: &str = "mock://streams-sql";

static REGISTRY: RwLock<String> = RwLock::new(String::new());

/// Sets the schema registry URL (`schema.registry.url`) of the serdes made from now on.
pub fn set_schema_registry(url: &str) {
    if let Ok(mut g) = REGISTRY.write() {
        *g = url.to_owned();
    }
}

/// The schema registry URL serdes use.
pub fn schema_registry() -> String {
    REGISTRY
        .read()
        .ok()
        .filter(|g| !g.is_empty())
        .map_or_else(|| DEFAULT_SCHEMA_REGISTRY.to_owned(), |g| g.clone())
}

fn avro_type(t: &SqlType) -> Json {
    let inner = match t {
        SqlType::Boolean => json!("boolean"),
        SqlType::Int => json!("int"),
        SqlType::BigInt => json!("long"),
        SqlType::Double => json!("double"),
        SqlType::Decimal(p, s) => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
        }
        SqlType::String => json!("string"),
        SqlType::Timestamp => json!({"type": "long", "logicalType": "timestamp-millis"}),
        SqlType::Array(e) => json!({"type": "array", "items": avro_type(e)}),
        SqlType::Map(v) => json!({"type": "map", "values": avro_type(v)}),
        SqlType::Struct(fields) => record("KsqlDataSourceSchema_struct", fields),
    };
    json!(["null", inner])
}

fn record(name: &str, columns: &[(String, SqlType)]) -> Json {
    let fields: Vec<Json> = columns
        .iter()
        .map(|(n, t)| json!({"name": n, "type": avro_type(t), "default": null}))
        .collect();
    json!({"type": "record", "name": name, "namespace": "io.confluent.ksql.avro_schemas", "fields": fields})
}

/// `v` of type `t` as an Avro value of the nullable union [`avro_type`] gives.
fn to_avro(v: &Value, t: &SqlType) -> Avro {
    let inner = match (v, t) {
        (Value::Null, _) => return Avro::Union(0, Box::new(Avro::Null)),
        (Value::Boolean(b), _) => Avro::Boolean(*b),
        (Value::Int(i), _) => Avro::Int(*i),
        (Value::BigInt(i), SqlType::Timestamp) | (Value::Timestamp(i), _) => {
            Avro::TimestampMillis(*i)
        }
        (Value::BigInt(i), _) => Avro::Long(*i),
        (Value::Double(d), _) => Avro::Double(*d),
        (Value::Decimal(d), SqlType::Decimal(_, s)) => {
            Avro::Decimal(d.round(*s).unwrap_or(*d).to_be_bytes().into())
        }
        (Value::Decimal(d), _) => Avro::Double(d.to_f64()),
        (Value::String(s), _) => Avro::String(s.clone()),
        (Value::Array(items), SqlType::Array(e)) => {
            Avro::Array(items.iter().map(|i| to_avro(i, e)).collect())
        }
        (Value::Map(m), SqlType::Map(vt)) => {
            Avro::Map(m.iter().map(|(k, v)| (k.clone(), to_avro(v, vt))).collect())
        }
        (Value::Struct(fields), SqlType::Struct(types)) => Avro::Record(
            types
                .iter()
                .map(|(n, ft)| {
                    let fv = fields
                        .iter()
                        .find(|(fnm, _)| fnm == n)
                        .map_or(Value::Null, |(_, v)| v.clone());
                    (n.clone(), to_avro(&fv, ft))
                })
                .collect(),
        ),
        (other, _) => Avro::String(other.to_string()),
    };
    Avro::Union(1, Box::new(inner))
}

/// The serdes of one topic's Avro rows.
///
/// A key of one column is written as that column's value alone (a nullable primitive, array,
/// map or record schema under the subject `<topic>-key`), as ksqlDB writes single-column
/// keys, and as the JSON format writes them; other rows are records of their columns.
#[derive(Debug)]
pub(crate) struct AvroRows {
    reader: GenericAvroSerde,
    writer: GenericAvroSerde,
    unwrapped: bool,
}

impl AvroRows {
    /// Serdes for rows of `columns` through the current registry.
    pub(crate) fn new(columns: &[(String, SqlType)], is_key: bool) -> Result<Self, String> {
        let config = RegistryConfig::new().set("schema.registry.url", schema_registry());
        let unwrapped = is_key && columns.len() == 1;
        let schema = match columns {
            [(_, t)] if unwrapped => avro_type(t),
            _ => record("KsqlDataSourceSchema", columns),
        }
        .to_string();
        let reader = GenericAvroSerde::new(&config, is_key, None).map_err(|e| e.to_string())?;
        let writer =
            GenericAvroSerde::new(&config, is_key, Some(&schema)).map_err(|e| e.to_string())?;
        Ok(AvroRows {
            reader,
            writer,
            unwrapped,
        })
    }

    pub(crate) fn encode(
        &self,
        topic: &str,
        columns: &[(String, SqlType)],
        row: &Row,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let value = match columns {
            [(_, t)] if self.unwrapped => to_avro(row.get(0), t),
            _ => Avro::Record(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (n, t))| (n.clone(), to_avro(row.get(i), t)))
                    .collect(),
            ),
        };
        self.writer
            .serialize(topic, &value, out)
            .map(|_| ())
            .map_err(|e| format!("{e}: {}", source_text(&e)))
    }

    pub(crate) fn decode(
        &self,
        topic: &str,
        columns: &[(String, SqlType)],
        data: &[u8],
    ) -> Result<Row, String> {
        let value = self
            .reader
            .deserialize(topic, Some(data))
            .map_err(|e| format!("{e}: {}", source_text(&e)))?;
        let json = Json::try_from(value).map_err(|e| e.to_string())?;
        if let [(_, t)] = columns
            && self.unwrapped
        {
            return Ok(Row(vec![crate::json::from_json(&json, t)?]));
        }
        let Json::Object(obj) = json else {
            return Err("expected an Avro record".to_owned());
        };
        columns
            .iter()
            .map(|(n, t)| {
                obj.get(n)
                    .or_else(|| {
                        obj.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(n))
                            .map(|(_, v)| v)
                    })
                    .map_or(Ok(Value::Null), |v| crate::json::from_json(v, t))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Row)
    }
}

fn source_text(e: &streams_core::Error) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
}

/// Built on first use, so that a registry set after compiling still applies.
pub(crate) type LazyAvro = Arc<OnceLock<Result<AvroRows, String>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Decimal;

    #[test]
    fn decimals_are_avros_decimal_logical_type_and_read_back_exactly() {
        set_schema_registry("mock://streams-sql-avro-decimal");
        let columns = vec![
            ("PRICE".to_owned(), SqlType::Decimal(10, 2)),
            ("N".to_owned(), SqlType::Int),
        ];
        assert_eq!(
            avro_type(&columns[0].1),
            json!(["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}])
        );
        let rows = AvroRows::new(&columns, false).unwrap();
        for price in ["19.99", "-0.01", "12345678.90", "0.00"] {
            let d: Decimal = price.parse().unwrap();
            let row = Row(vec![Value::Decimal(d), Value::Int(3)]);
            let mut bytes = Vec::new();
            rows.encode("prices", &columns, &row, &mut bytes).unwrap();
            let back = rows.decode("prices", &columns, &bytes).unwrap();
            match back.get(0) {
                Value::Decimal(b) => assert_eq!(b.to_string(), price),
                other => panic!("{other:?}"),
            }
        }
    }
}
