//! Expressions: sqlparser's expressions resolved against a scope of columns, type-checked,
//! and evaluated over rows.

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned,
    UnaryOperator, Value as SqlValue,
};

use crate::decimal::Decimal;
use crate::error::{Error, Location, Result};
use crate::functions::{self, Scalar};
use crate::types::SqlType;
use crate::value::{Row, Value};

/// Where a column's value is: in the record's key row or its value row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Key column `i`.
    Key(usize),
    /// Value column `i`.
    Val(usize),
    /// The window's start (`WINDOWSTART`).
    WindowStart,
    /// The window's end (`WINDOWEND`).
    WindowEnd,
}

/// A column an expression can name.
#[derive(Debug, Clone)]
pub(crate) struct ScopeColumn {
    /// The source alias it belongs to, if any.
    pub(crate) qualifier: Option<String>,
    /// Its name.
    pub(crate) name: String,
    /// Its type.
    pub(crate) ty: SqlType,
    /// Where its value is.
    pub(crate) slot: Slot,
}

/// The columns an expression can name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) columns: Vec<ScopeColumn>,
}

/// What an evaluation reads: the record's key and value rows and, after a windowed
/// aggregation, its window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) key: &'a Row,
    pub(crate) val: &'a Row,
    pub(crate) window: Option<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Col(Slot),
    Lit(Value),
    Not(Box<CExpr>),
    Neg(Box<CExpr>),
    Arith(Arith, Box<CExpr>, Box<CExpr>, SqlType),
    Concat(Box<CExpr>, Box<CExpr>),
    Cmp(Cmp, Box<CExpr>, Box<CExpr>),
    And(Box<CExpr>, Box<CExpr>),
    Or(Box<CExpr>, Box<CExpr>),
    IsNull(Box<CExpr>, bool),
    Between(Box<CExpr>, Box<CExpr>, Box<CExpr>, bool),
    InList(Box<CExpr>, Vec<CExpr>, bool),
    Like(Box<CExpr>, Box<CExpr>, bool),
    Case(Vec<(CExpr, CExpr)>, Option<Box<CExpr>>),
    Cast(Box<CExpr>, SqlType),
    Call(Scalar, Vec<CExpr>),
    Field(Box<CExpr>, String),
    Index(Box<CExpr>, Box<CExpr>),
}

/// Where `e` starts in the text.
pub(crate) fn location_of(e: &Expr) -> Location {
    let s = e.span().start;
    Location {
        line: s.line,
        column: s.column,
    }
}

/// ksqlDB upper-cases unquoted identifiers.
pub(crate) fn ident_name(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_uppercase()
    }
}

