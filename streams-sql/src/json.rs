//! Values to and from JSON, as ksqlDB's JSON format writes and reads them.

use serde_json::{Map as JsonMap, Number, Value as Json};

use crate::types::SqlType;
use crate::value::{Value, java_double};

fn decimal_json(d: f64, scale: u8) -> Json {
    let text = format!("{d:.*}", usize::from(scale));
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

/// `v` of type `ty` as JSON.
pub fn to_json(v: &Value, ty: &SqlType) -> Json {
    match (v, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => Json::Bool(*b),
        (Value::Int(i), _) => Json::from(*i),
        (Value::BigInt(i) | Value::Timestamp(i), _) => Json::from(*i),
        (Value::Decimal(d) | Value::Double(d), SqlType::Decimal(_, s)) => decimal_json(*d, *s),
        (Value::Double(d) | Value::Decimal(d), _) => {
            Number::from_f64(*d).map_or(Json::Null, Json::Number)
        }
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::Array(items), t) => {
            let et = match t {
                SqlType::Array(e) => e.as_ref().clone(),
                _ => SqlType::String,
            };
            Json::Array(items.iter().map(|i| to_json(i, &et)).collect())
        }
        (Value::Map(m), t) => {
            let vt = match t {
                SqlType::Map(v) => v.as_ref().clone(),
                _ => SqlType::String,
            };
            Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), to_json(v, &vt)))
                    .collect(),
            )
        }
        (Value::Struct(fields), t) => {
            let types: &[(String, SqlType)] = match t {
                SqlType::Struct(f) => f,
                _ => &[],
            };
            Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let ft = types
                            .iter()
                            .find(|(n, _)| n == k)
                            .map_or(SqlType::String, |(_, t)| t.clone());
                        (k.clone(), to_json(v, &ft))
                    })
                    .collect(),
            )
        }
    }
}

/// Writes `v` of type `ty` as JSON, as Jackson writes ksqlDB's rows: fields in schema order,
/// doubles as Java prints them.
pub fn write_json(v: &Value, ty: &SqlType, out: &mut Vec<u8>) {
    match (v, ty) {
        (Value::Double(d), SqlType::Double) if d.is_finite() => {
            out.extend_from_slice(java_double(*d).as_bytes());
        }
        (Value::Decimal(d) | Value::Double(d), SqlType::Decimal(_, scale)) if d.is_finite() => {
            out.extend_from_slice(format!("{d:.*}", usize::from(*scale)).as_bytes());
        }
        (Value::Array(items), SqlType::Array(et)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, et, out);
            }
            out.push(b']');
        }
        (Value::Struct(fields), SqlType::Struct(types)) => {
            out.push(b'{');
            for (i, (n, fv)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(&Value::String(n.clone()), &SqlType::String, out);
                out.push(b':');
                let ft = types
                    .iter()
                    .find(|(tn, _)| tn == n)
                    .map_or(&SqlType::String, |(_, t)| t);
                write_json(fv, ft, out);
            }
            out.push(b'}');
        }
        _ => {
            let text = to_json(v, ty).to_string();
            out.extend_from_slice(text.as_bytes());
        }
    }
}

pub(crate) fn find_field<'a>(obj: &'a JsonMap<String, Json>, name: &str) -> Option<&'a Json> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// JSON `j` read as a value of type `ty`. Numbers convert between numeric types; strings
/// holding numbers convert to numbers, as ksqlDB's JSON deserializer does.
///
/// # Errors
///
/// A message naming the JSON and the type when they do not fit.
pub fn from_json(j: &Json, ty: &SqlType) -> Result<Value, String> {
    let mismatch = || format!("cannot read {j} as {ty}");
    Ok(match (ty, j) {
        (_, Json::Null) => Value::Null,
        (SqlType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SqlType::Boolean, Json::String(s)) => Value::Boolean(s.eq_ignore_ascii_case("true")),
        (SqlType::Int, Json::Number(n)) => Value::Int(
            n.as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(mismatch)?,
        ),
        (SqlType::BigInt | SqlType::Timestamp, Json::Number(n)) => {
            let i = n.as_i64().ok_or_else(mismatch)?;
            if *ty == SqlType::BigInt {
                Value::BigInt(i)
            } else {
                Value::Timestamp(i)
            }
        }
        (SqlType::Double, Json::Number(n)) => Value::Double(n.as_f64().ok_or_else(mismatch)?),
        (SqlType::Decimal(..), Json::Number(n)) => Value::Decimal(n.as_f64().ok_or_else(mismatch)?),
        (SqlType::Int, Json::String(s)) => Value::Int(s.trim().parse().map_err(|_| mismatch())?),
        (SqlType::BigInt, Json::String(s)) => {
            Value::BigInt(s.trim().parse().map_err(|_| mismatch())?)
        }
        (SqlType::Double, Json::String(s)) => {
            Value::Double(s.trim().parse().map_err(|_| mismatch())?)
        }
        (SqlType::Decimal(..), Json::String(s)) => {
            Value::Decimal(s.trim().parse().map_err(|_| mismatch())?)
        }
        (SqlType::String, Json::String(s)) => Value::String(s.clone()),
        (SqlType::String, other) => Value::String(other.to_string()),
        (SqlType::Array(et), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| from_json(i, et))
                .collect::<Result<_, _>>()?,
        ),
        (SqlType::Map(vt), Json::Object(obj)) => Value::Map(
            obj.iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v, vt)?)))
                .collect::<Result<_, String>>()?,
        ),
        (SqlType::Struct(fields), Json::Object(obj)) => Value::Struct(
            fields
                .iter()
                .map(|(n, t)| {
                    let v = find_field(obj, n).map_or(Ok(Value::Null), |v| from_json(v, t))?;
                    Ok((n.clone(), v))
                })
                .collect::<Result<_, String>>()?,
        ),
        _ => return Err(mismatch()),
    })
}
