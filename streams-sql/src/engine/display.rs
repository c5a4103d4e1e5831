//! Text as ksqlDB's CLI prints it: result tables, `DESCRIBE`, `SHOW`.

use std::collections::BTreeMap;

use super::RunningQuery;
use crate::ast::SourceKind;
use crate::catalog::{Catalog, Source};
use crate::types::SqlType;
use crate::value::Value;

/// Rows as a table with a header of column names; values are printed in full.
///
/// # Examples
///
/// ```
/// use streams_sql::display::table;
/// use streams_sql::value::Value;
///
/// let t = table(&["ID".to_owned(), "N".to_owned()], &[vec![Value::String("a".into()), Value::BigInt(12)]]);
/// assert_eq!(t, "+----+----+\n|ID  |N   |\n+----+----+\n|a   |12  |\n+----+----+\n");
/// ```
pub fn table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain(std::iter::once(c.chars().count()))
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(*w)))
        .collect::<String>()
        + "+\n";
    let line = |vals: &[String]| -> String {
        let mut s = String::new();
        for (i, w) in widths.iter().enumerate() {
            let v = vals.get(i).map_or("", String::as_str);
            s.push('|');
            s.push_str(v);
            s.push_str(&" ".repeat(w.saturating_sub(v.chars().count())));
        }
        s + "|\n"
    };
    let mut out = rule.clone();
    out.push_str(&line(columns));
    out.push_str(&rule);
    for r in &cells {
        out.push_str(&line(r));
    }
    if !cells.is_empty() {
        out.push_str(&rule);
    }
    out
}

fn columns_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fmt = |vals: Vec<&str>| -> String {
        vals.iter()
            .enumerate()
            .map(|(i, v)| format!(" {v:<w$} ", w = widths[i]))
            .collect::<Vec<_>>()
            .join("|")
            .trim_end()
            .to_owned()
    };
    let mut out = fmt(header.to_vec());
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 3 * widths.len()));
    out.push('\n');
    for r in rows {
        out.push_str(&fmt(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn type_name(t: &SqlType) -> String {
    match t {
        SqlType::String => "VARCHAR(STRING)".to_owned(),
        other => other.to_string(),
    }
}

/// `DESCRIBE source`.
pub(crate) fn describe(s: &Source, queries: &BTreeMap<String, RunningQuery>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (n, t) in &s.key_columns {
        let key = match s.kind {
            SourceKind::Stream => "(key)",
            SourceKind::Table => "(primary key)",
        };
        let key = if s.window.is_some() {
            "(primary key) (Window type: windowed)"
        } else {
            key
        };
        rows.push(vec![n.clone(), format!("{}  {key}", type_name(t))]);
    }
    for (n, t) in &s.value_columns {
        rows.push(vec![n.clone(), type_name(t)]);
    }
    let mut out = format!(
        "Name                 : {}\nType                 : {}\nKafka topic          : {} (partitions: {})\nKey format           : {}\nValue format         : {}\n",
        s.name,
        s.kind.keyword(),
        s.topic,
        s.partitions.map_or("?".to_owned(), |p| p.to_string()),
        s.key_format.name(),
        s.value_format.name()
    );
    if let Some(ts) = &s.timestamp {
        out.push_str(&format!("Timestamp field      : {ts}\n"));
    }
    out.push_str(&columns_table(&["Field", "Type"], &rows));
    let writers: Vec<&str> = queries
        .values()
        .filter(|q| q.sink == s.name)
        .map(|q| q.id.as_str())
        .collect();
    let readers: Vec<&str> = queries
        .values()
        .filter(|q| q.inputs.contains(&s.topic))
        .map(|q| q.id.as_str())
        .collect();
    out.push_str(&format!(
        "Queries that write from this {}: {}\nQueries that read from this {}: {}\n",
        s.kind.keyword(),
        if writers.is_empty() {
            "none".to_owned()
        } else {
            writers.join(", ")
        },
        s.kind.keyword(),
        if readers.is_empty() {
            "none".to_owned()
        } else {
            readers.join(", ")
        },
    ));
    out
}

/// `SHOW STREAMS` or `SHOW TABLES`.
pub(crate) fn show_sources(catalog: &Catalog, kind: SourceKind) -> String {
    let rows: Vec<Vec<String>> = catalog
        .sources
        .values()
        .filter(|s| s.kind == kind)
        .map(|s| {
            vec![
                s.name.clone(),
                s.topic.clone(),
                s.key_format.name().to_owned(),
                s.value_format.name().to_owned(),
                s.window.is_some().to_string(),
            ]
        })
        .collect();
    let name = match kind {
        SourceKind::Stream => "Stream Name",
        SourceKind::Table => "Table Name",
    };
    columns_table(
        &[
            name,
            "Kafka Topic",
            "Key Format",
            "Value Format",
            "Windowed",
        ],
        &rows,
    )
}

/// `SHOW QUERIES`.
pub(crate) fn show_queries(queries: &BTreeMap<String, RunningQuery>) -> String {
    let rows: Vec<Vec<String>> = queries
        .values()
        .map(|q| {
            vec![
                q.id.clone(),
                "PERSISTENT".to_owned(),
                format!("{}", q.state()).to_uppercase(),
                q.sink.clone(),
                q.sink_topic.clone(),
                q.statement.replace('\n', " "),
            ]
        })
        .collect();
    columns_table(
        &[
            "Query ID",
            "Query Type",
            "Status",
            "Sink Name",
            "Sink Kafka Topic",
            "Query String",
        ],
        &rows,
    )
}
