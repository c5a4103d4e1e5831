//! Conformance of the SQL front end: each case's statements compiled by `streams-sql`, against
//! the goldens of the equivalent DSL topology in `Ref.java` (the `sql_*` cases). The sources
//! are `(k VARCHAR KEY, v VARCHAR)` in the KAFKA format, so the string inputs are rows.

use std::collections::BTreeMap;

use streams_dsl::prelude::Topology;

use super::{Case, Render};

const SOURCE: &str = "CREATE STREAM s (k VARCHAR KEY, v VARCHAR) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='KAFKA');\n";

fn compile(query: &str) -> Topology {
    streams_sql::topology(&format!("{SOURCE}{query}")).unwrap_or_else(|e| panic!("{e}"))
}

fn filter_project() -> Topology {
    compile(
        "CREATE STREAM out WITH (KAFKA_TOPIC='output') AS
           SELECT k, UCASE(v) AS v FROM s WHERE LEN(v) > 3 EMIT CHANGES;",
    )
}

/// The seed's windowed revenue, with `LEN(item)` as an order's total.
fn windowed_revenue() -> Topology {
    streams_sql::topology(
        "CREATE STREAM orders (customerId VARCHAR KEY, item VARCHAR) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='KAFKA');
         CREATE TABLE hourly_revenue WITH (KAFKA_TOPIC='output', VALUE_FORMAT='JSON') AS
           SELECT customerId, WINDOWSTART AS window_start, SUM(LEN(item)) AS revenue, COUNT(*) AS order_count
           FROM orders WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY customerId EMIT CHANGES;",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn hopping() -> Topology {
    compile(
        "CREATE TABLE out WITH (KAFKA_TOPIC='output', VALUE_FORMAT='KAFKA') AS
           SELECT k, COUNT(*) AS n FROM s
           WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS, GRACE PERIOD 2 SECONDS)
           GROUP BY k EMIT CHANGES;",
    )
}

fn session() -> Topology {
    compile(
        "CREATE TABLE out WITH (KAFKA_TOPIC='output', VALUE_FORMAT='KAFKA') AS
           SELECT k, COUNT(*) AS n FROM s WINDOW SESSION (5 SECONDS, GRACE PERIOD 2 SECONDS)
           GROUP BY k EMIT CHANGES;",
    )
}

fn group_by_value() -> Topology {
    compile(
        "CREATE TABLE out WITH (KAFKA_TOPIC='output', VALUE_FORMAT='KAFKA') AS
           SELECT v, COUNT(*) AS n FROM s GROUP BY v EMIT CHANGES;",
    )
}

/// An aggregation after `PARTITION BY`: the first query rekeys into a topic, the second
/// groups by that key column, which needs no repartition.
fn partition_by_aggregate() -> Topology {
    compile(
        "CREATE STREAM byv WITH (KAFKA_TOPIC='rekeyed', VALUE_FORMAT='KAFKA') AS
           SELECT v, k FROM s PARTITION BY v EMIT CHANGES;
         CREATE TABLE out WITH (KAFKA_TOPIC='output', VALUE_FORMAT='KAFKA') AS
           SELECT v, COUNT(*) AS n FROM byv GROUP BY v EMIT CHANGES;",
    )
}

