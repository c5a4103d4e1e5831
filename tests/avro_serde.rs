//! Avro serdes with the in-process registry (`mock://<scope>`, one scope per test): the
//! wire bytes, round trips of typed and generic records with logical types, schema evolution
//! both ways, subject name strategies, `auto.register.schemas` and `use.latest.version`, the
//! caches, each kind of bad input, and the serdes in the test driver (source, sink, grouping,
//! a store, a join, the dead-letter handler).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use apache_avro::types::Value;
use apache_avro::{AvroSchema, Decimal, Uuid};
use serde::{Deserialize, Serialize};
use streams_avro::{AvroSerde, GenericAvroSerde, RegistryConfig, SchemaRegistry};
use streams_dsl::prelude::*;

/// A configuration of its own for each test: scopes are shared by the whole process.
fn config(scope: &str) -> RegistryConfig {
    RegistryConfig::new().set("schema.registry.url", format!("mock://avro-serde-{scope}"))
}

/// The error and its causes, joined as a dead-letter reason is.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn serialize<T: 'static>(serde: &SerdeRef<T>, topic: &str, value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(serde.serialize(topic, value, &mut out).unwrap());
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "com.example")]
struct Payment {
    id: String,
    amount: f64,
    quantity: i32,
}

fn payment() -> Payment {
    Payment {
        id: "p1".into(),
        amount: 9.5,
        quantity: -3,
    }
}

#[test]
fn typed_records_are_framed_as_confluents_serializer_frames_them() {
    let config = config("wire");
    let values = AvroSerde::<Payment>::value(&config).unwrap();
    let bytes = serialize(&values, "payments", &payment());
    let mut expected = vec![0, 0, 0, 0, 1]; // magic byte, schema id 1 big-endian
    expected.extend([4, b'p', b'1']); // string: zig-zag length 2, then UTF-8
    expected.extend(9.5f64.to_le_bytes()); // double: 8 bytes little-endian
    expected.push(5); // int -3, zig-zag
    assert_eq!(bytes, expected);
    assert_eq!(
        values.deserialize("payments", Some(&bytes)).unwrap(),
        payment()
    );

    // Keys go to the topic's key subject; the same schema keeps its id across subjects.
    let keys = AvroSerde::<Payment>::key(&config).unwrap();
    let key_bytes = serialize(&keys, "payments", &payment());
    assert_eq!(key_bytes, bytes);
    let registry = SchemaRegistry::new(&config).unwrap();
    assert_eq!(
        registry.subjects().unwrap(),
        ["payments-key", "payments-value"]
    );
    let registered = registry.latest_version("payments-value").unwrap();
    assert_eq!((registered.id, registered.version), (1, 1));
    assert_eq!(
        registered
            .schema
            .name()
            .map(|n| n.fullname(None))
            .as_deref(),
        Some("com.example.Payment")
    );

    // A second schema gets the next id, written big-endian.
    let strings = GenericAvroSerde::value(&config, r#""string""#).unwrap();
    let bytes = serialize(&strings, "names", &Value::String("é".into()));
    assert_eq!(bytes, [0, 0, 0, 0, 2, 4, 0xc3, 0xa9]);
}

/// Every logical type the issue names, written by hand as a seed `.avsc` would be.
const LOGICAL: &str = r#"{
  "type": "record", "name": "Settlement", "namespace": "com.example",
  "fields": [
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}}
  ]
}"#;

const UUID: &str = "6f1c1e9a-2b49-4d0e-9a51-0c3f8f0b7a11";

