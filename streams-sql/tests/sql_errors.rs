//! Error messages: parse errors name the line and column with a caret; unknown names list
//! the candidates; type mismatches are reported before anything runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use streams_sql::{Error, Location};

const ORDERS: &str = "CREATE STREAM orders (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, timestamp BIGINT)\n  WITH (KAFKA_TOPIC='orders.placed', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');\n";

fn error(sql: &str) -> Error {
    match streams_sql::topology(sql) {
        Ok(_) => panic!("compiled: {sql}"),
        Err(e) => e,
    }
}

fn at(line: u64, column: u64) -> Option<Location> {
    Some(Location { line, column })
}

#[test]
fn a_parse_error_names_line_and_column_with_a_caret() {
    let e = error(&format!(
        "{ORDERS}CREATE TABLE t AS SELECT customerId, COUNT(*) AS n\n  FROM orders WINDOW TUMBLNG (SIZE 1 HOUR) GROUP BY customerId;"
    ));
    assert!(matches!(e, Error::Parse { .. }), "{e:?}");
    assert_eq!(e.location(), at(4, 15));
    assert_eq!(
        e.to_string(),
        "line 4:15: expected TUMBLING, HOPPING or SESSION after WINDOW\n    FROM orders WINDOW TUMBLNG (SIZE 1 HOUR) GROUP BY customerId;\n                ^"
    );
}

#[test]
fn a_missing_expression_is_reported_where_it_should_be() {
    let e = error("SELECT * FROM t WHERE;");
    assert_eq!(e.location(), at(1, 22));
    assert!(e.to_string().contains("Expected: an expression"), "{e}");
    assert!(
        e.to_string()
            .ends_with("  SELECT * FROM t WHERE;\n                       ^"),
        "{e}"
    );
}

#[test]
fn an_unknown_statement_lists_the_statements() {
    let e = error("SELEC * FROM t;");
    assert_eq!(e.location(), at(1, 1));
    assert!(
        e.to_string().contains("expected CREATE, INSERT, SELECT"),
        "{e}"
    );
}

#[test]
fn an_unknown_type_lists_the_types() {
    let e = error("CREATE STREAM s (a VARCHR) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');");
    assert_eq!(e.location(), at(1, 20));
    assert!(e.to_string().contains("unknown type 'VARCHR'"), "{e}");
}

#[test]
fn an_unknown_column_is_a_compile_error_with_the_closest_candidates_first() {
    let e = error(&format!(
        "{ORDERS}CREATE STREAM s AS SELECT custId FROM orders EMIT CHANGES;"
    ));
    assert!(matches!(e, Error::Compile { .. }), "{e:?}");
    assert_eq!(e.location(), at(3, 27));
    assert!(
        e.to_string()
            .starts_with("line 3:27: column 'CUSTID' cannot be resolved; candidates: CUSTOMERID, "),
        "{e}"
    );
    assert!(e.to_string().ends_with("\n  CREATE STREAM s AS SELECT custId FROM orders EMIT CHANGES;\n                            ^"), "{e}");
}

#[test]
fn an_unknown_source_lists_the_known_ones() {
    let e = error(&format!(
        "{ORDERS}CREATE STREAM s AS SELECT * FROM order EMIT CHANGES;"
    ));
    assert_eq!(e.location(), at(3, 34));
    assert!(
        e.to_string()
            .contains("unknown stream or table 'ORDER'; known: ORDERS"),
        "{e}"
    );
}

#[test]
fn type_mismatches_are_compile_errors() {
    for (sql, message) in [
        (
            "SELECT * FROM orders WHERE total = 'x' EMIT CHANGES",
            "cannot compare DOUBLE with STRING",
        ),
        (
            "SELECT customerId + 1 FROM orders EMIT CHANGES",
            "operator '+' cannot be applied to STRING and INTEGER",
        ),
        (
            "SELECT * FROM orders WHERE total EMIT CHANGES",
            "WHERE needs a BOOLEAN condition, 'total' is DOUBLE",
        ),
        (
            "SELECT UCASE(total) FROM orders EMIT CHANGES",
            "UCASE expects STRING arguments, argument 1 is DOUBLE",
        ),
        (
            "SELECT customerId, SUM(customerId) FROM orders GROUP BY customerId EMIT CHANGES",
            "SUM needs a number, not STRING",
        ),
        (
            "SELECT UPCASE(customerId) FROM orders EMIT CHANGES",
            "unknown function 'UPCASE'; functions: UCASE",
        ),
    ] {
        let e = error(&format!("{ORDERS}CREATE STREAM s AS {sql};"));
        assert!(matches!(e, Error::Compile { .. }), "{sql}: {e:?}");
        assert!(e.to_string().contains(message), "{sql}: {e}");
        assert_eq!(e.location().map(|l| l.line), Some(3), "{sql}");
    }
}

#[test]
fn a_column_neither_grouped_nor_aggregated_is_named_with_the_grouped_ones() {
    let e = error(&format!(
        "{ORDERS}CREATE TABLE t AS SELECT customerId, total FROM orders GROUP BY customerId EMIT CHANGES;"
    ));
    assert!(
        e.to_string().contains(
            "column 'TOTAL' is neither in the GROUP BY nor inside an aggregate; grouped: CUSTOMERID"
        ),
        "{e}"
    );
    assert_eq!(e.location(), at(3, 38));
}