impl Scope {
    /// The column names, qualified only when the scope has several sources.
    fn names(&self) -> impl Iterator<Item = String> + '_ {
        let first = self.columns.first().and_then(|c| c.qualifier.clone());
        let several = self.columns.iter().any(|c| c.qualifier != first);
        self.columns.iter().map(move |c| match &c.qualifier {
            Some(q) if several => format!("{q}.{}", c.name),
            _ => c.name.clone(),
        })
    }

    /// The column `qualifier.name` (or `name`), or an error naming the candidates.
    pub(crate) fn resolve(
        &self,
        text: &str,
        location: Location,
        qualifier: Option<&str>,
        name: &str,
    ) -> Result<&ScopeColumn> {
        let found: Vec<&ScopeColumn> = self
            .columns
            .iter()
            .filter(|c| {
                c.name == name && qualifier.is_none_or(|q| c.qualifier.as_deref() == Some(q))
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => {
                let shown = match qualifier {
                    Some(q) => format!("{q}.{name}"),
                    None => name.to_owned(),
                };
                let names: Vec<String> = self.names().collect();
                Err(Error::compile(
                    text,
                    location,
                    format!(
                        "column '{shown}' cannot be resolved; candidates: {}",
                        crate::suggest::candidates(&shown, names.iter().map(String::as_str))
                    ),
                ))
            }
            many => Err(Error::compile(
                text,
                location,
                format!(
                    "column '{name}' is ambiguous: {}; qualify it with its source",
                    many.iter()
                        .map(|c| format!("{}.{}", c.qualifier.as_deref().unwrap_or("?"), c.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// Compiles expressions against a scope. `hook` gets the first look at every
/// sub-expression: aggregations use it to replace aggregate calls and grouped expressions by
/// columns of the aggregate.
pub(crate) struct Compiler<'a> {
    pub(crate) text: &'a str,
    pub(crate) scope: &'a Scope,
    #[allow(clippy::type_complexity)]
    pub(crate) hook: Option<&'a mut dyn FnMut(&Expr) -> Result<Option<(CExpr, SqlType)>>>,
}

fn mismatch(text: &str, e: &Expr, message: String) -> Error {
    Error::compile(text, location_of(e), message)
}

/// The SQL type a `CAST` names.
pub(crate) fn cast_type(name: &str) -> Option<SqlType> {
    let upper = name.to_uppercase().replace(' ', "");
    Some(match upper.as_str() {
        "BOOLEAN" => SqlType::Boolean,
        "INT" | "INTEGER" => SqlType::Int,
        "BIGINT" => SqlType::BigInt,
        "DOUBLE" => SqlType::Double,
        "VARCHAR" | "STRING" | "TEXT" => SqlType::String,
        "TIMESTAMP" => SqlType::Timestamp,
        d if d.starts_with("DECIMAL(") => {
            let inner = d.trim_start_matches("DECIMAL(").trim_end_matches(')');
            let (p, s) = inner.split_once(',')?;
            SqlType::decimal(p.parse().ok()?, s.parse().ok()?)?
        }
        _ => return None,
    })
}

impl Compiler<'_> {
    /// Compiles `e`, returning it with its type.
    pub(crate) fn compile(&mut self, e: &Expr) -> Result<(CExpr, SqlType)> {
        if let Some(hook) = self.hook.as_mut()
            && let Some(done) = hook(e)?
        {
            return Ok(done);
        }
        let text = self.text;
        Ok(match e {
            Expr::Identifier(i) => {
                let name = ident_name(i);
                let c = self.scope.resolve(text, location_of(e), None, &name)?;
                (CExpr::Col(c.slot), c.ty.clone())
            }
            Expr::CompoundIdentifier(parts) => {
                let (q, n) = match parts.as_slice() {
                    [q, n] => (ident_name(q), ident_name(n)),
                    _ => {
                        return Err(mismatch(text, e, format!("cannot resolve '{e}'")));
                    }
                };
                // `source.column`, or `struct_column.field` when no source has that name.
                let has_q = self
                    .scope
                    .columns
                    .iter()
                    .any(|c| c.qualifier.as_deref() == Some(q.as_str()));
                if has_q {
                    let c = self.scope.resolve(text, location_of(e), Some(&q), &n)?;
                    (CExpr::Col(c.slot), c.ty.clone())
                } else {
                    let base = Expr::Identifier(parts[0].clone());
                    self.field(e, &base, &n)?
                }
            }
            Expr::Value(v) => literal(text, e, &v.value)?,
            Expr::Nested(inner) => self.compile(inner)?,
            Expr::UnaryOp { op, expr } => {
                let (c, t) = self.compile(expr)?;
                match op {
                    UnaryOperator::Not => {
                        self.expect_bool(expr, &t)?;
                        (CExpr::Not(Box::new(c)), SqlType::Boolean)
                    }
                    UnaryOperator::Minus => {
                        if !t.is_numeric() {
                            return Err(mismatch(text, expr, format!("cannot negate {t}")));
                        }
                        (CExpr::Neg(Box::new(c)), t)
                    }
                    UnaryOperator::Plus => (c, t),
                    other => {
                        return Err(mismatch(text, e, format!("unsupported operator {other}")));
                    }
                }
            }
            Expr::BinaryOp { left, op, right } => self.binary(e, left, op, right)?,
            Expr::IsNull(x) | Expr::IsNotNull(x) => {
                let (c, _) = self.compile(x)?;
                (
                    CExpr::IsNull(Box::new(c), matches!(e, Expr::IsNotNull(_))),
                    SqlType::Boolean,
                )
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (c, t) = self.compile(expr)?;
                let (l, lt) = self.compile(low)?;
                let (h, ht) = self.compile(high)?;
                self.comparable(low, &t, &lt)?;
                self.comparable(high, &t, &ht)?;
                (
                    CExpr::Between(Box::new(c), Box::new(l), Box::new(h), *negated),
                    SqlType::Boolean,
                )
            }
            Expr::In {
                expr,
                target: sqlparser::ast::InTarget::List(list),
                negated,
                ..
            } => {
                let (c, t) = self.compile(expr)?;
                let mut items = Vec::new();
                for i in list {
                    let (ic, it) = self.compile(i)?;
                    self.comparable(i, &t, &it)?;
                    items.push(ic);
                }
                (
                    CExpr::InList(Box::new(c), items, *negated),
                    SqlType::Boolean,
                )
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                ..
            } => {
                let (c, t) = self.compile(expr)?;
                let (p, pt) = self.compile(pattern)?;
                if t != SqlType::String || pt != SqlType::String {
                    return Err(mismatch(
                        text,
                        e,
                        format!("LIKE needs STRING operands, not {t} and {pt}"),
                    ));
                }
                (
                    CExpr::Like(Box::new(c), Box::new(p), *negated),
                    SqlType::Boolean,
                )
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut arms = Vec::new();
                let mut ty: Option<SqlType> = None;
                let op = match operand {
                    Some(o) => Some(self.compile(o)?),
                    None => None,
                };
                for w in conditions {
                    let (cond, ct) = self.compile(&w.condition)?;
                    let cond = match &op {
                        Some((oc, ot)) => {
                            self.comparable(&w.condition, ot, &ct)?;
                            CExpr::Cmp(Cmp::Eq, Box::new(oc.clone()), Box::new(cond))
                        }
                        None => {
                            self.expect_bool(&w.condition, &ct)?;
                            cond
                        }
                    };
                    let (r, rt) = self.compile(&w.result)?;
                    ty = Some(self.unify(&w.result, ty, rt)?);
                    arms.push((cond, r));
                }
                let els = match else_result {
                    Some(x) => {
                        let (c, t) = self.compile(x)?;
                        ty = Some(self.unify(x, ty, t)?);
                        Some(Box::new(c))
                    }
                    None => None,
                };
                (CExpr::Case(arms, els), ty.unwrap_or(SqlType::String))
            }
            Expr::Cast {
                kind,
                expr,
                data_type,
                ..
            } => {
                if !matches!(kind, CastKind::Cast | CastKind::TryCast) {
                    return Err(mismatch(text, e, "use CAST(x AS type)".to_owned()));
                }
                let (c, _) = self.compile(expr)?;
                let Some(t) = cast_type(&data_type.to_string()) else {
                    return Err(mismatch(text, e, format!("cannot CAST to {data_type}")));
                };
                (CExpr::Cast(Box::new(c), t.clone()), t)
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.compile(expr)?];
                if let Some(f) = substring_from {
                    args.push(self.compile(f)?);
                }
                if let Some(f) = substring_for {
                    args.push(self.compile(f)?);
                }
                self.call(e, "SUBSTRING", args)?
            }
            Expr::Trim {
                expr, trim_what, ..
            } => {
                if trim_what.is_some() {
                    return Err(mismatch(text, e, "TRIM takes one argument".to_owned()));
                }
                let a = self.compile(expr)?;
                self.call(e, "TRIM", vec![a])?
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_uppercase();
                let mut args = Vec::new();
                if let FunctionArguments::List(list) = &f.args {
                    for a in &list.args {
                        match a {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => {
                                args.push(self.compile(x)?);
                            }
                            _ => {
                                return Err(mismatch(
                                    text,
                                    e,
                                    format!("unsupported argument '{a}' of {name}"),
                                ));
                            }
                        }
                    }
                }
                if crate::aggregate::is_aggregate(&name) {
                    return Err(mismatch(
                        text,
                        e,
                        format!(
                            "aggregate {name} is only allowed in the projection or HAVING of a GROUP BY query"
                        ),
                    ));
                }
                self.call(e, &name, args)?
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                let (mut c, mut t) = self.compile(root)?;
                for a in access_chain {
                    match a {
                        sqlparser::ast::AccessExpr::Subscript(
                            sqlparser::ast::Subscript::Index { index },
                        ) => {
                            let (ic, it) = self.compile(index)?;
                            t = match (&t, &it) {
                                (SqlType::Array(et), x) if x.is_numeric() => et.as_ref().clone(),
                                (SqlType::Map(vt), SqlType::String) => vt.as_ref().clone(),
                                _ => {
                                    return Err(mismatch(
                                        text,
                                        e,
                                        format!("cannot index {t} with {it}"),
                                    ));
                                }
                            };
                            c = CExpr::Index(Box::new(c), Box::new(ic));
                        }
                        _ => return Err(mismatch(text, e, format!("unsupported access '{e}'"))),
                    }
                }
                (c, t)
            }
            other => {
                return Err(mismatch(
                    text,
                    e,
                    format!("unsupported expression '{other}'"),
                ));
            }
        })
    }

    fn field(&mut self, e: &Expr, base: &Expr, name: &str) -> Result<(CExpr, SqlType)> {
        let (c, t) = self.compile(base)?;
        match &t {
            SqlType::Struct(fields) => match fields.iter().find(|(n, _)| n == name) {
                Some((n, ft)) => Ok((CExpr::Field(Box::new(c), n.clone()), ft.clone())),
                None => Err(mismatch(
                    self.text,
                    e,
                    format!(
                        "{t} has no field '{name}'; candidates: {}",
                        crate::suggest::candidates(name, fields.iter().map(|(n, _)| n.as_str()))
                    ),
                )),
            },
            other => Err(mismatch(
                self.text,
                e,
                format!("'{base}' is {other}, not a STRUCT"),
            )),
        }
    }

    fn call(
        &mut self,
        e: &Expr,
        name: &str,
        args: Vec<(CExpr, SqlType)>,
    ) -> Result<(CExpr, SqlType)> {
        let types: Vec<SqlType> = args.iter().map(|(_, t)| t.clone()).collect();
        let (f, t) = functions::resolve(name, &types).map_err(|m| mismatch(self.text, e, m))?;
        Ok((
            CExpr::Call(f, args.into_iter().map(|(c, _)| c).collect()),
            t,
        ))
    }

    fn expect_bool(&self, e: &Expr, t: &SqlType) -> Result<()> {
        if *t == SqlType::Boolean {
            Ok(())
        } else {
            Err(mismatch(
                self.text,
                e,
                format!("expected a BOOLEAN, '{e}' is {t}"),
            ))
        }
    }

    fn comparable(&self, e: &Expr, a: &SqlType, b: &SqlType) -> Result<()> {
        let ok = a == b
            || (a.is_numeric() && b.is_numeric())
            || matches!(
                (a, b),
                (SqlType::Timestamp, SqlType::BigInt) | (SqlType::BigInt, SqlType::Timestamp)
            );
        if ok {
            Ok(())
        } else {
            Err(mismatch(
                self.text,
                e,
                format!("cannot compare {a} with {b}"),
            ))
        }
    }

    fn unify(&self, e: &Expr, have: Option<SqlType>, t: SqlType) -> Result<SqlType> {
        match have {
            None => Ok(t),
            Some(h) if h == t => Ok(h),
            Some(h) => h.widen(&t).ok_or_else(|| {
                mismatch(
                    self.text,
                    e,
                    format!("CASE results differ in type: {h} and {t}"),
                )
            }),
        }
    }

    fn binary(
        &mut self,
        e: &Expr,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> Result<(CExpr, SqlType)> {
        if *op == BinaryOperator::Arrow {
            return match right {
                Expr::Identifier(i) => self.field(e, left, &ident_name(i)),
                _ => Err(mismatch(
                    self.text,
                    right,
                    "expected a field name after ->".to_owned(),
                )),
            };
        }
        let (l, lt) = self.compile(left)?;
        let (r, rt) = self.compile(right)?;
        let (lb, rb) = (Box::new(l), Box::new(r));
        let arith = |a| -> Result<(CExpr, SqlType)> {
            match arith_type(a, &lt, &rt) {
                Some(t) => Ok((CExpr::Arith(a, lb.clone(), rb.clone(), t.clone()), t)),
                None => Err(mismatch(
                    self.text,
                    e,
                    format!("operator '{op}' cannot be applied to {lt} and {rt}"),
                )),
            }
        };
        Ok(match op {
            BinaryOperator::Plus if lt == SqlType::String && rt == SqlType::String => {
                (CExpr::Concat(lb, rb), SqlType::String)
            }
            BinaryOperator::StringConcat => (CExpr::Concat(lb, rb), SqlType::String),
            BinaryOperator::Plus => arith(Arith::Add)?,
            BinaryOperator::Minus => arith(Arith::Sub)?,
            BinaryOperator::Multiply => arith(Arith::Mul)?,
            BinaryOperator::Divide => arith(Arith::Div)?,
            BinaryOperator::Modulo => arith(Arith::Mod)?,
            BinaryOperator::And | BinaryOperator::Or => {
                self.expect_bool(left, &lt)?;
                self.expect_bool(right, &rt)?;
                if *op == BinaryOperator::And {
                    (CExpr::And(lb, rb), SqlType::Boolean)
                } else {
                    (CExpr::Or(lb, rb), SqlType::Boolean)
                }
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                self.comparable(e, &lt, &rt)?;
                let c = match op {
                    BinaryOperator::Eq => Cmp::Eq,
                    BinaryOperator::NotEq => Cmp::Ne,
                    BinaryOperator::Lt => Cmp::Lt,
                    BinaryOperator::LtEq => Cmp::Le,
                    BinaryOperator::Gt => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                (CExpr::Cmp(c, lb, rb), SqlType::Boolean)
            }
            other => {
                return Err(mismatch(
                    self.text,
                    e,
                    format!("unsupported operator '{other}'"),
                ));
            }
        })
    }
}

fn literal(text: &str, e: &Expr, v: &SqlValue) -> Result<(CExpr, SqlType)> {
    Ok(match v {
        SqlValue::Number(n, _) => {
            if let Ok(i) = n.parse::<i32>() {
                (CExpr::Lit(Value::Int(i)), SqlType::Int)
            } else if let Ok(i) = n.parse::<i64>() {
                (CExpr::Lit(Value::BigInt(i)), SqlType::BigInt)
            } else if let Some(d) = decimal_literal(n) {
                d
            } else if let Ok(d) = n.parse::<f64>() {
                (CExpr::Lit(Value::Double(d)), SqlType::Double)
            } else {
                return Err(mismatch(text, e, format!("invalid number '{n}'")));
            }
        }
        SqlValue::SingleQuotedString(s) => (CExpr::Lit(Value::String(s.clone())), SqlType::String),
        SqlValue::Boolean(b) => (CExpr::Lit(Value::Boolean(*b)), SqlType::Boolean),
        SqlValue::Null => (CExpr::Lit(Value::Null), SqlType::String),
        other => return Err(mismatch(text, e, format!("unsupported literal {other}"))),
    })
}

/// A number with a point and no exponent, as ksqlDB reads it: a `DECIMAL` of its digits
/// (`12.50` is `DECIMAL(4, 2)`; one between -1 and 1 has one digit more than its scale, as
/// ksqlDB's `DecimalUtil.fromValue` gives `0.05` `DECIMAL(3, 2)`). With an exponent it is a
/// `DOUBLE`.
fn decimal_literal(n: &str) -> Option<(CExpr, SqlType)> {
    if !n.contains('.') || n.contains(['e', 'E']) {
        return None;
    }
    let d: Decimal = n.parse().ok()?;
    let scale = u32::from(d.scale());
    let precision = if d.unscaled().unsigned_abs() < 10u128.pow(scale) {
        scale + 1
    } else {
        d.precision()
    };
    let t = SqlType::Decimal(u8::try_from(precision).ok()?, d.scale());
    Some((CExpr::Lit(Value::Decimal(d)), t))
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn compare(c: Cmp, a: &Value, b: &Value) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    let o = a.cmp(b);
    Value::Boolean(match c {
        Cmp::Eq => o.is_eq(),
        Cmp::Ne => o.is_ne(),
        Cmp::Lt => o.is_lt(),
        Cmp::Le => o.is_le(),
        Cmp::Gt => o.is_gt(),
        Cmp::Ge => o.is_ge(),
    })
}

fn arith(op: Arith, a: &Value, b: &Value, t: &SqlType) -> Value {
    if a.is_null() || b.is_null() {
        return Value::Null;
    }
    match t {
        SqlType::Int | SqlType::BigInt => {
            let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) else {
                return Value::Null;
            };
            // Java's int and long arithmetic wraps; division by zero gives null, as ksqlDB
            // logs the error and emits null.
            let r = match op {
                Arith::Add => x.wrapping_add(y),
                Arith::Sub => x.wrapping_sub(y),
                Arith::Mul => x.wrapping_mul(y),
                Arith::Div => match x.checked_div(y) {
                    Some(v) => v,
                    None => return Value::Null,
                },
                Arith::Mod => match x.checked_rem(y) {
                    Some(v) => v,
                    None => return Value::Null,
                },
            };
            if *t == SqlType::Int {
                Value::Int(r as i32)
            } else {
                Value::BigInt(r)
            }
        }
        SqlType::Decimal(p, s) => {
            let (Some(x), Some(y)) = (a.as_decimal(), b.as_decimal()) else {
                return Value::Null;
            };
            // Exact at the result's scale, or null: ksqlDB computes with
            // `RoundingMode.UNNECESSARY`, and logs the failure and emits null.
            let r = match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div => x.checked_div(y, *s),
                Arith::Mod => x.checked_rem(y),
            };
            r.and_then(|r| r.rescale(*s))
                .filter(|r| r.fits(*p, *s))
                .map_or(Value::Null, Value::Decimal)
        }
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Value::Null;
            };
            Value::Double(match op {
                Arith::Add => x + y,
                Arith::Sub => x - y,
                Arith::Mul => x * y,
                Arith::Div => x / y,
                Arith::Mod => x % y,
            })
        }
    }
}

/// The type of `l op r`, as ksqlDB types it: `DOUBLE` when either side is, else `DECIMAL`
/// when either side is (an `INT` taken as `DECIMAL(10, 0)`, a `BIGINT` as `DECIMAL(19, 0)`),
/// with the precision and scale of ksqlDB's `SqlDecimal.add`, `multiply`, `divide` and
/// `modulus`; else the wider integer type.
fn arith_type(op: Arith, l: &SqlType, r: &SqlType) -> Option<SqlType> {
    let wide = l.widen(r)?;
    let as_decimal = |t: &SqlType| match t {
        SqlType::Decimal(p, s) => Some((u32::from(*p), u32::from(*s))),
        SqlType::Int => Some((10, 0)),
        SqlType::BigInt => Some((19, 0)),
        _ => None,
    };
    if !matches!(wide, SqlType::Decimal(..)) {
        return Some(wide);
    }
    let ((p1, s1), (p2, s2)) = (as_decimal(l)?, as_decimal(r)?);
    let (p, s) = match op {
        Arith::Add | Arith::Sub => (s1.max(s2) + (p1 - s1).max(p2 - s2) + 1, s1.max(s2)),
        Arith::Mul => (p1 + p2 + 1, s1 + s2),
        Arith::Div => {
            let s = 6.max(s1 + p2 + 1);
            (p1 - s1 + s2 + s, s)
        }
        Arith::Mod => ((p1 - s1).min(p2 - s2) + s1.max(s2), s1.max(s2)),
    };
    Some(SqlType::Decimal(
        u8::try_from(p).ok()?,
        u8::try_from(s).ok()?,
    ))
}

/// SQL `LIKE` with `%` and `_`.
fn like(s: &[char], p: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest)),
        Some(('_', rest)) => !s.is_empty() && like(&s[1..], rest),
        Some((c, rest)) => s.first() == Some(c) && like(&s[1..], rest),
    }
}

