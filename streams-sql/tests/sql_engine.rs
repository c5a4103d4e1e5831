//! The library API on the embedded cluster: DDL, persistent queries, pull and push queries,
//! SHOW, DESCRIBE, EXPLAIN, DROP and TERMINATE.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use streams_sql::value::Value;
use streams_sql::{Cluster, Engine, Outcome};

fn produce(engine: &Engine, topic: &str, records: &[(&str, &str)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", engine.cluster().bootstrap_servers())
        .create()
        .unwrap();
    for (k, v) in records {
        producer
            .send(BaseRecord::to(topic).key(*k).payload(*v).partition(0))
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

fn one(engine: &mut Engine, sql: &str) -> Outcome {
    let mut out = engine.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn text(o: Outcome) -> String {
    match o {
        Outcome::Text(t) | Outcome::Message(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn every_statement_kind_on_the_embedded_cluster() {
    let mut engine = Engine::new(Cluster::embedded().unwrap());
    assert_eq!(
        one(
            &mut engine,
            "CREATE STREAM clicks (uid VARCHAR KEY, page VARCHAR, ms BIGINT) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, VALUE_FORMAT='JSON', TIMESTAMP='ms');"
        ),
        Outcome::Message("Stream created".to_owned())
    );
    produce(
        &engine,
        "clicks",
        &[
            ("ann", r#"{"page":"home","ms":1000}"#),
            ("bob", r#"{"page":"cart","ms":2000}"#),
            ("ann", r#"{"page":"cart","ms":3000}"#),
            ("ann", "not json"),
            ("cid", r#"{"page":"home","ms":4000}"#),
        ],
    );
    assert_eq!(
        one(
            &mut engine,
            "CREATE TABLE visits AS SELECT uid, COUNT(*) AS n, LATEST_BY_OFFSET(page) AS last_page FROM clicks GROUP BY uid EMIT CHANGES;"
        ),
        Outcome::Message("Created query with ID CTAS_VISITS_1".to_owned())
    );
    // A pull query by key, and one over every key.
    assert_eq!(
        one(&mut engine, "SELECT * FROM visits WHERE uid = 'ann';"),
        Outcome::Rows {
            columns: vec!["UID".into(), "N".into(), "LAST_PAGE".into()],
            rows: vec![vec![
                Value::String("ann".into()),
                Value::BigInt(2),
                Value::String("cart".into())
            ]],
        }
    );
    match one(&mut engine, "SELECT uid, n FROM visits WHERE n < 2;") {
        Outcome::Rows { rows, .. } => assert_eq!(
            rows,
            vec![
                vec![Value::String("bob".into()), Value::BigInt(1)],
                vec![Value::String("cid".into()), Value::BigInt(1)]
            ]
        ),
        other => panic!("{other:?}"),
    }
    // A transient push query with LIMIT.
    match one(
        &mut engine,
        "SELECT uid, UCASE(page) AS page FROM clicks WHERE page = 'cart' EMIT CHANGES LIMIT 2;",
    ) {
        Outcome::Rows { columns, rows } => {
            assert_eq!(columns, ["UID", "PAGE"]);
            assert_eq!(rows.len(), 2);
            assert_eq!(
                rows[0],
                vec![Value::String("bob".into()), Value::String("CART".into())]
            );
        }
        other => panic!("{other:?}"),
    }
    let mut push = engine
        .push("SELECT * FROM clicks EMIT CHANGES LIMIT 1;")
        .unwrap();
    let row = push.next_row(Duration::from_secs(60)).unwrap();
    assert_eq!(row.map(|r| r.len()), Some(3), "{push:?}");
    assert!(push.is_done());
    push.close().unwrap();

    assert_eq!(
        one(
            &mut engine,
            "CREATE STREAM carts WITH (KAFKA_TOPIC='carts') AS SELECT * FROM clicks WHERE page = 'cart' EMIT CHANGES;"
        ),
        Outcome::Message("Created query with ID CSAS_CARTS_4".to_owned())
    );
    let streams = text(one(&mut engine, "SHOW STREAMS;"));
    assert!(
        streams.contains(" CARTS       | carts       | KAFKA      | JSON         | false"),
        "{streams}"
    );
    assert!(streams.contains(" CLICKS      | clicks"), "{streams}");
    let tables = text(one(&mut engine, "SHOW TABLES;"));
    assert!(tables.contains(" VISITS     | VISITS"), "{tables}");
    let queries = text(one(&mut engine, "SHOW QUERIES;"));
    assert!(
        queries.contains("CTAS_VISITS_1") && queries.contains("CSAS_CARTS_4"),
        "{queries}"
    );
    let described = text(one(&mut engine, "DESCRIBE clicks;"));
    assert!(
        described.contains(" UID   | VARCHAR(STRING)  (key)"),
        "{described}"
    );
    assert!(
        described.contains("Queries that read from this STREAM: CSAS_CARTS_4, CTAS_VISITS_1"),
        "{described}"
    );
    let explained = text(one(&mut engine, "EXPLAIN CTAS_VISITS_1;"));
    assert!(
        explained.contains("Sub-topology") && explained.contains("Aggregate-Aggregate-Materialize"),
        "{explained}"
    );
    let plan = text(one(
        &mut engine,
        "EXPLAIN CREATE STREAM x AS SELECT * FROM clicks EMIT CHANGES;",
    ));
    assert!(
        plan.contains("Source: KSTREAM-SOURCE-0000000000 (topics: [clicks])"),
        "{plan}"
    );

    let err = engine
        .execute("DROP STREAM clicks;")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot drop CLICKS: queries CSAS_CARTS_4, CTAS_VISITS_1 use it"),
        "{err}"
    );
    assert_eq!(
        text(one(&mut engine, "TERMINATE CSAS_CARTS_4;")),
        "Query terminated: CSAS_CARTS_4"
    );
    assert_eq!(
        text(one(&mut engine, "DROP STREAM carts;")),
        "Source `CARTS` (topic: carts) was dropped."
    );
    assert_eq!(
        text(one(&mut engine, "TERMINATE ALL;")),
        "Query terminated: CTAS_VISITS_1"
    );
    let err = engine
        .execute("SELECT * FROM visits WHERE uid = 'ann';")
        .unwrap_err()
        .to_string();
    assert!(err.contains("VISITS is not materialized"), "{err}");
    assert_eq!(
        text(one(&mut engine, "SET 'auto.offset.reset'='latest';")),
        "Successfully changed local property 'auto.offset.reset' to 'latest'."
    );
}

#[test]
fn a_source_table_answers_pull_queries_from_its_topic() {
    let mut engine = Engine::new(Cluster::embedded().unwrap());
    assert_eq!(
        one(
            &mut engine,
            "CREATE SOURCE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, tier INT) WITH (KAFKA_TOPIC='users', PARTITIONS=1, VALUE_FORMAT='JSON');"
        ),
        Outcome::Message("Table created".to_owned())
    );
    produce(
        &engine,
        "users",
        &[
            ("u1", r#"{"name":"ann","tier":1}"#),
            ("u2", r#"{"name":"bob","tier":0}"#),
            ("u3", r#"{"name":"cid","tier":3}"#),
            ("u1", r#"{"name":"ann","tier":2}"#),
        ],
    );
    // A tombstone deletes u3's row.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", engine.cluster().bootstrap_servers())
        .create()
        .unwrap();
    producer
        .send(BaseRecord::<str, str>::to("users").key("u3").partition(0))
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    assert_eq!(
        one(&mut engine, "SELECT * FROM users WHERE id = 'u1';"),
        Outcome::Rows {
            columns: vec!["ID".into(), "NAME".into(), "TIER".into()],
            rows: vec![vec![
                Value::String("u1".into()),
                Value::String("ann".into()),
                Value::Int(2)
            ]],
        }
    );
    match one(&mut engine, "SELECT id, tier FROM users;") {
        Outcome::Rows { rows, .. } => assert_eq!(
            rows,
            vec![
                vec![Value::String("u1".into()), Value::Int(2)],
                vec![Value::String("u2".into()), Value::Int(0)],
            ]
        ),
        other => panic!("{other:?}"),
    }
    let queries = text(one(&mut engine, "SHOW QUERIES;"));
    assert!(queries.contains("CST_USERS_1"), "{queries}");

    let err = engine
        .execute("CREATE SOURCE TABLE t2 WITH (KAFKA_TOPIC='users') AS SELECT * FROM users;")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not AS SELECT"), "{err}");

    // Dropping the table stops its own query; nothing else used it.
    assert_eq!(
        text(one(&mut engine, "DROP TABLE users;")),
        "Source `USERS` (topic: users) was dropped."
    );
    let queries = text(one(&mut engine, "SHOW QUERIES;"));
    assert!(!queries.contains("CST_USERS_1"), "{queries}");
}
