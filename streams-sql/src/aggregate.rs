//! Aggregate functions: their accumulators, updates, session merges and results.

use crate::decimal::Decimal;
use crate::types::SqlType;
use crate::value::Value;

/// The aggregate functions.
pub(crate) const NAMES: &[&str] = &[
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "LATEST_BY_OFFSET",
    "EARLIEST_BY_OFFSET",
    "COLLECT_LIST",
];

/// Whether `name` is an aggregate function.
pub(crate) fn is_aggregate(name: &str) -> bool {
    NAMES.contains(&name)
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Latest,
    Earliest,
    CollectList,
}

/// `name` over arguments of `args` types (`None` for `*`): the function and its result type.
///
/// # Errors
///
/// A message when the arguments do not fit.
pub(crate) fn resolve(name: &str, args: &[Option<SqlType>]) -> Result<(AggFn, SqlType), String> {
    let one = || -> Result<SqlType, String> {
        match args {
            [Some(t)] => Ok(t.clone()),
            [None] => Err(format!("{name}(*) is not allowed; only COUNT(*)")),
            _ => Err(format!("{name} takes one argument, not {}", args.len())),
        }
    };
    Ok(match name {
        "COUNT" => match args {
            [] | [None] => (AggFn::CountStar, SqlType::BigInt),
            [Some(_)] => (AggFn::Count, SqlType::BigInt),
            _ => return Err(format!("COUNT takes one argument, not {}", args.len())),
        },
        "SUM" => {
            let t = one()?;
            if !t.is_numeric() {
                return Err(format!("SUM needs a number, not {t}"));
            }
            (AggFn::Sum, t)
        }
        "AVG" => {
            let t = one()?;
            if !t.is_numeric() {
                return Err(format!("AVG needs a number, not {t}"));
            }
            (AggFn::Avg, SqlType::Double)
        }
        "MIN" | "MAX" => {
            let t = one()?;
            if !(t.is_numeric() || matches!(t, SqlType::String | SqlType::Timestamp)) {
                return Err(format!(
                    "{name} needs a number, string or timestamp, not {t}"
                ));
            }
            (
                if name == "MIN" {
                    AggFn::Min
                } else {
                    AggFn::Max
                },
                t,
            )
        }
        "LATEST_BY_OFFSET" => (AggFn::Latest, one()?),
        "EARLIEST_BY_OFFSET" => (AggFn::Earliest, one()?),
        "COLLECT_LIST" => (AggFn::CollectList, SqlType::Array(Box::new(one()?))),
        other => return Err(format!("unknown aggregate {other}")),
    })
}

/// The accumulator before any row.
pub(crate) fn init(f: AggFn, out: &SqlType) -> Value {
    match f {
        AggFn::CountStar | AggFn::Count => Value::BigInt(0),
        AggFn::Sum => match out {
            SqlType::Int => Value::Int(0),
            SqlType::BigInt => Value::BigInt(0),
            SqlType::Decimal(_, s) => Value::Decimal(Decimal::new(0, *s)),
            _ => Value::Double(0.0),
        },
        AggFn::Avg => Value::Array(vec![Value::Double(0.0), Value::BigInt(0)]),
        AggFn::Min | AggFn::Max | AggFn::Latest => Value::Null,
        // Empty until the first non-null value, which it then keeps.
        AggFn::Earliest | AggFn::CollectList => Value::Array(Vec::new()),
    }
}

fn add_num(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), y) => Value::Int(x.wrapping_add(y.as_i64().unwrap_or(0) as i32)),
        (Value::BigInt(x), y) => Value::BigInt(x.wrapping_add(y.as_i64().unwrap_or(0))),
        // Exact; a sum past 38 digits keeps the value before it.
        (Value::Decimal(x), y) => {
            Value::Decimal(y.as_decimal().and_then(|y| x.checked_add(y)).unwrap_or(*x))
        }
        (x, y) => Value::Double(x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0)),
    }
}

fn sub_num(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), y) => Value::Int(x.wrapping_sub(y.as_i64().unwrap_or(0) as i32)),
        (Value::BigInt(x), y) => Value::BigInt(x.wrapping_sub(y.as_i64().unwrap_or(0))),
        (Value::Decimal(x), y) => {
            Value::Decimal(y.as_decimal().and_then(|y| x.checked_sub(y)).unwrap_or(*x))
        }
        (x, y) => Value::Double(x.as_f64().unwrap_or(0.0) - y.as_f64().unwrap_or(0.0)),
    }
}