#[test]
fn bad_properties_and_declarations_are_reported() {
    for (sql, message) in [
        (
            "CREATE STREAM s (a INT) WITH (KAFKA_TOPC='s', VALUE_FORMAT='JSON');",
            "unknown property 'KAFKA_TOPC'; properties: KAFKA_TOPIC",
        ),
        (
            "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='XML');",
            "unknown VALUE_FORMAT 'XML'",
        ),
        (
            "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s');",
            "missing VALUE_FORMAT",
        ),
        (
            "CREATE TABLE s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');",
            "a table needs a PRIMARY KEY column",
        ),
        (
            "CREATE STREAM s (a INT, b INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='KAFKA');",
            "VALUE_FORMAT 'KAFKA' holds one value column",
        ),
        (
            "CREATE STREAM s (a INT, a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');",
            "duplicate column A",
        ),
        (
            "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', TIMESTAMP='ts');",
            "TIMESTAMP column 'ts' is not a value column; candidates: A",
        ),
    ] {
        let e = error(&format!(
            "{sql}\nCREATE STREAM x AS SELECT * FROM s EMIT CHANGES;"
        ));
        assert!(e.to_string().contains(message), "{sql}: {e}");
        assert!(e.location().is_some(), "{sql}");
    }
}

#[test]
fn queries_that_cannot_be_compiled_say_why() {
    for (sql, message) in [
        (
            "CREATE STREAM s AS SELECT customerId, COUNT(*) AS n FROM orders GROUP BY customerId EMIT CHANGES",
            "the query gives a TABLE, not a STREAM",
        ),
        (
            "CREATE TABLE t AS SELECT * FROM orders WINDOW TUMBLING (SIZE 1 HOUR) EMIT CHANGES",
            "WINDOW needs a GROUP BY",
        ),
        (
            "CREATE TABLE t AS SELECT customerId, COUNT(*) AS n FROM orders GROUP BY customerId EMIT FINAL",
            "EMIT FINAL needs a WINDOW",
        ),
        (
            "CREATE TABLE t AS SELECT * FROM orders GROUP BY customerId EMIT CHANGES",
            "SELECT * cannot be used with GROUP BY",
        ),
    ] {
        let e = error(&format!("{ORDERS}{sql};"));
        assert!(e.to_string().contains(message), "{sql}: {e}");
    }
}

#[test]
fn each_join_of_an_n_way_join_is_checked() {
    const MORE: &str = "CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');
CREATE TABLE products (id VARCHAR PRIMARY KEY, title VARCHAR) WITH (KAFKA_TOPIC='products', VALUE_FORMAT='JSON');
CREATE STREAM payments (orderId VARCHAR KEY, amount DOUBLE) WITH (KAFKA_TOPIC='payments', VALUE_FORMAT='JSON');
CREATE TABLE titles (id VARCHAR PRIMARY KEY, title DOUBLE) WITH (KAFKA_TOPIC='products', VALUE_FORMAT='JSON');
CREATE TABLE tags (id VARCHAR PRIMARY KEY, tag VARCHAR) WITH (KAFKA_TOPIC='tags', VALUE_FORMAT='JSON');
";
    for (sql, message) in [
        (
            "CREATE STREAM e AS SELECT o.orderId, c.name FROM orders o JOIN customers c ON o.customerId = c.id JOIN products p ON o.nope = p.id EMIT CHANGES",
            "NOPE",
        ),
        (
            "CREATE STREAM e AS SELECT o.orderId, c.name FROM orders o JOIN customers c ON o.customerId = c.id JOIN products p ON o.customerId = c.id EMIT CHANGES",
            "must equate them with a column of P",
        ),
        (
            "CREATE STREAM e AS SELECT o.orderId, c.name FROM orders o JOIN customers c ON o.customerId = c.id JOIN products p ON o.orderId = p.title EMIT CHANGES",
            "a stream-table join is on the table's PRIMARY KEY (P.ID)",
        ),
        (
            "CREATE STREAM e AS SELECT o.orderId FROM orders o JOIN customers c ON o.customerId = c.id JOIN customers c ON o.orderId = c.id EMIT CHANGES",
            "both sides have the same name",
        ),
        (
            "CREATE TABLE e AS SELECT c.id, p.title FROM customers c JOIN products p ON c.id = p.id JOIN payments x WITHIN 1 SECOND ON c.id = x.orderId EMIT CHANGES",
            "the joins before this one give a table",
        ),
        (
            "CREATE TABLE e AS SELECT c.id, p.title FROM customers c JOIN products p ON c.id = p.id JOIN tags t ON c.name = t.id EMIT CHANGES",
            "a table-table join is on both PRIMARY KEYs",
        ),
        (
            "CREATE STREAM e AS SELECT o.orderId FROM orders o JOIN products p ON o.customerId = p.id JOIN titles t ON o.customerId = t.id EMIT CHANGES",
            "PRODUCTS and TITLES both read topic 'products' but declare it differently",
        ),
        (
            "CREATE STREAM e AS SELECT o.orderId FROM orders o JOIN customers c ON o.customerId = c.id JOIN payments x ON o.orderId = x.orderId EMIT CHANGES",
            "a stream-stream join needs WITHIN",
        ),
    ] {
        let e = error(&format!("{ORDERS}{MORE}{sql};"));
        assert!(e.to_string().contains(message), "{sql}: {e}");
    }
}

#[test]
fn two_queries_reading_one_topic_cannot_share_the_offline_topology() {
    let e = error(&format!(
        "{ORDERS}CREATE STREAM big AS SELECT * FROM orders WHERE total > 100 EMIT CHANGES;
         CREATE STREAM small AS SELECT * FROM orders WHERE total < 1 EMIT CHANGES;"
    ));
    assert!(matches!(e, Error::Streams { .. }), "{e:?}");
    let chain = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(
        chain.contains("building the statements' topology")
            && chain.contains("topic 'orders.placed' is already read"),
        "{chain}"
    );
}
