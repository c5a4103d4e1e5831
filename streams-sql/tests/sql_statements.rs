//! Each statement kind compiled with `streams_sql::topology` and run in the test driver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use streams_dsl::prelude::*;
use support::driver;

type S = Option<String>;

fn input(d: &TopologyTestDriver, topic: &str) -> TestInputTopic<S, S> {
    d.create_input_topic(
        topic,
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn output(d: &TopologyTestDriver, topic: &str) -> TestOutputTopic<S, S> {
    d.create_output_topic(
        topic,
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn s(v: &str) -> S {
    Some(v.to_owned())
}

const ORDERS: &str = "CREATE STREAM orders (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, qty INT, ts BIGINT) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', TIMESTAMP='ts');";

fn order(id: &str, customer: &str, total: f64, qty: i32, ts: i64) -> (S, S) {
    (
        s(id),
        Some(format!(
            r#"{{"orderId":"{id}","customerId":"{customer}","total":{total},"qty":{qty},"ts":{ts}}}"#
        )),
    )
}

#[test]
fn filter_projection_arithmetic_case_cast_and_string_functions() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM big WITH (KAFKA_TOPIC='big') AS
           SELECT orderId, UCASE(customerId) AS c, total * qty AS amount,
                  CASE WHEN total > 100 THEN 'large' ELSE 'small' END AS size,
                  CAST(qty AS VARCHAR) AS q, CONCAT(LCASE(customerId), '-', SUBSTRING(orderId, 2)) AS tag,
                  LEN(TRIM('  ab ')) AS two
           FROM orders WHERE qty >= 2 AND customerId IS NOT NULL EMIT CHANGES;"
    ));
    let i = input(&d, "orders");
    let o = output(&d, "big");
    let (k, v) = order("o1", "Cust-A", 60.5, 2, 1_000);
    i.pipe_input(k, v).unwrap();
    let (k, v) = order("o2", "cust-b", 500.0, 1, 2_000);
    i.pipe_input(k, v).unwrap();
    i.pipe_input(s("o3"), None).unwrap();
    let got = o.read_records_to_list().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].key, s("o1"));
    assert_eq!(
        got[0].value.as_deref(),
        Some(r#"{"C":"CUST-A","AMOUNT":121.0,"SIZE":"small","Q":"2","TAG":"cust-a-1","TWO":2}"#)
    );
    // Event time comes from the TIMESTAMP column.
    assert_eq!(got[0].timestamp, 1_000);
}

#[test]
fn partition_by_rekeys_and_aggregation_after_it_counts_per_new_key() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM by_customer WITH (KAFKA_TOPIC='by_customer') AS SELECT * FROM orders PARTITION BY customerId EMIT CHANGES;
         CREATE TABLE counts WITH (KAFKA_TOPIC='counts', VALUE_FORMAT='JSON') AS
           SELECT customerId, COUNT(*) AS n, SUM(total) AS total, AVG(qty) AS avg_qty, MIN(total) AS lo, MAX(total) AS hi,
                  LATEST_BY_OFFSET(orderId) AS last_order, EARLIEST_BY_OFFSET(orderId) AS first_order, COLLECT_LIST(qty) AS qtys
           FROM by_customer GROUP BY customerId EMIT CHANGES;"
    ));
    let i = input(&d, "by_customer");
    let o = output(&d, "counts");
    // The rows by_customer's query writes: keyed by customer, the value without it.
    for (key, id, total, qty) in [
        ("a", "o1", 10.0, 1),
        ("b", "o2", 5.0, 2),
        ("a", "o3", 30.0, 3),
    ] {
        i.pipe_input(
            s(key),
            Some(format!(
                r#"{{"ORDERID":"{id}","TOTAL":{total},"QTY":{qty},"TS":1}}"#
            )),
        )
        .unwrap();
    }
    let got = o.read_key_values_to_list().unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].0, s("a"));
    assert_eq!(
        got[2].1.as_deref(),
        Some(
            r#"{"N":2,"TOTAL":40.0,"AVG_QTY":2.0,"LO":10.0,"HI":30.0,"LAST_ORDER":"o3","FIRST_ORDER":"o1","QTYS":[1,3]}"#
        )
    );
}

