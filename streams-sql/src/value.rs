//! The dynamic values and rows that compiled queries pass between their nodes.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decimal::Decimal;

/// One SQL value. `Null` is SQL's null, of any type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Value {
    /// SQL null.
    Null,
    /// `BOOLEAN`.
    Boolean(bool),
    /// `INT`.
    Int(i32),
    /// `BIGINT`.
    BigInt(i64),
    /// `DOUBLE`.
    Double(f64),
    /// `DECIMAL`, exact.
    Decimal(Decimal),
    /// `STRING`.
    String(String),
    /// `TIMESTAMP`, epoch milliseconds.
    Timestamp(i64),
    /// `ARRAY`.
    Array(Vec<Value>),
    /// `MAP` with string keys.
    Map(BTreeMap<String, Value>),
    /// `STRUCT`, fields in declaration order.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// Whether this is SQL null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a double, for arithmetic and comparisons across numeric types.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(f64::from(*i)),
            Value::BigInt(i) | Value::Timestamp(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            Value::Decimal(d) => Some(d.to_f64()),
            _ => None,
        }
    }

    /// The value as an exact decimal, when it is one or an integer.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Decimal(d) => Some(*d),
            v => v.as_i64().map(Decimal::from),
        }
    }

    /// The value as a 64-bit integer, for integer arithmetic.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::BigInt(i) | Value::Timestamp(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Boolean(_) => 1,
            Value::Int(_)
            | Value::BigInt(_)
            | Value::Double(_)
            | Value::Decimal(_)
            | Value::Timestamp(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Map(_) => 5,
            Value::Struct(_) => 6,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    /// A total order, so that rows can key stores: numbers compare by value across their
    /// types (integers exactly), nulls first.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => a.cmp(b),
            (Value::Map(a), Value::Map(b)) => a.cmp(b),
            (Value::Struct(a), Value::Struct(b)) => a.cmp(b),
            (a, b) if a.rank() == 2 && b.rank() == 2 => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ if !matches!(a, Value::Double(_)) && !matches!(b, Value::Double(_)) => {
                    let (x, y) = (a.as_decimal(), b.as_decimal());
                    x.cmp(&y)
                }
                _ => {
                    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                    x.total_cmp(&y)
                }
            },
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl fmt::Display for Value {
    /// As ksqlDB's CLI prints values: strings bare, numbers in full, null as `null`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::BigInt(i) | Value::Timestamp(i) => write!(f, "{i}"),
            Value::Double(d) => write!(f, "{}", java_double(*d)),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::String(s) => f.write_str(s),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A row: the values of a schema's columns, in order. Keys are rows too (of the key
/// columns; empty for a stream without a key).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// The value of column `i`, null past the end.
    pub fn get(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }

    /// Whether every value is null (a null key).
    pub fn is_all_null(&self) -> bool {
        self.0.iter().all(Value::is_null)
    }
}

/// The value type of every compiled stream and table: `None` is Kafka's null (a tombstone).
pub type RowValue = Option<Row>;

/// `d` as Java's `Double.toString` writes it (and so Jackson and ksqlDB's CLI): `1.0`,
/// `12.5`, `1.0E7`, `1.0E-4`.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let a = d.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{d:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}
