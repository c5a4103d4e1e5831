//! Compiles queries into topologies of the DSL: a source, `WHERE` as a filter, the
//! projection as a value mapper, `PARTITION BY` as a key mapper, `GROUP BY` of a stream as a
//! grouping (through a repartition topic unless it groups by the key) and an aggregation
//! (windowed by `WINDOW`), `GROUP BY` of a table as a regrouping with an adder and a
//! subtractor ([`table_aggregate`]), `EMIT FINAL` as a suppression, and a sink.

mod grouping;
mod join;
mod join_step;
mod table_aggregate;

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use sqlparser::ast::Expr;
use streams_dsl::prelude::*;

use crate::ast::{Emit, Property, Query, SelectItem, SourceKind, WindowKind};
use crate::catalog::{Catalog, Materialization, Projector, Source};
use crate::error::{Error, Location, Result};
use crate::expr::{CExpr, Compiler, Ctx, Scope, ScopeColumn, Slot, ident_name, location_of};
use crate::format::{Format, RowSerde};
use crate::types::SqlType;
use crate::value::{Row, RowValue, Value};
use grouping::Grouping;

/// The name ksqlDB gives an aggregation's state store.
pub const AGGREGATE_STORE: &str = "Aggregate-Aggregate-Materialize";
/// The name ksqlDB gives an aggregation's grouping (and so its repartition topic).
pub const GROUP_BY_NAME: &str = "Aggregate-GroupBy";
/// ksqlDB's default grace period of windows: 24 hours.
pub const DEFAULT_GRACE_MS: i64 = 24 * 3_600_000;

/// A row of a push query's output: its key columns, the window bounds when windowed, and
/// its value columns, in the order of [`Compiled::columns`].
pub type OutputRow = Vec<Value>;

/// Where a query's output goes.
pub(crate) enum Sink {
    /// A new stream or table (`CREATE ... AS SELECT`): its name, kind and `WITH` properties.
    Create {
        name: String,
        kind: SourceKind,
        properties: Vec<Property>,
        statement: String,
    },
    /// An existing stream (`INSERT INTO`).
    Insert(Box<Source>),
    /// The rows of a transient push query.
    Channel(Sender<OutputRow>),
}

/// A compiled query.
pub struct Compiled {
    /// The topology.
    pub topology: Topology,
    /// The topics it reads.
    pub inputs: Vec<String>,
    /// The stream or table it writes (for `CREATE ... AS SELECT` a new one).
    pub output: Option<Source>,
    /// Its output columns: key columns, `WINDOWSTART` and `WINDOWEND` when windowed, value
    /// columns.
    pub columns: Vec<(String, SqlType)>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("inputs", &self.inputs)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// The key parts of an output record: its key row and window.
pub(crate) trait OutputKey: Clone + 'static {
    fn parts(&self) -> (&Row, Option<(i64, i64)>);
    /// The serde of output keys from that of their rows.
    fn serde(rows: SerdeRef<Row>, window: Option<WindowKind>) -> SerdeRef<Self>;
}

impl OutputKey for Row {
    fn parts(&self) -> (&Row, Option<(i64, i64)>) {
        (self, None)
    }
    fn serde(rows: SerdeRef<Row>, _: Option<WindowKind>) -> SerdeRef<Self> {
        rows
    }
}

impl OutputKey for Windowed<Row> {
    fn parts(&self) -> (&Row, Option<(i64, i64)>) {
        (&self.key, Some((self.window.start, self.window.end)))
    }
    fn serde(rows: SerdeRef<Row>, window: Option<WindowKind>) -> SerdeRef<Self> {
        match window {
            Some(WindowKind::Session { .. }) => Serdes::session_windowed(rows),
            Some(WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. }) => {
                Serdes::time_windowed(rows, size)
            }
            None => Serdes::time_windowed(rows, 0),
        }
    }
}

