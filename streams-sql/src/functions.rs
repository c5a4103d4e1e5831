//! Scalar functions: `UCASE`, `LCASE`, `CONCAT`, `LEN`, `SUBSTRING`, `TRIM`, `ABS`, `ROUND`,
//! `FLOOR`, `CEIL`, `COALESCE`, `IFNULL`.

use crate::types::SqlType;
use crate::value::Value;

/// A scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Upper,
    Lower,
    Concat,
    Len,
    Substring,
    Trim,
    Abs,
    Round,
    Floor,
    Ceil,
    Coalesce,
}

/// The names the functions answer to, for error messages.
pub(crate) const NAMES: &[&str] = &[
    "UCASE",
    "LCASE",
    "CONCAT",
    "LEN",
    "SUBSTRING",
    "TRIM",
    "ABS",
    "ROUND",
    "FLOOR",
    "CEIL",
    "COALESCE",
    "IFNULL",
];

fn strings(name: &str, args: &[SqlType], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        return Err(format!(
            "{name} takes {} argument{}, not {}",
            if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            },
            if max == 1 { "" } else { "s" },
            args.len()
        ));
    }
    Ok(())
}

/// The function `name` applied to arguments of `args` types, and its result type.
///
/// # Errors
///
/// A message naming the function and the types when they do not fit, or the known
/// functions when `name` is none of them.
pub(crate) fn resolve(name: &str, args: &[SqlType]) -> Result<(Scalar, SqlType), String> {
    let need_string = |i: usize| -> Result<(), String> {
        match args.get(i) {
            Some(SqlType::String) | None => Ok(()),
            Some(t) => Err(format!(
                "{name} expects STRING arguments, argument {} is {t}",
                i + 1
            )),
        }
    };
    let need_number = |i: usize| -> Result<(), String> {
        match args.get(i) {
            Some(t) if !t.is_numeric() => Err(format!(
                "{name} expects a number, argument {} is {t}",
                i + 1
            )),
            _ => Ok(()),
        }
    };
    Ok(match name {
        "UCASE" | "UPPER" | "LCASE" | "LOWER" | "TRIM" => {
            strings(name, args, 1, 1)?;
            need_string(0)?;
            let f = match name {
                "UCASE" | "UPPER" => Scalar::Upper,
                "LCASE" | "LOWER" => Scalar::Lower,
                _ => Scalar::Trim,
            };
            (f, SqlType::String)
        }
        "LEN" | "LENGTH" => {
            strings(name, args, 1, 1)?;
            need_string(0)?;
            (Scalar::Len, SqlType::Int)
        }
        "CONCAT" => {
            if args.is_empty() {
                return Err("CONCAT takes at least one argument".to_owned());
            }
            for i in 0..args.len() {
                need_string(i)?;
            }
            (Scalar::Concat, SqlType::String)
        }
        "SUBSTRING" | "SUBSTR" => {
            strings(name, args, 2, 3)?;
            need_string(0)?;
            for i in 1..args.len() {
                if !matches!(args[i], SqlType::Int | SqlType::BigInt) {
                    return Err(format!(
                        "{name} positions are integers, argument {} is {}",
                        i + 1,
                        args[i]
                    ));
                }
            }
            (Scalar::Substring, SqlType::String)
        }
        "ABS" | "FLOOR" | "CEIL" => {
            strings(name, args, 1, 1)?;
            need_number(0)?;
            let f = match name {
                "ABS" => Scalar::Abs,
                "FLOOR" => Scalar::Floor,
                _ => Scalar::Ceil,
            };
            (f, args[0].clone())
        }
        "ROUND" => {
            strings(name, args, 1, 2)?;
            need_number(0)?;
            let t = if args.len() == 1 && args[0] == SqlType::Double {
                SqlType::BigInt
            } else {
                args[0].clone()
            };
            (Scalar::Round, t)
        }
        "COALESCE" | "IFNULL" => {
            if args.is_empty() {
                return Err(format!("{name} takes at least one argument"));
            }
            let first = args[0].clone();
            for (i, t) in args.iter().enumerate().skip(1) {
                if *t != first && first.widen(t).is_none() {
                    return Err(format!(
                        "{name} arguments differ in type: {first} and argument {} is {t}",
                        i + 1
                    ));
                }
            }
            (Scalar::Coalesce, first)
        }
        _ => {
            return Err(format!(
                "unknown function '{name}'; functions: {}, and the aggregates {}",
                crate::suggest::candidates(name, NAMES.iter().copied()),
                crate::aggregate::NAMES.join(", ")
            ));
        }
    })
}

