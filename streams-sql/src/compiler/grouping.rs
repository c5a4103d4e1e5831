//! The analysis of a `GROUP BY` query, shared by the aggregations of streams and of tables:
//! the row each input row is prepared as (the `GROUP BY` values, then each aggregate's
//! argument), the aggregate calls, the output columns and `HAVING`, and the accumulator
//! functions the DSL aggregations take.

use std::sync::Arc;

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::{OutCol, col_name, compile_expr, predicate};
use crate::aggregate::{self, AggFn};
use crate::ast::{Query, SelectItem};
use crate::catalog::Projector;
use crate::error::{Error, Location, Result};
use crate::expr::{CExpr, Compiler, Ctx, Scope, ScopeColumn, Slot, ident_name, location_of};
use crate::types::SqlType;
use crate::value::{Row, RowValue, Value};

/// One aggregate call of the query: function, argument (index into the prepared row),
/// result type, its text (calls of the same text share an accumulator), and its name and
/// place for error messages.
#[derive(Clone)]
pub(super) struct AggCall {
    pub(super) f: AggFn,
    pub(super) arg: Option<usize>,
    pub(super) out: SqlType,
    pub(super) text: String,
    pub(super) name: String,
    pub(super) location: Location,
}

/// A `GROUP BY` query, analysed.
pub(super) struct Grouping {
    /// `WHERE`, over the source's rows.
    pub(super) filter: Option<CExpr>,
    /// The prepared row: the `GROUP BY` values, then each aggregate's argument.
    pub(super) prepared: Vec<CExpr>,
    /// Each `GROUP BY` expression's column, when it is exactly one.
    pub(super) group_slots: Vec<Option<Slot>>,
    /// The aggregate calls, in the order of the accumulator row.
    pub(super) calls: Arc<Vec<AggCall>>,
    /// The output columns: the grouped ones are key columns.
    pub(super) out_cols: Vec<OutCol>,
    /// The output key columns, with the projection's aliases.
    pub(super) key_cols: Vec<(String, SqlType)>,
    /// From an accumulator row to the output value row; `None` when `HAVING` rejects it.
    pub(super) project: Projector,
}

impl Grouping {
    /// Analyses `query` over the rows of `scope`.
    pub(super) fn analyze(text: &str, query: &Query, scope: &Scope) -> Result<Self> {
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
                                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => {
                                        args.push(None)
                                    }
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
                                    name: name.clone(),
                                    location: location_of(x),
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

        let calls = Arc::new(calls);
        let value_exprs: Vec<CExpr> = out_cols
            .iter()
            .filter(|c| !c.key)
            .map(|c| c.expr.clone())
            .collect();
        let result_calls = calls.clone();
        let project: Projector =
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
            });
        Ok(Grouping {
            filter,
            prepared,
            group_slots,
            calls,
            out_cols,
            key_cols,
            project,
        })
    }

    /// The number of `GROUP BY` expressions: the first values of a prepared row.
    pub(super) fn group_count(&self) -> usize {
        self.group_slots.len()
    }

    /// The accumulators before any row.
    pub(super) fn initializer(&self) -> impl Fn() -> Row + Send + Sync + 'static {
        let calls = self.calls.clone();
        move || Row(calls.iter().map(|c| aggregate::init(c.f, &c.out)).collect())
    }

    /// The accumulators after one more prepared row; a null row leaves them as they are.
    pub(super) fn adder(&self) -> impl Fn(&Row, RowValue, Row) -> Row + Send + Sync + 'static {
        let calls = self.calls.clone();
        move |_: &Row, v: RowValue, acc: Row| -> Row { fold(&calls, v, acc, aggregate::add) }
    }

    /// The accumulators after a prepared row left the group (a table's row that changed
    /// group or was deleted), as ksqlDB's `KudafUndoAggregator`.
    pub(super) fn subtractor(&self) -> impl Fn(&Row, RowValue, Row) -> Row + Send + Sync + 'static {
        let calls = self.calls.clone();
        move |_: &Row, v: RowValue, acc: Row| -> Row { fold(&calls, v, acc, aggregate::undo) }
    }

    /// Two sessions' accumulators merged: the earlier session's, then the later one's.
    pub(super) fn merger(&self) -> impl Fn(&Row, Row, Row) -> Row + Send + Sync + 'static {
        let calls = self.calls.clone();
        move |_: &Row, a: Row, b: Row| -> Row {
            Row(a
                .0
                .into_iter()
                .zip(b.0)
                .zip(calls.iter())
                .map(|((x, y), c)| aggregate::merge(c.f, x, y))
                .collect())
        }
    }
}

/// Applies `step` to each accumulator with its call's argument from the prepared row `v`.
fn fold(calls: &[AggCall], v: RowValue, acc: Row, step: fn(AggFn, Value, Value) -> Value) -> Row {
    let Some(v) = v else { return acc };
    Row(acc
        .0
        .into_iter()
        .zip(calls.iter())
        .map(|(a, c)| step(c.f, a, c.arg.map_or(Value::Null, |i| v.get(i).clone())))
        .collect())
}
