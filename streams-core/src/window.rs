//! Windows and windowed keys.
//!
//! Windowed aggregations key their results by a [`Windowed`] key: the record's key plus
//! the [`Window`] it fell into. [`Serdes::time_windowed`](crate::serde::Serdes::time_windowed)
//! and [`Serdes::session_windowed`](crate::serde::Serdes::session_windowed) give them the
//! byte layout Java's Kafka Streams uses.
//!
//! # Partitioning
//!
//! A windowed key is partitioned on its base key alone, as Java's
//! `WindowedStreamPartitioner` does: the partitioner hashes the bytes of
//! [`Windowed::key`] as serialized by the *inner* serde, not the windowed bytes. Every
//! window of a key therefore lands in the same partition as the key's other records,
//! which is what lets a downstream join or lookup by the plain key find them.

use std::fmt;

/// A time interval in milliseconds since the epoch.
///
/// For time windows (tumbling, hopping, sliding) `start` is inclusive and `end`
/// exclusive; for session windows both are inclusive, and a session of a single record
/// has `start == end`.
///
/// Windows order by start, then end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// The start, in milliseconds since the epoch.
    pub start: i64,
    /// The end, in milliseconds since the epoch.
    pub end: i64,
}

impl Window {
    /// A window from `start` to `end`. Kafka Streams never creates windows with
    /// `end < start`; such a window overlaps nothing.
    pub const fn new(start: i64, end: i64) -> Self {
        Window { start, end }
    }

    /// The start, in milliseconds since the epoch.
    pub const fn start(&self) -> i64 {
        self.start
    }

    /// The end, in milliseconds since the epoch.
    pub const fn end(&self) -> i64 {
        self.end
    }

    /// Whether the two windows share a point in time, with ends exclusive, as Java's
    /// `TimeWindow.overlaps`: windows that only touch (one's end is the other's start) do
    /// not overlap. For session windows, whose ends are inclusive, use
    /// [`overlaps_inclusive`](Self::overlaps_inclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::window::Window;
    ///
    /// assert!(Window::new(0, 10).overlaps(&Window::new(5, 15)));
    /// assert!(!Window::new(0, 10).overlaps(&Window::new(10, 20)));
    /// ```
    pub const fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether the two windows share a point in time, with ends inclusive, as Java's
    /// `SessionWindow.overlaps`: windows that touch overlap.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::window::Window;
    ///
    /// assert!(Window::new(0, 10).overlaps_inclusive(&Window::new(10, 20)));
    /// assert!(!Window::new(0, 10).overlaps_inclusive(&Window::new(11, 20)));
    /// ```
    pub const fn overlaps_inclusive(&self, other: &Window) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

/// A key together with the window it belongs to: the key type of windowed aggregations.
///
/// Its `Display` is Java's `Windowed.toString`, `[key@start/end]`.
///
/// Partitioners must use [`Windowed::key`] only; see the [module docs](self#partitioning).
///
/// # Examples
///
/// ```
/// use streams_core::window::{Window, Windowed};
///
/// let key = Windowed::new("alice", Window::new(1000, 2000));
/// assert_eq!(*key.key(), "alice");
/// assert_eq!(key.window().start(), 1000);
/// assert_eq!(key.to_string(), "[alice@1000/2000]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    /// The base key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// A key in a window.
    pub const fn new(key: K, window: Window) -> Self {
        Windowed { key, window }
    }

    /// The base key, without the window: what a windowed key is partitioned on.
    pub const fn key(&self) -> &K {
        &self.key
    }

    /// The window.
    pub const fn window(&self) -> Window {
        self.window
    }

    /// The base key, taking it out of the windowed key.
    pub fn into_key(self) -> K {
        self.key
    }
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}@{}/{}]",
            self.key, self.window.start, self.window.end
        )
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn windows_order_by_start_then_end() {
        let mut windows = vec![
            Window::new(10, 20),
            Window::new(0, 30),
            Window::new(10, 15),
            Window::new(-5, 0),
        ];
        windows.sort();
        assert_eq!(
            windows,
            [
                Window::new(-5, 0),
                Window::new(0, 30),
                Window::new(10, 15),
                Window::new(10, 20),
            ]
        );
    }

    #[test]
    fn accessors() {
        let w = Window::new(3, 7);
        assert_eq!((w.start(), w.end()), (3, 7));
        let k = Windowed::new(5u8, w);
        assert_eq!(*k.key(), 5);
        assert_eq!(k.window(), w);
        assert_eq!(k.into_key(), 5);
    }

    #[test]
    fn exclusive_overlap() {
        let w = Window::new(10, 20);
        assert!(w.overlaps(&w));
        assert!(w.overlaps(&Window::new(0, 11)));
        assert!(w.overlaps(&Window::new(19, 30)));
        assert!(w.overlaps(&Window::new(12, 13)));
        assert!(w.overlaps(&Window::new(0, 100)));
        assert!(!w.overlaps(&Window::new(0, 10)));
        assert!(!w.overlaps(&Window::new(20, 30)));
        assert!(!w.overlaps(&Window::new(25, 30)));
    }

    #[test]
    fn inclusive_overlap() {
        let w = Window::new(10, 20);
        assert!(w.overlaps_inclusive(&Window::new(0, 10)));
        assert!(w.overlaps_inclusive(&Window::new(20, 20)));
        assert!(w.overlaps_inclusive(&Window::new(15, 15)));
        assert!(!w.overlaps_inclusive(&Window::new(0, 9)));
        assert!(!w.overlaps_inclusive(&Window::new(21, 30)));
        let point = Window::new(5, 5);
        assert!(point.overlaps_inclusive(&point));
    }

    #[test]
    fn display_matches_java() {
        let k = Windowed::new("user-1", Window::new(0, i64::MAX));
        assert_eq!(k.to_string(), "[user-1@0/9223372036854775807]");
        assert_eq!(
            Windowed::new(42, Window::new(-1, 5)).to_string(),
            "[42@-1/5]"
        );
    }

    #[test]
    fn windowed_keys_hash_and_compare_by_key_and_window() {
        let a = Windowed::new("a", Window::new(0, 10));
        let b = Windowed::new("a", Window::new(10, 20));
        let c = Windowed::new("b", Window::new(0, 10));
        let set: HashSet<_> = [a, b, c, a].into_iter().collect();
        assert_eq!(set.len(), 3);
        assert!(a < b && b < c);
    }
}
