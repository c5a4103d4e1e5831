//! What the caching layers do alike, whatever the store below: releasing dirty entries on
//! flush, commit, close and cache flush.

use streams_core::Result;
use streams_core::state::{CacheFlushEntry, StateStore};

use super::cache::Cache;
use super::named_cache::Dirty;

/// A caching layer over a store of type `Inner`. The provided methods are the bodies of
/// the layer's [`StateStore`] methods and cache flush; only the write of a dirty entry
/// below depends on the kind of store.
pub(super) trait CachingLayer {
    /// The store below the cache.
    type Inner: StateStore + ?Sized;

    /// The layer's cache.
    fn cache_mut(&mut self) -> &mut Cache;

    /// The store below the cache.
    fn inner_mut(&mut self) -> &mut Self::Inner;

    /// Writes `dirty` to the store below, in order, queueing the releases.
    fn write_dirty(&mut self, dirty: Vec<Dirty>) -> Result<()>;

    /// Writes every dirty entry below, then flushes the store below.
    fn flush_layer(&mut self) -> Result<()> {
        let dirty = self.cache_mut().take_dirty();
        self.write_dirty(dirty)?;
        self.inner_mut().flush()
    }

    /// Writes every dirty entry below, then commits the store below.
    fn commit_layer(&mut self) -> Result<()> {
        let dirty = self.cache_mut().take_dirty();
        self.write_dirty(dirty)?;
        self.inner_mut().commit()
    }

    /// Writes every dirty entry below, empties the cache and closes the store below, which
    /// is closed even when the writes fail.
    fn close_layer(&mut self) -> Result<()> {
        let dirty = self.cache_mut().take_dirty();
        let written = self.write_dirty(dirty);
        self.cache_mut().clear();
        let closed = self.inner_mut().close();
        written.and(closed)
    }

    /// Writes every dirty entry below and hands every queued release to `sink`, the ones
    /// written before a failed write included.
    fn flush_cache_layer(&mut self, sink: &mut dyn FnMut(CacheFlushEntry)) -> Result<()> {
        let dirty = self.cache_mut().take_dirty();
        let written = self.write_dirty(dirty);
        for entry in self.cache_mut().take_pending() {
            sink(entry);
        }
        written
    }
}

/// Implements [`StateStore`] for a caching layer: name and persistence are the store
/// below's, flush, commit and close go through the [`CachingLayer`] bodies, and a restore
/// goes straight to the store below (the cache is empty while restoring).
macro_rules! caching_state_store {
    () => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn persistent(&self) -> bool {
            self.inner.persistent()
        }

        fn flush(&mut self) -> ::streams_core::Result<()> {
            self.flush_layer()
        }

        fn commit(&mut self) -> ::streams_core::Result<()> {
            self.commit_layer()
        }

        fn flush_in_background(&mut self) -> ::streams_core::Result<()> {
            self.commit_layer()?;
            self.inner.flush_in_background()
        }

        fn flush_done(&mut self) -> ::streams_core::Result<bool> {
            self.inner.flush_done()
        }

        fn close(&mut self) -> ::streams_core::Result<()> {
            self.close_layer()
        }

        fn restore_batch(
            &mut self,
            records: &[::streams_core::state::ChangelogRecord<'_>],
        ) -> ::streams_core::Result<()> {
            self.inner.restore_batch(records)
        }

        fn metrics(&self) -> ::streams_core::state::StoreMetrics {
            let mut m = self.inner.metrics();
            let (hits, misses) = self.cache.hits_and_misses();
            m.cache_hits += hits;
            m.cache_misses += misses;
            m
        }

        fn commit_position(&mut self, offset: Option<i64>) -> ::streams_core::Result<()> {
            self.inner.commit_position(offset)
        }

        fn stored_position(&self) -> ::streams_core::state::StoredPosition {
            self.inner.stored_position()
        }
    };
}

pub(super) use caching_state_store;
