//! Which records or rows a filter keeps: `filter` and `filter_not` share one processor.

/// Which records or rows a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Those the predicate holds for (`filter`).
    Matching,
    /// Those the predicate does not hold for (`filter_not`).
    NonMatching,
}

impl Keep {
    /// Whether a record for which the predicate returned `matched` is kept.
    pub(crate) fn keeps(self, matched: bool) -> bool {
        matched == (self == Keep::Matching)
    }
}
