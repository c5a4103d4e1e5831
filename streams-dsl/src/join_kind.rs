//! Which records of a join produce output without a partner.

/// Which records of a join produce output without a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    /// None: only pairs are joined.
    Inner,
    /// The left side's: a left record without a partner is joined with nothing.
    Left,
    /// Both sides': a record of either side without a partner is joined with nothing.
    Outer,
}

impl JoinKind {
    /// Whether a left record without a partner still produces output.
    pub(crate) fn joins_unmatched_left(self) -> bool {
        self != JoinKind::Inner
    }
}
