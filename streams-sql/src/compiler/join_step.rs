//! One step of a (possibly n-way) join: the rows joined so far, or the `FROM` source, joined
//! with one further source. The joined row is the left row followed by all the right source's
//! columns (key columns first); a column's position in the scope is its position in the row.
//! Columns equal to the record's key read it from the key (`Slot::Key(0)`).

use std::time::Duration;

use sqlparser::ast::{BinaryOperator, Expr};
use streams_dsl::prelude::*;

use super::{DEFAULT_GRACE_MS, Flow, compile_expr};
use crate::ast::{Join, JoinKind};
use crate::catalog::Source;
use crate::error::{Error, Result};
use crate::expr::{CExpr, Ctx, Scope, ScopeColumn, Slot, location_of};
use crate::format::{Format, RowSerde};
use crate::types::SqlType;
use crate::value::{Row, RowValue, Value};

/// A source's columns as a row of all of them (key columns first), qualified by `q`,
/// starting at `offset` of the joined row.
pub(super) fn full_scope(src: &Source, q: &str, offset: usize) -> Vec<ScopeColumn> {
    src.key_columns
        .iter()
        .chain(&src.value_columns)
        .enumerate()
        .map(|(i, (n, t))| ScopeColumn {
            qualifier: Some(q.to_owned()),
            name: n.clone(),
            ty: t.clone(),
            slot: Slot::Val(offset + i),
        })
        .collect()
}

fn width(src: &Source) -> usize {
    src.key_columns.len() + src.value_columns.len()
}

fn concat(l: &Row, r: &Row) -> Row {
    Row(l.0.iter().chain(&r.0).cloned().collect())
}

fn nulls(n: usize) -> Row {
    Row(vec![Value::Null; n])
}

/// How a side's records become joined-row-shaped before a stream join.
#[derive(Clone)]
enum Prep {
    /// A source's record: its key columns, then its value columns.
    Widen,
    /// A join result: already the whole row, but the columns at these positions are read
    /// from the key (a table-table join leaves them null, a left join's missing side too),
    /// so their value is written back before the key can change.
    SetKey(Vec<usize>),
}

impl Prep {
    fn apply(&self, k: &Row, v: Row) -> Row {
        match self {
            Prep::Widen => concat(k, &v),
            Prep::SetKey(positions) => {
                let mut v = v;
                for &p in positions {
                    if let Some(x) = v.0.get_mut(p) {
                        *x = k.get(0).clone();
                    }
                }
                v
            }
        }
    }
}

/// The left side of a join step.
pub(super) struct Left<'a> {
    flow: Flow,
    /// Every column at `Slot::Val` of its position in the row.
    scope: Scope,
    width: usize,
    prep: Prep,
    /// Positions of the row whose column equals the record key: joining on one of them
    /// needs no repartition.
    key_positions: Vec<usize>,
    /// Columns a table's joiner puts before its value: a source table's key columns; a
    /// join result's value is already the whole row.
    table_prefix: usize,
    /// The `FROM` source, for the messages and the first step's exact shape.
    from: Option<&'a Source>,
}

impl<'a> Left<'a> {
    /// The `FROM` source, qualified by `q`.
    pub(super) fn source(src: &'a Source, q: &str, flow: Flow) -> Self {
        Left {
            flow,
            scope: Scope {
                columns: full_scope(src, q, 0),
            },
            width: width(src),
            prep: Prep::Widen,
            key_positions: if src.key_columns.len() == 1 {
                vec![0]
            } else {
                Vec::new()
            },
            table_prefix: src.key_columns.len(),
            from: Some(src),
        }
    }

    /// The result of the joins so far, as the left side of the next one.
    pub(super) fn joined(j: Step) -> Left<'static> {
        let mut scope = j.scope;
        let mut key_positions = Vec::new();
        for (i, c) in scope.columns.iter_mut().enumerate() {
            if c.slot == Slot::Key(0) {
                key_positions.push(i);
            }
            c.slot = Slot::Val(i);
        }
        Left {
            flow: j.flow,
            scope,
            width: j.width,
            prep: Prep::SetKey(key_positions.clone()),
            key_positions,
            table_prefix: 0,
            from: None,
        }
    }

    /// Qualifiers of the columns joined so far.
    pub(super) fn has_qualifier(&self, q: &str) -> bool {
        self.scope
            .columns
            .iter()
            .any(|c| c.qualifier.as_deref() == Some(q))
    }
}