/// The accumulator after one more row with argument `v` (null for `COUNT(*)`). Nulls are
/// skipped, as ksqlDB's aggregates skip them.
pub(crate) fn add(f: AggFn, acc: Value, v: Value) -> Value {
    if f == AggFn::CountStar {
        return add_num(&acc, &Value::BigInt(1));
    }
    if v.is_null() {
        return acc;
    }
    match f {
        AggFn::CountStar | AggFn::Count => add_num(&acc, &Value::BigInt(1)),
        AggFn::Sum => add_num(&acc, &v),
        AggFn::Avg => match acc {
            Value::Array(parts) if parts.len() == 2 => Value::Array(vec![
                Value::Double(parts[0].as_f64().unwrap_or(0.0) + v.as_f64().unwrap_or(0.0)),
                Value::BigInt(parts[1].as_i64().unwrap_or(0) + 1),
            ]),
            other => other,
        },
        AggFn::Min => {
            if acc.is_null() || v < acc {
                v
            } else {
                acc
            }
        }
        AggFn::Max => {
            if acc.is_null() || v > acc {
                v
            } else {
                acc
            }
        }
        AggFn::Latest => v,
        AggFn::Earliest => match acc {
            Value::Array(items) if items.is_empty() => Value::Array(vec![v]),
            other => other,
        },
        AggFn::CollectList => match acc {
            Value::Array(mut items) => {
                items.push(v);
                Value::Array(items)
            }
            other => other,
        },
    }
}

/// Whether `f` can take a row back out of its accumulator, as ksqlDB's `TableUdaf`
/// functions can (`COUNT`, `SUM`, `AVG`, `COLLECT_LIST`): only those aggregate a table, whose
/// rows leave their group when they change or are deleted. `MIN`, `MAX`, `LATEST_BY_OFFSET`
/// and `EARLIEST_BY_OFFSET` cannot know the value before the one that leaves.
pub(crate) fn undoable(f: AggFn) -> bool {
    match f {
        AggFn::CountStar | AggFn::Count | AggFn::Sum | AggFn::Avg | AggFn::CollectList => true,
        AggFn::Min | AggFn::Max | AggFn::Latest | AggFn::Earliest => false,
    }
}

/// The names of the functions [`undoable`] accepts, for error messages.
pub(crate) const UNDOABLE_NAMES: &str = "COUNT, SUM, AVG, COLLECT_LIST";

/// The accumulator after a row with argument `v` (null for `COUNT(*)`) left it: the inverse
/// of [`add`], as ksqlDB's `TableUdaf.undo`. A null argument was skipped by `add`, so it is
/// skipped here too. `COLLECT_LIST` removes the last occurrence of the value (ksqlDB's
/// `lastIndexOf`), and leaves the list as it is when the value is not in it. A function
/// that is not [`undoable`] keeps its accumulator; the compiler refuses it on tables.
pub(crate) fn undo(f: AggFn, acc: Value, v: Value) -> Value {
    if f == AggFn::CountStar {
        return sub_num(&acc, &Value::BigInt(1));
    }
    if v.is_null() {
        return acc;
    }
    match f {
        AggFn::CountStar | AggFn::Count => sub_num(&acc, &Value::BigInt(1)),
        AggFn::Sum => sub_num(&acc, &v),
        AggFn::Avg => match acc {
            Value::Array(parts) if parts.len() == 2 => Value::Array(vec![
                Value::Double(parts[0].as_f64().unwrap_or(0.0) - v.as_f64().unwrap_or(0.0)),
                Value::BigInt(parts[1].as_i64().unwrap_or(0) - 1),
            ]),
            other => other,
        },
        AggFn::CollectList => match acc {
            Value::Array(mut items) => {
                if let Some(i) = items.iter().rposition(|x| *x == v) {
                    items.remove(i);
                }
                Value::Array(items)
            }
            other => other,
        },
        AggFn::Min | AggFn::Max | AggFn::Latest | AggFn::Earliest => acc,
    }
}

