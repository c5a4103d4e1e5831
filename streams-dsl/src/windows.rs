//! Window specifications for windowed aggregations: [`TimeWindows`] (tumbling and hopping),
//! [`SlidingWindows`], [`SessionWindows`], and the [`EmitStrategy`] of a windowed
//! aggregation.
//!
//! All times are milliseconds since the epoch. Time windows are epoch-aligned and their end
//! is exclusive; sliding windows include both ends; session windows include both ends and
//! grow with their records.

use std::time::Duration;

use streams_core::{Error, Result};

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Fixed-size, epoch-aligned windows, as Kafka Streams' `TimeWindows`: tumbling when the
/// advance equals the size, hopping when it is smaller.
///
/// A record at `ts` belongs to every window `[start, start + size)` with
/// `start = k * advance <= ts < start + size`. A window accepts records until stream time
/// reaches its end plus the grace period; later records for it are dropped (and counted as
/// dropped), while the record still updates its other, open windows.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::TimeWindows;
///
/// let hopping = TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2))
///     .advance_by(Duration::from_secs(5));
/// assert_eq!(hopping.windows_for(12_000), vec![(5_000, 15_000), (10_000, 20_000)]);
/// assert_eq!(hopping.grace_ms(), 2_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size: i64,
    advance: i64,
    grace: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` that close as soon as stream time reaches their end.
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept records until stream time reaches their end
    /// plus `grace`.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size = millis(size);
        TimeWindows {
            size,
            advance: size,
            grace: millis(grace),
        }
    }

    /// Hopping windows: a new window starts every `advance` (which must not exceed the size).
    #[must_use]
    pub fn advance_by(mut self, advance: Duration) -> Self {
        self.advance = millis(advance);
        self
    }

    /// The window size in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size
    }

    /// The advance in milliseconds.
    pub fn advance_ms(&self) -> i64 {
        self.advance
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    /// The windows `(start, end)` a record at `timestamp` falls into, by ascending start.
    pub fn windows_for(&self, timestamp: i64) -> Vec<(i64, i64)> {
        self.starts_for(timestamp)
            .map(|s| (s, s.saturating_add(self.size)))
            .collect()
    }

    /// The window starts for `timestamp`, as Java's `TimeWindows.windowsFor`.
    pub(crate) fn starts_for(&self, timestamp: i64) -> impl Iterator<Item = i64> + use<> {
        let advance = self.advance.max(1);
        let first = (timestamp - self.size + advance).max(0) / advance * advance;
        (0..)
            .map(move |i: i64| first + i * advance)
            .take_while(move |s| *s <= timestamp)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.size <= 0 {
            return Err(config_error("window size must be at least 1 ms"));
        }
        if self.advance <= 0 || self.advance > self.size {
            return Err(config_error(&format!(
                "the advance ({} ms) must be between 1 ms and the window size ({} ms)",
                self.advance, self.size
            )));
        }
        Ok(())
    }
}

/// Sliding windows, as Kafka Streams' `SlidingWindows`: windows of a fixed time difference
/// that both include their ends, created only where records are, so that every distinct
/// set of records within the time difference gets one window.
///
/// A record at `ts` has its *left* window `[ts - diff, ts]` and, when later records exist
/// within `diff`, a *right* window starting at `ts + 1`. A record is dropped (and counted)
/// when `ts + diff` is below stream time minus the grace period.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::SlidingWindows;
///
/// let w = SlidingWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(2));
/// assert_eq!((w.time_difference_ms(), w.grace_ms()), (5_000, 2_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    difference: i64,
    grace: i64,
}

impl SlidingWindows {
    /// Sliding windows with no grace period.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }

    /// Sliding windows that accept out-of-order records for `grace`.
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        SlidingWindows {
            difference: millis(difference),
            grace: millis(grace),
        }
    }

    /// The time difference (the window size) in milliseconds.
    pub fn time_difference_ms(&self) -> i64 {
        self.difference
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.difference <= 0 {
            return Err(config_error("the time difference must be at least 1 ms"));
        }
        Ok(())
    }
}

/// Session windows, as Kafka Streams' `SessionWindows`: a key's records closer together
/// than the inactivity gap form one session, whose window runs from its first to its last
/// record (both inclusive).
///
/// A record at `ts` merges with every session of its key that ends at or after
/// `ts - gap` and starts at or before `ts + gap`. A session is closed once stream time
/// passes its end plus gap plus grace; a record whose merged session would end before that
/// is dropped (and counted).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::SessionWindows;
///
/// let w = SessionWindows::of_inactivity_gap_and_grace(Duration::from_secs(5), Duration::from_secs(2));
/// assert_eq!((w.inactivity_gap_ms(), w.grace_ms()), (5_000, 2_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap: i64,
    grace: i64,
}

impl SessionWindows {
    /// Sessions with the given inactivity gap and no grace period.
    pub fn of_inactivity_gap_with_no_grace(gap: Duration) -> Self {
        Self::of_inactivity_gap_and_grace(gap, Duration::ZERO)
    }

    /// Sessions with the given inactivity gap and grace period.
    pub fn of_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Self {
        SessionWindows {
            gap: millis(gap),
            grace: millis(grace),
        }
    }

    /// The inactivity gap in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.gap <= 0 {
            return Err(config_error("the inactivity gap must be at least 1 ms"));
        }
        Ok(())
    }
}

/// When a windowed aggregation forwards its results, as Kafka Streams' `EmitStrategy`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::EmitStrategy;
///
/// assert_eq!(EmitStrategy::default(), EmitStrategy::on_window_update());
/// assert_ne!(EmitStrategy::on_window_close(), EmitStrategy::on_window_update());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitStrategy {
    on_close: bool,
}

impl Default for EmitStrategy {
    fn default() -> Self {
        EmitStrategy::on_window_update()
    }
}

impl EmitStrategy {
    /// Every update of a window is forwarded (merged per key by the cache when caching is
    /// on). The default.
    pub fn on_window_update() -> Self {
        EmitStrategy { on_close: false }
    }

    /// Only a window's final result is forwarded, once stream time passes its end plus
    /// grace, with the timestamp of its last record. As in Kafka Streams, the closed
    /// windows are looked for when a record arrives, at most once per emit interval of
    /// wall-clock time (the setting
    /// [`WINDOWED_AGGREGATION_EMIT_INTERVAL`](crate::WINDOWED_AGGREGATION_EMIT_INTERVAL):
    /// 1 s, and 0 in the test driver, as in Kafka Streams); windows that closed since the
    /// last look all come out then, in window order.
    ///
    /// Which closed windows can still be found depends on the store, as in Kafka Streams.
    /// With the default RocksDB store the aggregation uses Kafka Streams' time-ordered
    /// store, whose reads keep windows starting at or after `latest start written -
    /// retention` (retention = size + grace by default, sessions by their end): a window
    /// is found when it closes, but not if stream time jumped so far that the store's
    /// cut passed it before the next look. With `StoreType::InMemory` it is Kafka Streams'
    /// plain in-memory window store, whose reads stop one millisecond earlier: windows
    /// that reach the cut exactly when they close (tumbling windows without grace, every
    /// session) are never emitted unless `Materialized` gives a longer retention.
    pub fn on_window_close() -> Self {
        EmitStrategy { on_close: true }
    }

    /// Whether only final results are forwarded.
    pub fn is_on_window_close(&self) -> bool {
        self.on_close
    }
}

fn config_error(reason: &str) -> Error {
    Error::Config {
        key: "windows".into(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_windows_are_epoch_aligned_and_end_exclusive() {
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(10));
        assert_eq!(w.windows_for(0), vec![(0, 10)]);
        assert_eq!(w.windows_for(9), vec![(0, 10)]);
        // A record exactly at a window end belongs to the next window only.
        assert_eq!(w.windows_for(10), vec![(10, 20)]);
    }

    #[test]
    fn hopping_windows_match_java_windows_for() {
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(10))
            .advance_by(Duration::from_millis(5));
        assert_eq!(w.windows_for(3), vec![(0, 10)]);
        assert_eq!(w.windows_for(5), vec![(0, 10), (5, 15)]);
        assert_eq!(w.windows_for(10), vec![(5, 15), (10, 20)]);
        assert!(w.validate().is_ok());
        let bad = TimeWindows::of_size_with_no_grace(Duration::from_millis(10))
            .advance_by(Duration::from_millis(11));
        assert!(bad.validate().is_err());
    }
}