/// The result of a join step.
pub(super) struct Step {
    pub(super) flow: Flow,
    /// The joined row's columns, in row order; those equal to the key at `Slot::Key(0)`.
    pub(super) scope: Scope,
    pub(super) width: usize,
    pub(super) key_type: SqlType,
}

/// `ON a = b`, split into the expression over the left side and the one over the right
/// source, whichever way round it is written.
fn split_on(
    text: &str,
    lscope: &Scope,
    rscope: &Scope,
    rq: &str,
    on: &Expr,
) -> Result<((CExpr, SqlType), (CExpr, SqlType))> {
    let Expr::BinaryOp {
        left: a,
        op: BinaryOperator::Eq,
        right: b,
    } = on
    else {
        return Err(Error::compile(
            text,
            location_of(on),
            "a join's ON is an equality: left.column = right.column",
        ));
    };
    if let (Ok(l), Ok(r)) = (compile_expr(text, lscope, a), compile_expr(text, rscope, b)) {
        return Ok((l, r));
    }
    if let (Ok(l), Ok(r)) = (compile_expr(text, lscope, b), compile_expr(text, rscope, a)) {
        return Ok((l, r));
    }
    // Neither way round fits: name the side that is wrong. The side over the new source
    // fixes the orientation, so the other side's own error points at its culprit.
    if compile_expr(text, rscope, b).is_ok() {
        compile_expr(text, lscope, a)?;
    }
    if compile_expr(text, rscope, a).is_ok() {
        compile_expr(text, lscope, b)?;
    }
    if compile_expr(text, lscope, a).is_ok() && compile_expr(text, lscope, b).is_ok() {
        return Err(Error::compile(
            text,
            location_of(on),
            format!(
                "this ON compares columns joined before; it must equate them with a column of {rq}"
            ),
        ));
    }
    // As before n-way joins: the error of reading the sides the other way round.
    compile_expr(text, lscope, b)?;
    compile_expr(text, rscope, a)?;
    Err(Error::compile(
        text,
        location_of(on),
        "a join's ON is an equality: left.column = right.column",
    ))
}

/// Filters out null values, shapes the rows with `prep` and re-keys by `e` unless it is
/// already the key (`by_key`); the DSL repartitions a re-keyed stream before its join.
fn rekey(
    stream: KStream<Row, RowValue>,
    e: CExpr,
    prep: Prep,
    by_key: bool,
) -> KStream<Row, RowValue> {
    let wide = stream
        .filter(|_: &Row, v: &RowValue| v.is_some())
        .map_values_with_key(move |k: &Row, v: RowValue| v.map(|v| prep.apply(k, v)));
    if by_key {
        wide
    } else {
        wide.select_key(move |_: &Row, v: &RowValue| {
            let v = v.clone().unwrap_or_default();
            Row(vec![e.eval(&Ctx {
                key: &Row::default(),
                val: &v,
                window: None,
            })])
        })
    }
}

fn is_col(e: &CExpr, i: usize) -> bool {
    matches!(e, CExpr::Col(Slot::Val(j)) if *j == i)
}

