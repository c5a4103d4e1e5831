//! The seed's three statements in the `streams-sql` CLI on the embedded cluster, over the
//! orders file in `tests/sql/`: the pull query's answer must equal an oracle computed here
//! from the file, and the hourly-revenue example's windows for the same customer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOUR: i64 = 3_600_000;

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/sql")
        .join(file)
}

/// (window start, revenue, count) of `customer`, computed from the orders file: lines that
/// are not orders with a numeric total are skipped; totals are summed in file order.
fn oracle(customer: &str) -> Vec<(i64, f64, i64)> {
    let text = std::fs::read_to_string(data("orders.jsonl")).unwrap();
    let mut windows: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(c), Some(total), Some(ts)) = (
            v["customerId"].as_str(),
            v["total"].as_f64(),
            v["timestamp"].as_i64(),
        ) else {
            continue;
        };
        if c == customer {
            let w = windows.entry(ts - ts.rem_euclid(HOUR)).or_insert((0.0, 0));
            w.0 += total;
            w.1 += 1;
        }
    }
    windows.into_iter().map(|(s, (r, n))| (s, r, n)).collect()
}

/// The data rows of the last table printed: cells of lines starting with `|`, after the
/// header row.
fn table_rows(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = out.lines().filter(|l| l.starts_with('|')).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect::<Vec<_>>()
    });
    let header = lines.next().unwrap_or_default();
    (header, lines.collect())
}

fn run_cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_streams-sql"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "streams-sql failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn seed_answer() -> Vec<(i64, f64, i64)> {
    seed_answer_of("seed.sql", &[], 300)
}

/// The pull query's answer of the seed statements of `sql`, run over the orders file loaded
/// with `load_args`, of which `loaded` records are written.
fn seed_answer_of(sql: &str, load_args: &[&str], loaded: usize) -> Vec<(i64, f64, i64)> {
    let load = format!("orders.placed={}", data("orders.jsonl").display());
    let sql = data(sql);
    let mut args = vec!["-f", sql.to_str().unwrap(), "--load", &load];
    args.extend(load_args);
    let out = run_cli(&args);
    assert!(out.contains(&format!("Loaded {loaded} records")), "{out}");
    assert!(
        out.contains("Created query with ID CTAS_HOURLY_REVENUE_1"),
        "{out}"
    );
    let (header, rows) = table_rows(&out);
    assert_eq!(
        header,
        [
            "CUSTOMERID",
            "WINDOWSTART",
            "WINDOWEND",
            "WINDOW_START",
            "REVENUE",
            "ORDER_COUNT"
        ]
    );
    rows.iter()
        .map(|r| {
            assert_eq!(r[0], "cust-123");
            let start: i64 = r[1].parse().unwrap();
            assert_eq!(r[2].parse::<i64>().unwrap(), start + HOUR);
            assert_eq!(r[3].parse::<i64>().unwrap(), start);
            (start, r[4].parse().unwrap(), r[5].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_seed_statements_answer_the_pull_query_as_the_oracle_and_the_example_do() {
    let answer = seed_answer();
    let expected = oracle("cust-123");
    assert_eq!(expected.len(), 5, "the sample spans five hours");
    // Revenue prints in full: exactly the oracle's sums, not rounded.
    assert_eq!(answer, expected);

    // The hourly-revenue example over the same file, with ksqlDB's default grace of 24 hours
    // (the seed's window has no GRACE PERIOD).
    let example = Path::new(env!("CARGO_BIN_EXE_streams-sql")).with_file_name("hourly-revenue");
    assert!(
        example.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        example.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("windows.jsonl");
    let status = Command::new(&example)
        .args([
            "--orders",
            data("orders.jsonl").to_str().unwrap(),
            "--grace-ms",
            "86400000",
            "--output",
            output.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let windows: Vec<(i64, f64, i64)> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|w| w["customerId"] == "cust-123")
        .map(|w| {
            (
                w["windowStart"].as_i64().unwrap(),
                w["revenue"].as_f64().unwrap(),
                w["orderCount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(answer, windows);
}

/// `--load-schema` writes the orders as Avro records of the example's schema (the three
/// lines that are not such records left out), and the seed's statements with
/// `VALUE_FORMAT='AVRO'` answer as the JSON run does.
#[test]
fn avro_loaded_orders_answer_the_seed_as_json_ones_do() {
    let schema = data("../../examples/hourly_revenue/OrderPlaced.avsc");
    let answer = seed_answer_of(
        "seed-avro.sql",
        &[
            "--load-key",
            "orderId",
            "--load-schema",
            schema.to_str().unwrap(),
        ],
        297,
    );
    assert_eq!(answer, oracle("cust-123"));
}

#[test]
fn a_statement_error_exits_non_zero_with_the_caret() {
    let out = Command::new(env!("CARGO_BIN_EXE_streams-sql"))
        .args(["-e", "SHOW STREAMS;\nSELECT * FROM nowhere WHERE x = 1;"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("line 2:15: unknown stream or table 'NOWHERE'; known: none\n  SELECT * FROM nowhere WHERE x = 1;\n                ^"), "{stderr}");
}