/// `v` converted to `t`, null when it cannot be.
pub(crate) fn cast(v: Value, t: &SqlType) -> Value {
    match (v, t) {
        (Value::Null, _) => Value::Null,
        (Value::String(s), SqlType::String) => Value::String(s),
        (v, SqlType::String) => Value::String(v.to_string()),
        (Value::String(s), SqlType::Decimal(p, sc)) => s
            .trim()
            .parse::<Decimal>()
            .ok()
            .and_then(|d| d.cast(*p, *sc))
            .map_or(Value::Null, Value::Decimal),
        (Value::String(s), t) => {
            crate::json::from_json(&serde_json::Value::String(s), t).unwrap_or(Value::Null)
        }
        (v, SqlType::Int) => match v {
            Value::Double(d) => Value::Int(d as i32),
            Value::Decimal(d) => Value::Int(d.to_i64() as i32),
            Value::Boolean(_) => Value::Null,
            v => v.as_i64().map_or(Value::Null, |i| Value::Int(i as i32)),
        },
        (v, SqlType::BigInt) => match v {
            Value::Double(d) => Value::BigInt(d as i64),
            Value::Decimal(d) => Value::BigInt(d.to_i64()),
            v => v.as_i64().map_or(Value::Null, Value::BigInt),
        },
        (v, SqlType::Timestamp) => v.as_i64().map_or(Value::Null, Value::Timestamp),
        (v, SqlType::Double) => v.as_f64().map_or(Value::Null, Value::Double),
        (Value::Double(d), SqlType::Decimal(p, s)) => {
            Decimal::from_f64(d, *p, *s).map_or(Value::Null, Value::Decimal)
        }
        (v, SqlType::Decimal(p, s)) => v
            .as_decimal()
            .and_then(|d| d.cast(*p, *s))
            .map_or(Value::Null, Value::Decimal),
        (Value::Boolean(b), SqlType::Boolean) => Value::Boolean(b),
        (v, _) => v,
    }
}

