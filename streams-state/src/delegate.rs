//! The lifecycle of a layer that adds nothing to it: every call goes to the store it wraps.

/// Implements the methods of [`StateStore`](streams_core::state::StateStore) by passing
/// each call to the wrapped store in the field `$inner`, for layers whose lifecycle is
/// their inner store's (serdes, change-logging without a restore conversion).
macro_rules! delegate_state_store {
    ($inner:ident) => {
        $crate::delegate::delegate_lifecycle!($inner);
        fn restore_batch(
            &mut self,
            records: &[::streams_core::state::ChangelogRecord<'_>],
        ) -> ::streams_core::Result<()> {
            self.$inner.restore_batch(records)
        }
    };
}

/// [`delegate_state_store`] without `restore_batch`, for layers that convert what they
/// restore (the change-logging layers of key-value and window stores).
macro_rules! delegate_lifecycle {
    ($inner:ident) => {
        fn name(&self) -> &str {
            self.$inner.name()
        }
        fn persistent(&self) -> bool {
            self.$inner.persistent()
        }
        fn flush(&mut self) -> ::streams_core::Result<()> {
            self.$inner.flush()
        }
        fn commit(&mut self) -> ::streams_core::Result<()> {
            self.$inner.commit()
        }
        fn flush_in_background(&mut self) -> ::streams_core::Result<()> {
            self.$inner.flush_in_background()
        }
        fn flush_done(&mut self) -> ::streams_core::Result<bool> {
            self.$inner.flush_done()
        }
        fn close(&mut self) -> ::streams_core::Result<()> {
            self.$inner.close()
        }
        fn metrics(&self) -> ::streams_core::state::StoreMetrics {
            self.$inner.metrics()
        }
        fn commit_position(&mut self, offset: Option<i64>) -> ::streams_core::Result<()> {
            self.$inner.commit_position(offset)
        }
        fn stored_position(&self) -> ::streams_core::state::StoredPosition {
            self.$inner.stored_position()
        }
    };
}

pub(crate) use {delegate_lifecycle, delegate_state_store};
