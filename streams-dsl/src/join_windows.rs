//! `JoinWindows`: how far apart in time two records of a stream-stream join may be.

use std::time::Duration;

/// Milliseconds of a duration, saturating at `i64::MAX`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The time window of a KStream-KStream join, as Kafka Streams' `JoinWindows`.
///
/// A record of the left stream at `t1` joins the records of the right stream with the same
/// key whose timestamps lie in `[t1 - before, t1 + after]`, both ends inclusive; a record of
/// the right stream at `t2` joins the left records in `[t2 - after, t2 + before]`, the
/// mirror window. The join keeps each side's records for `before + after + grace`, so that
/// records up to `grace` out of order still find their partners; non-matches of left and
/// outer joins are held back until stream time passes their window end plus `grace`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::JoinWindows;
///
/// let w = JoinWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(2));
/// assert_eq!((w.before_ms(), w.after_ms(), w.grace_ms()), (5_000, 5_000, 2_000));
/// assert_eq!(w.size_ms(), 10_000);
/// assert_eq!(w.retention_ms(), 12_000);
///
/// // Only right records up to 1 s before and 3 s after a left record.
/// let w = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(3)).before(Duration::from_secs(1));
/// assert_eq!((w.before_ms(), w.after_ms(), w.grace_ms()), (1_000, 3_000, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinWindows {
    before_ms: i64,
    after_ms: i64,
    grace_ms: i64,
}

impl JoinWindows {
    /// Records join when at most `time_difference` apart, in either direction; records out
    /// of order are not waited for (grace 0).
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Self {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Records join when at most `time_difference` apart, in either direction; records up to
    /// `grace` out of order still join, and non-matches wait `grace` longer before being
    /// emitted by left and outer joins.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Self {
        let d = millis(time_difference);
        JoinWindows {
            before_ms: d,
            after_ms: d,
            grace_ms: millis(grace),
        }
    }

    /// Sets how far before a left record a right record may be (the right side's window
    /// reaches the same distance after).
    #[must_use]
    pub fn before(mut self, time_difference: Duration) -> Self {
        self.before_ms = millis(time_difference);
        self
    }

    /// Sets how far after a left record a right record may be (the right side's window
    /// reaches the same distance before).
    #[must_use]
    pub fn after(mut self, time_difference: Duration) -> Self {
        self.after_ms = millis(time_difference);
        self
    }

    /// How far before a left record its partners may be, in milliseconds.
    pub fn before_ms(&self) -> i64 {
        self.before_ms
    }

    /// How far after a left record its partners may be, in milliseconds.
    pub fn after_ms(&self) -> i64 {
        self.after_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// The window size, `before + after`, in milliseconds (the size of the join's window
    /// stores).
    pub fn size_ms(&self) -> i64 {
        self.before_ms.saturating_add(self.after_ms)
    }

    /// How long the join keeps each side's records: `before + after + grace`.
    pub fn retention_ms(&self) -> i64 {
        self.size_ms().saturating_add(self.grace_ms)
    }
}
