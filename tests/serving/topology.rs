//! The topology the serving suite queries: record counts per key, and sums and counts per
//! key and hour, from string keys and decimal string values.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use streams_dsl::prelude::*;

/// The key-value store of counts per key.
pub(crate) const COUNTS: &str = "counts";
/// The window store of totals per key and hour.
pub(crate) const HOURLY: &str = "hourly";
/// The session store of counts per key and session (30 minutes of inactivity).
pub(crate) const SESSIONS: &str = "sessions";
/// The sessions' inactivity gap.
pub(crate) const SESSION_GAP: Duration = Duration::from_secs(1_800);
const DAY: Duration = Duration::from_secs(86_400);
/// The window size.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// What `hourly` holds per key and hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Totals {
    /// The sum of the values.
    pub(crate) sum: i64,
    /// The number of records.
    pub(crate) count: i64,
}

/// Builds the topology over `input`.
///
/// # Errors
///
/// The builder's, for an invalid topology.
pub(crate) fn topology(input: &str) -> Result<Topology> {
    let builder = StreamsBuilder::new();
    let stream = builder.stream(input, Consumed::with(Serdes::string(), Serdes::string()));
    let grouped = stream.group_by_key();
    grouped.count_with(Materialized::as_(COUNTS));
    grouped
        // A day of grace keeps every window of a test run in the store (retention is size
        // plus grace).
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(HOUR_MS as u64),
            DAY,
        ))
        .aggregate_with(
            Totals::default,
            |_, v: String, mut t: Totals| {
                t.sum += v.parse::<i64>().unwrap_or(0);
                t.count += 1;
                t
            },
            Materialized::as_(HOURLY).with_value_serde(Serdes::json::<Totals>()),
        );
    grouped
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(
            SESSION_GAP,
            DAY,
        ))
        .count_with(Materialized::as_(SESSIONS));
    builder.build()
}
