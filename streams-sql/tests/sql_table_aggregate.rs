//! Aggregations of tables (`CREATE TABLE ... AS SELECT ... FROM <table> GROUP BY ...`), with
//! ksqlDB's rules: a row that changes leaves its old group and joins its new one, a delete
//! or a row that stops matching `WHERE` only leaves, a null group holds no row, and only the
//! aggregates that can take a row back (`COUNT`, `SUM`, `AVG`, `COLLECT_LIST`) are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use streams_dsl::prelude::*;
use streams_sql::value::Value;
use streams_sql::{Cluster, Engine, Error, Location, Outcome};
use support::driver;

type S = Option<String>;

/// Accounts: id, branch, balance; JSON values.
const ACCOUNTS: &str = "CREATE TABLE accounts (id VARCHAR PRIMARY KEY, branch VARCHAR, balance INT) WITH (KAFKA_TOPIC='accounts', VALUE_FORMAT='JSON');\n";

fn s(v: &str) -> S {
    Some(v.to_owned())
}

fn account(branch: Option<&str>, balance: i32) -> S {
    Some(match branch {
        Some(b) => format!(r#"{{"branch":"{b}","balance":{balance}}}"#),
        None => format!(r#"{{"branch":null,"balance":{balance}}}"#),
    })
}

/// Runs `updates` (id, value; `None` deletes) through the query writing `totals` and returns
/// what it wrote.
fn run(query: &str, updates: &[(&str, S)]) -> Vec<(S, S)> {
    let d = driver(&format!("{ACCOUNTS}{query}"));
    let input = d.create_input_topic(
        "accounts",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    let output = d.create_output_topic(
        "totals",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    for (id, v) in updates {
        input.pipe_input(s(id), v.clone()).unwrap();
    }
    output.read_key_values_to_list().unwrap()
}

fn error(sql: &str) -> Error {
    match streams_sql::topology(&format!("{ACCOUNTS}{sql}")) {
        Ok(_) => panic!("compiled: {sql}"),
        Err(e) => e,
    }
}

#[test]
fn a_row_that_changes_group_leaves_the_old_one_and_a_delete_leaves_its_group() {
    let got = run(
        "CREATE TABLE totals WITH (KAFKA_TOPIC='totals') AS
           SELECT branch, COUNT(*) AS n, SUM(balance) AS total, AVG(balance) AS mean,
                  COLLECT_LIST(id) AS ids, COUNT(balance) AS with_balance
           FROM accounts GROUP BY branch EMIT CHANGES;",
        &[
            ("a1", account(Some("north"), 10)),
            ("a2", account(Some("north"), 5)),
            // Same group: the subtractor and the adder apply as one update.
            ("a1", account(Some("north"), 12)),
            // Another group: north loses a2, south gains it.
            ("a2", account(Some("south"), 5)),
            // A delete only leaves.
            ("a1", None),
        ],
    );
    let row = |n, total, mean, ids: &str, wb| {
        Some(format!(
            r#"{{"N":{n},"TOTAL":{total},"MEAN":{mean},"IDS":{ids},"WITH_BALANCE":{wb}}}"#
        ))
    };
    assert_eq!(
        got,
        vec![
            (s("north"), row(1, 10, "10.0", r#"["a1"]"#, 1)),
            (s("north"), row(2, 15, "7.5", r#"["a1","a2"]"#, 2)),
            (s("north"), row(2, 17, "8.5", r#"["a2","a1"]"#, 2)),
            (s("north"), row(1, 12, "12.0", r#"["a1"]"#, 1)),
            (s("south"), row(1, 5, "5.0", r#"["a2"]"#, 1)),
            // The group stays, empty: ksqlDB keeps it, with AVG 0.0 as its AverageUdaf maps a
            // count of 0.
            (s("north"), row(0, 0, "0.0", "[]", 0)),
        ]
    );
}

#[test]
fn a_null_group_holds_no_row_and_where_filters_before_grouping() {
    let got = run(
        "CREATE TABLE totals WITH (KAFKA_TOPIC='totals') AS
           SELECT branch, SUM(balance) AS total, COUNT(*) AS n FROM accounts WHERE balance > 0
           GROUP BY branch EMIT CHANGES;",
        &[
            ("a1", account(Some("north"), 10)),
            // A null group: the row is in none (ksqlDB logs and leaves it out).
            ("a2", account(None, 7)),
            // From the null group to north: north gains it, nothing else loses it.
            ("a2", account(Some("north"), 7)),
            // Back to null: north loses it.
            ("a2", account(None, 7)),
            // A row that stops matching WHERE is a delete for the aggregation.
            ("a1", account(Some("north"), -1)),
            // Deleting a row that WHERE already removed, or one the table never had, changes
            // nothing.
            ("a1", None),
            ("zz", None),
        ],
    );
    let row = |total, n| Some(format!(r#"{{"TOTAL":{total},"N":{n}}}"#));
    assert_eq!(
        got,
        vec![
            (s("north"), row(10, 1)),
            (s("north"), row(17, 2)),
            (s("north"), row(10, 1)),
            (s("north"), row(0, 0)),
        ]
    );
}

#[test]
fn grouping_a_table_by_its_primary_key_still_repartitions() {
    let topology = streams_sql::topology(&format!(
        "{ACCOUNTS}CREATE TABLE totals WITH (KAFKA_TOPIC='totals') AS
           SELECT id, SUM(balance) AS total FROM accounts GROUP BY id EMIT CHANGES;"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = topology.describe().to_string();
    assert!(text.contains("Aggregate-GroupBy-repartition"), "{text}");
    assert!(text.contains("Aggregate-Aggregate-Materialize"), "{text}");
}

#[test]
fn having_turns_a_group_that_falls_below_it_into_a_tombstone() {
    let got = run(
        "CREATE TABLE totals WITH (KAFKA_TOPIC='totals') AS
           SELECT branch, COUNT(*) AS n FROM accounts GROUP BY branch HAVING COUNT(*) > 1 EMIT CHANGES;",
        &[
            ("a1", account(Some("north"), 1)),
            ("a2", account(Some("north"), 2)),
            ("a2", None),
        ],
    );
    assert_eq!(
        got,
        vec![
            (s("north"), None),
            (s("north"), s(r#"{"N":2}"#)),
            (s("north"), None),
        ]
    );
}

#[test]
fn an_aggregate_that_cannot_take_a_row_back_is_refused_by_name_with_a_caret() {
    let e = error(
        "CREATE TABLE t AS SELECT branch, COUNT(*) AS n,\n  MIN(balance) AS lo FROM accounts GROUP BY branch EMIT CHANGES;",
    );
    assert!(matches!(e, Error::Compile { .. }), "{e:?}");
    assert_eq!(e.location(), Some(Location { line: 3, column: 3 }));
    assert_eq!(
        e.to_string(),
        "line 3:3: the aggregation function MIN cannot be applied to a table, only to a stream: \
         a table's aggregate must take back rows that change or are deleted; aggregates of \
         tables: COUNT, SUM, AVG, COLLECT_LIST\n    MIN(balance) AS lo FROM accounts GROUP BY branch EMIT CHANGES;\n    ^"
    );
    // Every refused function is named once, in the order of the query, HAVING included.
    let e = error(
        "CREATE TABLE t AS SELECT branch, MAX(balance) AS hi, LATEST_BY_OFFSET(id) AS last, MAX(balance) + 1 AS hi1 FROM accounts GROUP BY branch HAVING EARLIEST_BY_OFFSET(id) = 'a' EMIT CHANGES;",
    );
    assert_eq!(e.location().map(|l| l.column), Some(34));
    assert!(
        e.to_string().starts_with(
            "line 2:34: the aggregation functions MAX, LATEST_BY_OFFSET and EARLIEST_BY_OFFSET cannot be applied to a table"
        ),
        "{e}"
    );
}

#[test]
fn a_window_on_a_table_aggregation_is_refused_where_it_is() {
    let e = error(
        "CREATE TABLE t AS SELECT branch, COUNT(*) AS n FROM accounts\n  WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY branch EMIT CHANGES;",
    );
    assert!(matches!(e, Error::Compile { .. }), "{e:?}");
    assert_eq!(e.location(), Some(Location { line: 3, column: 3 }));
    assert!(
        e.to_string()
            .starts_with("line 3:3: WINDOW cannot aggregate a table: windowing is not supported for table aggregations"),
        "{e}"
    );
    let e = error(
        "CREATE TABLE t AS SELECT branch, COUNT(*) AS n FROM accounts GROUP BY branch EMIT FINAL;",
    );
    assert!(e.to_string().contains("EMIT FINAL needs a WINDOW"), "{e}");
    let e = error(
        "CREATE STREAM t AS SELECT branch, COUNT(*) AS n FROM accounts GROUP BY branch EMIT CHANGES;",
    );
    assert!(
        e.to_string()
            .contains("the query gives a TABLE, not a STREAM"),
        "{e}"
    );
}

fn produce(engine: &Engine, topic: &str, records: &[(&str, Option<&str>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", engine.cluster().bootstrap_servers())
        .create()
        .unwrap();
    for (k, v) in records {
        let mut r = BaseRecord::to(topic).key(*k).partition(0);
        if let Some(v) = v {
            r = r.payload(*v);
        }
        producer.send(r).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn one(engine: &mut Engine, sql: &str) -> Outcome {
    let mut out = engine.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

#[test]
fn pull_queries_read_a_table_aggregation_from_its_store() {
    let mut engine = Engine::new(Cluster::embedded().unwrap());
    one(
        &mut engine,
        "CREATE TABLE accounts (id VARCHAR PRIMARY KEY, branch VARCHAR, balance INT) WITH (KAFKA_TOPIC='accounts', PARTITIONS=1, VALUE_FORMAT='JSON');",
    );
    produce(
        &engine,
        "accounts",
        &[
            ("a1", Some(r#"{"branch":"north","balance":10}"#)),
            ("a2", Some(r#"{"branch":"north","balance":5}"#)),
            ("a3", Some(r#"{"branch":"south","balance":1}"#)),
            ("a2", Some(r#"{"branch":"south","balance":5}"#)),
            ("a1", None),
        ],
    );
    assert_eq!(
        one(
            &mut engine,
            "CREATE TABLE branches AS SELECT branch, COUNT(*) AS n, SUM(balance) AS total FROM accounts GROUP BY branch EMIT CHANGES;"
        ),
        Outcome::Message("Created query with ID CTAS_BRANCHES_1".to_owned())
    );
    assert_eq!(
        one(
            &mut engine,
            "SELECT * FROM branches WHERE branch = 'south';"
        ),
        Outcome::Rows {
            columns: vec!["BRANCH".into(), "N".into(), "TOTAL".into()],
            rows: vec![vec![
                Value::String("south".into()),
                Value::BigInt(2),
                Value::Int(6)
            ]],
        }
    );
    // North may be absent or at 0: with the store cache on, a1's insert and delete (and a2's
    // move) can reach the aggregation as one change, as in Kafka Streams.
    match one(&mut engine, "SELECT branch, n FROM branches WHERE n > 0;") {
        Outcome::Rows { rows, .. } => assert_eq!(
            rows,
            vec![vec![Value::String("south".into()), Value::BigInt(2)]]
        ),
        other => panic!("{other:?}"),
    }
}
