//! The hourly-revenue binary against an independent oracle: replaying a generated file of
//! orders (malformed lines, refunds and out-of-order records included) must give exactly the
//! windows and dead letters the oracle computes per partition, on the embedded cluster and,
//! identically, on the real broker; as Avro through a schema registry (in-process, and the
//! real one of `SCHEMA_REGISTRY_URL_FILE`), the same windows as the JSON run; with `--serve`,
//! every customer's windows over HTTP. Also: its errors for bad command lines and unreachable
//! clusters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const HOUR: i64 = 3_600_000;
const PARTITIONS: i32 = 3;
const LINES: usize = 3_000;
/// How long one run of the binary may take before the test fails (a debug run of the
/// generated input takes about 10 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The environment variable naming the file the broker script writes its address to.
const BOOTSTRAP_FILE_ENV: &str = "KAFKA_BOOTSTRAP_FILE";

/// A seeded generator, so the input is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Orders of 12 customers, 7 s apart in event time; one in ten out of order by up to 40
/// minutes (sometimes into an hour that has closed); refunds (some 90 minutes ahead in event
/// time) and zero totals, both filtered out;
/// lines that are not orders: not JSON, a string total, a string timestamp, no customer id.
/// With 3 partitions the customers land on partitions 0 and 1, and partition 2 receives
/// nothing but lines without a customer id: a partition of dead letters only.
fn generate(lines: usize) -> Vec<String> {
    let mut rng = Rng(42);
    let base = 1_700_000_000_000i64 - 1_700_000_000_000i64 % HOUR;
    (0..lines)
        .map(|i| {
            let c = format!("cust-{}", rng.below(12));
            let mut ts = base + i as i64 * 7_000;
            if rng.below(10) == 0 {
                ts -= rng.below(40 * 60_000) as i64;
            }
            match rng.below(60) {
                0 => "{not json".to_string(),
                1 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":"12","timestamp":{ts}}}"#),
                2 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":0,"timestamp":{ts}}}"#),
                // A refund 90 minutes ahead: it must not move the aggregation's stream time.
                3 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":-3.5,"currency":"EUR","timestamp":{}}}"#, ts + 90 * 60_000),
                4 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":9.99,"timestamp":"{ts}"}}"#),
                5 => format!(r#"{{"orderId":"o{i}","total":9.99,"timestamp":{ts}}}"#),
                _ => {
                    let cents = 100 + rng.below(50_000);
                    format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":{}.{:02},"timestamp":{ts}}}"#, cents / 100, cents % 100)
                }
            }
        })
        .collect()
}

/// Kafka's murmur2, written out here so that the oracle shares no code with the example.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java producer's partition of a key.
fn partition_of(key: &str, partitions: i32) -> i32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions
}

#[test]
fn the_oracles_partitioner_is_javas() {
    // Values printed by org.apache.kafka.common.utils.Utils.murmur2 (kafka-clients 4.4.0).
    for (key, java) in [
        ("cust-0", -12_068_828),
        ("cust-1", 344_533_579),
        ("cust-2", -1_762_245_835),
        ("cust-10", 770_589_004),
        ("", 275_646_681),
        ("a", -1_563_381_124),
        ("hello world", 1_221_641_059),
    ] {
        assert_eq!(murmur2(key.as_bytes()), java, "murmur2({key:?})");
    }
}

/// What the run must produce.
#[derive(Debug, Default)]
struct Expected {
    /// Final (revenue, order count) per (customer, window start).
    windows: BTreeMap<(String, i64), (f64, i64)>,
    /// Every line that is not an order: (partition, offset in the orders topic, key, line).
    dead: Vec<(i32, i64, Option<String>, String)>,
    /// Orders that are valid: every one is enriched with its customer.
    valid: usize,
    /// Valid orders with a total ≤ 0.
    filtered: usize,
    /// Orders whose hour had closed when they arrived.
    late: usize,
    /// Valid orders per partition.
    orders_per_partition: Vec<usize>,
}

/// An order as the example reads it: `orderId`, `customerId` (strings), `total` (a number),
/// `timestamp` (an integer), `currency` (a string when present).
fn order(v: &Value) -> Option<(String, f64, i64)> {
    v.get("orderId")?.as_str()?;
    let customer = v.get("customerId")?.as_str()?;
    let total = v.get("total")?.as_f64()?;
    let timestamp = v.get("timestamp")?.as_i64()?;
    if v.get("currency").is_some_and(|c| !c.is_string()) {
        return None;
    }
    Some((customer.to_string(), total, timestamp))
}

