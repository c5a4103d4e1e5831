//! Input: a generated sample stream, or a file of orders.

use std::collections::BTreeSet;
use std::path::Path;

use crate::Line;
use crate::model::{Customer, HOUR_MS, Order};

/// SplitMix64: a small, seeded generator, so the sample stream is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const NAMES: &[&str] = &[
    "Ada", "Bao", "Cleo", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena",
    "Milo", "Noor", "Otto", "Pia", "Quin", "Rosa", "Sami", "Tove",
];
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// The customer record for an id: deterministic name and tier.
pub(crate) fn customer(id: &str) -> Customer {
    let h = id
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Customer {
        customer_id: id.to_string(),
        name: format!(
            "{} {}",
            NAMES[(h % NAMES.len() as u64) as usize],
            id.to_uppercase()
        ),
        tier: TIERS[((h / 7) % TIERS.len() as u64) as usize].to_string(),
    }
}

/// A realistic day of orders: a few hot customers and a long tail, 10 hours of event time,
/// 3% of records out of order by up to 15 minutes, 2% refunds (totals ≤ 0, filtered out)
/// and 1% malformed lines.
pub(crate) fn generate(count: usize) -> (Vec<Line>, Vec<Customer>) {
    let mut rng = Rng(20_261_127);
    let customers: Vec<String> = (0..60).map(|i| format!("c{i:03}")).collect();
    // 2026-11-27T08:00:00Z
    let base: i64 = 1_795_766_400_000;
    let span = 10 * HOUR_MS;
    let mut lines = Vec::with_capacity(count);
    for i in 0..count {
        // Hot customers: weight 1/(rank+1)^1.2.
        let u = rng.unit();
        let rank = ((customers.len() as f64).powf(u) - 1.0).max(0.0) as usize;
        let id = &customers[rank.min(customers.len() - 1)];
        let mut ts = base + (i as i64 * span) / count as i64;
        if rng.below(100) < 3 {
            ts -= rng.below(15 * 60_000) as i64;
        }
        if rng.below(100) == 0 {
            let bad = match rng.below(3) {
                0 => format!(
                    "{{\"orderId\":\"o{i}\",\"customerId\":\"{id}\",\"total\":\"lots\",\"timestamp\":{ts}}}"
                ),
                1 => format!("{{\"orderId\":\"o{i}\",\"customerId\":\"{id}\""),
                _ => "not json at all".to_string(),
            };
            let key = (!bad.starts_with("not")).then(|| id.clone());
            lines.push(Line {
                key,
                bytes: bad.into_bytes(),
            });
            continue;
        }
        let total = if rng.below(100) < 2 {
            -((rng.below(5000) as f64) / 100.0)
        } else {
            ((5.0 + rng.unit() * rng.unit() * 495.0) * 100.0).round() / 100.0
        };
        let order = Order {
            order_id: format!("o{i}"),
            customer_id: id.clone(),
            total,
            currency: "USD".to_string(),
            timestamp: ts,
        };
        let bytes = serde_json::to_vec(&order).unwrap_or_default();
        lines.push(Line {
            key: Some(id.clone()),
            bytes,
        });
    }
    let customers = customers.iter().map(|c| customer(c)).collect();
    (lines, customers)
}

/// Reads orders from a file, one JSON object per line, in file order. A line that is not an
/// order is kept as it is (it will be dead-lettered); its key is the `customerId` field when
/// the line has one. Customers are made up for every customer id seen.
pub(crate) fn read_orders(path: &Path) -> std::io::Result<(Vec<Line>, Vec<Customer>)> {
    let text = std::fs::read_to_string(path)?;
    let mut ids = BTreeSet::new();
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let key = serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| {
                    v.get("customerId")
                        .and_then(|c| c.as_str())
                        .map(str::to_owned)
                });
            if let Some(k) = &key {
                ids.insert(k.clone());
            }
            Line {
                key,
                bytes: l.as_bytes().to_vec(),
            }
        })
        .collect();
    Ok((lines, ids.iter().map(|c| customer(c)).collect()))
}