fn prop<'a>(props: &'a [Property], name: &str) -> Option<&'a Property> {
    props.iter().find(|p| p.name.value == name)
}

pub(crate) fn format_prop(text: &str, props: &[Property], name: &str) -> Result<Option<Format>> {
    match prop(props, name) {
        None => Ok(None),
        Some(p) => match Format::parse(&p.value) {
            Some(f) => Ok(Some(f)),
            None => Err(Error::compile(
                text,
                p.location,
                format!(
                    "unknown {name} '{}'; formats: JSON, KAFKA, DELIMITED, AVRO",
                    p.value
                ),
            )),
        },
    }
}

pub(crate) fn partitions_prop(text: &str, props: &[Property]) -> Result<Option<i32>> {
    match prop(props, "PARTITIONS") {
        None => Ok(None),
        Some(p) => match p.value.parse::<i32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::compile(
                text,
                p.location,
                "PARTITIONS must be a positive number",
            )),
        },
    }
}

/// A stream or table being built: its DSL handle and the columns its records carry.
pub(crate) enum Flow {
    Stream(KStream<Row, RowValue>),
    Table(KTable<Row, RowValue>),
}

/// The store of a source table's rows (see [`materialize_source_table`]).
pub(crate) const SOURCE_TABLE_STORE: &str = "SOURCE-TABLE-STORE";

/// The topology of a `CREATE SOURCE TABLE`: its topic read as a table into the store
/// [`SOURCE_TABLE_STORE`], which pull queries read, and the materialization they read it by.
pub(crate) fn materialize_source_table(src: &Source) -> Result<(Topology, Materialization)> {
    let builder = StreamsBuilder::new();
    builder.table_with(
        &src.topic,
        consumed(src),
        Materialized::as_(SOURCE_TABLE_STORE),
    );
    let topology = builder
        .build()
        .map_err(|e| Error::streams(format!("materializing {}", src.name), e))?;
    let materialization = Materialization {
        store: SOURCE_TABLE_STORE.to_owned(),
        query_id: String::new(),
        window: None,
        project: Arc::new(|_: &Row, _: Option<(i64, i64)>, row: &Row| Some(row.clone())),
        source_rows: true,
    };
    Ok((topology, materialization))
}

/// Reads a source: its topic with its serdes, event time from its `TIMESTAMP` column.
pub(crate) fn read_source(builder: &StreamsBuilder, src: &Source) -> Flow {
    let consumed = consumed(src);
    match src.kind {
        SourceKind::Stream => Flow::Stream(builder.stream(&src.topic, consumed)),
        SourceKind::Table => Flow::Table(builder.table(&src.topic, consumed)),
    }
}

/// How a source's topic is read: its serdes, and event time from its `TIMESTAMP` column.
fn consumed(src: &Source) -> Consumed<Row, RowValue> {
    let key_serde = RowSerde::key(src.key_format, src.key_columns.clone());
    let value_serde = Serdes::option(RowSerde::value(src.value_format, src.value_columns.clone()));
    let mut consumed = Consumed::with(key_serde, value_serde);
    if let Some(ts) = &src.timestamp
        && let Some(i) = src.value_columns.iter().position(|(n, _)| n == ts)
    {
        let format = src.timestamp_format.clone();
        consumed =
            consumed.with_timestamp_extractor(move |_: &Row, v: &RowValue, record_ts: i64| {
                let Some(row) = v else { return record_ts };
                match (row.get(i), &format) {
                    (Value::String(s), Some(f)) => {
                        crate::timestamp::parse(s, f).unwrap_or(record_ts)
                    }
                    (v, _) => v.as_i64().unwrap_or(record_ts),
                }
            });
    }
    consumed
}