#[test]
fn logical_types_round_trip_in_generic_records_with_avros_encoding() {
    let config = config("logical-generic");
    let serde = GenericAvroSerde::value(&config, LOGICAL).unwrap();
    let uuid = Uuid::parse_str(UUID).unwrap();
    // 1234.56 at scale 2 is the unscaled 123456 = 0x01e240, big-endian two's complement;
    // apache-avro writes it in the 5 bytes that precision 10 needs.
    let record = Value::Record(vec![
        ("at".into(), Value::TimestampMillis(1_795_766_400_000)),
        ("day".into(), Value::Date(20_784)),
        (
            "amount".into(),
            Value::Decimal(Decimal::from(vec![0, 0, 0x01, 0xe2, 0x40])),
        ),
        ("ref".into(), Value::Uuid(uuid)),
    ]);
    let bytes = serialize(&serde, "settlements", &record);
    let mut expected = vec![0, 0, 0, 0, 1];
    expected.extend(zigzag(1_795_766_400_000));
    expected.extend(zigzag(20_784));
    expected.extend([10, 0, 0, 0x01, 0xe2, 0x40]);
    expected.push(72); // 36 characters
    expected.extend(UUID.as_bytes());
    assert_eq!(bytes, expected);
    assert_eq!(
        serde.deserialize("settlements", Some(&bytes)).unwrap(),
        record
    );

    // Java and Python write the decimal in its minimal 3 bytes; it reads as the same number.
    let mut minimal = vec![0, 0, 0, 0, 1];
    minimal.extend(zigzag(1_795_766_400_000));
    minimal.extend(zigzag(20_784));
    minimal.extend([6, 0x01, 0xe2, 0x40]);
    minimal.push(72);
    minimal.extend(UUID.as_bytes());
    assert_eq!(
        serde.deserialize("settlements", Some(&minimal)).unwrap(),
        record
    );

    // Plain values are accepted where the schema has logical types.
    let plain = Value::Record(vec![
        ("at".into(), Value::Long(1_795_766_400_000)),
        ("day".into(), Value::Int(20_784)),
        (
            "amount".into(),
            Value::Decimal(Decimal::from(vec![0, 0, 0x01, 0xe2, 0x40])),
        ),
        ("ref".into(), Value::String(UUID.into())),
    ]);
    assert_eq!(serialize(&serde, "settlements", &plain), expected);
}

fn zigzag(n: i64) -> Vec<u8> {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if z < 0x80 {
            out.push(z as u8);
            return out;
        }
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
}

/// The same record as a Rust type: a timestamp is an `i64`, a date an `i32`, the decimal
/// its unscaled bytes (as wide as its precision needs), the uuid a `String`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Settlement {
    at: i64,
    day: i32,
    #[serde(with = "apache_avro::serde::bytes")]
    amount: Vec<u8>,
    #[serde(rename = "ref")]
    reference: String,
}

#[test]
fn logical_types_round_trip_in_typed_records() {
    let config = config("logical-typed");
    let registry = SchemaRegistry::new(&config).unwrap();
    let serde: SerdeRef<Settlement> = std::sync::Arc::new(
        AvroSerde::<Settlement>::with_schema(registry, &config, false, LOGICAL).unwrap(),
    );
    let settlement = Settlement {
        at: 1_795_766_400_000,
        day: 20_784,
        amount: vec![0, 0, 0x01, 0xe2, 0x40],
        reference: UUID.to_owned(),
    };
    let bytes = serialize(&serde, "settlements", &settlement);
    let generic = GenericAvroSerde::value(&config, LOGICAL).unwrap();
    let Value::Record(fields) = generic.deserialize("settlements", Some(&bytes)).unwrap() else {
        panic!("not a record");
    };
    assert_eq!(fields[0].1, Value::TimestampMillis(1_795_766_400_000));
    assert_eq!(fields[1].1, Value::Date(20_784));
    assert_eq!(
        fields[2].1,
        Value::Decimal(Decimal::from(vec![0, 0, 0x01, 0xe2, 0x40]))
    );
    assert_eq!(fields[3].1, Value::Uuid(Uuid::parse_str(UUID).unwrap()));
    assert_eq!(
        serde.deserialize("settlements", Some(&bytes)).unwrap(),
        settlement
    );
}

const ORDER_V1: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"string"},
  {"name":"quantity","type":"int"}]}"#;
/// v1 plus a field with a default, and `quantity` promoted to long.
const ORDER_V2: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
  {"name":"id","type":"string"},
  {"name":"quantity","type":"long"},
  {"name":"currency","type":"string","default":"USD"}]}"#;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderV1 {
    id: String,
    quantity: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderV2 {
    id: String,
    quantity: i64,
    currency: String,
}

fn typed<T: Serialize + serde::de::DeserializeOwned + 'static>(
    config: &RegistryConfig,
    schema: &str,
) -> SerdeRef<T> {
    let registry = SchemaRegistry::new(config).unwrap();
    std::sync::Arc::new(AvroSerde::<T>::with_schema(registry, config, false, schema).unwrap())
}