/// Java's `String.length()`: UTF-16 code units.
fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Applies `f`; null in gives null out, except for `COALESCE` and `CONCAT` (which skips
/// nulls, as ksqlDB's does).
pub(crate) fn call(f: Scalar, args: Vec<Value>) -> Value {
    if !matches!(f, Scalar::Coalesce | Scalar::Concat) && args.first().is_none_or(Value::is_null) {
        return Value::Null;
    }
    match f {
        Scalar::Upper => str_map(&args[0], |s| s.to_uppercase()),
        Scalar::Lower => str_map(&args[0], |s| s.to_lowercase()),
        Scalar::Trim => str_map(&args[0], |s| s.trim().to_owned()),
        Scalar::Len => match &args[0] {
            Value::String(s) => Value::Int(java_len(s) as i32),
            _ => Value::Null,
        },
        Scalar::Concat => Value::String(
            args.iter()
                .filter(|a| !a.is_null())
                .map(ToString::to_string)
                .collect(),
        ),
        Scalar::Substring => {
            let Value::String(s) = &args[0] else {
                return Value::Null;
            };
            let chars: Vec<char> = s.chars().collect();
            let n = chars.len() as i64;
            let Some(pos) = args.get(1).and_then(Value::as_i64) else {
                return Value::Null;
            };
            // 1-based; a negative position counts from the end, as in ksqlDB.
            let start = if pos > 0 {
                pos - 1
            } else if pos < 0 {
                (n + pos).max(0)
            } else {
                0
            };
            let end = match args.get(2) {
                Some(Value::Null) => return Value::Null,
                Some(l) => start + l.as_i64().unwrap_or(0).max(0),
                None => n,
            };
            let (a, b) = (start.clamp(0, n) as usize, end.clamp(0, n) as usize);
            Value::String(chars[a..b.max(a)].iter().collect())
        }
        Scalar::Abs => match &args[0] {
            Value::Int(i) => Value::Int(i.wrapping_abs()),
            Value::BigInt(i) => Value::BigInt(i.wrapping_abs()),
            Value::Double(d) => Value::Double(d.abs()),
            Value::Decimal(d) => Value::Decimal(d.abs()),
            _ => Value::Null,
        },
        Scalar::Floor | Scalar::Ceil => match &args[0] {
            Value::Double(d) => Value::Double(if f == Scalar::Floor {
                d.floor()
            } else {
                d.ceil()
            }),
            // At the argument's scale, as ksqlDB's FLOOR and CEIL keep its type.
            Value::Decimal(d) => {
                let r = d.floor_or_ceil(f == Scalar::Floor);
                r.rescale(d.scale()).map_or(Value::Null, Value::Decimal)
            }
            v => v.clone(),
        },
        Scalar::Round => {
            let places = args.get(1).and_then(Value::as_i64).unwrap_or(0) as i32;
            // Java's Math.round: half up.
            let round = |d: f64| {
                let m = 10f64.powi(places);
                (d * m + 0.5).floor() / m
            };
            match &args[0] {
                Value::Double(d) if args.len() == 1 => Value::BigInt(round(*d) as i64),
                Value::Double(d) => Value::Double(round(*d)),
                Value::Decimal(d) => u8::try_from(places.max(0))
                    .ok()
                    .and_then(|p| d.round(p.min(d.scale())))
                    .map_or(Value::Null, Value::Decimal),
                v => v.clone(),
            }
        }
        Scalar::Coalesce => args
            .into_iter()
            .find(|a| !a.is_null())
            .unwrap_or(Value::Null),
    }
}

fn str_map(v: &Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        _ => Value::Null,
    }
}