#[test]
fn partition_by_writes_the_new_key_and_moves_it_out_of_the_value() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM by_customer WITH (KAFKA_TOPIC='by_customer') AS SELECT * FROM orders PARTITION BY customerId EMIT CHANGES;"
    ));
    let i = input(&d, "orders");
    let o = output(&d, "by_customer");
    let (k, v) = order("o1", "a", 1.5, 1, 7);
    i.pipe_input(k, v).unwrap();
    let got = o.read_key_values_to_list().unwrap();
    assert_eq!(
        got,
        vec![(s("a"), s(r#"{"ORDERID":"o1","TOTAL":1.5,"QTY":1,"TS":7}"#))]
    );
}

fn windowed_key(bytes: &[u8]) -> (String, i64) {
    let (k, start) = bytes.split_at(bytes.len() - 8);
    (
        String::from_utf8(k.to_vec()).unwrap(),
        i64::from_be_bytes(start.try_into().unwrap()),
    )
}

#[test]
fn tumbling_hopping_and_session_windows_with_grace_and_window_bounds() {
    for (window, expected) in [
        (
            "TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS)",
            vec![("a", 0, 1), ("a", 0, 2), ("a", 10_000, 1)],
        ),
        (
            "HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS)",
            // Windows start at 0 or later; the late record at 2 s is within the default grace.
            vec![
                ("a", 0, 1),
                ("a", 0, 2),
                ("a", 5_000, 1),
                ("a", 10_000, 1),
                ("a", 0, 3),
            ],
        ),
    ] {
        let d = driver(&format!(
            "{ORDERS}
             CREATE TABLE w WITH (KAFKA_TOPIC='w') AS SELECT customerId, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n
             FROM orders WINDOW {window} GROUP BY customerId EMIT CHANGES;"
        ));
        let i = input(&d, "orders");
        let o = d.create_output_topic("w", Serdes::bytes(), Serdes::option(Serdes::string()));
        for (id, ts) in [("o1", 1_000), ("o2", 4_000), ("o3", 12_000), ("o4", 2_000)] {
            let (k, v) = order(id, "a", 1.0, 1, ts);
            i.pipe_input(k, v).unwrap();
        }
        let got: Vec<(String, i64, i64)> = o
            .read_key_values_to_list()
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                let (key, start) = windowed_key(&k);
                let v: serde_json::Value = serde_json::from_str(&v.unwrap()).unwrap();
                assert_eq!(v["WS"], start);
                (key, start, v["N"].as_i64().unwrap())
            })
            .collect();
        let expected: Vec<(String, i64, i64)> = expected
            .into_iter()
            .map(|(k, s, n)| (k.to_owned(), s, n))
            .collect();
        // With zero grace the tumbling window drops the late record at 2 s.
        assert_eq!(got, expected, "{window}");
    }
    let d = driver(&format!(
        "{ORDERS}
         CREATE TABLE sessions WITH (KAFKA_TOPIC='sessions') AS SELECT customerId, SUM(qty) AS q
         FROM orders WINDOW SESSION (5 SECONDS) GROUP BY customerId EMIT CHANGES;"
    ));
    let i = input(&d, "orders");
    let o = d.create_output_topic(
        "sessions",
        Serdes::bytes(),
        Serdes::option(Serdes::string()),
    );
    for (id, ts) in [("o1", 1_000), ("o2", 3_000), ("o3", 20_000)] {
        let (k, v) = order(id, "a", 1.0, 2, ts);
        i.pipe_input(k, v).unwrap();
    }
    let values: Vec<S> = o.read_values_to_list().unwrap();
    // Session 1..1, then merged into 1..3 (the old one deleted), then a new session.
    assert_eq!(
        values,
        vec![s(r#"{"Q":2}"#), None, s(r#"{"Q":4}"#), s(r#"{"Q":2}"#)]
    );
}

#[test]
fn emit_final_writes_each_window_once_after_it_closes() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE TABLE w WITH (KAFKA_TOPIC='w') AS SELECT customerId, COUNT(*) AS n
         FROM orders WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND) GROUP BY customerId EMIT FINAL;"
    ));
    let i = input(&d, "orders");
    let o = d.create_output_topic("w", Serdes::bytes(), Serdes::option(Serdes::string()));
    for (id, ts) in [("o1", 1_000), ("o2", 4_000), ("o3", 10_500), ("o4", 11_000)] {
        let (k, v) = order(id, "a", 1.0, 1, ts);
        i.pipe_input(k, v).unwrap();
    }
    let got = o.read_key_values_to_list().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(windowed_key(&got[0].0), ("a".to_owned(), 0));
    assert_eq!(got[0].1, s(r#"{"N":2}"#));
}

#[test]
fn having_turns_rejected_groups_into_tombstones() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE TABLE t WITH (KAFKA_TOPIC='t') AS SELECT customerId, SUM(qty) AS q FROM orders GROUP BY customerId HAVING SUM(qty) > 2 EMIT CHANGES;"
    ));
    let i = input(&d, "orders");
    let o = output(&d, "t");
    for (id, qty) in [("o1", 2), ("o2", 2)] {
        let (k, v) = order(id, "a", 1.0, qty, 1);
        i.pipe_input(k, v).unwrap();
    }
    assert_eq!(
        o.read_key_values_to_list().unwrap(),
        vec![(s("a"), None), (s("a"), s(r#"{"Q":4}"#))]
    );
}

#[test]
fn insert_into_appends_to_an_existing_stream() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM more (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, qty INT, ts BIGINT) WITH (KAFKA_TOPIC='more', VALUE_FORMAT='JSON');
         CREATE STREAM all_orders (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, qty INT, ts BIGINT) WITH (KAFKA_TOPIC='all', VALUE_FORMAT='JSON');
         INSERT INTO all_orders SELECT * FROM more EMIT CHANGES;"
    ));
    let i = input(&d, "more");
    let o = output(&d, "all");
    let (k, v) = order("o9", "z", 2.0, 1, 5);
    i.pipe_input(k, v).unwrap();
    assert_eq!(
        o.read_key_values_to_list().unwrap(),
        vec![(
            s("o9"),
            s(r#"{"CUSTOMERID":"z","TOTAL":2.0,"QTY":1,"TS":5}"#)
        )]
    );
}