/// A table aggregated by an expression of its value: rows that change group leave the old
/// one, deletes and rows that stop matching `WHERE` leave theirs, rows whose group is null
/// are in none.
fn table_aggregate() -> Topology {
    streams_sql::topology(
        "CREATE TABLE t (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='KAFKA');
         CREATE TABLE out WITH (KAFKA_TOPIC='output', VALUE_FORMAT='JSON') AS
           SELECT CASE WHEN v LIKE '%,%' THEN SUBSTRING(v, 1, 1) END AS initial, COUNT(*) AS n, SUM(LEN(v)) AS total
           FROM t WHERE LEN(v) > 4
           GROUP BY CASE WHEN v LIKE '%,%' THEN SUBSTRING(v, 1, 1) END EMIT CHANGES;",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The join cases' second source, on `input2`: a stream or a table.
fn joined(right: &str, query: &str) -> Topology {
    compile(&format!(
        "CREATE {right} r (k VARCHAR {}, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');\n{query}",
        if right == "TABLE" {
            "PRIMARY KEY"
        } else {
            "KEY"
        }
    ))
}

fn stream_table_join() -> Topology {
    joined(
        "TABLE",
        "CREATE STREAM out WITH (KAFKA_TOPIC='output') AS
           SELECT s.k, s.v + '/' + IFNULL(r.v, 'null') AS j FROM s LEFT JOIN r ON s.k = r.k EMIT CHANGES;",
    )
}

fn stream_stream_join() -> Topology {
    joined(
        "STREAM",
        "CREATE STREAM out WITH (KAFKA_TOPIC='output') AS
           SELECT s.k, s.v + '/' + IFNULL(r.v, 'null') AS j FROM s
           LEFT JOIN r WITHIN 5 SECONDS GRACE PERIOD 2 SECONDS ON s.k = r.k EMIT CHANGES;",
    )
}

fn table_table_join() -> Topology {
    streams_sql::topology(
        "CREATE TABLE l (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='KAFKA');
         CREATE TABLE r (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');
         CREATE TABLE out WITH (KAFKA_TOPIC='output') AS
           SELECT l.k, l.v + '/' + IFNULL(r.v, 'null') AS j FROM l LEFT JOIN r ON l.k = r.k EMIT CHANGES;",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Three tables joined on their keys in one query: the first join's result is joined
/// again (`input2` declared twice, read once).
fn table_nway_join() -> Topology {
    streams_sql::topology(
        "CREATE TABLE l (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='KAFKA');
         CREATE TABLE r (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');
         CREATE TABLE r2 (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');
         CREATE TABLE out WITH (KAFKA_TOPIC='output') AS
           SELECT l.k, l.v + '/' + IFNULL(r.v, 'null') + '/' + IFNULL(r2.v, 'null') AS j
           FROM l LEFT JOIN r ON l.k = r.k JOIN r2 ON l.k = r2.k EMIT CHANGES;",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Two joins in one query: `s` enriched by `r` on its key, then by `r2` (`input2` declared a
/// second time) on an expression of the joined row, which re-keys (repartitions) the stream;
/// the result is keyed by the last join's key.
fn nway_join() -> Topology {
    compile(
        "CREATE TABLE r (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');
         CREATE TABLE r2 (k VARCHAR PRIMARY KEY, v VARCHAR) WITH (KAFKA_TOPIC='input2', VALUE_FORMAT='KAFKA');
         CREATE STREAM out WITH (KAFKA_TOPIC='output') AS
           SELECT r2.k, IFNULL(s.k, 'null') + ':' + s.v + '/' + IFNULL(r.v, 'null') + '/' + IFNULL(r2.v, 'null') AS j
           FROM s LEFT JOIN r ON s.k = r.k
           LEFT JOIN r2 ON 'k0' + SUBSTRING(s.k, 3, 1) = r2.k EMIT CHANGES;",
    )
}

pub(super) fn register(m: &mut BTreeMap<&'static str, Case>) {
    const STR: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Str)];
    const LONG: &[(&str, Render, Render)] = &[("output", Render::Str, Render::Long)];
    const TEN_S_JSON: &[(&str, Render, Render)] =
        &[("output", Render::TimeWindowed(10_000), Render::Str)];
    const TEN_S: &[(&str, Render, Render)] =
        &[("output", Render::TimeWindowed(10_000), Render::Long)];
    const SESSION: &[(&str, Render, Render)] = &[("output", Render::SessionWindowed, Render::Long)];
    for (name, outputs, build) in [
        (
            "sql_filter_project",
            STR,
            filter_project as fn() -> Topology,
        ),
        ("sql_windowed_revenue", TEN_S_JSON, windowed_revenue),
        ("sql_hopping", TEN_S, hopping),
        ("sql_session", SESSION, session),
        ("sql_group_by_value", LONG, group_by_value),
        ("sql_partition_by_aggregate", LONG, partition_by_aggregate),
        ("sql_table_aggregate", STR, table_aggregate),
        ("sql_stream_table_join", STR, stream_table_join),
        ("sql_stream_stream_join", STR, stream_stream_join),
        ("sql_table_table_join", STR, table_table_join),
        ("sql_nway_join", STR, nway_join),
        ("sql_table_nway_join", STR, table_nway_join),
    ] {
        m.insert(
            name,
            Case {
                inputs: if name.ends_with("_join") {
                    &["input", "input2"]
                } else {
                    &["input"]
                },
                outputs,
                build,
            },
        );
    }
}
