//! Compiles queries into topologies of the DSL: a source, `WHERE` as a filter, the
//! projection as a value mapper, `PARTITION BY` as a key mapper, `GROUP BY` as a grouping
//! (through a repartition topic unless it groups by the key) and an aggregation (windowed
//! by `WINDOW`), `EMIT FINAL` as a suppression, and a sink.

mod join;

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
use streams_dsl::prelude::*;

use crate::aggregate::{self, AggFn};
use crate::ast::{Emit, Property, Query, SelectItem, SourceKind, WindowKind};
use crate::catalog::{Catalog, Materialization, Projector, Source};
use crate::error::{Error, Location, Result};
use crate::expr::{CExpr, Compiler, Ctx, Scope, ScopeColumn, Slot, ident_name, location_of};
use crate::format::{Format, RowSerde};
use crate::types::SqlType;
use crate::value::{Row, RowValue, Value};

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

/// Compiles `query` to a topology writing to `sink`.
pub(crate) fn compile(
    catalog: &Catalog,
    text: &str,
    query: &Query,
    sink: Sink,
) -> Result<Compiled> {
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
    if let Some(j) = query.joins.first() {
        return join::compile(catalog, text, query, src, j, sink);
    }
    let builder = StreamsBuilder::new();
    let flow = read_source(&builder, src);
    let scope = source_scope(src, from.qualifier());
    let inputs = vec![src.topic.clone()];
    if !query.group_by.is_empty() {
        let Flow::Stream(stream) = flow else {
            return Err(Error::compile(
                text,
                query.location,
                "aggregations of tables are not supported: aggregate a stream",
            ));
        };
        return aggregate_stream(&builder, text, query, src, stream, &scope, inputs, sink);
    }
    if let Some(w) = &query.window {
        return Err(Error::compile(text, w.location, "WINDOW needs a GROUP BY"));
    }
    let filter = match &query.filter {
        Some(f) => Some(predicate(text, &scope, f)?),
        None => None,
    };
    match flow {
        Flow::Stream(stream) => select_stream(
            builder, text, query, src, stream, &scope, filter, inputs, sink,
        ),
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
    builder: StreamsBuilder,
    text: &str,
    query: &Query,
    src: &Source,
    stream: KStream<Row, RowValue>,
    scope: &Scope,
    filter: Option<CExpr>,
    inputs: Vec<String>,
    sink: Sink,
) -> Result<Compiled> {
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
                    builder,
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

/// One aggregate call of the query: function, argument (index into the prepared row) and
/// types.
#[derive(Clone)]
struct AggCall {
    f: AggFn,
    arg: Option<usize>,
    out: SqlType,
    text: String,
}

#[allow(clippy::too_many_arguments)]
fn aggregate_stream(
    builder: &StreamsBuilder,
    text: &str,
    query: &Query,
    src: &Source,
    stream: KStream<Row, RowValue>,
    scope: &Scope,
    inputs: Vec<String>,
    sink: Sink,
) -> Result<Compiled> {
    if query.partition_by.is_some() {
        return Err(Error::compile(
            text,
            query.location,
            "PARTITION BY and GROUP BY do not go together: the key is the GROUP BY",
        ));
    }
    let filter = match &query.filter {
        Some(f) => Some(predicate(text, scope, f)?),
        None => None,
    };
    // The prepared row: the GROUP BY values, then each aggregate's argument.
    let mut prepared: Vec<CExpr> = Vec::new();
    let mut group_types = Vec::new();
    let mut group_names = Vec::new();
    let mut group_slots = Vec::new();
    for (i, g) in query.group_by.iter().enumerate() {
        let (c, t) = compile_expr(text, scope, g)?;
        group_slots.push(match &c {
            CExpr::Col(s) => Some(*s),
            _ => None,
        });
        prepared.push(c);
        group_types.push(t);
        group_names.push(col_name(g, None, i));
    }
    let g = query.group_by.len();
    let windowed = query.window.is_some();
    // The scope after the aggregation: group columns in the key row, aggregates in the
    // value row, window bounds from the window.
    let mut agg_scope = Scope::default();
    for (i, (n, t)) in group_names.iter().zip(&group_types).enumerate() {
        agg_scope.columns.push(ScopeColumn {
            qualifier: None,
            name: n.clone(),
            ty: t.clone(),
            slot: Slot::Key(i),
        });
    }
    let mut calls: Vec<AggCall> = Vec::new();
    let group_texts: Vec<String> = query
        .group_by
        .iter()
        .map(|e| e.to_string().to_uppercase())
        .collect();
    let compile_post = |e: &Expr,
                        calls: &mut Vec<AggCall>,
                        prepared: &mut Vec<CExpr>|
     -> Result<(CExpr, SqlType)> {
        let mut hook = |x: &Expr| -> Result<Option<(CExpr, SqlType)>> {
            if let Some(i) = group_texts
                .iter()
                .position(|t| *t == x.to_string().to_uppercase())
            {
                return Ok(Some((CExpr::Col(Slot::Key(i)), group_types[i].clone())));
            }
            if let Expr::Identifier(id) = x {
                let n = ident_name(id);
                if (n == "WINDOWSTART" || n == "WINDOWEND") && windowed {
                    let s = if n == "WINDOWSTART" {
                        Slot::WindowStart
                    } else {
                        Slot::WindowEnd
                    };
                    return Ok(Some((CExpr::Col(s), SqlType::BigInt)));
                }
                // A grouped column named without its qualifier, or with it.
                if let Some(i) = group_names.iter().position(|g| *g == n) {
                    return Ok(Some((CExpr::Col(Slot::Key(i)), group_types[i].clone())));
                }
            }
            if let Expr::Function(f) = x {
                let name = f.name.to_string().to_uppercase();
                if aggregate::is_aggregate(&name) {
                    let mut args: Vec<Option<(CExpr, SqlType)>> = Vec::new();
                    if let FunctionArguments::List(list) = &f.args {
                        for a in &list.args {
                            match a {
                                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => args.push(None),
                                FunctionArg::Unnamed(FunctionArgExpr::Expr(ae)) => {
                                    args.push(Some(compile_expr(text, scope, ae)?));
                                }
                                _ => {
                                    return Err(Error::compile(
                                        text,
                                        location_of(x),
                                        format!("unsupported argument '{a}'"),
                                    ));
                                }
                            }
                        }
                    }
                    let types: Vec<Option<SqlType>> = args
                        .iter()
                        .map(|a| a.as_ref().map(|(_, t)| t.clone()))
                        .collect();
                    let (func, out) = aggregate::resolve(&name, &types)
                        .map_err(|m| Error::compile(text, location_of(x), m))?;
                    let key = x.to_string().to_uppercase();
                    let idx = match calls.iter().position(|c| c.text == key) {
                        Some(i) => i,
                        None => {
                            let arg = match args.into_iter().next().flatten() {
                                Some((c, _)) => {
                                    prepared.push(c);
                                    Some(prepared.len() - 1)
                                }
                                None => None,
                            };
                            calls.push(AggCall {
                                f: func,
                                arg,
                                out: out.clone(),
                                text: key,
                            });
                            calls.len() - 1
                        }
                    };
                    return Ok(Some((CExpr::Col(Slot::Val(idx)), out)));
                }
            }
            Ok(None)
        };
        let empty = Scope::default();
        let mut c = Compiler {
            text,
            scope: &empty,
            hook: Some(&mut hook),
        };
        c.compile(e).map_err(|err| match err {
            Error::Compile {
                message,
                location,
                excerpt,
            } if message.starts_with("column '") => Error::Compile {
                message: format!(
                    "{} is neither in the GROUP BY nor inside an aggregate; grouped: {}",
                    message.split(" cannot").next().unwrap_or(&message),
                    group_names.join(", ")
                ),
                location,
                excerpt,
            },
            other => other,
        })
    };
    let mut out_cols: Vec<OutCol> = Vec::new();
    for (i, item) in query.items.iter().enumerate() {
        match item {
            SelectItem::Star(_) => {
                return Err(Error::compile(
                    text,
                    query.location,
                    "SELECT * cannot be used with GROUP BY; name the columns",
                ));
            }
            SelectItem::Expr(e, alias) => {
                let (c, t) = compile_post(e, &mut calls, &mut prepared)?;
                let key = matches!(c, CExpr::Col(Slot::Key(_)));
                out_cols.push(OutCol {
                    name: col_name(e, alias.as_ref(), i),
                    ty: t,
                    expr: c,
                    key,
                });
            }
        }
    }
    let having = match &query.having {
        Some(h) => {
            let (c, t) = compile_post(h, &mut calls, &mut prepared)?;
            if t != SqlType::Boolean {
                return Err(Error::compile(
                    text,
                    location_of(h),
                    format!("HAVING needs a BOOLEAN condition, not {t}"),
                ));
            }
            Some(c)
        }
        None => None,
    };
    // Key columns keep their aliases.
    let mut key_cols: Vec<(String, SqlType)> = group_names
        .iter()
        .cloned()
        .zip(group_types.iter().cloned())
        .collect();
    for c in &out_cols {
        if let CExpr::Col(Slot::Key(i)) = c.expr
            && let Some(k) = key_cols.get_mut(i)
        {
            k.0 = c.name.clone();
        }
    }
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
    let calls = Arc::new(calls);
    let init_calls = calls.clone();
    let init = move || {
        Row(init_calls
            .iter()
            .map(|c| aggregate::init(c.f, &c.out))
            .collect())
    };
    let add_calls = calls.clone();
    let add = move |_: &Row, v: RowValue, acc: Row| -> Row {
        let Some(v) = v else { return acc };
        Row(acc
            .0
            .into_iter()
            .zip(add_calls.iter())
            .map(|(a, c)| aggregate::add(c.f, a, c.arg.map_or(Value::Null, |i| v.get(i).clone())))
            .collect())
    };
    let materialized = || {
        Materialized::as_(AGGREGATE_STORE)
            .with_key_serde(key_serde.clone())
            .with_value_serde(Serdes::json::<Row>())
    };
    let value_exprs: Vec<CExpr> = out_cols
        .iter()
        .filter(|c| !c.key)
        .map(|c| c.expr.clone())
        .collect();
    let result_calls = calls.clone();
    let project: Projector = {
        let value_exprs = value_exprs.clone();
        let having = having.clone();
        Arc::new(move |key: &Row, window: Option<(i64, i64)>, acc: &Row| {
            let results = Row(acc
                .0
                .iter()
                .zip(result_calls.iter())
                .map(|(a, c)| aggregate::result(c.f, a))
                .collect());
            let ctx = Ctx {
                key,
                val: &results,
                window,
            };
            if let Some(h) = &having
                && !h.holds(&ctx)
            {
                return None;
            }
            Some(Row(value_exprs.iter().map(|e| e.eval(&ctx)).collect()))
        })
    };
    let emit_final = query.emit == Some(Emit::Final);
    let parts = QueryParts {
        text,
        query,
        src,
        inputs,
        sink,
        builder: builder.clone(),
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
            let p = project.clone();
            let out = table
                .to_stream()
                .map_values_with_key(move |k: &Row, acc: Option<Row>| {
                    acc.and_then(|a| p(k, None, &a))
                });
            let mat = Materialization {
                store: AGGREGATE_STORE.to_owned(),
                query_id: String::new(),
                window: None,
                project,
                source_rows: false,
            };
            finish(
                parts,
                Output {
                    out,
                    kind: SourceKind::Table,
                    key_cols,
                    cols: &out_cols,
                    window: None,
                    materialized: Some(mat),
                },
            )
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
                WindowKind::Session { gap } => {
                    let merge_calls = calls.clone();
                    let merge = move |_: &Row, a: Row, b: Row| -> Row {
                        Row(a
                            .0
                            .into_iter()
                            .zip(b.0)
                            .zip(merge_calls.iter())
                            .map(|((x, y), c)| aggregate::merge(c.f, x, y))
                            .collect())
                    };
                    grouped
                        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
                            Duration::from_millis(gap as u64),
                            grace,
                        ))
                        .aggregate_with(init, add, merge, materialized())
                }
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
            let mat = Materialization {
                store: AGGREGATE_STORE.to_owned(),
                query_id: String::new(),
                window: Some(w.kind),
                project,
                source_rows: false,
            };
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
/// it reads, where it writes, and the builder it was compiled with.
pub(crate) struct QueryParts<'a> {
    pub(crate) text: &'a str,
    pub(crate) query: &'a Query,
    pub(crate) src: &'a Source,
    pub(crate) inputs: Vec<String>,
    pub(crate) sink: Sink,
    pub(crate) builder: StreamsBuilder,
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
) -> Result<Compiled> {
    let QueryParts {
        text,
        query,
        src,
        inputs,
        sink,
        builder,
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
    let build = |b: StreamsBuilder, ctx: &str| {
        b.build()
            .map_err(|e| Error::streams(format!("building the topology of {ctx}"), e))
    };
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
            Ok(Compiled {
                topology: build(builder, "the push query")?,
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
            Ok(Compiled {
                topology: build(builder, &output.name)?,
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
            Ok(Compiled {
                topology: build(builder, &target.name)?,
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
