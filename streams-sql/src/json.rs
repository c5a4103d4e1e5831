//! Values to and from JSON, as ksqlDB's JSON format writes and reads them.

use serde_json::{Map as JsonMap, Number, Value as Json};

use crate::decimal::Decimal;
use crate::types::SqlType;
use crate::value::{Value, java_double};

fn decimal_json(d: Decimal, scale: u8) -> Json {
    d.round(scale)
        .and_then(|d| serde_json::from_str(&d.to_string()).ok())
        .unwrap_or(Json::Null)
}

/// `text` as a value of `DECIMAL(precision, scale)`, as ksqlDB's JSON deserializer reads
/// one: refused when it has more digits after the point than `scale` or does not fit.
fn read_decimal(text: &str, precision: u8, scale: u8) -> Option<Value> {
    let d: Decimal = text.trim().parse().ok()?;
    let d = d.rescale(scale)?;
    d.fits(precision, scale).then_some(Value::Decimal(d))
}

/// `v` of type `ty` as JSON.
pub fn to_json(v: &Value, ty: &SqlType) -> Json {
    match (v, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => Json::Bool(*b),
        (Value::Int(i), _) => Json::from(*i),
        (Value::BigInt(i) | Value::Timestamp(i), _) => Json::from(*i),
        (Value::Decimal(d), SqlType::Decimal(_, s)) => decimal_json(*d, *s),
        (Value::Decimal(d), _) => decimal_json(*d, d.scale()),
        (Value::Double(d), _) => Number::from_f64(*d).map_or(Json::Null, Json::Number),
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
        // Every digit, the trailing zeros of the scale too, as Jackson writes a BigDecimal.
        (Value::Decimal(d), SqlType::Decimal(_, scale)) => {
            let d = d.round(*scale).unwrap_or(*d);
            out.extend_from_slice(d.to_string().as_bytes());
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
        (SqlType::Decimal(p, s), Json::Number(n)) => {
            read_decimal(&n.to_string(), *p, *s).ok_or_else(mismatch)?
        }
        (SqlType::Int, Json::String(s)) => Value::Int(s.trim().parse().map_err(|_| mismatch())?),
        (SqlType::BigInt, Json::String(s)) => {
            Value::BigInt(s.trim().parse().map_err(|_| mismatch())?)
        }
        (SqlType::Double, Json::String(s)) => {
            Value::Double(s.trim().parse().map_err(|_| mismatch())?)
        }
        (SqlType::Decimal(p, sc), Json::String(s)) => {
            read_decimal(s, *p, *sc).ok_or_else(mismatch)?
        }
        // Avro's `decimal`, as apache-avro gives it in JSON: the unscaled integer's
        // big-endian two's complement bytes.
        (SqlType::Decimal(p, s), Json::Array(bytes)) => bytes
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .and_then(|b| Decimal::from_be_bytes(&b, *s))
            .filter(|d| d.fits(*p, *s))
            .map(Value::Decimal)
            .ok_or_else(mismatch)?,
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