/// The scope of a source's records: key columns in the key row, value columns in the
/// value row; a windowed table's also `WINDOWSTART` and `WINDOWEND`.
pub(crate) fn source_scope(src: &Source, qualifier: &str) -> Scope {
    let q = Some(qualifier.to_owned());
    let mut columns: Vec<ScopeColumn> = src
        .key_columns
        .iter()
        .enumerate()
        .map(|(i, (n, t))| ScopeColumn {
            qualifier: q.clone(),
            name: n.clone(),
            ty: t.clone(),
            slot: Slot::Key(i),
        })
        .collect();
    if src.window.is_some() {
        for (n, s) in [
            ("WINDOWSTART", Slot::WindowStart),
            ("WINDOWEND", Slot::WindowEnd),
        ] {
            columns.push(ScopeColumn {
                qualifier: q.clone(),
                name: n.to_owned(),
                ty: SqlType::BigInt,
                slot: s,
            });
        }
    }
    columns.extend(
        src.value_columns
            .iter()
            .enumerate()
            .map(|(i, (n, t))| ScopeColumn {
                qualifier: q.clone(),
                name: n.clone(),
                ty: t.clone(),
                slot: Slot::Val(i),
            }),
    );
    Scope { columns }
}

/// One output column: its name, type and expression, and whether it is a key column.
pub(crate) struct OutCol {
    pub(crate) name: String,
    pub(crate) ty: SqlType,
    pub(crate) expr: CExpr,
    pub(crate) key: bool,
}

pub(crate) fn col_name(e: &Expr, alias: Option<&crate::ast::Name>, i: usize) -> String {
    if let Some(a) = alias {
        return a.value.clone();
    }
    match e {
        Expr::Identifier(id) => ident_name(id),
        Expr::CompoundIdentifier(parts) => parts.last().map_or(format!("KSQL_COL_{i}"), ident_name),
        _ => format!("KSQL_COL_{i}"),
    }
}

/// The expression `e` names exactly column `slot` of `scope`.
fn is_column(scope: &Scope, text: &str, e: &Expr) -> Option<Slot> {
    let mut c = Compiler {
        text,
        scope,
        hook: None,
    };
    match (e, c.compile(e)) {
        (Expr::Identifier(_) | Expr::CompoundIdentifier(_), Ok((CExpr::Col(s), _))) => Some(s),
        _ => None,
    }
}

pub(crate) fn compile_expr(text: &str, scope: &Scope, e: &Expr) -> Result<(CExpr, SqlType)> {
    Compiler {
        text,
        scope,
        hook: None,
    }
    .compile(e)
}

pub(crate) fn predicate(text: &str, scope: &Scope, e: &Expr) -> Result<CExpr> {
    let (c, t) = compile_expr(text, scope, e)?;
    if t != SqlType::Boolean {
        return Err(Error::compile(
            text,
            location_of(e),
            format!("WHERE needs a BOOLEAN condition, '{e}' is {t}"),
        ));
    }
    Ok(c)
}

/// Compiles `query` to a topology of its own writing to `sink`.
pub(crate) fn compile(
    catalog: &Catalog,
    text: &str,
    query: &Query,
    sink: Sink,
) -> Result<Compiled> {
    let builder = StreamsBuilder::new();
    let Planned {
        inputs,
        output,
        columns,
    } = compile_into(&builder, catalog, text, query, sink)?;
    Ok(Compiled {
        topology: build(builder, output.as_ref().map(|o| o.name.as_str()))?,
        inputs,
        output,
        columns,
    })
}

/// The topology `builder` holds; `output` names the query's sink in an error.
pub(crate) fn build(builder: StreamsBuilder, output: Option<&str>) -> Result<Topology> {
    builder.build().map_err(|e| {
        Error::streams(
            format!(
                "building the topology of {}",
                output.unwrap_or("the push query")
            ),
            e,
        )
    })
}

/// A query compiled into a builder that may hold other queries too.
pub(crate) struct Planned {
    pub(crate) inputs: Vec<String>,
    pub(crate) output: Option<Source>,
    pub(crate) columns: Vec<(String, SqlType)>,
}

