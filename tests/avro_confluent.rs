//! Wire compatibility with Confluent's own serializer: records that confluent-kafka's
//! `AvroSerializer` (Python, `tests/registry/confluent_avro.py`) writes through the real
//! registry are read by our serde, and records ours writes are read by its
//! `AvroDeserializer`, with the same schema ids and the same bytes. Needs the registry
//! (`SCHEMA_REGISTRY_URL_FILE`, see tests/run.sh) and `confluent-kafka[avro]`
//! (tests/setup.sh installs it); fails, saying so, without either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use streams_avro::{AvroSerde, RegistryConfig, SchemaRegistry};
use streams_dsl::prelude::*;
use streams_tests::registry::{unique, url};

/// The seed's `OrderPlaced`, as the example reads `orders.placed` with it.
const ORDER_PLACED: &str = include_str!("../examples/hourly_revenue/OrderPlaced.avsc");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
    customer_id: String,
    total: f64,
    currency: String,
    timestamp: i64,
}

fn orders() -> Vec<OrderPlaced> {
    [
        ("o1", "c001", 12.5, "USD", 1_795_766_400_000),
        ("o2", "c002", -3.25, "EUR", 1_795_766_401_234),
        ("o3", "cüstomer-ß", 0.0, "JPY", 0),
        ("o4", "", 1e12, "USD", -1),
        ("o-5", "c003", 0.1, "CHF", 4_102_444_800_000),
    ]
    .into_iter()
    .map(|(o, c, t, cur, ts)| OrderPlaced {
        order_id: o.into(),
        customer_id: c.into(),
        total: t,
        currency: cur.into(),
        timestamp: ts,
    })
    .collect()
}

/// How long the Python helper may take: its registry client retries a request unanswered
/// for 20 s three times.
const HELPER_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs the Python helper with `args`, feeding `lines` to its standard input, and returns
/// its output lines. Fails the test with its error output when it fails.
fn confluent(args: &[&str], lines: &[String]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry/confluent_avro.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); tests/setup.sh installs what the cross-check needs")
        });
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    // The helper's output is a few lines, so the pipes cannot fill while it runs.
    let deadline = Instant::now() + HELPER_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "confluent_avro.py {args:?} did not finish within {} s:\n{}",
                HELPER_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "confluent_avro.py {args:?} failed ({}); if confluent_kafka is missing, run \
         `source tests/setup.sh`, which installs confluent-kafka[avro]:\n{stderr}",
        output.status
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn schema_id(bytes: &[u8]) -> u32 {
    assert_eq!(bytes[0], 0, "magic byte");
    u32::from_be_bytes(bytes[1..5].try_into().unwrap())
}

fn our_serde(url: &str) -> (SchemaRegistry, AvroSerde<OrderPlaced>) {
    let config = RegistryConfig::new().set("schema.registry.url", url);
    let registry = SchemaRegistry::new(&config).unwrap();
    let serde =
        AvroSerde::<OrderPlaced>::with_schema(registry.clone(), &config, false, ORDER_PLACED)
            .unwrap();
    (registry, serde)
}

fn schema_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("OrderPlaced.avsc");
    std::fs::write(&path, ORDER_PLACED).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn records_confluents_serializer_writes_are_read_by_ours_and_ours_are_byte_identical() {
    let url = url();
    let topic = unique("cross-confluent-first");
    let (_dir, schema) = schema_file();
    let json: Vec<String> = orders()
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    let theirs: Vec<Vec<u8>> = confluent(&["serialize", &url, &topic, &schema], &json)
        .iter()
        .map(|h| unhex(h))
        .collect();
    assert_eq!(theirs.len(), orders().len());

    let (registry, ours) = our_serde(&url);
    let id = registry
        .latest_version(&format!("{topic}-value"))
        .unwrap()
        .id;
    for (bytes, order) in theirs.iter().zip(orders()) {
        assert_eq!(schema_id(bytes), id, "Confluent's id is the registry's");
        assert_eq!(ours.deserialize(&topic, Some(bytes)).unwrap(), order);
        let mut mine = Vec::new();
        ours.serialize(&topic, &order, &mut mine).unwrap();
        assert_eq!(hex(&mine), hex(bytes), "the same bytes for {order:?}");
    }
    assert_eq!(
        registry.versions(&format!("{topic}-value")).unwrap(),
        [1],
        "ours found Confluent's registration"
    );
}

#[test]
fn records_our_serializer_writes_are_read_by_confluents_deserializer() {
    let url = url();
    let topic = unique("cross-ours-first");
    let (registry, ours) = our_serde(&url);
    let mut written = Vec::new();
    for order in orders() {
        let mut bytes = Vec::new();
        ours.serialize(&topic, &order, &mut bytes).unwrap();
        written.push(bytes);
    }
    let id = registry
        .latest_version(&format!("{topic}-value"))
        .unwrap()
        .id;
    assert!(written.iter().all(|b| schema_id(b) == id));

    let read = confluent(
        &["deserialize", &url, &topic],
        &written.iter().map(|b| hex(b)).collect::<Vec<_>>(),
    );
    let expected: Vec<Json> = orders()
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    let read: Vec<Json> = read
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read, expected);

    // Confluent's serializer, meeting our registration, writes the same id and bytes.
    let (_dir, schema) = schema_file();
    let json: Vec<String> = orders()
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    let theirs = confluent(&["serialize", &url, &topic, &schema], &json);
    assert_eq!(theirs, written.iter().map(|b| hex(b)).collect::<Vec<_>>());
}
