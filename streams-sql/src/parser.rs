//! The ksqlDB dialect's statements, parsed with sqlparser's tokenizer and expression parser;
//! the statement grammar around them (`CREATE STREAM`, `WINDOW`, `EMIT`, `PARTITION BY`, ...)
//! is parsed here over sqlparser's token stream.

use sqlparser::ast::{Ident, SelectItem as SqlSelectItem};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::ast::{
    ColumnDef, Emit, Join, JoinKind, Name, Property, Query, SelectItem, ShowKind, SourceKind,
    SourceRef, Statement, WindowKind, WindowSpec,
};
use crate::decimal::MAX_DIGITS;
use crate::error::{Error, Location, Result};
use crate::types::SqlType;

/// A parsed statement with where it starts.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The statement.
    pub statement: Statement,
    /// Where it starts in the text.
    pub location: Location,
    /// Its text, without the closing `;`.
    pub text: String,
}

static DIALECT: GenericDialect = GenericDialect {};

/// Words that end a `FROM` item, so they are never taken for an alias.
const CLAUSE_WORDS: &[&str] = &[
    "WINDOW",
    "WHERE",
    "GROUP",
    "PARTITION",
    "HAVING",
    "EMIT",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "FULL",
    "RIGHT",
    "OUTER",
    "ON",
    "WITHIN",
    "AS",
];

/// Parses every statement of `text` (separated by `;`).
///
/// # Examples
///
/// ```
/// use streams_sql::parser::parse;
///
/// let statements = parse("SHOW STREAMS;\nSHOW TABLES;")?;
/// assert_eq!(statements.len(), 2);
/// let err = parse("SELECT * FROM t WHERE;").unwrap_err();
/// assert!(err.to_string().starts_with("line 1:22:"), "{err}");
/// # Ok::<(), streams_sql::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Parse`] at the first token that does not fit, with its line, column and a caret.
pub fn parse(text: &str) -> Result<Vec<Parsed>> {
    let tokens = Tokenizer::new(&DIALECT, text)
        .tokenize_with_location()
        .map_err(|e| {
            let location = Location {
                line: e.location.line,
                column: e.location.column,
            };
            Error::parse(text, location, e.message)
        })?;
    let mut out = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    for t in tokens {
        if t.token == Token::SemiColon {
            if let Some(p) = statement(text, std::mem::take(&mut current))? {
                out.push(p);
            }
        } else {
            current.push(t);
        }
    }
    if let Some(p) = statement(text, current)? {
        out.push(p);
    }
    Ok(out)
}

fn statement(text: &str, tokens: Vec<TokenWithSpan>) -> Result<Option<Parsed>> {
    let significant: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let (Some(first), Some(last)) = (significant.first(), significant.last()) else {
        return Ok(None);
    };
    let location = Location {
        line: first.span.start.line,
        column: first.span.start.column,
    };
    let stmt_text = slice(text, location, last.span.end);
    let end = last.span.end;
    let mut p = P {
        p: Parser::new(&DIALECT).with_tokens_with_locations(tokens),
        text,
        end: Location {
            line: end.line,
            column: end.column,
        },
    };
    let statement = p.statement()?;
    if !p.at_end() {
        return p.err(format!("unexpected {} after the statement", p.found()));
    }
    Ok(Some(Parsed {
        statement,
        location,
        text: stmt_text,
    }))
}

fn slice(text: &str, start: Location, end: sqlparser::tokenizer::Location) -> String {
    let offset = |line: u64, column: u64| -> usize {
        let mut off = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            if i as u64 + 1 == line {
                return off
                    + l.char_indices()
                        .nth(column.saturating_sub(1) as usize)
                        .map_or(l.len(), |(b, _)| b);
            }
            off += l.len();
        }
        off
    };
    let (a, b) = (
        offset(start.line, start.column),
        offset(end.line, end.column),
    );
    text.get(a..b.max(a)).unwrap_or_default().to_owned()
}

struct P<'a> {
    p: Parser<'a>,
    text: &'a str,
    end: Location,
}

/// ksqlDB upper-cases unquoted identifiers.
fn normalize(ident: &Ident) -> Name {
    Name {
        value: if ident.quote_style.is_some() {
            ident.value.clone()
        } else {
            ident.value.to_uppercase()
        },
        location: Location {
            line: ident.span.start.line,
            column: ident.span.start.column,
        },
    }
}

