//! Joins: stream-table (`JOIN`, `LEFT JOIN` on the table's primary key), stream-stream
//! (`WITHIN`, inner, left and full outer) and table-table (on both primary keys), and n-way
//! joins of these as in ksqlDB: each further `JOIN` takes the result of the joins before it
//! as its left side, its `ON` equates an expression over the columns joined so far with one
//! over the new source, and the result's key is the last join's key. Each step is in
//! [`super::join_step`]; this file checks the query, reads the sources and projects.

use streams_dsl::prelude::*;

use super::join_step::{Left, join_step};
use super::{
    Flow, OutCol, Output, Planned, QueryParts, Sink, col_name, compile_expr, finish, predicate,
    project_row, read_source,
};
use crate::ast::{Query, SelectItem, SourceKind};
use crate::catalog::{Catalog, Source};
use crate::error::{Error, Result};
use crate::expr::{CExpr, Ctx, Slot};
use crate::value::{Row, RowValue};

/// Two declarations read the same records alike: one read of their topic serves both.
fn same_reading(a: &Source, b: &Source) -> bool {
    a.kind == b.kind
        && a.key_format == b.key_format
        && a.value_format == b.value_format
        && a.key_columns == b.key_columns
        && a.value_columns == b.value_columns
        && a.timestamp == b.timestamp
        && a.timestamp_format == b.timestamp_format
}

/// Compiles a query whose `FROM` has one or more joins.
pub(crate) fn compile(
    builder: &StreamsBuilder,
    catalog: &Catalog,
    text: &str,
    query: &Query,
    left: &Source,
    sink: Sink,
) -> Result<Planned> {
    if !query.group_by.is_empty() || query.window.is_some() || query.partition_by.is_some() {
        return Err(Error::compile(
            text,
            query.location,
            "a join query takes no GROUP BY, WINDOW or PARTITION BY: write the join to a stream first",
        ));
    }
    let mut rights: Vec<&Source> = Vec::with_capacity(query.joins.len());
    for join in &query.joins {
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
        rights.push(right);
    }
    // All sources are read first, in query order. A topic is read once: a second read of it
    // would be a second source node on one topic, which a topology cannot have.
    let builder = builder.clone();
    let mut inputs: Vec<String> = Vec::new();
    let mut read: Vec<(&Source, Flow)> = Vec::new();
    for (i, src) in std::iter::once(left)
        .chain(rights.iter().copied())
        .enumerate()
    {
        let flow = match read.iter().find(|(s, _)| s.topic == src.topic) {
            Some((s, f)) if same_reading(s, src) => match f {
                Flow::Stream(s) => Flow::Stream(s.clone()),
                Flow::Table(t) => Flow::Table(t.clone()),
            },
            Some((s, _)) => {
                let location = match i.checked_sub(1).and_then(|j| query.joins.get(j)) {
                    Some(j) => j.right.name.location,
                    None => query.from.name.location,
                };
                return Err(Error::compile(
                    text,
                    location,
                    format!(
                        "{} and {} both read topic '{}' but declare it differently; one query reads a topic one way",
                        s.name, src.name, src.topic
                    ),
                ));
            }
            None => read_source(&builder, src),
        };
        if !inputs.contains(&src.topic) {
            inputs.push(src.topic.clone());
        }
        read.push((src, flow));
    }
    let mut flows = read.into_iter().map(|(_, f)| f);
    let Some(first) = flows.next() else {
        return Err(Error::compile(
            text,
            query.location,
            "a join needs a source",
        ));
    };
    let mut joins = query.joins.iter().zip(&rights).zip(flows);
    let Some(((join, right), rflow)) = joins.next() else {
        return Err(Error::compile(
            text,
            query.location,
            "a join query needs a JOIN",
        ));
    };
    let from = Left::source(left, query.from.qualifier(), first);
    let mut step = join_step(text, from, right, rflow, join, left.key_format)?;
    for ((join, right), rflow) in joins {
        step = join_step(
            text,
            Left::joined(step),
            right,
            rflow,
            join,
            left.key_format,
        )?;
    }
    let (joined, scope, key_type) = (step.flow, step.scope, step.key_type);

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