/// The oracle. The example keys each line by its `customerId` (lines without one go to
/// partition `line index % partitions`) and places it with the Java partitioner; each
/// partition is processed in file order. A line that is not an order is dead-lettered.
/// Totals ≤ 0 are filtered before the aggregation, so they do not advance its stream time,
/// which is per partition (per task) and only moved by records reaching the aggregation. A
/// record whose hour ended at or before stream time − grace is late and dropped.
fn oracle(lines: &[String], partitions: i32, grace: i64) -> Expected {
    let n = partitions as usize;
    let mut e = Expected {
        orders_per_partition: vec![0; n],
        ..Expected::default()
    };
    let mut offsets = vec![0i64; n];
    let mut stream_time = vec![i64::MIN; n];
    for (i, line) in lines.iter().enumerate() {
        let json = serde_json::from_str::<Value>(line).ok();
        let key = json
            .as_ref()
            .and_then(|v| v.get("customerId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let p = key
            .as_deref()
            .map_or(i as i32 % partitions, |k| partition_of(k, partitions));
        let offset = offsets[p as usize];
        offsets[p as usize] += 1;
        let Some((customer, total, ts)) = json.as_ref().and_then(order) else {
            e.dead.push((p, offset, key, line.clone()));
            continue;
        };
        e.valid += 1;
        e.orders_per_partition[p as usize] += 1;
        if total <= 0.0 {
            e.filtered += 1;
            continue;
        }
        let st = &mut stream_time[p as usize];
        *st = (*st).max(ts);
        let start = ts - ts.rem_euclid(HOUR);
        if start + HOUR <= *st - grace {
            e.late += 1;
            continue;
        }
        let w = e.windows.entry((customer, start)).or_insert((0.0, 0));
        w.0 += total;
        w.1 += 1;
    }
    e
}

/// One finished run of the binary.
struct Run {
    stdout: String,
    /// The `--output` file as written.
    windows: String,
    /// The `--dead-letters` file, parsed.
    dead: Vec<Value>,
}

/// The generated input, written once for every test of this file.
fn input() -> &'static (tempfile::TempDir, PathBuf, Vec<String>) {
    static INPUT: OnceLock<(tempfile::TempDir, PathBuf, Vec<String>)> = OnceLock::new();
    INPUT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("orders.jsonl");
        let lines = generate(LINES);
        std::fs::write(&path, lines.join("\n")).expect("write input");
        (dir, path, lines)
    })
}

/// Runs the binary with `args`, its output going to files, and fails the test when it does
/// not finish within `timeout`. Returns (exit code, stdout, stderr).
fn run_binary(args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hourly-revenue"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start hourly-revenue");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "hourly-revenue {args:?} did not finish within {timeout:?}\n{}\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap(),
    )
}

/// Replays the generated input, on the embedded cluster or on `bootstrap`.
fn replay(bootstrap: Option<&str>) -> Run {
    match bootstrap {
        Some(b) => replay_with(&["--bootstrap-servers", b]),
        None => replay_with(&[]),
    }
}

/// Replays the generated input with `extra` arguments.
fn replay_with(extra: &[&str]) -> Run {
    let (_, input, _) = input();
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("windows.jsonl");
    let dead_letters = dir.path().join("dead-letters.jsonl");
    let partitions = PARTITIONS.to_string();
    let mut args = vec![
        "--orders",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--dead-letters",
        dead_letters.to_str().unwrap(),
        "--partitions",
        &partitions,
    ];
    args.extend(extra);
    let (code, stdout, stderr) = run_binary(&args, RUN_TIMEOUT);
    assert_eq!(code, Some(0), "hourly-revenue failed\n{stdout}\n{stderr}");
    let windows = std::fs::read_to_string(&output).expect("read windows");
    let dead = std::fs::read_to_string(&dead_letters)
        .expect("read dead letters")
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead letter is JSON"))
        .collect();
    Run {
        stdout,
        windows,
        dead,
    }
}

/// The embedded run, shared by the tests that compare with it.
fn embedded() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| replay(None))
}

