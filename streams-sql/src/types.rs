//! SQL types, as ksqlDB names them.

use std::fmt;

/// The type of a column or an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// `BOOLEAN`.
    Boolean,
    /// `INT` / `INTEGER`: 32 bits.
    Int,
    /// `BIGINT`: 64 bits.
    BigInt,
    /// `DOUBLE`.
    Double,
    /// `DECIMAL(precision, scale)`.
    Decimal(u8, u8),
    /// `VARCHAR` / `STRING`.
    String,
    /// `TIMESTAMP`: milliseconds since the epoch.
    Timestamp,
    /// `ARRAY<element>`.
    Array(Box<SqlType>),
    /// `MAP<STRING, value>`: ksqlDB's map keys are strings.
    Map(Box<SqlType>),
    /// `STRUCT<name type, ...>`.
    Struct(Vec<(String, SqlType)>),
}

impl SqlType {
    /// `DECIMAL(precision, scale)` when it is one: `1 <= precision <=`
    /// [`MAX_DIGITS`](crate::decimal::MAX_DIGITS) (the digits a value holds) and
    /// `0 <= scale <= precision`, as ksqlDB's `DecimalUtil.validateParameters` asks.
    pub fn decimal(precision: i64, scale: i64) -> Option<SqlType> {
        let (p, s) = (u8::try_from(precision).ok()?, u8::try_from(scale).ok()?);
        (p >= 1 && s <= p && u32::from(p) <= crate::decimal::MAX_DIGITS)
            .then_some(SqlType::Decimal(p, s))
    }

    /// Whether arithmetic applies.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::Int | SqlType::BigInt | SqlType::Double | SqlType::Decimal(..)
        )
    }

    /// The wider of two numeric types, as ksqlDB widens `INT` + `BIGINT` to `BIGINT` and any
    /// integer with a `DOUBLE` to `DOUBLE`.
    pub fn widen(&self, other: &SqlType) -> Option<SqlType> {
        use SqlType::*;
        let rank = |t: &SqlType| match t {
            Int => Some(0),
            BigInt => Some(1),
            Decimal(..) => Some(2),
            Double => Some(3),
            _ => None,
        };
        let (a, b) = (rank(self)?, rank(other)?);
        Some(if a >= b { self.clone() } else { other.clone() })
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int => f.write_str("INTEGER"),
            SqlType::BigInt => f.write_str("BIGINT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal(p, s) => write!(f, "DECIMAL({p}, {s})"),
            SqlType::String => f.write_str("STRING"),
            SqlType::Timestamp => f.write_str("TIMESTAMP"),
            SqlType::Array(t) => write!(f, "ARRAY<{t}>"),
            SqlType::Map(t) => write!(f, "MAP<STRING, {t}>"),
            SqlType::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{n}` {t}")?;
                }
                f.write_str(">")
            }
        }
    }
}