#[test]
fn an_older_writer_is_read_by_a_newer_reader_with_defaults_and_promotions() {
    let config = config("evolution-old-writer");
    let v1 = typed::<OrderV1>(&config, ORDER_V1);
    let v2 = typed::<OrderV2>(&config, ORDER_V2);
    let old = serialize(
        &v1,
        "orders",
        &OrderV1 {
            id: "o1".into(),
            quantity: 3,
        },
    );
    assert_eq!(old[..5], [0, 0, 0, 0, 1]);
    assert_eq!(
        v2.deserialize("orders", Some(&old)).unwrap(),
        OrderV2 {
            id: "o1".into(),
            quantity: 3,
            currency: "USD".into()
        }
    );
    // v2 is backward compatible with v1: the mock's default mode (BACKWARD, as Confluent's)
    // registers it as version 2.
    let new = serialize(
        &v2,
        "orders",
        &OrderV2 {
            id: "o2".into(),
            quantity: 4,
            currency: "EUR".into(),
        },
    );
    assert_eq!(new[..5], [0, 0, 0, 0, 2]);
    let registry = SchemaRegistry::new(&config).unwrap();
    assert_eq!(registry.versions("orders-value").unwrap(), [1, 2]);
}

#[test]
fn a_newer_writer_is_read_by_an_older_reader_skipping_what_it_does_not_know() {
    let config = config("evolution-new-writer");
    // v1 has no `currency` and an int quantity: the newer writer's extra field is skipped.
    // (A long does not narrow to an int, so the writer here keeps quantity an int.)
    const V2_INT: &str = r#"{"type":"record","name":"Order","namespace":"com.example","fields":[
      {"name":"id","type":"string"},
      {"name":"quantity","type":"int"},
      {"name":"currency","type":"string","default":"USD"}]}"#;
    let writer = GenericAvroSerde::value(&config, V2_INT).unwrap();
    let bytes = serialize(
        &writer,
        "orders",
        &Value::Record(vec![
            ("id".into(), Value::String("o9".into())),
            ("quantity".into(), Value::Int(2)),
            ("currency".into(), Value::String("EUR".into())),
        ]),
    );
    let v1 = typed::<OrderV1>(&config, ORDER_V1);
    assert_eq!(
        v1.deserialize("orders", Some(&bytes)).unwrap(),
        OrderV1 {
            id: "o9".into(),
            quantity: 2
        }
    );

    // A writer whose long cannot narrow is refused with the reason, naming the schema.
    let v2 = typed::<OrderV2>(&config.clone().set("use.latest.version", "false"), ORDER_V2);
    let other_topic = serialize(
        &v2,
        "orders-long",
        &OrderV2 {
            id: "o1".into(),
            quantity: 1,
            currency: "USD".into(),
        },
    );
    let err = v1
        .deserialize("orders-long", Some(&other_topic))
        .unwrap_err();
    assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
    let reason = chain(&err);
    assert!(
        reason.contains("cannot be read as the application's schema com.example.Order"),
        "{reason}"
    );
}