/// Two sessions' accumulators merged: `a` of the earlier session, `b` of the later.
pub(crate) fn merge(f: AggFn, a: Value, b: Value) -> Value {
    match f {
        AggFn::CountStar | AggFn::Count | AggFn::Sum => add_num(&a, &b),
        AggFn::Avg => match (a, b) {
            (Value::Array(x), Value::Array(y)) if x.len() == 2 && y.len() == 2 => {
                Value::Array(vec![
                    Value::Double(x[0].as_f64().unwrap_or(0.0) + y[0].as_f64().unwrap_or(0.0)),
                    Value::BigInt(x[1].as_i64().unwrap_or(0) + y[1].as_i64().unwrap_or(0)),
                ])
            }
            (x, _) => x,
        },
        AggFn::Min | AggFn::Max => {
            if a.is_null() {
                return b;
            }
            if b.is_null() {
                return a;
            }
            let a_wins = if f == AggFn::Min { a <= b } else { a >= b };
            if a_wins { a } else { b }
        }
        AggFn::Latest => {
            if b.is_null() {
                a
            } else {
                b
            }
        }
        AggFn::Earliest => match &a {
            Value::Array(items) if items.is_empty() => b,
            _ => a,
        },
        AggFn::CollectList => match (a, b) {
            (Value::Array(mut x), Value::Array(y)) => {
                x.extend(y);
                Value::Array(x)
            }
            (x, _) => x,
        },
    }
}

/// The aggregate's value. `AVG` of no values is 0.0, as ksqlDB's `AverageUdaf.map` gives
/// for a count of 0 (a group whose rows all had null arguments, or a table's group whose
/// rows all left).
pub(crate) fn result(f: AggFn, acc: &Value) -> Value {
    match (f, acc) {
        (AggFn::Avg, Value::Array(parts)) if parts.len() == 2 => {
            match (parts[0].as_f64(), parts[1].as_i64()) {
                (Some(s), Some(n)) if n > 0 => Value::Double(s / n as f64),
                (Some(_), Some(0)) => Value::Double(0.0),
                _ => Value::Null,
            }
        }
        (AggFn::Avg, _) => Value::Null,
        (AggFn::Earliest, Value::Array(items)) => items.first().cloned().unwrap_or(Value::Null),
        (_, v) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_takes_back_what_add_put_in() {
        for (f, out, v) in [
            (AggFn::CountStar, SqlType::BigInt, Value::Null),
            (AggFn::Count, SqlType::BigInt, Value::Int(3)),
            (AggFn::Sum, SqlType::Int, Value::Int(7)),
            (AggFn::Sum, SqlType::BigInt, Value::BigInt(-2)),
            (AggFn::Sum, SqlType::Double, Value::Double(1.5)),
            (AggFn::Avg, SqlType::Double, Value::Int(4)),
            (AggFn::CollectList, SqlType::Int, Value::Int(9)),
        ] {
            assert!(undoable(f));
            let start = add(f, init(f, &out), Value::Int(1));
            let added = add(f, start.clone(), v.clone());
            assert_eq!(undo(f, added, v), start, "{f:?}");
        }
        for f in [AggFn::Min, AggFn::Max, AggFn::Latest, AggFn::Earliest] {
            assert!(!undoable(f));
        }
    }

    #[test]
    fn undo_skips_nulls_as_add_does_and_collect_list_removes_the_last_occurrence() {
        assert_eq!(
            undo(AggFn::Count, Value::BigInt(2), Value::Null),
            Value::BigInt(2)
        );
        assert_eq!(undo(AggFn::Sum, Value::Int(2), Value::Null), Value::Int(2));
        let list = |v: &[i32]| Value::Array(v.iter().map(|i| Value::Int(*i)).collect());
        assert_eq!(
            undo(AggFn::CollectList, list(&[1, 2, 1, 3]), Value::Int(1)),
            list(&[1, 2, 3])
        );
        // A value that is not in the list leaves it as it is (ksqlDB's lastIndexOf < 0).
        assert_eq!(
            undo(AggFn::CollectList, list(&[1]), Value::Int(5)),
            list(&[1])
        );
    }

    #[test]
    fn avg_of_no_values_is_zero_as_in_ksqldb() {
        let emptied = undo(
            AggFn::Avg,
            add(
                AggFn::Avg,
                init(AggFn::Avg, &SqlType::Double),
                Value::Int(4),
            ),
            Value::Int(4),
        );
        assert_eq!(result(AggFn::Avg, &emptied), Value::Double(0.0));
        assert_eq!(
            result(AggFn::Avg, &init(AggFn::Avg, &SqlType::Double)),
            Value::Double(0.0)
        );
    }
}
