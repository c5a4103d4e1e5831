//! Joins: stream-table (`JOIN`, `LEFT JOIN` on the table's primary key), stream-stream
//! (`WITHIN`, inner, left and full outer) and table-table (on both primary keys). Each side's
//! rows are first widened to all their columns (key columns included), so that the joined row
//! holds both sides; the stream side is re-keyed by its join expression when that is not its
//! key (the DSL repartitions it).

use std::time::Duration;

use sqlparser::ast::{BinaryOperator, Expr};
use streams_dsl::prelude::*;

use super::{
    Compiled, DEFAULT_GRACE_MS, Flow, OutCol, Output, QueryParts, Sink, col_name, compile_expr,
    finish, predicate, project_row, read_source,
};
use crate::ast::{Join, JoinKind, Query, SelectItem, SourceKind};
use crate::catalog::{Catalog, Source};
use crate::error::{Error, Result};
use crate::expr::{CExpr, Ctx, Scope, ScopeColumn, Slot, location_of};
use crate::format::RowSerde;
use crate::value::{Row, RowValue, Value};

/// A source's columns as a row of all of them (key columns first), qualified by `q`,
/// starting at `offset` of the joined row.
fn full_scope(src: &Source, q: &str, offset: usize) -> Vec<ScopeColumn> {
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

/// The record's key and value as one row.
fn widen(k: &Row, v: &Row) -> Row {
    Row(k.0.iter().chain(&v.0).cloned().collect())
}

fn concat(l: &Row, r: &Row) -> Row {
    Row(l.0.iter().chain(&r.0).cloned().collect())
}

fn nulls(n: usize) -> Row {
    Row(vec![Value::Null; n])
}

/// Compiles a query whose `FROM` has a join.
pub(crate) fn compile(
    catalog: &Catalog,
    text: &str,
    query: &Query,
    left: &Source,
    join: &Join,
    sink: Sink,
) -> Result<Compiled> {
    if query.joins.len() > 1 {
        return Err(Error::compile(
            text,
            query.joins[1].location,
            "one JOIN per query",
        ));
    }
    if !query.group_by.is_empty() || query.window.is_some() || query.partition_by.is_some() {
        return Err(Error::compile(
            text,
            query.location,
            "a join query takes no GROUP BY, WINDOW or PARTITION BY: write the join to a stream first",
        ));
    }
    let Some(right) = catalog.sources.get(&join.right.name.value) else {
        return Err(Error::compile(
            text,
            join.right.name.location,
            format!(
                "unknown stream or table '{}'; known: {}",
                join.right.name.value,
                crate::suggest::candidates(
                    &join.right.name.value,
                    catalog.sources.keys().map(String::as_str)
                )
            ),
        ));
    };
    if right.window.is_some() {
        return Err(Error::compile(
            text,
            join.right.name.location,
            "windowed tables cannot be joined",
        ));
    }
    let (lq, rq) = (
        query.from.qualifier().to_owned(),
        join.right.qualifier().to_owned(),
    );
    if lq == rq {
        return Err(Error::compile(
            text,
            join.right.name.location,
            "both sides have the same name: give one an alias",
        ));
    }
    let lw = width(left);
    let lscope = Scope {
        columns: full_scope(left, &lq, 0),
    };
    let rscope = Scope {
        columns: full_scope(right, &rq, 0),
    };
    // ON left_expr = right_expr, either way round.
    let (le, re) = match &join.on {
        Expr::BinaryOp {
            left: a,
            op: BinaryOperator::Eq,
            right: b,
        } => {
            match (
                compile_expr(text, &lscope, a),
                compile_expr(text, &rscope, b),
            ) {
                (Ok(l), Ok(r)) => (l, r),
                _ => (
                    compile_expr(text, &lscope, b)?,
                    compile_expr(text, &rscope, a)?,
                ),
            }
        }
        other => {
            return Err(Error::compile(
                text,
                location_of(other),
                "a join's ON is an equality: left.column = right.column",
            ));
        }
    };
    let ((lexpr, lt), (rexpr, rt)) = (le, re);
    if lt != rt && lt.widen(&rt).is_none() {
        return Err(Error::compile(
            text,
            location_of(&join.on),
            format!("cannot join {lt} with {rt}"),
        ));
    }
    let key_type = lt.clone();
    let key_serde = RowSerde::key(
        left.key_format,
        vec![("JOIN_KEY".to_owned(), key_type.clone())],
    );
    let internal = Serdes::option(Serdes::json::<Row>());

    // The joined row: left's columns, then right's; the join columns are the key.
    let mut scope = Scope {
        columns: full_scope(left, &lq, 0),
    };
    scope.columns.extend(full_scope(right, &rq, lw));
    for c in &mut scope.columns {
        let is_left_key = c.qualifier.as_deref() == Some(&lq)
            && matches!(lexpr, CExpr::Col(Slot::Val(i)) if c.slot == Slot::Val(i));
        let is_right_key = c.qualifier.as_deref() == Some(&rq)
            && matches!(rexpr, CExpr::Col(Slot::Val(i)) if c.slot == Slot::Val(lw + i));
        if is_left_key || is_right_key {
            c.slot = Slot::Key(0);
        }
    }
    let rw = width(right);
    let builder = StreamsBuilder::new();
    let inputs = vec![left.topic.clone(), right.topic.clone()];
    let rekey =
        |stream: KStream<Row, RowValue>, e: CExpr, src: &Source| -> KStream<Row, RowValue> {
            let wide = stream
                .filter(|_: &Row, v: &RowValue| v.is_some())
                .map_values_with_key(|k: &Row, v: RowValue| v.map(|v| widen(k, &v)));
            let by_key = src.key_columns.len() == 1 && matches!(e, CExpr::Col(Slot::Val(0)));
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
        };
    let joined: Flow = match (read_source(&builder, left), read_source(&builder, right)) {
        (Flow::Stream(ls), Flow::Table(rt_)) => {
            if join.within.is_some() {
                return Err(Error::compile(
                    text,
                    join.location,
                    "WITHIN is for stream-stream joins",
                ));
            }
            if !(right.key_columns.len() == 1 && matches!(rexpr, CExpr::Col(Slot::Val(0)))) {
                return Err(Error::compile(
                    text,
                    location_of(&join.on),
                    format!(
                        "a stream-table join is on the table's PRIMARY KEY ({rq}.{})",
                        right.key_columns.first().map_or("?", |(n, _)| n.as_str())
                    ),
                ));
            }
            let keyed = rekey(ls, lexpr.clone(), left);
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
            let l = rekey(ls, lexpr.clone(), left);
            let r = rekey(rs, rexpr.clone(), right);
            let joined = StreamJoined::with(key_serde.clone(), internal.clone(), internal.clone());
            let lwid = lw;
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
                            .unwrap_or_else(|| nulls(lwid));
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
            let on_keys = left.key_columns.len() == 1
                && right.key_columns.len() == 1
                && matches!(lexpr, CExpr::Col(Slot::Val(0)))
                && matches!(rexpr, CExpr::Col(Slot::Val(0)));
            if !on_keys {
                return Err(Error::compile(
                    text,
                    location_of(&join.on),
                    "a table-table join is on both PRIMARY KEYs",
                ));
            }
            // Joined as read: a table-table join's joiner has no key, so each side's key
            // column is left null in the row; the scope reads both from the record's key.
            let (lk, rk) = (left.key_columns.len(), right.key_columns.len());
            let with_key = move |n: usize, v: &Row| concat(&nulls(n), v);
            let lwid = lw;
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
                            .map_or_else(|| nulls(lwid), |a| with_key(lk, a));
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
                "a table cannot be joined with a stream: put the stream on the left",
            ));
        }
    };

    // The projection of the joined row: the first item that is a join column is the key.
    let filter = match &query.filter {
        Some(f) => Some(predicate(text, &scope, f)?),
        None => None,
    };
    let mut cols: Vec<OutCol> = Vec::new();
    for (i, item) in query.items.iter().enumerate() {
        match item {
            SelectItem::Star(q) => {
                for c in &scope.columns {
                    if q.as_ref()
                        .is_some_and(|q| c.qualifier.as_deref() != Some(q.value.as_str()))
                    {
                        continue;
                    }
                    let name = if scope.columns.iter().filter(|o| o.name == c.name).count() > 1 {
                        format!("{}_{}", c.qualifier.as_deref().unwrap_or(""), c.name)
                    } else {
                        c.name.clone()
                    };
                    cols.push(OutCol {
                        name,
                        ty: c.ty.clone(),
                        expr: CExpr::Col(c.slot),
                        key: false,
                    });
                }
            }
            SelectItem::Expr(e, alias) => {
                let (c, t) = compile_expr(text, &scope, e)?;
                cols.push(OutCol {
                    name: col_name(e, alias.as_ref(), i),
                    ty: t,
                    expr: c,
                    key: false,
                });
            }
        }
    }
    if let Some(k) = cols
        .iter_mut()
        .find(|c| matches!(c.expr, CExpr::Col(Slot::Key(0))))
    {
        k.key = true;
    }
    let key_name = cols
        .iter()
        .find(|c| c.key)
        .map_or_else(|| "ROWKEY".to_owned(), |c| c.name.clone());
    let mut seen = std::collections::BTreeSet::new();
    for c in &cols {
        if !seen.insert(c.name.clone()) {
            return Err(Error::compile(
                text,
                query.location,
                format!(
                    "the projection has two columns named {}; give one an alias",
                    c.name
                ),
            ));
        }
    }
    let value_exprs: Vec<CExpr> = cols
        .iter()
        .filter(|c| !c.key)
        .map(|c| c.expr.clone())
        .collect();
    let key_cols = vec![(key_name, key_type)];
    let keep = move |k: &Row, v: &RowValue| match v {
        Some(v) => filter.as_ref().is_none_or(|f| {
            f.holds(&Ctx {
                key: k,
                val: v,
                window: None,
            })
        }),
        None => false,
    };
    match joined {
        Flow::Stream(s) => {
            let out = s
                .filter(keep)
                .map_values_with_key(move |k: &Row, v: RowValue| {
                    v.map(|v| project_row(&value_exprs, k, &v, None))
                });
            finish(
                QueryParts {
                    text,
                    query,
                    src: left,
                    inputs,
                    sink,
                    builder,
                },
                Output {
                    out,
                    kind: SourceKind::Stream,
                    key_cols,
                    cols: &cols,
                    window: None,
                    materialized: None,
                },
            )
        }
        Flow::Table(t) => {
            // A table needs no filter without WHERE: a join row is never null, and a filter
            // would forward tombstones for rows that never were.
            let t = if query.filter.is_some() {
                t.filter(keep)
            } else {
                t
            };
            let out = t
                .map_values(move |k: &Row, v: RowValue| {
                    v.map(|v| project_row(&value_exprs, k, &v, None))
                })
                .to_stream()
                .map_values(|v: Option<RowValue>| v.flatten());
            finish(
                QueryParts {
                    text,
                    query,
                    src: left,
                    inputs,
                    sink,
                    builder,
                },
                Output {
                    out,
                    kind: SourceKind::Table,
                    key_cols,
                    cols: &cols,
                    window: None,
                    materialized: None,
                },
            )
        }
    }
}