#[test]
fn subject_name_strategies_name_the_subjects_as_confluents_do() {
    let base = config("strategies");
    let record = base
        .clone()
        .set("value.subject.name.strategy", "RecordNameStrategy");
    let topic_record = base.clone().set(
        "key.subject.name.strategy",
        "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    );
    serialize(
        &AvroSerde::<Payment>::value(&record).unwrap(),
        "a",
        &payment(),
    );
    serialize(
        &AvroSerde::<Payment>::value(&record).unwrap(),
        "b",
        &payment(),
    );
    serialize(
        &AvroSerde::<Payment>::key(&topic_record).unwrap(),
        "c",
        &payment(),
    );
    let registry = SchemaRegistry::new(&base).unwrap();
    assert_eq!(
        registry.subjects().unwrap(),
        ["c-com.example.Payment", "com.example.Payment"]
    );
    assert_eq!(registry.versions("com.example.Payment").unwrap(), [1]);

    // A record strategy needs a named schema.
    let err = GenericAvroSerde::value(&record, r#""long""#)
        .unwrap()
        .serialize("d", &Value::Long(1), &mut Vec::new())
        .unwrap_err();
    assert!(
        chain(&err).contains("RecordNameStrategy needs a named schema"),
        "{}",
        chain(&err)
    );

    // Unknown strategies and keys are refused when the serde is made.
    let bad = base.clone().set("value.subject.name.strategy", "Topic");
    assert!(AvroSerde::<Payment>::value(&bad).is_err());
    let typo = base.set("auto.register.schema", "false");
    let Err(err) = AvroSerde::<Payment>::value(&typo) else {
        panic!("a misspelt key is refused");
    };
    assert!(
        err.to_string()
            .starts_with("invalid configuration 'auto.register.schema': unknown key"),
        "{err}"
    );
}

#[test]
fn without_auto_registration_the_schema_must_already_be_registered() {
    let config = config("no-auto-register").set("auto.register.schemas", "false");
    let serde = AvroSerde::<Payment>::value(&config).unwrap();
    let err = serde
        .serialize("payments", &payment(), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }), "{err:?}");
    let reason = chain(&err);
    assert!(
        reason.contains("error code 40401")
            && reason.contains("Subject 'payments-value' not found"),
        "{reason}"
    );

    // Registered by someone else (as a CI pipeline would), it is found and its id used.
    let registry = SchemaRegistry::new(&config).unwrap();
    registry.register("other-value", r#""string""#).unwrap();
    let text = serde_json::to_string(&Payment::get_schema()).unwrap();
    let id = registry.register("payments-value", &text).unwrap();
    assert_eq!(id, 2);
    let bytes = serialize(&serde, "payments", &payment());
    assert_eq!(bytes[..5], [0, 0, 0, 0, 2]);
}

#[test]
fn use_latest_version_writes_with_the_subjects_latest_schema() {
    let config = config("latest");
    let registry = SchemaRegistry::new(&config).unwrap();
    registry.register("orders-value", ORDER_V1).unwrap();
    let latest = registry.register("orders-value", ORDER_V2).unwrap();
    let config = config
        .set("use.latest.version", "true")
        .set("auto.register.schemas", "false");
    // The application still has v1; its records are written as v2, with v2's id and default.
    let v1 = typed::<OrderV1>(&config, ORDER_V1);
    let bytes = serialize(
        &v1,
        "orders",
        &OrderV1 {
            id: "o1".into(),
            quantity: 7,
        },
    );
    assert_eq!(bytes[..5], [0, 0, 0, 0, latest as u8]);
    let v2 = typed::<OrderV2>(&config, ORDER_V2);
    assert_eq!(
        v2.deserialize("orders", Some(&bytes)).unwrap(),
        OrderV2 {
            id: "o1".into(),
            quantity: 7,
            currency: "USD".into()
        }
    );
    assert_eq!(
        registry.versions("orders-value").unwrap(),
        [1, 2],
        "nothing registered"
    );
}

#[test]
fn the_registry_is_asked_once_per_schema_however_many_records() {
    let config = config("cache");
    let registry = SchemaRegistry::new(&config).unwrap();
    let writer = AvroSerde::<Payment>::with_registry(registry.clone(), &config, false).unwrap();
    let mut bytes = Vec::new();
    for i in 0..500 {
        bytes.clear();
        let p = Payment {
            quantity: i,
            ..payment()
        };
        writer.serialize("payments", &p, &mut bytes).unwrap();
        assert_eq!(writer.deserialize("payments", Some(&bytes)).unwrap(), p);
    }
    assert_eq!(registry.requests_sent(), 1, "one registration");

    // A reader of its own fetches the writer's schema once.
    let reader_registry = SchemaRegistry::new(&config).unwrap();
    let reader =
        AvroSerde::<Payment>::with_registry(reader_registry.clone(), &config, false).unwrap();
    for _ in 0..500 {
        reader.deserialize("payments", Some(&bytes)).unwrap();
    }
    assert_eq!(reader_registry.requests_sent(), 1, "one schema fetch");
}

/// Each kind of bad input is a deserialization error whose reason says which it is.
#[test]
fn bad_input_is_a_deserialization_error_saying_which() {
    let config = config("bad-input");
    let serde = AvroSerde::<Payment>::value(&config).unwrap();
    let good = serialize(&serde, "payments", &payment());
    let reason = |data: Option<&[u8]>| {
        let err = serde.deserialize("payments", data).unwrap_err();
        assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
        chain(&err)
    };

    let r = reason(Some(br#"{"id":"p1"}"#));
    assert!(
        r.starts_with(
            "failed to deserialize Avro value com.example.Payment (avro_serde::Payment) from topic 'payments': no magic byte: the record starts with 0x7b"
        ),
        "{r}"
    );
    assert!(reason(Some(&[0, 0, 1])).contains("no Confluent header: the record is 3 bytes long"));
    assert!(reason(Some(&[])).contains("no Confluent header: the record is 0 bytes long"));

    let mut unknown = good.clone();
    unknown[1..5].copy_from_slice(&9999u32.to_be_bytes());
    let r = reason(Some(&unknown));
    assert!(
        r.contains(
            "unknown schema id 9999: the schema registry at mock://avro-serde-bad-input has no schema with this id"
        ),
        "{r}"
    );

    let r = reason(Some(&good[..good.len() - 4]));
    assert!(
        r.contains("the body does not match its writer schema (id 1)"),
        "{r}"
    );
    let mut long = good.clone();
    long.push(0);
    let r = reason(Some(&long));
    assert!(
        r.contains("the body does not match its writer schema (id 1): 1 bytes left over"),
        "{r}"
    );

    let r = reason(None);
    assert!(r.contains("Serdes::option"), "{r}");

    // Arbitrary bodies behind a valid header never panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in 0..2000usize {
        let mut data = good[..5].to_vec();
        for _ in 0..len % 40 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.push(state as u8);
        }
        let _ = serde.deserialize("payments", Some(&data));
    }
}

/// A port that nothing listens on.
fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_registry_that_does_not_answer_fails_reads_as_deserialization_and_writes_as_serialization() {
    let url = closed_port_url();
    let config = RegistryConfig::new()
        .set("schema.registry.url", &url)
        .set("http.connect.timeout.ms", "2000");
    let serde = AvroSerde::<Payment>::value(&config).unwrap();

    let err = serde
        .deserialize("payments", Some(&[0, 0, 0, 0, 1, 4, b'p', b'1']))
        .unwrap_err();
    assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
    let r = chain(&err);
    assert!(
        r.contains(&format!(
            "the schema registry at {url} did not answer GET /schemas/ids/1"
        )),
        "{r}"
    );

    let mut out = b"kept".to_vec();
    let err = serde
        .serialize("payments", &payment(), &mut out)
        .unwrap_err();
    assert!(matches!(err, Error::Serialization { .. }), "{err:?}");
    let r = chain(&err);
    assert!(
        r.contains(&format!(
            "the schema registry at {url} did not answer POST /subjects/payments-value/versions"
        )),
        "{r}"
    );
    assert_eq!(out, b"kept", "nothing half-written");
}

#[test]
fn a_registry_that_accepts_but_never_answers_times_out() {
    // The kernel completes connections into the backlog; nothing ever reads them.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = RegistryConfig::new()
        .set("schema.registry.url", &url)
        .set("http.read.timeout.ms", "300");
    let serde = AvroSerde::<Payment>::value(&config).unwrap();
    let started = std::time::Instant::now();
    let err = serde
        .deserialize("payments", Some(&[0, 0, 0, 0, 1, 0]))
        .unwrap_err();
    assert!(
        chain(&err).contains("did not answer GET /schemas/ids/1"),
        "{}",
        chain(&err)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(listener);
}

/// A key with an Avro schema of its own.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, AvroSchema,
)]
#[avro(namespace = "com.example")]
struct CustomerKey {
    customer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "com.example")]
