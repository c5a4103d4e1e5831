//! What a persistent store's own files say about the changelog they hold, so that a restart
//! under exactly-once can keep them instead of restoring from the beginning.

/// Where a persistent store stands, as its files record it (see
/// [`StateStore::stored_position`](crate::state::StateStore::stored_position)).
///
/// Under `exactly_once_v2` the state manager keeps a store whose files were not closed
/// cleanly only when they say [`Committed`](Self::Committed): they then hold exactly the
/// store's changelog up to that offset, every record of it committed, and the restore reads
/// only the rest (Kafka Streams' transactional state stores, KIP-892). Anything else is
/// wiped and restored from the beginning of the changelog, as Kafka Streams does for a
/// corrupted task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoredPosition {
    /// The store keeps no position (in-memory stores, stores written before positions were
    /// recorded, custom stores): under exactly-once an unclean restart wipes it.
    #[default]
    Unknown,
    /// The files hold writes made after the last commit: they may belong to a transaction
    /// that was aborted, so the store must be wiped.
    Uncommitted,
    /// The files hold exactly what the store held at a commit, with the changelog applied
    /// up to this offset (`None`: no changelog record yet, or a store without changelog).
    Committed(Option<i64>),
}

impl StoredPosition {
    /// Combines the positions of the parts of one store (a segmented store's databases):
    /// uncommitted if one part is, unknown if one part is, otherwise committed at the
    /// lowest offset, from which the restore covers every part. Replaying records a part
    /// already holds writes what it holds again.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::state::StoredPosition;
    ///
    /// let a = StoredPosition::Committed(Some(300));
    /// let b = StoredPosition::Committed(Some(100));
    /// assert_eq!(a.combine(b), StoredPosition::Committed(Some(100)));
    /// assert_eq!(a.combine(StoredPosition::Uncommitted), StoredPosition::Uncommitted);
    /// assert_eq!(a.combine(StoredPosition::Committed(None)), StoredPosition::Committed(None));
    /// ```
    #[must_use]
    pub fn combine(self, other: StoredPosition) -> StoredPosition {
        use StoredPosition::{Committed, Uncommitted, Unknown};
        match (self, other) {
            (Uncommitted, _) | (_, Uncommitted) => Uncommitted,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Committed(a), Committed(b)) => Committed(a.min(b)),
        }
    }
}
