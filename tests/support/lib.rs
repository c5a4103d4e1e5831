//! Shared helpers for the integration tests: the conformance harness's file formats, a
//! seeded random generator, Java's string semantics where the reference lambdas use them, and
//! the Schema Registry of the Avro tests.

pub mod registry;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The directory of the conformance harness: `CONFORMANCE_DIR` when set (the long sweep of
/// `tests/conformance/regen.sh --sweep N` points it at freshly generated inputs and goldens),
/// otherwise the committed `tests/conformance/`.
pub fn conformance_dir() -> PathBuf {
    match std::env::var_os("CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance"),
    }
}

/// One line of an input script.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRecord {
    /// The topic.
    pub topic: String,
    /// The key, `None` for null.
    pub key: Option<String>,
    /// The value, `None` for null.
    pub value: Option<String>,
    /// The timestamp.
    pub timestamp: i64,
}

/// Reads an input script: JSON lines of topic, key, value, timestamp.
///
/// # Panics
///
/// On a missing file or a malformed line, naming it: a broken fixture should stop the test.
pub fn read_inputs(path: &Path) -> Vec<InputRecord> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            let s = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
            InputRecord {
                topic: s("topic")
                    .unwrap_or_else(|| panic!("{}:{}: no topic", path.display(), i + 1)),
                key: s("key"),
                value: s("value"),
                timestamp: v
                    .get("timestamp")
                    .and_then(Value::as_i64)
                    .unwrap_or_else(|| panic!("{}:{}: no timestamp", path.display(), i + 1)),
            }
        })
        .collect()
}

/// Reads a golden output file as parsed JSON values, one per record.
///
/// # Panics
///
/// On a missing file or a malformed line.
pub fn read_golden(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Compares actual output with the golden one record by record. On the first difference,
/// returns a message with that record, its neighbours and the input that preceded it.
pub fn first_difference(
    actual: &[(usize, Value)],
    golden: &[Value],
    inputs: &[InputRecord],
) -> Option<String> {
    let n = actual.len().max(golden.len());
    for i in 0..n {
        let a = actual.get(i).map(|(_, v)| v);
        let g = golden.get(i);
        if a != g {
            let input_idx = actual.get(i).or(actual.last()).map(|(j, _)| *j);
            let context = input_idx
                .map(|j| {
                    let lo = j.saturating_sub(3);
                    (lo..=j.min(inputs.len().saturating_sub(1)))
                        .map(|k| format!("    input #{k}: {:?}", inputs[k]))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            return Some(format!(
                "output record #{i} differs (actual {} records, golden {}):\n  actual: {}\n  golden: {}\n  previous golden: {}\n  inputs up to the one that produced it:\n{context}",
                actual.len(),
                golden.len(),
                a.map_or("<none>".to_string(), Value::to_string),
                g.map_or("<none>".to_string(), Value::to_string),
                i.checked_sub(1)
                    .and_then(|p| golden.get(p))
                    .map_or("<none>".to_string(), Value::to_string),
            ));
        }
    }
    None
}

/// Java's `String.length()`: UTF-16 code units.
pub fn jlen(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A small seeded generator (SplitMix64), so random tests are reproducible without a crate.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
