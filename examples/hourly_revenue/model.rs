//! The records of the hourly-revenue pipeline and its topology.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streams_dsl::prelude::*;

/// Input topic of orders, keyed by customer id.
pub(crate) const ORDERS: &str = "orders.placed";
/// Input topic of customers, keyed by customer id (a table).
pub(crate) const CUSTOMERS: &str = "customers";
/// Output: revenue and order count per customer and hour.
pub(crate) const HOURLY: &str = "analytics.hourly-revenue";
/// Output: orders joined with their customer.
pub(crate) const ENRICHED: &str = "orders.enriched";
/// How long the revenue store keeps windows.
const STORE_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// The window store of the hourly revenue, which `--serve` answers queries from.
pub(crate) const REVENUE_STORE: &str = "hourly-revenue-store";
/// Appended to a source topic's name to name its dead-letter topic, where records that cannot
/// be read go.
pub(crate) const DEAD_LETTER_SUFFIX: &str = ".dead-letter";
/// One hour.
pub(crate) const HOUR_MS: i64 = 3_600_000;

fn usd() -> String {
    "USD".to_string()
}

/// An order as placed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    /// The order's id.
    pub(crate) order_id: String,
    /// The customer who placed it.
    pub(crate) customer_id: String,
    /// Its total; orders with a total of zero or less are not revenue.
    pub(crate) total: f64,
    /// Its currency.
    #[serde(default = "usd")]
    pub(crate) currency: String,
    /// Event time in epoch milliseconds.
    pub(crate) timestamp: i64,
}

/// A customer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Customer {
    /// The customer's id.
    pub(crate) customer_id: String,
    /// Display name.
    pub(crate) name: String,
    /// Loyalty tier.
    pub(crate) tier: String,
}

/// What one order contributes to revenue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RevenueEvent {
    /// The amount.
    pub(crate) amount: f64,
}

/// The running aggregate of one customer's hour.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Revenue {
    /// Sum of order totals.
    pub(crate) revenue: f64,
    /// Number of orders.
    pub(crate) order_count: i64,
}

/// One output row of `analytics.hourly-revenue`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HourlyRevenue {
    /// The customer.
    pub(crate) customer_id: String,
    /// Window start, epoch ms.
    pub(crate) window_start: i64,
    /// Window end (exclusive), epoch ms.
    pub(crate) window_end: i64,
    /// Sum of order totals in the window.
    pub(crate) revenue: f64,
    /// Number of orders in the window.
    pub(crate) order_count: i64,
}

/// A record of the dead-letter topic, as `--dead-letters` writes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct DeadLetter {
    /// Its partition (the partition of the original record).
    pub(crate) partition: i32,
    /// Its offset in the dead-letter topic.
    pub(crate) offset: i64,
    /// The original key, as text.
    pub(crate) key: Option<String>,
    /// The original value, as text.
    pub(crate) value: Option<String>,
    /// Its headers: `dead-letter-reason`, `original-topic`, `original-partition`,
    /// `original-offset`, `failed-at`.
    pub(crate) headers: BTreeMap<String, String>,
}

/// An order with its customer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrichedOrder {
    /// The order.
    pub(crate) order: Order,
    /// The customer's name.
    pub(crate) customer_name: String,
    /// The customer's tier.
    pub(crate) tier: String,
}

/// The pipeline: orders filtered to positive totals, mapped to revenue events, grouped by
/// customer into tumbling one-hour windows (event time from the order's `timestamp`) and
/// summed; and orders joined with the customers table.
/// `suffix` is appended to every topic name (empty on the embedded cluster); orders are read
/// with `orders` (JSON, or Avro through a schema registry).
pub(crate) fn topology(grace: Duration, suffix: &str, orders: SerdeRef<Order>) -> Result<Topology> {
    let builder = StreamsBuilder::new();
    let orders = builder.stream(
        &format!("{ORDERS}{suffix}"),
        Consumed::with(Serdes::string(), orders)
            .with_timestamp_extractor(|_: &String, o: &Order, _ts: i64| o.timestamp),
    );
    orders
        .filter(|_, o| o.total > 0.0)
        .map_values(|o| RevenueEvent { amount: o.total })
        .group_by_key_with(Grouped::with(
            Serdes::string(),
            Serdes::json::<RevenueEvent>(),
        ))
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(HOUR_MS as u64),
            grace,
        ))
        .aggregate_with(
            Revenue::default,
            |_, e: RevenueEvent, mut agg: Revenue| {
                agg.revenue += e.amount;
                agg.order_count += 1;
                agg
            },
            // The store keeps a customer's windows for 30 days, so that `--serve` answers
            // every window of a replayed file, not only the last hour's (retention would
            // otherwise be size plus grace).
            Materialized::as_(REVENUE_STORE)
                .with_value_serde(Serdes::json::<Revenue>())
                .with_retention(STORE_RETENTION),
        )
        .to_stream()
        .map(|w: Windowed<String>, agg: Option<Revenue>| {
            let agg = agg.unwrap_or_default();
            let row = HourlyRevenue {
                customer_id: w.key.clone(),
                window_start: w.window.start,
                window_end: w.window.end,
                revenue: agg.revenue,
                order_count: agg.order_count,
            };
            (w.key, row)
        })
        .to(
            &format!("{HOURLY}{suffix}"),
            Produced::with(Serdes::string(), Serdes::json::<HourlyRevenue>()),
        );

    let customers = builder.table(
        &format!("{CUSTOMERS}{suffix}"),
        Consumed::with(Serdes::string(), Serdes::json::<Customer>()),
    );
    orders
        .join_table(&customers, |order, c: &Customer| EnrichedOrder {
            order,
            customer_name: c.name.clone(),
            tier: c.tier.clone(),
        })
        .to(
            &format!("{ENRICHED}{suffix}"),
            Produced::with(Serdes::string(), Serdes::json::<EnrichedOrder>()),
        );
    builder.build()
}
