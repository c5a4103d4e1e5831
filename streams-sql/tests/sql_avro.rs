//! The seed's statements with `VALUE_FORMAT='AVRO'`: orders written in Confluent's Avro wire
//! format with the hourly-revenue example's `OrderPlaced` schema, through the in-process
//! registry, give the same pull query answer as the JSON run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use apache_avro::types::Value as Avro;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use streams_avro::{GenericAvroSerde, RegistryConfig};
use streams_core::serde::Serde;
use streams_sql::value::Value;
use streams_sql::{Cluster, Engine, Outcome};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

const SEED: &str = "
CREATE STREAM orders_stream (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, timestamp BIGINT) WITH (KAFKA_TOPIC='orders.placed', VALUE_FORMAT='AVRO', TIMESTAMP='timestamp');
CREATE TABLE hourly_revenue AS SELECT customerId, WINDOWSTART AS window_start, SUM(total) AS revenue, COUNT(*) AS order_count FROM orders_stream WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY customerId EMIT CHANGES;
SELECT * FROM hourly_revenue WHERE customerId = 'cust-123';";

fn pull(engine: &mut Engine, sql: &str) -> Vec<Vec<Value>> {
    match engine.execute(sql).unwrap_or_else(|e| panic!("{e}")).pop() {
        Some(Outcome::Rows { rows, .. }) => rows,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_seed_statements_read_avro_orders() {
    let registry = "mock://streams-sql-avro-test";
    streams_sql::set_schema_registry(registry);
    let engine_cluster = Cluster::embedded().unwrap();
    engine_cluster.create_topic("orders.placed", 1).unwrap();
    let schema = std::fs::read_to_string(repo("examples/hourly_revenue/OrderPlaced.avsc")).unwrap();
    let serde = GenericAvroSerde::value(
        &RegistryConfig::new().set("schema.registry.url", registry),
        &schema,
    )
    .unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", engine_cluster.bootstrap_servers())
        .create()
        .unwrap();
    let orders = std::fs::read_to_string(repo("tests/sql/orders.jsonl")).unwrap();
    let mut written = 0;
    for line in orders.lines() {
        let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(id), Some(c), Some(total), Some(ts)) = (
            j["orderId"].as_str(),
            j["customerId"].as_str(),
            j["total"].as_f64(),
            j["timestamp"].as_i64(),
        ) else {
            continue;
        };
        let record = Avro::Record(vec![
            ("orderId".into(), Avro::String(id.into())),
            ("customerId".into(), Avro::String(c.into())),
            ("total".into(), Avro::Double(total)),
            ("currency".into(), Avro::String("USD".into())),
            ("timestamp".into(), Avro::TimestampMillis(ts)),
        ]);
        let mut bytes = Vec::new();
        serde
            .serialize("orders.placed", &record, &mut bytes)
            .unwrap();
        producer
            .send(
                BaseRecord::<str, [u8]>::to("orders.placed")
                    .key(id)
                    .payload(&bytes)
                    .partition(0),
            )
            .unwrap();
        written += 1;
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(written, 297);

    let mut engine = Engine::new(engine_cluster);
    let rows = pull(&mut engine, SEED);
    let expected: Vec<(i64, f64, i64)> = vec![
        (1_795_766_400_000, 1601.9, 14),
        (1_795_770_000_000, 2173.56, 18),
        (1_795_773_600_000, 2949.9300000000003, 17),
        (1_795_777_200_000, 2598.3199999999997, 23),
        (1_795_780_800_000, 2557.6700000000005, 21),
    ];
    let got: Vec<(i64, f64, i64)> = rows
        .iter()
        .map(|r| match (&r[0], &r[1], &r[4], &r[5]) {
            (Value::String(c), Value::BigInt(s), Value::Double(rev), Value::BigInt(n)) => {
                assert_eq!(c, "cust-123");
                (*s, *rev, *n)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    // The same windows as the JSON run of tests/sql_cli.rs (and its oracle).
    assert_eq!(got, expected);

    // The table's topic is written in Avro (the value format is inherited): a row that
    // could not be written would have failed the query.
    let query = &engine.queries()["CTAS_HOURLY_REVENUE_1"];
    assert_eq!(query.state().to_string(), "RUNNING");
}

/// `KEY_FORMAT='AVRO'`: a one-column key is read and written as its value alone under the
/// subject `<topic>-key` (as ksqlDB writes single-column keys), through a grouped table and
/// its pull query, and another client reads the table's keys back.
#[test]
fn avro_keys_are_read_grouped_and_written() {
    let registry = "mock://streams-sql-avro-test";
    streams_sql::set_schema_registry(registry);
    let config = RegistryConfig::new().set("schema.registry.url", registry);
    let cluster = Cluster::embedded().unwrap();
    cluster.create_topic("avro-clicks", 1).unwrap();
    let keys = GenericAvroSerde::new(&config, true, Some(r#""string""#)).unwrap();
    let values = GenericAvroSerde::value(
        &config,
        r#"{"type":"record","name":"Click","fields":[{"name":"page","type":"string"}]}"#,
    )
    .unwrap();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    for (user, page) in [("ann", "home"), ("bob", "cart"), ("ann", "cart")] {
        let (mut k, mut v) = (Vec::new(), Vec::new());
        keys.serialize("avro-clicks", &Avro::String(user.into()), &mut k)
            .unwrap();
        values
            .serialize(
                "avro-clicks",
                &Avro::Record(vec![("page".into(), Avro::String(page.into()))]),
                &mut v,
            )
            .unwrap();
        producer
            .send(
                BaseRecord::<[u8], [u8]>::to("avro-clicks")
                    .key(&k)
                    .payload(&v)
                    .partition(0),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let mut engine = Engine::new(cluster);
    let rows = pull(
        &mut engine,
        "CREATE STREAM clicks (uid VARCHAR KEY, page VARCHAR) WITH (KAFKA_TOPIC='avro-clicks', KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO');
         CREATE TABLE visits WITH (KAFKA_TOPIC='avro-visits') AS SELECT uid, COUNT(*) AS n FROM clicks GROUP BY uid EMIT CHANGES;
         SELECT * FROM visits WHERE uid = 'ann';",
    );
    assert_eq!(
        rows,
        vec![vec![Value::String("ann".into()), Value::BigInt(2)]]
    );

    // The table's keys, read by a plain Avro reader: the key's value, not a record.
    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", engine.cluster().bootstrap_servers())
        .set("group.id", "avro-key-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    rdkafka::consumer::Consumer::subscribe(&consumer, &["avro-visits"]).unwrap();
    let reader = GenericAvroSerde::new(&config, true, None).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 2 && std::time::Instant::now() < deadline {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let key = rdkafka::Message::key(&m).unwrap();
        match reader.deserialize("avro-visits", Some(key)).unwrap() {
            Avro::String(s) => seen.insert(s),
            Avro::Union(_, inner) => match *inner {
                Avro::String(s) => seen.insert(s),
                other => panic!("{other:?}"),
            },
            other => panic!("a key record instead of its value: {other:?}"),
        };
    }
    assert_eq!(
        seen,
        ["ann", "bob"].iter().map(|s| (*s).to_owned()).collect()
    );
}