impl P<'_> {
    fn at_end(&self) -> bool {
        self.p.peek_token().token == Token::EOF
    }

    fn loc(&self) -> Location {
        let t = self.p.peek_token();
        if t.token == Token::EOF {
            return self.end;
        }
        Location {
            line: t.span.start.line,
            column: t.span.start.column,
        }
    }

    fn found(&self) -> String {
        match self.p.peek_token().token {
            Token::EOF => "end of statement".to_owned(),
            t => format!("'{t}'"),
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(Error::parse(self.text, self.loc(), message))
    }

    fn expected<T>(&self, what: &str) -> Result<T> {
        self.err(format!("expected {what}, found {}", self.found()))
    }

    /// A sqlparser error, placed at its own position when it names one.
    fn sql(&self, e: ParserError) -> Error {
        let msg = e.to_string();
        let msg = msg
            .strip_prefix("sql parser error: ")
            .unwrap_or(&msg)
            .to_owned();
        if let Some((head, pos)) = msg.rsplit_once(" at Line: ") {
            let mut it = pos.split(", Column: ");
            let line = it.next().and_then(|l| l.trim().parse().ok());
            let column = it.next().and_then(|c| c.trim().parse().ok());
            if let (Some(line), Some(column)) = (line, column) {
                return Error::parse(self.text, Location { line, column }, head.to_owned());
            }
        }
        Error::parse(self.text, self.loc(), msg)
    }

    fn peek_word(&self) -> Option<String> {
        match self.p.peek_token().token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
            _ => None,
        }
    }

    fn peek_kw(&self, kw: &str) -> bool {
        self.peek_word().as_deref() == Some(kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.p.next_token();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.expected(kw)
        }
    }

    fn eat(&mut self, t: &Token) -> bool {
        self.p.consume_token(t)
    }

    fn expect(&mut self, t: &Token) -> Result<()> {
        if self.eat(t) {
            Ok(())
        } else {
            self.expected(&format!("'{t}'"))
        }
    }

    fn name(&mut self) -> Result<Name> {
        match self.p.peek_token().token {
            Token::Word(_) => {
                let ident = self.p.parse_identifier().map_err(|e| self.sql(e))?;
                Ok(normalize(&ident))
            }
            _ => self.expected("a name"),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.p.peek_token().token {
            Token::SingleQuotedString(s) => {
                self.p.next_token();
                Ok(s)
            }
            _ => self.expected("a quoted string"),
        }
    }

    fn number(&mut self) -> Result<i64> {
        match self.p.peek_token().token {
            Token::Number(n, _) => match n.parse::<i64>() {
                Ok(v) => {
                    self.p.next_token();
                    Ok(v)
                }
                Err(_) => self.err(format!("'{n}' is not a whole number")),
            },
            _ => self.expected("a number"),
        }
    }

    fn statement(&mut self) -> Result<Statement> {
        let Some(first) = self.peek_word() else {
            return self.expected("a statement");
        };
        match first.as_str() {
            "CREATE" => self.create(),
            "INSERT" => {
                self.p.next_token();
                self.expect_kw("INTO")?;
                let target = self.name()?;
                let query = self.query()?;
                Ok(Statement::InsertInto { target, query })
            }
            "SELECT" => Ok(Statement::Select(self.query()?)),
            "EXPLAIN" => {
                self.p.next_token();
                if self.peek_kw("SELECT") || self.peek_kw("CREATE") || self.peek_kw("INSERT") {
                    Ok(Statement::Explain(Box::new(self.statement()?)))
                } else {
                    Ok(Statement::ExplainQuery(self.name()?))
                }
            }
            "DESCRIBE" => {
                self.p.next_token();
                if self.eat_kw("STREAMS") || self.eat_kw("TABLES") {
                    return self.err("DESCRIBE STREAMS and DESCRIBE TABLES: use SHOW");
                }
                let name = self.name()?;
                self.eat_kw("EXTENDED");
                Ok(Statement::Describe(name))
            }
            "SHOW" | "LIST" => {
                self.p.next_token();
                let kind = match self.peek_word().as_deref() {
                    Some("STREAMS") => ShowKind::Streams,
                    Some("TABLES") => ShowKind::Tables,
                    Some("QUERIES") => ShowKind::Queries,
                    _ => return self.expected("STREAMS, TABLES or QUERIES"),
                };
                self.p.next_token();
                self.eat_kw("EXTENDED");
                Ok(Statement::Show(kind))
            }
            "DROP" => {
                self.p.next_token();
                let kind = self.source_kind()?;
                let if_exists = self.eat_kw("IF");
                if if_exists {
                    self.expect_kw("EXISTS")?;
                }
                let name = self.name()?;
                if self.eat_kw("DELETE") {
                    self.expect_kw("TOPIC")?;
                }
                Ok(Statement::Drop {
                    kind,
                    name,
                    if_exists,
                })
            }
            "TERMINATE" => {
                self.p.next_token();
                if self.eat_kw("ALL") {
                    Ok(Statement::Terminate(None))
                } else {
                    Ok(Statement::Terminate(Some(self.name()?)))
                }
            }
            "SET" => {
                self.p.next_token();
                let key = self.string()?;
                self.expect(&Token::Eq)?;
                let value = self.string()?;
                Ok(Statement::Set(key, value))
            }
            _ => self.expected(
                "CREATE, INSERT, SELECT, EXPLAIN, DESCRIBE, SHOW, DROP, TERMINATE or SET",
            ),
        }
    }

    fn source_kind(&mut self) -> Result<SourceKind> {
        if self.eat_kw("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat_kw("TABLE") {
            Ok(SourceKind::Table)
        } else {
            self.expected("STREAM or TABLE")
        }
    }

    fn create(&mut self) -> Result<Statement> {
        self.expect_kw("CREATE")?;
        if self.eat_kw("OR") {
            self.expect_kw("REPLACE")?;
        }
        let source = self.eat_kw("SOURCE");
        let kind = self.source_kind()?;
        let if_not_exists = self.eat_kw("IF");
        if if_not_exists {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
        }
        let name = self.name()?;
        let columns = if self.eat(&Token::LParen) {
            let mut cols = Vec::new();
            loop {
                cols.push(self.column(kind)?);
                if !self.eat(&Token::Comma) {
                    break;
                }
            }
            self.expect(&Token::RParen)?;
            Some(cols)
        } else {
            None
        };
        let properties = if self.eat_kw("WITH") {
            self.properties()?
        } else {
            Vec::new()
        };
        if self.eat_kw("AS") {
            if source {
                return self.err(
                    "a SOURCE stream or table is declared over its topic with a column list, not AS SELECT",
                );
            }
            if columns.is_some() {
                return self.err(
                    "a CREATE ... AS SELECT takes its columns from the query, not a column list",
                );
            }
            let query = self.query()?;
            return Ok(Statement::CreateAs {
                kind,
                name,
                if_not_exists,
                properties,
                query,
            });
        }
        let Some(columns) = columns else {
            return self.expected("a column list '(' or AS SELECT");
        };
        Ok(Statement::CreateSource {
            kind,
            source,
            name,
            if_not_exists,
            columns,
            properties,
        })
    }

    fn column(&mut self, kind: SourceKind) -> Result<ColumnDef> {
        let name = self.name()?;
        let ty = self.data_type()?;
        let key = if self.peek_kw("PRIMARY") {
            if kind == SourceKind::Stream {
                return self.err("streams have KEY columns; PRIMARY KEY is for tables");
            }
            self.p.next_token();
            self.expect_kw("KEY")?;
            true
        } else if self.peek_kw("KEY") {
            if kind == SourceKind::Table {
                return self.err("tables have PRIMARY KEY columns, not KEY");
            }
            self.p.next_token();
            true
        } else {
            false
        };
        Ok(ColumnDef { name, ty, key })
    }

    /// A type; `>>` closing two nested types is split in two.
    fn data_type(&mut self) -> Result<SqlType> {
        let Some(word) = self.peek_word() else {
            return self.expected("a type");
        };
        self.p.next_token();
        Ok(match word.as_str() {
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::BigInt,
            "DOUBLE" => SqlType::Double,
            "VARCHAR" | "STRING" => SqlType::String,
            "TIMESTAMP" => SqlType::Timestamp,
            "DECIMAL" => {
                self.expect(&Token::LParen)?;
                let p = self.number()?;
                self.expect(&Token::Comma)?;
                let s = self.number()?;
                self.expect(&Token::RParen)?;
                match SqlType::decimal(p, s) {
                    Some(t) => t,
                    None => {
                        return self.err(format!(
                            "DECIMAL(precision, scale) needs 1 <= precision <= {MAX_DIGITS} and 0 <= scale <= precision"
                        ));
                    }
                }
            }
            "ARRAY" => {
                self.expect(&Token::Lt)?;
                let t = self.data_type()?;
                self.close_angle()?;
                SqlType::Array(Box::new(t))
            }
            "MAP" => {
                self.expect(&Token::Lt)?;
                let k = self.data_type()?;
                if k != SqlType::String {
                    return self.err("map keys are STRING");
                }
                self.expect(&Token::Comma)?;
                let v = self.data_type()?;
                self.close_angle()?;
                SqlType::Map(Box::new(v))
            }
            "STRUCT" => {
                self.expect(&Token::Lt)?;
                let mut fields = Vec::new();
                if !self.close_angle_opt() {
                    loop {
                        let n = self.name()?;
                        let t = self.data_type()?;
                        fields.push((n.value, t));
                        if !self.eat(&Token::Comma) {
                            break;
                        }
                    }
                    self.close_angle()?;
                }
                SqlType::Struct(fields)
            }
            _ => {
                self.p.prev_token();
                return self.err(format!(
                    "unknown type '{word}': BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p, s), VARCHAR, STRING, TIMESTAMP, ARRAY<...>, MAP<STRING, ...> or STRUCT<...>"
                ));
            }
        })
    }

    fn close_angle_opt(&mut self) -> bool {
        if self.eat(&Token::Gt) {
            return true;
        }
        if self.p.peek_token().token == Token::ShiftRight {
            // Replace `>>` by one `>` still to be read.
            let t = self.p.next_token();
            let mut half = t.clone();
            half.token = Token::Gt;
            self.p.prev_token();
            self.pending_gt(half);
            return true;
        }
        false
    }

    fn pending_gt(&mut self, gt: TokenWithSpan) {
        // The parser cannot have tokens pushed back, so rebuild it from the rest.
        let mut rest = vec![gt];
        self.p.next_token();
        loop {
            let t = self.p.next_token();
            let eof = t.token == Token::EOF;
            rest.push(t);
            if eof {
                break;
            }
        }
        self.p = Parser::new(&DIALECT).with_tokens_with_locations(rest);
    }

    fn close_angle(&mut self) -> Result<()> {
        if self.close_angle_opt() {
            Ok(())
        } else {
            self.expected("'>'")
        }
    }

    fn properties(&mut self) -> Result<Vec<Property>> {
        self.expect(&Token::LParen)?;
        let mut props = Vec::new();
        loop {
            let name = self.name()?;
            self.expect(&Token::Eq)?;
            let location = self.loc();
            let value = match self.p.peek_token().token {
                Token::SingleQuotedString(s) => s,
                Token::Number(n, _) => n,
                Token::Word(w) => w.value,
                _ => return self.expected("a property value"),
            };
            self.p.next_token();
            props.push(Property {
                name,
                value,
                location,
            });
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        self.expect(&Token::RParen)?;
        Ok(props)
    }

    /// A duration: a number and a unit.
    fn duration(&mut self) -> Result<i64> {
        let n = self.number()?;
        let Some(unit) = self.peek_word() else {
            return self.expected("a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)");
        };
        let ms = match unit.trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1_000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            _ => {
                return self.expected("a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)");
            }
        };
        self.p.next_token();
        n.checked_mul(ms)
            .map_or_else(|| self.err("duration out of range"), Ok)
    }

    fn grace(&mut self) -> Result<Option<i64>> {
        if self.eat_kw("GRACE") {
            self.expect_kw("PERIOD")?;
            Ok(Some(self.duration()?))
        } else {
            Ok(None)
        }
    }

    fn source_ref(&mut self) -> Result<SourceRef> {
        let name = self.name()?;
        let alias = match self.peek_word() {
            Some(w) if CLAUSE_WORDS.contains(&w.as_str()) => {
                if w == "AS" {
                    self.p.next_token();
                    Some(self.name()?)
                } else {
                    None
                }
            }
            Some(_) => Some(self.name()?),
            None => None,
        };
        Ok(SourceRef { name, alias })
    }

    fn query(&mut self) -> Result<Query> {
        let location = self.loc();
        self.expect_kw("SELECT")?;
        let mut items = Vec::new();
        loop {
            let item = self.p.parse_select_item().map_err(|e| self.sql(e))?;
            items.push(match item {
                SqlSelectItem::Wildcard(_) => SelectItem::Star(None),
                SqlSelectItem::QualifiedWildcard(kind, _) => {
                    let q = match kind {
                        sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(o) => {
                            o.0.last().and_then(|p| p.as_ident()).map(normalize)
                        }
                        sqlparser::ast::SelectItemQualifiedWildcardKind::Expr(_) => None,
                    };
                    SelectItem::Star(q)
                }
                SqlSelectItem::UnnamedExpr(e) => SelectItem::Expr(Box::new(e), None),
                SqlSelectItem::ExprWithAlias { expr, alias } => {
                    SelectItem::Expr(Box::new(expr), Some(normalize(&alias)))
                }
                SqlSelectItem::ExprWithAliases { .. } => {
                    return self.err("one alias per expression");
                }
            });
            if !self.eat(&Token::Comma) {
                break;
            }
        }
        self.expect_kw("FROM")?;
        let from = self.source_ref()?;
        let mut joins = Vec::new();
        loop {
            let location = self.loc();
            let kind = if self.eat_kw("JOIN") {
                JoinKind::Inner
            } else if self.eat_kw("INNER") {
                self.expect_kw("JOIN")?;
                JoinKind::Inner
            } else if self.eat_kw("LEFT") {
                self.eat_kw("OUTER");
                self.expect_kw("JOIN")?;
                JoinKind::Left
            } else if self.eat_kw("FULL") {
                self.eat_kw("OUTER");
                self.expect_kw("JOIN")?;
                JoinKind::Outer
            } else if self.peek_kw("RIGHT") {
                return self.err("RIGHT JOIN is not supported: swap the sides and use LEFT JOIN");
            } else {
                break;
            };
            let right = self.source_ref()?;
            let mut within = None;
            let mut grace = None;
            if self.eat_kw("WITHIN") {
                if self.eat(&Token::LParen) {
                    let before = self.duration()?;
                    self.expect(&Token::Comma)?;
                    let after = self.duration()?;
                    self.expect(&Token::RParen)?;
                    within = Some((before, after));
                } else {
                    let d = self.duration()?;
                    within = Some((d, d));
                }
                grace = self.grace()?;
            }
            self.expect_kw("ON")?;
            let on = self.p.parse_expr().map_err(|e| self.sql(e))?;
            joins.push(Join {
                kind,
                right,
                within,
                grace,
                on,
                location,
            });
        }
        let window = if self.peek_kw("WINDOW") {
            let location = self.loc();
            self.p.next_token();
            let kind_word = self.peek_word();
            self.p.next_token();
            self.expect(&Token::LParen)?;
            let kind = match kind_word.as_deref() {
                Some("TUMBLING") => {
                    self.expect_kw("SIZE")?;
                    WindowKind::Tumbling {
                        size: self.duration()?,
                    }
                }
                Some("HOPPING") => {
                    self.expect_kw("SIZE")?;
                    let size = self.duration()?;
                    self.expect(&Token::Comma)?;
                    self.expect_kw("ADVANCE")?;
                    self.expect_kw("BY")?;
                    let advance = self.duration()?;
                    WindowKind::Hopping { size, advance }
                }
                Some("SESSION") => WindowKind::Session {
                    gap: self.duration()?,
                },
                _ => {
                    return Err(Error::parse(
                        self.text,
                        location,
                        "expected TUMBLING, HOPPING or SESSION after WINDOW",
                    ));
                }
            };
            let grace = if self.eat(&Token::Comma) {
                let g = self.grace()?;
                if g.is_none() {
                    return self.expected("GRACE PERIOD");
                }
                g
            } else {
                None
            };
            self.expect(&Token::RParen)?;
            Some(WindowSpec {
                kind,
                grace,
                location,
            })
        } else {
            None
        };
        let filter = if self.eat_kw("WHERE") {
            Some(self.p.parse_expr().map_err(|e| self.sql(e))?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            group_by = self
                .p
                .parse_comma_separated(Parser::parse_expr)
                .map_err(|e| self.sql(e))?;
        }
        let partition_by = if self.eat_kw("PARTITION") {
            self.expect_kw("BY")?;
            Some(self.p.parse_expr().map_err(|e| self.sql(e))?)
        } else {
            None
        };
        let having = if self.eat_kw("HAVING") {
            Some(self.p.parse_expr().map_err(|e| self.sql(e))?)
        } else {
            None
        };
        let emit = if self.eat_kw("EMIT") {
            if self.eat_kw("CHANGES") {
                Some(Emit::Changes)
            } else if self.eat_kw("FINAL") {
                Some(Emit::Final)
            } else {
                return self.expected("CHANGES or FINAL");
            }
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            let n = self.number()?;
            if n < 0 {
                return self.err("LIMIT must not be negative");
            }
            Some(n as u64)
        } else {
            None
        };
        Ok(Query {
            items,
            from,
            joins,
            window,
            filter,
            group_by,
            partition_by,
            having,
            emit,
            limit,
            location,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nested_types_close_with_shift_right() {
        let s =
            parse("CREATE STREAM s (a ARRAY<ARRAY<INT>>, b INT) WITH (KAFKA_TOPIC='t');").unwrap();
        match &s[0].statement {
            Statement::CreateSource { columns, .. } => {
                assert_eq!(columns[0].ty.to_string(), "ARRAY<ARRAY<INTEGER>>");
                assert_eq!(columns[1].ty, SqlType::Int);
            }
            other => panic!("{other:?}"),
        }
    }
}