/// Checks a run against the oracle; `orders_topic` is the name the run gave the topic.
fn check_against_oracle(run: &Run, orders_topic: &str) {
    let (_, _, lines) = input();
    let expected = oracle(lines, PARTITIONS, 0);
    let stdout = &run.stdout;
    assert!(
        stdout.contains(&format!("processed all {LINES} input offsets")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "dead-lettered {} malformed orders to {orders_topic}.dead-letter",
            expected.dead.len()
        )),
        "expected {} dead letters\n{stdout}",
        expected.dead.len()
    );
    assert!(
        stdout.contains(&format!(
            "{} orders enriched with their customer; {} late records dropped",
            expected.valid, expected.late
        )),
        "expected {} enriched orders and {} late records\n{stdout}",
        expected.valid,
        expected.late
    );

    let actual: BTreeMap<(String, i64), (f64, i64)> = run
        .windows
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("output line is JSON");
            let key = (
                v["customerId"].as_str().unwrap().to_string(),
                v["windowStart"].as_i64().unwrap(),
            );
            assert_eq!(v["windowEnd"].as_i64(), Some(key.1 + HOUR), "{l}");
            let value = (
                v["revenue"].as_f64().unwrap(),
                v["orderCount"].as_i64().unwrap(),
            );
            (key, value)
        })
        .collect();
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.windows.keys().collect::<Vec<_>>(),
        "windows"
    );
    for (k, (rev, count)) in &expected.windows {
        let (arev, acount) = actual[k];
        assert_eq!(acount, *count, "order count of {k:?}");
        assert!(
            (arev - rev).abs() < 1e-6,
            "revenue of {k:?}: {arev} vs {rev}"
        );
    }

    // Dead letters: the original key and bytes, on the original partition, in order, with
    // headers saying where they came from and why.
    assert_eq!(run.dead.len(), expected.dead.len(), "dead letters");
    let mut expected_dead = expected.dead.clone();
    expected_dead.sort_by_key(|d| (d.0, d.1));
    let mut next_offset = BTreeMap::new();
    for (d, (p, offset, key, line)) in run.dead.iter().zip(&expected_dead) {
        let h = &d["headers"];
        let what = format!("dead letter {d}, expected line {line:?} at {p}/{offset}");
        assert_eq!(d["partition"].as_i64(), Some(i64::from(*p)), "{what}");
        let slot = next_offset.entry(*p).or_insert(0i64);
        assert_eq!(d["offset"].as_i64(), Some(*slot), "{what}");
        *slot += 1;
        assert_eq!(d["key"].as_str(), key.as_deref(), "{what}");
        assert_eq!(d["value"].as_str(), Some(line.as_str()), "{what}");
        assert_eq!(h["original-topic"].as_str(), Some(orders_topic), "{what}");
        assert_eq!(h["original-partition"], p.to_string(), "{what}");
        assert_eq!(h["original-offset"], offset.to_string(), "{what}");
        let reason = h["dead-letter-reason"].as_str().unwrap_or_default();
        assert!(reason.contains("deserialize"), "{what}");
        assert!(
            h["failed-at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{what}"
        );
    }
}

#[test]
fn replayed_orders_on_the_embedded_cluster_give_the_oracles_windows_and_dead_letters() {
    // The input covers what the oracle distinguishes.
    let (_, _, lines) = input();
    let e = oracle(lines, PARTITIONS, 0);
    assert!(e.late > 20, "late records: {}", e.late);
    assert!(e.filtered > 20, "filtered records: {}", e.filtered);
    assert!(e.dead.len() > 50, "dead letters: {}", e.dead.len());
    assert_eq!(
        e.orders_per_partition.iter().filter(|&&n| n > 0).count(),
        2,
        "two partitions carry orders: {:?}",
        e.orders_per_partition
    );
    assert!(
        e.dead.iter().any(|d| d.0 == 2) && e.orders_per_partition[2] == 0,
        "partition 2 holds dead letters only"
    );
    assert!(e.dead.iter().any(|d| d.2.is_none()) && e.dead.iter().any(|d| d.2.is_some()));

    check_against_oracle(embedded(), "orders.placed");
}

/// The real broker's address, from the file `KAFKA_BOOTSTRAP_FILE` names (by default the one
/// `tests/broker/kafka-broker.sh start` writes). Fails loudly when no broker runs.
fn broker() -> String {
    let how = "start it with `tests/broker/kafka-broker.sh start` (tests/run.sh does this and exports \
               KAFKA_BOOTSTRAP_FILE)";
    let file = std::env::var(BOOTSTRAP_FILE_ENV).unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/broker/.run/bootstrap"
        )
        .to_owned()
    });
    let bootstrap = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no Kafka broker: cannot read {file} ({e}); {how}"))
        .trim()
        .to_owned();
    assert!(
        !bootstrap.is_empty(),
        "no Kafka broker: {file} is empty; {how}"
    );
    bootstrap
}