impl CExpr {
    /// Evaluates over `ctx`; errors in the data (division by zero, a bad cast) give null.
    pub(crate) fn eval(&self, ctx: &Ctx<'_>) -> Value {
        match self {
            CExpr::Col(Slot::Key(i)) => ctx.key.get(*i).clone(),
            CExpr::Col(Slot::Val(i)) => ctx.val.get(*i).clone(),
            CExpr::Col(Slot::WindowStart) => ctx.window.map_or(Value::Null, |w| Value::BigInt(w.0)),
            CExpr::Col(Slot::WindowEnd) => ctx.window.map_or(Value::Null, |w| Value::BigInt(w.1)),
            CExpr::Lit(v) => v.clone(),
            CExpr::Not(x) => truth(&x.eval(ctx)).map_or(Value::Null, |b| Value::Boolean(!b)),
            CExpr::Neg(x) => match x.eval(ctx) {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::BigInt(i) => Value::BigInt(i.wrapping_neg()),
                Value::Double(d) => Value::Double(-d),
                Value::Decimal(d) => Value::Decimal(-d),
                _ => Value::Null,
            },
            CExpr::Arith(op, a, b, t) => arith(*op, &a.eval(ctx), &b.eval(ctx), t),
            CExpr::Concat(a, b) => match (a.eval(ctx), b.eval(ctx)) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (x, y) => Value::String(format!("{x}{y}")),
            },
            CExpr::Cmp(c, a, b) => compare(*c, &a.eval(ctx), &b.eval(ctx)),
            CExpr::And(a, b) => match (truth(&a.eval(ctx)), truth(&b.eval(ctx))) {
                (Some(false), _) | (_, Some(false)) => Value::Boolean(false),
                (Some(true), Some(true)) => Value::Boolean(true),
                _ => Value::Null,
            },
            CExpr::Or(a, b) => match (truth(&a.eval(ctx)), truth(&b.eval(ctx))) {
                (Some(true), _) | (_, Some(true)) => Value::Boolean(true),
                (Some(false), Some(false)) => Value::Boolean(false),
                _ => Value::Null,
            },
            CExpr::IsNull(x, negated) => Value::Boolean(x.eval(ctx).is_null() != *negated),
            CExpr::Between(x, lo, hi, negated) => {
                let v = x.eval(ctx);
                match (
                    truth(&compare(Cmp::Ge, &v, &lo.eval(ctx))),
                    truth(&compare(Cmp::Le, &v, &hi.eval(ctx))),
                ) {
                    (Some(a), Some(b)) => Value::Boolean((a && b) != *negated),
                    _ => Value::Null,
                }
            }
            CExpr::InList(x, items, negated) => {
                let v = x.eval(ctx);
                if v.is_null() {
                    return Value::Null;
                }
                Value::Boolean(items.iter().any(|i| i.eval(ctx) == v) != *negated)
            }
            CExpr::Like(x, p, negated) => match (x.eval(ctx), p.eval(ctx)) {
                (Value::String(s), Value::String(p)) => {
                    let s: Vec<char> = s.chars().collect();
                    let p: Vec<char> = p.chars().collect();
                    Value::Boolean(like(&s, &p) != *negated)
                }
                _ => Value::Null,
            },
            CExpr::Case(arms, els) => {
                for (c, r) in arms {
                    if truth(&c.eval(ctx)) == Some(true) {
                        return r.eval(ctx);
                    }
                }
                els.as_ref().map_or(Value::Null, |e| e.eval(ctx))
            }
            CExpr::Cast(x, t) => cast(x.eval(ctx), t),
            CExpr::Call(f, args) => {
                let vals: Vec<Value> = args.iter().map(|a| a.eval(ctx)).collect();
                functions::call(*f, vals)
            }
            CExpr::Field(x, name) => match x.eval(ctx) {
                Value::Struct(fields) => fields
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map_or(Value::Null, |(_, v)| v),
                _ => Value::Null,
            },
            CExpr::Index(x, i) => match (x.eval(ctx), i.eval(ctx)) {
                // ksqlDB's arrays are indexed from 1; negative indexes count from the end.
                (Value::Array(items), idx) => match idx.as_i64() {
                    Some(n) if n >= 1 => {
                        items.get((n - 1) as usize).cloned().unwrap_or(Value::Null)
                    }
                    Some(n) if n < 0 => {
                        let from_end = n.unsigned_abs() as usize;
                        items
                            .len()
                            .checked_sub(from_end)
                            .and_then(|j| items.get(j).cloned())
                            .unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                },
                (Value::Map(m), Value::String(k)) => m.get(&k).cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            },
        }
    }

    /// Whether the predicate holds (null does not).
    pub(crate) fn holds(&self, ctx: &Ctx<'_>) -> bool {
        truth(&self.eval(ctx)) == Some(true)
    }
}