#[test]
fn tables_with_primary_keys_filter_and_project_their_changelog() {
    let d = driver(
        "CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR, tier VARCHAR) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');
         CREATE TABLE gold WITH (KAFKA_TOPIC='gold') AS SELECT id, UCASE(name) AS name FROM customers WHERE tier = 'gold' EMIT CHANGES;",
    );
    let i = input(&d, "customers");
    let o = output(&d, "gold");
    i.pipe_input(s("c1"), s(r#"{"name":"ada","tier":"gold"}"#))
        .unwrap();
    i.pipe_input(s("c2"), s(r#"{"name":"bao","tier":"silver"}"#))
        .unwrap();
    i.pipe_input(s("c1"), None).unwrap();
    // As Kafka Streams' table filter, a row that does not match is a tombstone.
    assert_eq!(
        o.read_key_values_to_list().unwrap(),
        vec![
            (s("c1"), s(r#"{"NAME":"ADA"}"#)),
            (s("c2"), None),
            (s("c1"), None)
        ]
    );
}

#[test]
fn types_arrays_maps_structs_decimals_and_timestamp_format() {
    let d = driver(
        "CREATE STREAM events (id VARCHAR KEY, tags ARRAY<VARCHAR>, attrs MAP<STRING, INT>, who STRUCT<name VARCHAR, age INT>,
                               price DECIMAL(10, 2), ok BOOLEAN, at VARCHAR)
           WITH (KAFKA_TOPIC='events', VALUE_FORMAT='JSON', TIMESTAMP='at', TIMESTAMP_FORMAT='yyyy-MM-dd HH:mm:ss');
         CREATE STREAM flat WITH (KAFKA_TOPIC='flat') AS
           SELECT id, tags[1] AS first_tag, attrs['x'] AS x, who->name AS name, price * 2 AS double_price, NOT ok AS not_ok
           FROM events EMIT CHANGES;",
    );
    let i = input(&d, "events");
    let o = d.create_output_topic(
        "flat",
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    i.pipe_input(
        s("e1"),
        s(r#"{"tags":["red","blue"],"attrs":{"x":7},"who":{"name":"Ada","age":36},"price":12.5,"ok":true,"at":"2026-11-27 08:00:00"}"#),
    )
    .unwrap();
    let got = o.read_records_to_list().unwrap();
    assert_eq!(
        got[0].value.as_deref(),
        Some(r#"{"FIRST_TAG":"red","X":7,"NAME":"Ada","DOUBLE_PRICE":25.00,"NOT_OK":false}"#)
    );
    assert_eq!(got[0].timestamp, 1_795_766_400_000);
}

#[test]
fn malformed_values_fail_deserialization() {
    // The engine runs queries with the continue handler (ksqlDB skips such records); the
    // driver's default handler fails, which shows the record is not read as a row.
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM copy WITH (KAFKA_TOPIC='copy') AS SELECT * FROM orders EMIT CHANGES;"
    ));
    let i = input(&d, "orders");
    assert!(i.pipe_input(s("o1"), s(r#"{"total":"lots"}"#)).is_err());
}

const CUSTOMERS: &str = "CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');";

#[test]
fn stream_table_joins_rekey_the_stream_and_left_join_keeps_unmatched_rows() {
    for (kind, expected) in [
        (
            "JOIN",
            vec![(s("a"), s(r#"{"ORDERID":"o2","NAME":"Ann","TOTAL":2.0}"#))],
        ),
        (
            "LEFT JOIN",
            vec![
                (s("a"), s(r#"{"ORDERID":"o1","NAME":null,"TOTAL":1.0}"#)),
                (s("a"), s(r#"{"ORDERID":"o2","NAME":"Ann","TOTAL":2.0}"#)),
            ],
        ),
    ] {
        let d = driver(&format!(
            "{ORDERS}{CUSTOMERS}
             CREATE STREAM enriched WITH (KAFKA_TOPIC='enriched') AS
               SELECT o.customerId AS cid, o.orderId, c.name, o.total FROM orders o {kind} customers c ON o.customerId = c.id EMIT CHANGES;"
        ));
        let orders = input(&d, "orders");
        let customers = input(&d, "customers");
        let out = output(&d, "enriched");
        let (k, v) = order("o1", "a", 1.0, 1, 1);
        orders.pipe_input(k, v).unwrap();
        customers
            .pipe_input(s("a"), s(r#"{"name":"Ann"}"#))
            .unwrap();
        let (k, v) = order("o2", "a", 2.0, 1, 2);
        orders.pipe_input(k, v).unwrap();
        assert_eq!(out.read_key_values_to_list().unwrap(), expected, "{kind}");
        assert!(
            d.produced_topic_names()
                .iter()
                .any(|t| t.ends_with("-repartition")),
            "{kind}: the stream is re-keyed"
        );
    }
}

#[test]
fn stream_stream_joins_match_within_the_window() {
    let d = driver(&format!(
        "{ORDERS}
         CREATE STREAM payments (orderId VARCHAR KEY, amount DOUBLE) WITH (KAFKA_TOPIC='payments', VALUE_FORMAT='JSON');
         CREATE STREAM paid WITH (KAFKA_TOPIC='paid') AS
           SELECT o.orderId AS id, o.total, p.amount FROM orders o JOIN payments p WITHIN 5 SECONDS ON o.orderId = p.orderId EMIT CHANGES;"
    ));
    let orders = input(&d, "orders");
    let payments = input(&d, "payments");
    let out = output(&d, "paid");
    let (k, v) = order("o1", "a", 10.0, 1, 1_000);
    orders.pipe_input(k, v).unwrap();
    payments
        .pipe_record(TestRecord::new(s("o1"), s(r#"{"amount":10.0}"#), 4_000))
        .unwrap();
    payments
        .pipe_record(TestRecord::new(s("o1"), s(r#"{"amount":11.0}"#), 9_000))
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![(s("o1"), s(r#"{"TOTAL":10.0,"AMOUNT":10.0}"#))]
    );
}

#[test]
fn table_table_joins_follow_both_changelogs() {
    let d = driver(&format!(
        "{CUSTOMERS}
         CREATE TABLE tiers (id VARCHAR PRIMARY KEY, tier VARCHAR) WITH (KAFKA_TOPIC='tiers', VALUE_FORMAT='JSON');
         CREATE TABLE profile WITH (KAFKA_TOPIC='profile') AS
           SELECT c.id, c.name, t.tier FROM customers c LEFT JOIN tiers t ON c.id = t.id EMIT CHANGES;"
    ));
    let customers = input(&d, "customers");
    let tiers = input(&d, "tiers");
    let out = output(&d, "profile");
    customers
        .pipe_input(s("a"), s(r#"{"name":"Ann"}"#))
        .unwrap();
    tiers.pipe_input(s("a"), s(r#"{"tier":"gold"}"#)).unwrap();
    customers.pipe_input(s("a"), None).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![
            (s("a"), s(r#"{"NAME":"Ann","TIER":null}"#)),
            (s("a"), s(r#"{"NAME":"Ann","TIER":"gold"}"#)),
            (s("a"), None)
        ]
    );
}

const PRODUCTS: &str = "CREATE TABLE products (id VARCHAR PRIMARY KEY, title VARCHAR) WITH (KAFKA_TOPIC='products', VALUE_FORMAT='JSON');";

#[test]
fn n_way_joins_join_each_source_to_the_rows_joined_before_and_key_by_the_last_join() {
    let d = driver(&format!(
        "CREATE STREAM items (id VARCHAR KEY, customerId VARCHAR, productId VARCHAR) WITH (KAFKA_TOPIC='items', VALUE_FORMAT='JSON');
         {CUSTOMERS}{PRODUCTS}
         CREATE STREAM enriched WITH (KAFKA_TOPIC='enriched') AS
           SELECT p.id AS pid, o.id, c.name, p.title FROM items o
           JOIN customers c ON o.customerId = c.id
           LEFT JOIN products p ON o.productId = p.id EMIT CHANGES;"
    ));
    let items = input(&d, "items");
    let customers = input(&d, "customers");
    let products = input(&d, "products");
    let out = output(&d, "enriched");
    customers
        .pipe_input(s("a"), s(r#"{"name":"Ann"}"#))
        .unwrap();
    products
        .pipe_input(s("p1"), s(r#"{"title":"Pen"}"#))
        .unwrap();
    for (id, customer, product) in [("o1", "a", "p1"), ("o2", "b", "p1"), ("o3", "a", "p2")] {
        items
            .pipe_input(
                s(id),
                s(&format!(
                    r#"{{"customerId":"{customer}","productId":"{product}"}}"#
                )),
            )
            .unwrap();
    }
    // o2 has no customer (inner join); o3's product is missing (left join); the key is
    // the last join's.
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![
            (s("p1"), s(r#"{"ID":"o1","NAME":"Ann","TITLE":"Pen"}"#)),
            (s("p2"), s(r#"{"ID":"o3","NAME":"Ann","TITLE":null}"#)),
        ]
    );
    assert_eq!(
        d.produced_topic_names()
            .iter()
            .filter(|t| t.ends_with("-repartition"))
            .count(),
        2,
        "each join re-keys the stream"
    );
}

#[test]
fn n_way_joins_start_with_a_stream_stream_join_and_continue_with_a_table() {
    let d = driver(
        "CREATE STREAM orders (id VARCHAR KEY, customerId VARCHAR) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON');
         CREATE STREAM payments (orderId VARCHAR KEY, amount DOUBLE) WITH (KAFKA_TOPIC='payments', VALUE_FORMAT='JSON');
         CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');
         CREATE STREAM paid WITH (KAFKA_TOPIC='paid') AS
           SELECT c.id AS cid, o.id, p.amount, c.name FROM orders o
           JOIN payments p WITHIN 5 SECONDS ON o.id = p.orderId
           JOIN customers c ON o.customerId = c.id EMIT CHANGES;",
    );
    let orders = input(&d, "orders");
    let payments = input(&d, "payments");
    let customers = input(&d, "customers");
    let out = output(&d, "paid");
    customers
        .pipe_record(TestRecord::new(s("a"), s(r#"{"name":"Ann"}"#), 0))
        .unwrap();
    orders
        .pipe_record(TestRecord::new(s("o1"), s(r#"{"customerId":"a"}"#), 1_000))
        .unwrap();
    payments
        .pipe_record(TestRecord::new(s("o1"), s(r#"{"amount":3.0}"#), 2_000))
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![(s("a"), s(r#"{"ID":"o1","AMOUNT":3.0,"NAME":"Ann"}"#))]
    );
}
