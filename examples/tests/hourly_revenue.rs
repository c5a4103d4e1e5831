//! The hourly-revenue binary against an independent oracle: replaying a generated file of
//! orders (bad lines and out-of-order records included) on the embedded cluster must give
//! exactly the windows the oracle computes per partition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use streams_dsl::partitioner::default_partition;

const HOUR: i64 = 3_600_000;

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

fn generate(lines: usize) -> Vec<String> {
    let mut rng = Rng(42);
    let base = 1_700_000_000_000i64 - 1_700_000_000_000i64 % HOUR;
    (0..lines)
        .map(|i| {
            let c = format!("cust-{}", rng.below(12));
            let mut ts = base + i as i64 * 7_000;
            if rng.below(10) == 0 {
                ts -= rng.below(40 * 60_000) as i64; // out of order, sometimes into a closed hour
            }
            match rng.below(50) {
                0 => "{not json".to_string(),
                1 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":"12","timestamp":{ts}}}"#),
                2 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":0,"timestamp":{ts}}}"#),
                3 => format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":-3.5,"currency":"EUR","timestamp":{ts}}}"#),
                _ => {
                    let cents = 100 + rng.below(50_000);
                    format!(r#"{{"orderId":"o{i}","customerId":"{c}","total":{}.{:02},"timestamp":{ts}}}"#, cents / 100, cents % 100)
                }
            }
        })
        .collect()
}

/// The oracle: per partition (murmur2 of the customer id, as the producer places it), in
/// file order; a line that is not a valid order is dead-lettered; totals ≤ 0 are filtered
/// before the aggregation, so they do not advance its stream time; a record whose hour ended
/// at or before stream time − grace is late and dropped.
fn oracle(lines: &[String], partitions: i32, grace: i64) -> BTreeMap<(String, i64), (f64, i64)> {
    let mut stream_time: BTreeMap<i32, i64> = BTreeMap::new();
    let mut windows: BTreeMap<(String, i64), (f64, i64)> = BTreeMap::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(_), Some(c), Some(total), Some(ts)) = (
            v.get("orderId").and_then(Value::as_str),
            v.get("customerId").and_then(Value::as_str),
            v.get("total").and_then(Value::as_f64),
            v.get("timestamp").and_then(Value::as_i64),
        ) else {
            continue;
        };
        if v.get("currency").is_some_and(|c| !c.is_string()) || total <= 0.0 {
            continue;
        }
        let p = default_partition(c.as_bytes(), partitions);
        let st = stream_time.entry(p).or_insert(i64::MIN);
        *st = (*st).max(ts);
        let start = ts - ts.rem_euclid(HOUR);
        if start + HOUR <= *st - grace {
            continue;
        }
        let w = windows.entry((c.to_string(), start)).or_insert((0.0, 0));
        w.0 += total;
        w.1 += 1;
    }
    windows
}

#[test]
#[ignore = "known issue: the replay of 3,000 orders did not finish within 4 minutes in a debug build at the last run; under investigation"]
fn replayed_orders_give_the_oracles_final_windows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("orders.jsonl");
    let output = dir.path().join("windows.jsonl");
    let lines = generate(3_000);
    std::fs::write(&input, lines.join("\n")).expect("write input");
    let partitions = 3;
    let run = Command::new(env!("CARGO_BIN_EXE_hourly-revenue"))
        .arg("--orders")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--partitions")
        .arg(partitions.to_string())
        .output()
        .expect("run hourly-revenue");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "hourly-revenue failed\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("processed all"), "{stdout}");
    let dead = lines
        .iter()
        .filter(|l| {
            serde_json::from_str::<Value>(l).ok().is_none_or(|v| {
                !(v.get("total").is_some_and(Value::is_number)
                    && v.get("timestamp").is_some_and(Value::is_i64))
            })
        })
        .count();
    assert!(
        stdout.contains(&format!("dead-lettered {dead} malformed orders")),
        "expected {dead} dead letters\n{stdout}"
    );

    let expected = oracle(&lines, partitions, 0);
    let text = std::fs::read_to_string(&output).expect("read output");
    let actual: BTreeMap<(String, i64), (f64, i64)> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("output line is JSON");
            let key = (
                v["customerId"].as_str().unwrap_or_default().to_string(),
                v["windowStart"].as_i64().unwrap_or(-1),
            );
            assert_eq!(v["windowEnd"].as_i64(), Some(key.1 + HOUR), "{l}");
            (
                key,
                (
                    v["revenue"].as_f64().unwrap_or(f64::NAN),
                    v["orderCount"].as_i64().unwrap_or(-1),
                ),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(actual.len(), expected.len(), "window count");
    for (k, (rev, count)) in &expected {
        let (arev, acount) = actual.get(k).copied().unwrap_or((f64::NAN, -1));
        assert_eq!(acount, *count, "order count of {k:?}");
        assert!(
            (arev - rev).abs() < 1e-6,
            "revenue of {k:?}: {arev} vs {rev}"
        );
    }
}