/// Joins `left` with the source `right` (read as `rflow`) as `join` says.
/// The rules are ksqlDB's, step by step: a stream-table join is on the table's PRIMARY KEY
/// and re-keys the stream by its side of `ON`; a stream-stream join needs `WITHIN` and
/// re-keys both sides; a table-table join is on both keys (for a join result, on a column
/// equal to its key); a table never has a stream on its right. The result's key is this
/// join's key. A table-table join's result joins further tables on its key, through its
/// value getter, as ksqlDB's n-way table joins do.
pub(super) fn join_step(
    text: &str,
    left: Left<'_>,
    right: &Source,
    rflow: Flow,
    join: &Join,
    key_format: Format,
) -> Result<Step> {
    let rq = join.right.qualifier();
    if left.has_qualifier(rq) {
        return Err(Error::compile(
            text,
            join.right.name.location,
            "both sides have the same name: give one an alias",
        ));
    }
    let lw = left.width;
    let rscope = Scope {
        columns: full_scope(right, rq, 0),
    };
    let ((lexpr, lt), (rexpr, rt)) = split_on(text, &left.scope, &rscope, rq, &join.on)?;
    if lt != rt && lt.widen(&rt).is_none() {
        return Err(Error::compile(
            text,
            location_of(&join.on),
            format!("cannot join {lt} with {rt}"),
        ));
    }
    let key_type = lt.clone();
    let key_serde = RowSerde::key(key_format, vec![("JOIN_KEY".to_owned(), key_type.clone())]);
    let internal = Serdes::option(Serdes::json::<Row>());
    let left_by_key = left.key_positions.iter().any(|&p| is_col(&lexpr, p));

    // The joined row: left's columns, then right's; the join columns are the key, and so
    // are the left's key columns when the left keeps its key.
    let mut scope = left.scope.clone();
    scope.columns.extend(full_scope(right, rq, lw));
    for (i, c) in scope.columns.iter_mut().enumerate() {
        let is_left_key =
            i < lw && (is_col(&lexpr, i) || (left_by_key && left.key_positions.contains(&i)));
        let is_right_key = i >= lw && is_col(&rexpr, i - lw);
        if is_left_key || is_right_key {
            c.slot = Slot::Key(0);
        }
    }
    let rw = width(right);
    let right_by_key = right.key_columns.len() == 1 && is_col(&rexpr, 0);
    let flow: Flow = match (left.flow, rflow) {
        (Flow::Stream(ls), Flow::Table(rt_)) => {
            if join.within.is_some() {
                return Err(Error::compile(
                    text,
                    join.location,
                    "WITHIN is for stream-stream joins",
                ));
            }
            if !right_by_key {
                return Err(Error::compile(
                    text,
                    location_of(&join.on),
                    format!(
                        "a stream-table join is on the table's PRIMARY KEY ({rq}.{})",
                        right.key_columns.first().map_or("?", |(n, _)| n.as_str())
                    ),
                ));
            }
            let keyed = rekey(ls, lexpr.clone(), left.prep, left_by_key);
            let joined = Joined::with(key_serde.clone(), internal.clone());
            let key_of = lexpr.clone();
            let right_key = move |l: &Row| {
                key_of.eval(&Ctx {
                    key: &Row::default(),
                    val: l,
                    window: None,
                })
            };
            Flow::Stream(match join.kind {
                JoinKind::Inner => keyed.join_table_with(
                    &rt_,
                    move |l: RowValue, r: &RowValue| match (l, r) {
                        (Some(l), Some(r)) => {
                            let k = right_key(&l);
                            Some(concat(&concat(&l, &Row(vec![k])), r))
                        }
                        _ => None,
                    },
                    joined,
                ),
                JoinKind::Left => keyed.left_join_table_with(
                    &rt_,
                    move |l: RowValue, r: Option<&RowValue>| {
                        let l = l?;
                        let rrow = match r.and_then(Option::as_ref) {
                            Some(r) => concat(&Row(vec![right_key(&l)]), r),
                            None => nulls(rw),
                        };
                        Some(concat(&l, &rrow))
                    },
                    joined,
                ),
                JoinKind::Outer => {
                    return Err(Error::compile(
                        text,
                        join.location,
                        "stream-table joins are JOIN or LEFT JOIN",
                    ));
                }
            })
        }
        (Flow::Stream(ls), Flow::Stream(rs)) => {
            let Some((before, after)) = join.within else {
                return Err(Error::compile(
                    text,
                    join.location,
                    "a stream-stream join needs WITHIN",
                ));
            };
            let grace = Duration::from_millis(join.grace.unwrap_or(DEFAULT_GRACE_MS) as u64);
            let windows = JoinWindows::of_time_difference_and_grace(
                Duration::from_millis(after as u64),
                grace,
            )
            .before(Duration::from_millis(before as u64));
            let l = rekey(ls, lexpr.clone(), left.prep, left_by_key);
            let r = rekey(rs, rexpr.clone(), Prep::Widen, right_by_key);
            let joined = StreamJoined::with(key_serde.clone(), internal.clone(), internal.clone());
            Flow::Stream(match join.kind {
                JoinKind::Inner => l.join(
                    &r,
                    |a: &RowValue, b: &RowValue| match (a, b) {
                        (Some(a), Some(b)) => Some(concat(a, b)),
                        _ => None,
                    },
                    windows,
                    joined,
                ),
                JoinKind::Left => l.left_join(
                    &r,
                    move |a: &RowValue, b: Option<&RowValue>| {
                        let a = a.as_ref()?;
                        Some(concat(
                            a,
                            &b.and_then(Option::as_ref)
                                .cloned()
                                .unwrap_or_else(|| nulls(rw)),
                        ))
                    },
                    windows,
                    joined,
                ),
                JoinKind::Outer => l.outer_join(
                    &r,
                    move |a: Option<&RowValue>, b: Option<&RowValue>| {
                        let a = a
                            .and_then(Option::as_ref)
                            .cloned()
                            .unwrap_or_else(|| nulls(lw));
                        let b = b
                            .and_then(Option::as_ref)
                            .cloned()
                            .unwrap_or_else(|| nulls(rw));
                        Some(concat(&a, &b))
                    },
                    windows,
                    joined,
                ),
            })
        }
        (Flow::Table(lt_), Flow::Table(rt_)) => {
            if join.within.is_some() {
                return Err(Error::compile(
                    text,
                    join.location,
                    "WITHIN is for stream-stream joins",
                ));
            }
            if !(left_by_key && right_by_key) {
                return Err(Error::compile(
                    text,
                    location_of(&join.on),
                    "a table-table join is on both PRIMARY KEYs",
                ));
            }
            // Joined as read: a table-table join's joiner has no key, so each side's key
            // column is left null in the row; the scope reads both from the record's key.
            let (lk, rk) = (left.table_prefix, right.key_columns.len());
            let with_key = move |n: usize, v: &Row| concat(&nulls(n), v);
            Flow::Table(match join.kind {
                JoinKind::Inner => lt_.join(&rt_, move |a: &RowValue, b: &RowValue| match (a, b) {
                    (Some(a), Some(b)) => Some(concat(&with_key(lk, a), &with_key(rk, b))),
                    _ => None,
                }),
                JoinKind::Left => lt_.left_join(&rt_, move |a: &RowValue, b: Option<&RowValue>| {
                    let a = a.as_ref()?;
                    let b = b
                        .and_then(Option::as_ref)
                        .map_or_else(|| nulls(rw), |b| with_key(rk, b));
                    Some(concat(&with_key(lk, a), &b))
                }),
                JoinKind::Outer => {
                    lt_.outer_join(&rt_, move |a: Option<&RowValue>, b: Option<&RowValue>| {
                        let a = a
                            .and_then(Option::as_ref)
                            .map_or_else(|| nulls(lw), |a| with_key(lk, a));
                        let b = b
                            .and_then(Option::as_ref)
                            .map_or_else(|| nulls(rw), |b| with_key(rk, b));
                        Some(concat(&a, &b))
                    })
                }
            })
        }
        (Flow::Table(_), Flow::Stream(_)) => {
            return Err(Error::compile(
                text,
                join.location,
                if left.from.is_some() {
                    "a table cannot be joined with a stream: put the stream on the left"
                } else {
                    "a table cannot be joined with a stream: the joins before this one give a table, so join the stream first"
                },
            ));
        }
    };
    Ok(Step {
        flow,
        scope,
        width: lw + rw,
        key_type,
    })
}