/// The topic names the run printed: `orders.placed.<run id>`.
fn orders_topic_of(stdout: &str) -> String {
    let start = stdout
        .find("to orders.placed.")
        .expect("dead-letter topic in the output")
        + 3;
    let rest = &stdout[start..];
    let end = rest.find(".dead-letter").expect("dead-letter topic name");
    rest[..end].to_owned()
}

#[test]
fn the_real_broker_gives_the_embedded_clusters_output() {
    let bootstrap = broker();
    let first = replay(Some(&bootstrap));
    let topic = orders_topic_of(&first.stdout);
    assert_ne!(
        topic, "orders.placed",
        "a real cluster's topics are named per run"
    );
    check_against_oracle(&first, &topic);

    let embedded = embedded();
    assert_eq!(
        first.windows, embedded.windows,
        "the windows file is byte for byte the embedded run's"
    );
    // The same dead letters, apart from the topic names and the wall-clock time.
    let normalize = |run: &Run, topic: &str| -> Vec<Value> {
        run.dead
            .iter()
            .map(|d| {
                let mut d = d.clone();
                let h = d["headers"].as_object_mut().unwrap();
                h.remove("failed-at");
                h.remove("original-topic");
                let reason = h["dead-letter-reason"]
                    .as_str()
                    .unwrap()
                    .replace(topic, "T");
                h.insert("dead-letter-reason".into(), reason.into());
                d
            })
            .collect()
    };
    assert_eq!(
        normalize(&first, &topic),
        normalize(embedded, "orders.placed")
    );

    // The input is from 2023 and the outputs keep its timestamps: the run's topics must not
    // be subject to the broker's default time-based retention, which deletes such records
    // within minutes (as it did before the example set this).
    let suffix = &topic["orders.placed".len()..];
    let topics = [
        format!("orders.placed{suffix}"),
        format!("customers{suffix}"),
        format!("analytics.hourly-revenue{suffix}"),
        format!("orders.enriched{suffix}"),
        format!("orders.placed{suffix}.dead-letter"),
    ];
    for (t, retention) in retention_of(&bootstrap, &topics) {
        assert_eq!(retention.as_deref(), Some("-1"), "retention.ms of {t}");
    }

    // A second run gets topics of its own.
    let (_, input, _) = input();
    let (code, stdout, stderr) = run_binary(
        &[
            "--orders",
            input.to_str().unwrap(),
            "--partitions",
            "2",
            "--bootstrap-servers",
            &bootstrap,
        ],
        RUN_TIMEOUT,
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_ne!(orders_topic_of(&stdout), topic);
}

/// Checks that an Avro run gave the JSON run's windows, byte for byte, and dead-lettered the
/// same lines: those with a key because they are not Confluent-framed Avro.
fn check_avro_run(avro: &Run, registry: &str) {
    assert!(
        avro.stdout
            .contains(&format!(", Avro orders through schema registry {registry}")),
        "{}",
        avro.stdout
    );
    check_against_oracle(avro, "orders.placed");
    let json = embedded();
    assert_eq!(
        avro.windows, json.windows,
        "the windows file is byte for byte the JSON run's"
    );
    assert_eq!(avro.dead.len(), json.dead.len());
    for (a, j) in avro.dead.iter().zip(&json.dead) {
        for field in ["partition", "offset", "key", "value"] {
            assert_eq!(a[field], j[field], "{field} of {a}");
        }
        let reason = a["headers"]["dead-letter-reason"].as_str().unwrap();
        if j["key"].is_null() {
            // The key is read first, and fails the same way in both runs.
            assert_eq!(reason, j["headers"]["dead-letter-reason"], "{a}");
        } else {
            assert!(
                reason
                    .starts_with("failed to deserialize Avro value com.example.orders.OrderPlaced")
                    && reason.contains("no magic byte"),
                "{reason}"
            );
        }
    }
}

#[test]
fn the_avro_run_gives_the_json_runs_windows_and_dead_letters() {
    check_avro_run(&replay_with(&["--format", "avro"]), "mock://hourly-revenue");
}

#[test]
fn the_avro_run_through_a_real_schema_registry_gives_the_json_runs_windows() {
    let how = "start it with `tests/registry/apicurio.sh start` and export \
               SCHEMA_REGISTRY_URL_FILE (tests/run.sh does both)";
    let file = std::env::var("SCHEMA_REGISTRY_URL_FILE").unwrap_or_else(|_| {
        panic!("no schema registry: SCHEMA_REGISTRY_URL_FILE is not set; {how}")
    });
    let url = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no schema registry: cannot read {file} ({e}); {how}"))
        .trim()
        .to_owned();
    check_avro_run(
        &replay_with(&["--format", "avro", "--schema-registry", &url]),
        &url,
    );
}

#[test]
fn a_schema_registry_without_avro_is_refused() {
    let (code, _, stderr) = run_binary(&["--schema-registry", "mock://x"], RUN_TIMEOUT);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--schema-registry needs --format avro"),
        "{stderr}"
    );
}

