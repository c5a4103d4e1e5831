//! The final report: a table on the terminal, a JSON-lines file, an SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::model::{DeadLetter, HourlyRevenue};

fn hour(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Customers by total revenue, highest first.
fn top_customers(windows: &[HourlyRevenue], n: usize) -> Vec<(String, f64)> {
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for w in windows {
        *totals.entry(&w.customer_id).or_default() += w.revenue;
    }
    let mut v: Vec<(String, f64)> = totals
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Prints revenue per hour over all customers, and the top customers.
pub(crate) fn print_table(windows: &[HourlyRevenue]) {
    let mut per_hour: BTreeMap<i64, (f64, i64, usize)> = BTreeMap::new();
    for w in windows {
        let e = per_hour.entry(w.window_start).or_default();
        e.0 += w.revenue;
        e.1 += w.order_count;
        e.2 += 1;
    }
    println!();
    println!("  hour (UTC)          revenue (USD)   orders   customers");
    println!("  ----------------   --------------   ------   ---------");
    for (start, (rev, orders, customers)) in &per_hour {
        println!(
            "  {}   {:>14.2}   {:>6}   {:>9}",
            hour(*start),
            rev,
            orders,
            customers
        );
    }
    let total: f64 = per_hour.values().map(|v| v.0).sum();
    let orders: i64 = per_hour.values().map(|v| v.1).sum();
    println!("  ----------------   --------------   ------");
    println!("  total              {total:>14.2}   {orders:>6}");
    println!();
    println!("  top customers by revenue:");
    for (c, t) in top_customers(windows, 5) {
        println!("    {c:<8} {t:>12.2}");
    }
}

/// Writes every window's final value, one JSON object per line.
pub(crate) fn write_output(path: &Path, windows: &[HourlyRevenue]) -> std::io::Result<()> {
    let mut out = String::new();
    for w in windows {
        out.push_str(&serde_json::to_string(w).map_err(std::io::Error::other)?);
        out.push('\n');
    }
    std::fs::write(path, out)
}

/// Writes every dead letter, one JSON object per line.
pub(crate) fn write_dead_letters(path: &Path, dead: &[DeadLetter]) -> std::io::Result<()> {
    let mut out = String::new();
    for d in dead {
        out.push_str(&serde_json::to_string(d).map_err(std::io::Error::other)?);
        out.push('\n');
    }
    std::fs::write(path, out)
}

/// Draws hourly revenue of the top five customers as an SVG line chart.
pub(crate) fn write_chart(path: &Path, windows: &[HourlyRevenue]) -> std::io::Result<()> {
    const COLORS: &[&str] = &["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
    let (w, h, left, top, right, bottom) = (900.0, 480.0, 70.0, 40.0, 170.0, 50.0);
    let hours: Vec<i64> = {
        let mut v: Vec<i64> = windows.iter().map(|w| w.window_start).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let top5 = top_customers(windows, 5);
    let max = windows
        .iter()
        .filter(|x| top5.iter().any(|(c, _)| *c == x.customer_id))
        .map(|x| x.revenue)
        .fold(0.0f64, f64::max)
        .max(1.0);
    let x = |i: usize| left + (w - left - right) * i as f64 / (hours.len().max(2) - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="22" font-size="16">Hourly revenue, top customers (USD)</text>"#
    );
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom
    );
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        h - bottom
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{v:.0}</text>"#,
            left - 6.0,
            y(v) + 4.0
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="#ddd"/>"##,
            y(v),
            w - right
        );
    }
    for (i, start) in hours.iter().enumerate() {
        let label = hour(*start);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x(i),
            h - bottom + 18.0,
            &label[11..]
        );
    }
    for (n, (customer, total)) in top5.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let points: Vec<String> = hours
            .iter()
            .enumerate()
            .map(|(i, start)| {
                let v = windows
                    .iter()
                    .find(|r| r.customer_id == *customer && r.window_start == *start)
                    .map_or(0.0, |r| r.revenue);
                format!("{:.1},{:.1}", x(i), y(v))
            })
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 20.0 * n as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{color}"/>"#,
            w - right + 15.0,
            ly
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">{customer} ({total:.0})</text>"#,
            w - right + 32.0,
            ly + 11.0
        );
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}
