//! Aggregations of tables (`CREATE TABLE ... AS SELECT ... FROM <table> GROUP BY ...`), as
//! ksqlDB compiles them (`SchemaKGroupedTable`, `TableGroupByBuilder`,
//! `TableAggregateBuilder`): Kafka Streams' `KTable.groupBy`, which sends every change of a
//! row through the repartition topic as the old row's group and value and the new row's,
//! then `KGroupedTable.aggregate`, whose subtractor takes the old row out of its group
//! (ksqlDB's `KudafUndoAggregator`) and whose adder puts the new row into its group.

use streams_dsl::prelude::*;

use super::grouping::{AggCall, Grouping};
use super::{
    AGGREGATE_STORE, GROUP_BY_NAME, Planned, QueryParts, finish_aggregate, project_row,
    sink_key_format,
};
use crate::aggregate::{self, UNDOABLE_NAMES};
use crate::ast::Emit;
use crate::error::{Error, Result};
use crate::expr::{Ctx, Scope};
use crate::format::RowSerde;
use crate::value::{Row, RowValue, Value};

/// Compiles the aggregation of `table`, whose rows are those of `scope`.
///
/// ksqlDB's rules for aggregating a table:
/// - `WINDOW` is refused (ksqlDB: "Windowing not supported for table aggregations.").
/// - Only aggregates that can take a row back out (ksqlDB's `TableUdaf`: `COUNT`, `SUM`,
///   `AVG`, `COLLECT_LIST`) are allowed; any other is refused by name, since a row that
///   changes or is deleted must leave its group.
/// - `WHERE` filters the table before grouping: a row that stops matching is, for the
///   aggregation, a delete (Kafka Streams' `KTableFilter`).
/// - A row with a null `GROUP BY` value is in no group (ksqlDB's `GroupByParamsFactory`
///   gives it a null key, which `KTable.groupBy` does not send); a delete of the table takes
///   the old row out of its group. A group whose rows all left stays, with its count at 0.
/// - The grouping always goes through the repartition topic `Aggregate-GroupBy`, even by the
///   primary key: a table has no `groupByKey`.
pub(super) fn compile(
    parts: QueryParts<'_>,
    table: KTable<Row, RowValue>,
    scope: &Scope,
) -> Result<Planned> {
    let QueryParts {
        text, query, src, ..
    } = parts;
    if let Some(w) = &query.window {
        return Err(Error::compile(
            text,
            w.location,
            "WINDOW cannot aggregate a table: windowing is not supported for table aggregations; aggregate a stream",
        ));
    }
    let grouping = Grouping::analyze(text, query, scope)?;
    refuse_irreversible(text, &grouping.calls)?;
    if query.emit == Some(Emit::Final) {
        return Err(Error::compile(
            text,
            query.location,
            "EMIT FINAL needs a WINDOW",
        ));
    }
    let key_format = sink_key_format(text, &parts.sink, src)?;
    let key_serde = RowSerde::key(key_format, grouping.key_cols.clone());
    let internal = Serdes::option(Serdes::json::<Row>());
    let init = grouping.initializer();
    let add = grouping.adder();
    let subtract = grouping.subtractor();
    let g = grouping.group_count();
    let Grouping {
        filter,
        prepared,
        out_cols,
        key_cols,
        project,
        ..
    } = grouping;

    let filtered = match filter {
        Some(f) => table.filter(move |k: &Row, v: &RowValue| {
            v.as_ref().is_some_and(|v| {
                f.holds(&Ctx {
                    key: k,
                    val: v,
                    window: None,
                })
            })
        }),
        None => table,
    };
    let prepared_table = filtered
        .map_values(move |k: &Row, v: RowValue| v.map(|v| project_row(&prepared, k, &v, None)));
    let grouped = prepared_table.group_by_with(
        move |_: &Row, v: RowValue| match v {
            Some(v) if (0..g).all(|i| !v.get(i).is_null()) => {
                (Row(v.0.iter().take(g).cloned().collect()), Some(v))
            }
            // A null GROUP BY value: KTable.groupBy sends no pair with a null value, so the
            // row is in no group (ksqlDB's null key has the same effect).
            _ => (Row(vec![Value::Null; g]), None),
        },
        Grouped::with(key_serde.clone(), internal).with_name(GROUP_BY_NAME),
    );
    let aggregated = grouped.aggregate_with(
        init,
        add,
        subtract,
        Materialized::as_(AGGREGATE_STORE)
            .with_key_serde(key_serde)
            .with_value_serde(Serdes::json::<Row>()),
    );
    finish_aggregate(parts, &aggregated, project, key_cols, &out_cols)
}

/// Refuses the aggregate calls that cannot take a row back out, naming them all as ksqlDB
/// does ("The aggregation functions MIN and MAX cannot be applied to a table source, only to
/// a stream source"), at the first of them.
fn refuse_irreversible(text: &str, calls: &[AggCall]) -> Result<()> {
    let refused: Vec<&AggCall> = calls.iter().filter(|c| !aggregate::undoable(c.f)).collect();
    let Some(first) = refused.first() else {
        return Ok(());
    };
    let mut names: Vec<&str> = Vec::new();
    for c in &refused {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    let listed = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    Err(Error::compile(
        text,
        first.location,
        format!(
            "the aggregation function{} {listed} cannot be applied to a table, only to a stream: \
             a table's aggregate must take back rows that change or are deleted; \
             aggregates of tables: {UNDOABLE_NAMES}",
            if names.len() == 1 { "" } else { "s" },
        ),
    ))
}