struct Customer {
    name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "com.example")]
struct Totals {
    amount: f64,
    orders: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "com.example")]
struct Enriched {
    name: String,
    amount: f64,
}

#[test]
fn the_serdes_work_in_every_place_of_a_topology_and_dead_letter_bad_records() -> Result<()> {
    let config = config("driver");
    let avro = |e: streams_avro::AvroError| Error::Config {
        key: "schema.registry.url".into(),
        reason: e.to_string(),
    };
    let key = AvroSerde::<CustomerKey>::key(&config).map_err(avro)?;
    let payment = AvroSerde::<Payment>::value(&config).map_err(avro)?;
    let totals = AvroSerde::<Totals>::value(&config).map_err(avro)?;
    let customer = AvroSerde::<Customer>::value(&config).map_err(avro)?;
    let enriched = AvroSerde::<Enriched>::value(&config).map_err(avro)?;

    let b = StreamsBuilder::new();
    let payments = b.stream("payments", Consumed::with(key.clone(), payment.clone()));
    payments
        .group_by_key_with(Grouped::with(key.clone(), payment.clone()))
        .aggregate_with(
            Totals::default,
            |_, p: Payment, mut t: Totals| {
                t.amount += p.amount;
                t.orders += 1;
                t
            },
            Materialized::as_("totals-store").with_value_serde(totals.clone()),
        )
        .to_stream()
        .to(
            "totals",
            Produced::with(key.clone(), Serdes::option(totals.clone())),
        );
    let customers = b.table("customers", Consumed::with(key.clone(), customer.clone()));
    payments
        .join_table(&customers, |p: Payment, c: &Customer| Enriched {
            name: c.name.clone(),
            amount: p.amount,
        })
        .to("enriched", Produced::with(key.clone(), enriched.clone()));

    let driver = TopologyTestDriver::new(
        b.build()?,
        StreamsConfig::new()
            .set("application.id", "avro-driver")
            .set("default.deserialization.exception.handler", "dead-letter"),
    )?;
    let k = |c: &str| CustomerKey { customer: c.into() };
    driver
        .create_input_topic("customers", key.clone(), customer.clone())
        .pipe_input(k("ann"), Customer { name: "Ann".into() })?;
    let input = driver.create_input_topic("payments", key.clone(), payment.clone());
    input.pipe_input(
        k("ann"),
        Payment {
            id: "p1".into(),
            amount: 2.5,
            quantity: 1,
        },
    )?;
    input.pipe_input(
        k("ann"),
        Payment {
            id: "p2".into(),
            amount: 4.0,
            quantity: 1,
        },
    )?;

    // Bad records: not framed, an unknown id, a body that does not match.
    let key_bytes = {
        let mut out = Vec::new();
        key.serialize("payments", &k("ann"), &mut out)?;
        out
    };
    input.pipe_raw(Some(&key_bytes), Some(b"plain text"), 10)?;
    input.pipe_raw(Some(&key_bytes), Some(&[0, 0, 0, 0x30, 0x39, 0]), 11)?;
    input.pipe_raw(Some(&key_bytes), Some(&[0, 0, 0, 0, 2, 0xff]), 12)?;

    let totals_out = driver.create_output_topic("totals", key.clone(), Serdes::option(totals));
    assert_eq!(
        totals_out.read_key_values_to_list()?,
        vec![
            (
                k("ann"),
                Some(Totals {
                    amount: 2.5,
                    orders: 1
                })
            ),
            (
                k("ann"),
                Some(Totals {
                    amount: 6.5,
                    orders: 2
                })
            ),
        ]
    );
    let enriched_out = driver.create_output_topic("enriched", key.clone(), enriched);
    assert_eq!(
        enriched_out.read_values_to_list()?,
        vec![
            Enriched {
                name: "Ann".into(),
                amount: 2.5
            },
            Enriched {
                name: "Ann".into(),
                amount: 4.0
            },
        ]
    );

    let dead = driver.create_output_topic("payments.dead-letter", Serdes::bytes(), Serdes::bytes());
    let reasons: Vec<String> = dead
        .read_records_to_list()?
        .into_iter()
        .map(|r| {
            assert_eq!(r.key, key_bytes, "the original key");
            let h = r
                .headers
                .last("dead-letter-reason")
                .and_then(|h| h.value.clone());
            String::from_utf8(h.unwrap_or_default()).unwrap()
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("no magic byte"), "{}", reasons[0]);
    assert!(
        reasons[1].contains("unknown schema id 12345"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("the body does not match its writer schema (id 2)"),
        "{}",
        reasons[2]
    );

    // The registry holds one subject per serde that wrote, under TopicNameStrategy.
    let registry = SchemaRegistry::new(&config).map_err(avro)?;
    let subjects = registry.subjects().map_err(avro)?;
    for s in [
        "payments-key",
        "payments-value",
        "customers-value",
        "totals-value",
        "enriched-value",
    ] {
        assert!(subjects.iter().any(|x| x == s), "{s} in {subjects:?}");
    }
    Ok(())
}