/// Compiles `query` into `builder`, writing to `sink`.
pub(crate) fn compile_into(
    builder: &StreamsBuilder,
    catalog: &Catalog,
    text: &str,
    query: &Query,
    sink: Sink,
) -> Result<Planned> {
    let from = &query.from;
    let Some(src) = catalog.sources.get(&from.name.value) else {
        return Err(Error::compile(
            text,
            from.name.location,
            format!(
                "unknown stream or table '{}'; known: {}",
                from.name.value,
                if catalog.sources.is_empty() {
                    "none".to_owned()
                } else {
                    crate::suggest::candidates(
                        &from.name.value,
                        catalog.sources.keys().map(String::as_str),
                    )
                }
            ),
        ));
    };
    if src.window.is_some() {
        return Err(Error::compile(
            text,
            from.name.location,
            format!(
                "{} is a windowed table: query it with a pull query (without EMIT), not a push query",
                src.name
            ),
        ));
    }
    if !query.joins.is_empty() {
        return join::compile(builder, catalog, text, query, src, sink);
    }
    let builder = builder.clone();
    let flow = read_source(&builder, src);
    let scope = source_scope(src, from.qualifier());
    let inputs = vec![src.topic.clone()];
    if !query.group_by.is_empty() {
        return match flow {
            Flow::Stream(stream) => {
                aggregate_stream(text, query, src, stream, &scope, inputs, sink)
            }
            Flow::Table(table) => table_aggregate::compile(
                QueryParts {
                    text,
                    query,
                    src,
                    inputs,
                    sink,
                },
                table,
                &scope,
            ),
        };
    }
    if let Some(w) = &query.window {
        return Err(Error::compile(text, w.location, "WINDOW needs a GROUP BY"));
    }
    let filter = match &query.filter {
        Some(f) => Some(predicate(text, &scope, f)?),
        None => None,
    };
    match flow {
        Flow::Stream(stream) => {
            select_stream(text, query, src, stream, &scope, filter, inputs, sink)
        }
        Flow::Table(table) => {
            if query.partition_by.is_some() {
                return Err(Error::compile(
                    text,
                    query.location,
                    "PARTITION BY applies to streams; a table is keyed by its PRIMARY KEY",
                ));
            }
            let cols = projection(text, query, &scope, src.key_columns.len(), None)?;
            let value_cols: Vec<CExpr> = cols
                .iter()
                .filter(|c| !c.key)
                .map(|c| c.expr.clone())
                .collect();
            let filtered = match filter {
                Some(f) => table.filter(move |k: &Row, v: &RowValue| match v {
                    Some(v) => f.holds(&Ctx {
                        key: k,
                        val: v,
                        window: None,
                    }),
                    None => false,
                }),
                None => table,
            };
            let out = filtered
                .map_values(move |k: &Row, v: RowValue| {
                    v.map(|v| project_row(&value_cols, k, &v, None))
                })
                .to_stream()
                .map_values(|v: Option<RowValue>| v.flatten());
            let key_cols = key_columns_of(&cols, src);
            finish(
                QueryParts {
                    text,
                    query,
                    src,
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

pub(crate) fn project_row(cols: &[CExpr], key: &Row, val: &Row, window: Option<(i64, i64)>) -> Row {
    let ctx = Ctx { key, val, window };
    Row(cols.iter().map(|c| c.eval(&ctx)).collect())
}

/// The output key columns: those of the projection that are key columns, or the source's
/// own when the projection leaves them out.
fn key_columns_of(cols: &[OutCol], src: &Source) -> Vec<(String, SqlType)> {
    let mut keys: Vec<(String, SqlType)> = cols
        .iter()
        .filter(|c| c.key)
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    if keys.len() != src.key_columns.len() {
        keys = src.key_columns.clone();
    }
    keys
}

/// The projection: each item an output column; `*` expands to every column. An item that
/// is exactly a key column (slot `Key`) stays in the key when `keys_stay` is the number of
/// key columns.
fn projection(
    text: &str,
    query: &Query,
    scope: &Scope,
    key_count: usize,
    new_key: Option<Slot>,
) -> Result<Vec<OutCol>> {
    let mut out: Vec<OutCol> = Vec::new();
    for (i, item) in query.items.iter().enumerate() {
        match item {
            SelectItem::Star(q) => {
                for c in &scope.columns {
                    if let Some(q) = q
                        && c.qualifier.as_deref() != Some(q.value.as_str())
                    {
                        continue;
                    }
                    if matches!(c.slot, Slot::WindowStart | Slot::WindowEnd) {
                        continue;
                    }
                    let key = match new_key {
                        Some(k) => c.slot == k,
                        None => matches!(c.slot, Slot::Key(_)) && key_count > 0,
                    };
                    out.push(OutCol {
                        name: c.name.clone(),
                        ty: c.ty.clone(),
                        expr: CExpr::Col(c.slot),
                        key,
                    });
                }
            }
            SelectItem::Expr(e, alias) => {
                let (c, t) = compile_expr(text, scope, e)?;
                let key = match (&c, new_key) {
                    (CExpr::Col(s), Some(k)) => *s == k,
                    (CExpr::Col(Slot::Key(_)), None) => true,
                    _ => false,
                };
                out.push(OutCol {
                    name: col_name(e, alias.as_ref(), i),
                    ty: t,
                    expr: c,
                    key,
                });
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &out {
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
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn select_stream(
    text: &str,
    query: &Query,
    src: &Source,
    stream: KStream<Row, RowValue>,
    scope: &Scope,
    filter: Option<CExpr>,
    inputs: Vec<String>,
    sink: Sink,
) -> Result<Planned> {
    // Null values are not rows: a stream drops them, as ksqlDB's sources do.
    let filtered = stream.filter(move |k: &Row, v: &RowValue| match v {
        Some(v) => filter.as_ref().is_none_or(|f| {
            f.holds(&Ctx {
                key: k,
                val: v,
                window: None,
            })
        }),
        None => false,
    });
    match &query.partition_by {
        None => {
            let cols = projection(text, query, scope, src.key_columns.len(), None)?;
            let value_cols: Vec<CExpr> = cols
                .iter()
                .filter(|c| !c.key)
                .map(|c| c.expr.clone())
                .collect();
            let out = filtered.map_values_with_key(move |k: &Row, v: RowValue| {
                v.map(|v| project_row(&value_cols, k, &v, None))
            });
            let key_cols = key_columns_of(&cols, src);
            finish(
                QueryParts {
                    text,
                    query,
                    src,
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
        Some(pe) => {
            let (pc, pt) = compile_expr(text, scope, pe)?;
            let slot = is_column(scope, text, pe);
            let cols = projection(text, query, scope, 0, Some(slot.unwrap_or(Slot::WindowEnd)))?;
            let key_name = cols
                .iter()
                .find(|c| c.key)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| col_name(pe, None, 0));
            let value_cols: Vec<CExpr> = cols
                .iter()
                .filter(|c| !c.key)
                .map(|c| c.expr.clone())
                .collect();
            let out = filtered.map(move |k: Row, v: RowValue| {
                let Some(v) = v else {
                    return (Row::default(), None);
                };
                let ctx = Ctx {
                    key: &k,
                    val: &v,
                    window: None,
                };
                let new_key = Row(vec![pc.eval(&ctx)]);
                let value = project_row(&value_cols, &k, &v, None);
                (new_key, Some(value))
            });
            finish(
                QueryParts {
                    text,
                    query,
                    src,
                    inputs,
                    sink,
                },
                Output {
                    out,
                    kind: SourceKind::Stream,
                    key_cols: vec![(key_name, pt)],
                    cols: &cols,
                    window: None,
                    materialized: None,
                },
            )
        }
    }
}

fn aggregate_stream(
    text: &str,
    query: &Query,
    src: &Source,
    stream: KStream<Row, RowValue>,
    scope: &Scope,
    inputs: Vec<String>,
    sink: Sink,
) -> Result<Planned> {
    let grouping = Grouping::analyze(text, query, scope)?;
    let init = grouping.initializer();
    let add = grouping.adder();
    let merge = grouping.merger();
    let Grouping {
        filter,
        prepared,
        group_slots,
        out_cols,
        key_cols,
        project,
        ..
    } = grouping;
    let g = group_slots.len();
    let key_format = sink_key_format(text, &sink, src)?;
    let key_serde = RowSerde::key(key_format, key_cols.clone());
    let internal = Serdes::option(Serdes::json::<Row>());

    let filtered = stream.filter(move |k: &Row, v: &RowValue| match v {
        Some(v) => filter.as_ref().is_none_or(|f| {
            f.holds(&Ctx {
                key: k,
                val: v,
                window: None,
            })
        }),
        None => false,
    });
    let prep = prepared.clone();
    let prepared_stream = filtered.map_values_with_key(move |k: &Row, v: RowValue| {
        v.map(|v| project_row(&prep, k, &v, None))
    });
    let by_key = group_slots.len() == src.key_columns.len()
        && group_slots
            .iter()
            .enumerate()
            .all(|(i, s)| *s == Some(Slot::Key(i)));
    let grouped = if by_key {
        prepared_stream.group_by_key_with(Grouped::with(key_serde.clone(), internal.clone()))
    } else {
        prepared_stream.group_by_with(
            move |_: &Row, v: &RowValue| match v {
                Some(v) => Row(v.0.iter().take(g).cloned().collect()),
                None => Row(vec![Value::Null; g]),
            },
            Grouped::with(key_serde.clone(), internal.clone()).with_name(GROUP_BY_NAME),
        )
    };
    let materialized = || {
        Materialized::as_(AGGREGATE_STORE)
            .with_key_serde(key_serde.clone())
            .with_value_serde(Serdes::json::<Row>())
    };
    let emit_final = query.emit == Some(Emit::Final);
    let parts = QueryParts {
        text,
        query,
        src,
        inputs,
        sink,
    };
    match query.window {
        None => {
            if emit_final {
                return Err(Error::compile(
                    text,
                    query.location,
                    "EMIT FINAL needs a WINDOW",
                ));
            }
            let table = grouped.aggregate_with(init, add, materialized());
            finish_aggregate(parts, &table, project, key_cols, &out_cols)
        }
        Some(w) => {
            let grace = Duration::from_millis(w.grace.unwrap_or(DEFAULT_GRACE_MS) as u64);
            let table: KTable<Windowed<Row>, Row> = match w.kind {
                WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } => {
                    let mut tw =
                        TimeWindows::of_size_and_grace(Duration::from_millis(size as u64), grace);
                    if let WindowKind::Hopping { advance, .. } = w.kind {
                        if advance <= 0 || advance > size {
                            return Err(Error::compile(
                                text,
                                w.location,
                                "ADVANCE BY must be positive and at most the SIZE",
                            ));
                        }
                        tw = tw.advance_by(Duration::from_millis(advance as u64));
                    }
                    grouped
                        .windowed_by(tw)
                        .aggregate_with(init, add, materialized())
                }
                WindowKind::Session { gap } => grouped
                    .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
                        Duration::from_millis(gap as u64),
                        grace,
                    ))
                    .aggregate_with(init, add, merge, materialized()),
            };
            let table = if emit_final {
                table.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
            } else {
                table
            };
            let p = project.clone();
            let out = table.to_stream().map_values_with_key(
                move |k: &Windowed<Row>, acc: Option<Row>| {
                    acc.and_then(|a| p(&k.key, Some((k.window.start, k.window.end)), &a))
                },
            );
            let mat = aggregate_materialization(project, Some(w.kind));
            finish(
                parts,
                Output {
                    out,
                    kind: SourceKind::Table,
                    key_cols,
                    cols: &out_cols,
                    window: Some(w.kind),
                    materialized: Some(mat),
                },
            )
        }
    }
}

/// Where pull queries find an aggregation's rows: its accumulators in [`AGGREGATE_STORE`],
/// projected as the sink's rows are.
fn aggregate_materialization(project: Projector, window: Option<WindowKind>) -> Materialization {
    Materialization {
        store: AGGREGATE_STORE.to_owned(),
        query_id: String::new(),
        window,
        project,
        source_rows: false,
    }
}

/// Writes an aggregation's table (not windowed) to the sink: each accumulator row projected
/// to the output row, a row `HAVING` rejects as a delete; pull queries read the accumulators
/// from [`AGGREGATE_STORE`] with the same projection.
fn finish_aggregate(
    parts: QueryParts<'_>,
    table: &KTable<Row, Row>,
    project: Projector,
    key_cols: Vec<(String, SqlType)>,
    out_cols: &[OutCol],
) -> Result<Planned> {
    let p = project.clone();
    let out = table
        .to_stream()
        .map_values_with_key(move |k: &Row, acc: Option<Row>| acc.and_then(|a| p(k, None, &a)));
    let mat = aggregate_materialization(project, None);
    finish(
        parts,
        Output {
            out,
            kind: SourceKind::Table,
            key_cols,
            cols: out_cols,
            window: None,
            materialized: Some(mat),
        },
    )
}

fn sink_key_format(text: &str, sink: &Sink, src: &Source) -> Result<Format> {
    Ok(match sink {
        Sink::Create { properties, .. } => {
            format_prop(text, properties, "KEY_FORMAT")?.unwrap_or(src.key_format)
        }
        Sink::Insert(t) => t.key_format,
        Sink::Channel(_) => src.key_format,
    })
}

/// What a query is, for [`finish`]: its text and statement, its (first) source, the topics
/// it reads and where it writes.
pub(crate) struct QueryParts<'a> {
    pub(crate) text: &'a str,
    pub(crate) query: &'a Query,
    pub(crate) src: &'a Source,
    pub(crate) inputs: Vec<String>,
    pub(crate) sink: Sink,
}

/// What a query produces, for [`finish`]: its output stream, whether that is a stream or a
/// table, its key and output columns, its window, and the store pull queries read.
pub(crate) struct Output<'a, K> {
    pub(crate) out: KStream<K, RowValue>,
    pub(crate) kind: SourceKind,
    pub(crate) key_cols: Vec<(String, SqlType)>,
    pub(crate) cols: &'a [OutCol],
    pub(crate) window: Option<WindowKind>,
    pub(crate) materialized: Option<Materialization>,
}

/// Writes the query's output to its sink: a topic (new or existing) or a channel.
pub(crate) fn finish<K: OutputKey>(
    parts: QueryParts<'_>,
    output: Output<'_, K>,
) -> Result<Planned> {
    let QueryParts {
        text,
        query,
        src,
        inputs,
        sink,
    } = parts;
    let Output {
        out,
        kind,
        key_cols,
        cols,
        window,
        materialized,
    } = output;
    let value_cols: Vec<(String, SqlType)> = cols
        .iter()
        .filter(|c| !c.key)
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    let mut columns = key_cols.clone();
    if window.is_some() {
        columns.push(("WINDOWSTART".to_owned(), SqlType::BigInt));
        columns.push(("WINDOWEND".to_owned(), SqlType::BigInt));
    }
    columns.extend(value_cols.iter().cloned());
    match sink {
        Sink::Channel(tx) => {
            if query.emit.is_none() {
                return Err(Error::compile(
                    text,
                    query.location,
                    "a push query needs EMIT CHANGES",
                ));
            }
            out.foreach(move |k: &K, v: &RowValue| {
                let Some(v) = v else { return };
                let (key, w) = k.parts();
                let mut row: OutputRow = key.0.clone();
                if let Some((s, e)) = w {
                    row.push(Value::BigInt(s));
                    row.push(Value::BigInt(e));
                }
                row.extend(v.0.iter().cloned());
                // The receiver is gone once the query is cancelled or its LIMIT reached.
                let _ = tx.send(row);
            });
            Ok(Planned {
                inputs,
                output: None,
                columns,
            })
        }
        Sink::Create {
            name,
            kind: want,
            properties,
            statement,
        } => {
            if want != kind {
                return Err(Error::compile(
                    text,
                    query.location,
                    format!(
                        "the query gives a {}, not a {}: use CREATE {} {name} AS ...",
                        kind.keyword(),
                        want.keyword(),
                        kind.keyword()
                    ),
                ));
            }
            let topic = prop(&properties, "KAFKA_TOPIC").map_or(name.clone(), |p| p.value.clone());
            let value_format =
                format_prop(text, &properties, "VALUE_FORMAT")?.unwrap_or(src.value_format);
            let key_format =
                format_prop(text, &properties, "KEY_FORMAT")?.unwrap_or(src.key_format);
            check_format(text, query.location, key_format, &key_cols, "KEY_FORMAT")?;
            check_format(
                text,
                query.location,
                value_format,
                &value_cols,
                "VALUE_FORMAT",
            )?;
            let partitions = partitions_prop(text, &properties)?.or(src.partitions);
            write(
                &out,
                &topic,
                key_format,
                value_format,
                &key_cols,
                &value_cols,
                window,
            );
            let output = Source {
                name,
                kind,
                topic,
                key_format,
                value_format,
                key_columns: key_cols,
                value_columns: value_cols,
                timestamp: None,
                timestamp_format: None,
                window,
                partitions,
                statement,
                materialized,
            };
            Ok(Planned {
                inputs,
                output: Some(output),
                columns,
            })
        }
        Sink::Insert(target) => {
            let types =
                |c: &[(String, SqlType)]| c.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();
            if types(&target.value_columns) != types(&value_cols)
                || types(&target.key_columns) != types(&key_cols)
                || window.is_some()
            {
                return Err(Error::compile(
                    text,
                    query.location,
                    format!(
                        "the query's columns ({}) do not match {}'s ({})",
                        columns
                            .iter()
                            .map(|(n, t)| format!("{n} {t}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        target.name,
                        target
                            .key_columns
                            .iter()
                            .chain(&target.value_columns)
                            .map(|(n, t)| format!("{n} {t}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            write(
                &out,
                &target.topic,
                target.key_format,
                target.value_format,
                &key_cols,
                &target.value_columns,
                None,
            );
            Ok(Planned {
                inputs,
                output: Some(*target),
                columns,
            })
        }
    }
}

fn check_format(
    text: &str,
    at: Location,
    f: Format,
    cols: &[(String, SqlType)],
    what: &str,
) -> Result<()> {
    if let Some(message) = crate::format::unsupported_type(f, cols, what) {
        return Err(Error::compile(text, at, message));
    }
    if f == Format::Kafka && cols.len() > 1 {
        return Err(Error::compile(
            text,
            at,
            format!(
                "{what} 'KAFKA' holds one column; these are {}: use JSON",
                cols.len()
            ),
        ));
    }
    Ok(())
}

fn write<K: OutputKey>(
    out: &KStream<K, RowValue>,
    topic: &str,
    key_format: Format,
    value_format: Format,
    key_cols: &[(String, SqlType)],
    value_cols: &[(String, SqlType)],
    window: Option<WindowKind>,
) {
    let key = K::serde(RowSerde::key(key_format, key_cols.to_vec()), window);
    let value = Serdes::option(RowSerde::value(value_format, value_cols.to_vec()));
    out.to(topic, Produced::with(key, value));
}
