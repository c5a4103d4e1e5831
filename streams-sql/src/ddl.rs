//! `CREATE STREAM` and `CREATE TABLE` with columns: the declared source, checked.

use crate::ast::{ColumnDef, Name, Property, SourceKind};
use crate::catalog::Source;
use crate::compiler::format_prop;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::types::SqlType;

/// The source a `CREATE STREAM|TABLE name (columns) WITH (properties)` statement declares.
/// Its partitions are left unknown: the cluster knows them.
///
/// # Errors
///
/// [`Error::Compile`] for a missing or unknown property, a bad format, a missing key, a
/// duplicate column or an unusable `TIMESTAMP` column.
pub(crate) fn define(
    text: &str,
    statement: &str,
    kind: SourceKind,
    name: &Name,
    columns: &[ColumnDef],
    properties: &[Property],
) -> Result<Source> {
    for prop in properties {
        const KNOWN: &[&str] = &[
            "KAFKA_TOPIC",
            "VALUE_FORMAT",
            "KEY_FORMAT",
            "FORMAT",
            "PARTITIONS",
            "REPLICAS",
            "TIMESTAMP",
            "TIMESTAMP_FORMAT",
        ];
        if !KNOWN.contains(&prop.name.value.as_str()) {
            return Err(Error::compile(
                text,
                prop.name.location,
                format!(
                    "unknown property '{}'; properties: {}",
                    prop.name.value,
                    crate::suggest::candidates(&prop.name.value, KNOWN.iter().copied())
                ),
            ));
        }
    }
    let Some(topic) = properties.iter().find(|p| p.name.value == "KAFKA_TOPIC") else {
        return Err(Error::compile(
            text,
            name.location,
            "missing KAFKA_TOPIC in WITH (...)",
        ));
    };
    let both = format_prop(text, properties, "FORMAT")?;
    let value_format = format_prop(text, properties, "VALUE_FORMAT")?
        .or(both)
        .ok_or_else(|| {
            Error::compile(
                text,
                name.location,
                "missing VALUE_FORMAT in WITH (...): JSON, KAFKA, DELIMITED or AVRO",
            )
        })?;
    let key_format = format_prop(text, properties, "KEY_FORMAT")?
        .or(both)
        .unwrap_or(Format::Kafka);
    let key_columns: Vec<(String, SqlType)> = columns
        .iter()
        .filter(|c| c.key)
        .map(|c| (c.name.value.clone(), c.ty.clone()))
        .collect();
    let value_columns: Vec<(String, SqlType)> = columns
        .iter()
        .filter(|c| !c.key)
        .map(|c| (c.name.value.clone(), c.ty.clone()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for c in columns {
        if !seen.insert(&c.name.value) {
            return Err(Error::compile(
                text,
                c.name.location,
                format!("duplicate column {}", c.name.value),
            ));
        }
    }
    if kind == SourceKind::Table && key_columns.is_empty() {
        return Err(Error::compile(
            text,
            name.location,
            "a table needs a PRIMARY KEY column",
        ));
    }
    if key_format == Format::Kafka && key_columns.len() > 1 {
        return Err(Error::compile(
            text,
            name.location,
            "KEY_FORMAT 'KAFKA' holds one key column; use JSON",
        ));
    }
    if value_format == Format::Kafka && value_columns.len() > 1 {
        return Err(Error::compile(
            text,
            name.location,
            "VALUE_FORMAT 'KAFKA' holds one value column; use JSON or DELIMITED",
        ));
    }
    for (format, columns, what) in [
        (key_format, &key_columns, "KEY_FORMAT"),
        (value_format, &value_columns, "VALUE_FORMAT"),
    ] {
        if let Some(message) = crate::format::unsupported_type(format, columns, what) {
            return Err(Error::compile(text, name.location, message));
        }
    }
    let timestamp = match properties.iter().find(|p| p.name.value == "TIMESTAMP") {
        Some(p) => {
            let col = p.value.to_uppercase();
            let found = value_columns
                .iter()
                .find(|(n, _)| *n == col || *n == p.value)
                .map(|(n, t)| (n.clone(), t.clone()));
            match found {
                Some((n, SqlType::BigInt | SqlType::Timestamp | SqlType::String)) => Some(n),
                Some((n, t)) => {
                    return Err(Error::compile(
                        text,
                        p.location,
                        format!(
                            "TIMESTAMP column {n} is {t}; it must be BIGINT, TIMESTAMP or a STRING with TIMESTAMP_FORMAT"
                        ),
                    ));
                }
                None => {
                    return Err(Error::compile(
                        text,
                        p.location,
                        format!(
                            "TIMESTAMP column '{}' is not a value column; candidates: {}",
                            p.value,
                            crate::suggest::candidates(
                                &col,
                                value_columns.iter().map(|(n, _)| n.as_str())
                            )
                        ),
                    ));
                }
            }
        }
        None => None,
    };
    let timestamp_format = properties
        .iter()
        .find(|p| p.name.value == "TIMESTAMP_FORMAT")
        .map(|p| p.value.clone());
    Ok(Source {
        name: name.value.clone(),
        kind,
        topic: topic.value.clone(),
        key_format,
        value_format,
        key_columns,
        value_columns,
        timestamp,
        timestamp_format,
        window: None,
        partitions: None,
        statement: statement.to_owned(),
        materialized: None,
    })
}