/// The `retention.ms` config of each topic.
fn retention_of(bootstrap: &str, topics: &[String]) -> Vec<(String, Option<String>)> {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let specs: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results =
        futures::executor::block_on(admin.describe_configs(&specs, &AdminOptions::new())).unwrap();
    topics
        .iter()
        .zip(results)
        .map(|(t, r)| {
            let r = r.unwrap();
            let retention = r.get("retention.ms").and_then(|e| e.value.clone());
            (t.clone(), retention)
        })
        .collect()
}

/// GETs `http://{addr}{path}`: (status, body).
fn http_get(addr: &str, path: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(format!("http://{addr}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"));
    let text = response.body_mut().read_to_string().unwrap();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn serve_answers_every_customers_windows_as_the_oracle_and_stops_on_sigterm() {
    use std::io::BufRead as _;

    let (_, input, lines) = input();
    let partitions = PARTITIONS.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hourly-revenue"))
        .args([
            "--orders",
            input.to_str().unwrap(),
            "--partitions",
            &partitions,
        ])
        .args(["--serve", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hourly-revenue");
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("serving on http://") {
            addr = rest.split(':').take(2).collect::<Vec<_>>().join(":").into();
            break;
        }
    }
    let addr = addr.expect("hourly-revenue never said where it serves");
    let addr = addr.trim_end_matches(':');

    let expected = oracle(lines, PARTITIONS, 0);
    let mut by_customer: BTreeMap<&str, Vec<(i64, f64, i64)>> = BTreeMap::new();
    for ((customer, start), (revenue, count)) in &expected.windows {
        by_customer
            .entry(customer)
            .or_default()
            .push((*start, *revenue, *count));
    }
    assert!(by_customer.len() > 10, "the input has many customers");
    for (customer, want) in &by_customer {
        let (status, body) = http_get(addr, &format!("/customers/{customer}/revenue"));
        assert_eq!(status, 200, "{customer}: {body}");
        let got: Vec<(i64, f64, i64)> = body["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["start"].as_i64().unwrap(),
                    w["value"]["revenue"].as_f64().unwrap(),
                    w["value"]["orderCount"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{customer}: {body}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0, g.2), (w.0, w.2), "{customer}: {body}");
            assert!((g.1 - w.1).abs() < 1e-6, "{customer}: {g:?} vs {w:?}");
        }
    }
    let (status, _) = http_get(addr, "/customers/nobody/revenue");
    assert_eq!(status, 404);
    let (status, metrics) = http_get(addr, "/metrics");
    assert_eq!(status, 200);
    // Every valid order went through the topology (and the customers table too); the
    // malformed ones were dead-lettered before it.
    let processed: usize = metrics
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("kafka_streams_process_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no process_total in {metrics}"));
    assert!(
        processed >= expected.valid,
        "{processed} < {}",
        expected.valid
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < RUN_TIMEOUT,
            "hourly-revenue ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn unknown_flags_and_bad_values_are_refused_with_a_usage_message() {
    let (code, _, stderr) = run_binary(&["--bogus"], RUN_TIMEOUT);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unexpected argument '--bogus'"), "{stderr}");
    assert!(stderr.contains("Usage: hourly-revenue"), "{stderr}");

    let (code, _, stderr) = run_binary(&["--partitions", "0"], RUN_TIMEOUT);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--partitions"), "{stderr}");

    let missing = Path::new("/nonexistent/orders.jsonl");
    let (code, _, stderr) = run_binary(&["--orders", missing.to_str().unwrap()], RUN_TIMEOUT);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("reading orders from /nonexistent/orders.jsonl"),
        "{stderr}"
    );
}

/// Runs against `address` and expects a clear failure well within the time a hang would
/// take.
fn fails_fast_against(address: &str) {
    let started = Instant::now();
    let (code, stdout, stderr) = run_binary(
        &["--bootstrap-servers", address, "--sample-size", "10"],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("no Kafka broker answers at {address} within 10 s")),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_cluster_that_refuses_connections_fails_within_seconds() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails_fast_against(&format!("127.0.0.1:{port}"));
}

#[test]
fn a_cluster_that_accepts_but_never_answers_fails_within_seconds() {
    // Connections complete (the kernel accepts them into the backlog) but nothing is read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    fails_fast_against(&address);
    drop(listener);
}
