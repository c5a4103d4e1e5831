//! The suppliers of window bytes stores: RocksDB and in-memory, and the window parameters
//! they share.

use std::time::Duration;

use streams_core::state::{StoreContext, WindowBytesStore};
use streams_core::{Error, Result};

use super::rocks_tuning::{RocksTuning, tuning_setters};
use super::supplier::WindowBytesStoreSupplier;
use crate::memory::InMemoryWindowStore;
use crate::rocks::{RocksDbWindowStore, WindowReads};

/// The name and window parameters of a window store, checked once for every supplier.
#[derive(Debug, Clone)]
pub(super) struct WindowSpec {
    name: String,
    retention: i64,
    window_size: i64,
    retain_duplicates: bool,
}

impl WindowSpec {
    /// The parameters in milliseconds, checked.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the window size is under 1 ms or the retention is smaller
    /// than the window size.
    pub(super) fn new(
        name: String,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<Self> {
        let ms = |d: Duration, key: &str| {
            i64::try_from(d.as_millis()).map_err(|_| Error::Config {
                key: key.to_owned(),
                reason: format!("{d:?} is too large"),
            })
        };
        let retention = ms(retention, "retention")?;
        let window_size = ms(window_size, "window_size")?;
        if window_size <= 0 {
            return Err(Error::Config {
                key: "window_size".into(),
                reason: format!("the window size of store '{name}' must be at least 1 ms"),
            });
        }
        if retention < window_size {
            return Err(Error::Config {
                key: "retention".into(),
                reason: format!(
                    "the retention period of store '{name}' ({retention} ms) cannot be smaller than its window size ({window_size} ms)"
                ),
            });
        }
        Ok(WindowSpec {
            name,
            retention,
            window_size,
            retain_duplicates,
        })
    }
}

/// Supplies segmented [`RocksDbWindowStore`]s at `<task dir>/<name>/`.
#[derive(Clone)]
pub struct RocksDbWindowStoreSupplier {
    spec: WindowSpec,
    reads: WindowReads,
    tuning: RocksTuning,
}

impl std::fmt::Debug for RocksDbWindowStoreSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbWindowStoreSupplier")
            .field("spec", &self.spec)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl RocksDbWindowStoreSupplier {
    /// Key-ordered stores as `spec` describes, on the process-wide resources, untuned.
    pub(super) fn new(spec: WindowSpec) -> Self {
        RocksDbWindowStoreSupplier {
            spec,
            reads: WindowReads::KeyOrdered,
            tuning: RocksTuning::default(),
        }
    }

    /// Makes stores whose reads cut expired windows as `reads` says: Kafka Streams'
    /// time-ordered stores for [`WindowReads::TimeOrderedWindows`] and
    /// [`WindowReads::TimeOrderedSessions`].
    #[must_use]
    pub fn with_reads(mut self, reads: WindowReads) -> Self {
        self.reads = reads;
        self
    }

    tuning_setters!("segment");
}

impl WindowBytesStoreSupplier for RocksDbWindowStoreSupplier {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn persistent(&self) -> bool {
        true
    }
    fn retention_period(&self) -> i64 {
        self.spec.retention
    }
    fn window_size(&self) -> i64 {
        self.spec.window_size
    }
    fn retain_duplicates(&self) -> bool {
        self.spec.retain_duplicates
    }
    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>> {
        let s = &self.spec;
        Ok(Box::new(
            RocksDbWindowStore::open(
                &s.name,
                ctx.state_dir().join(&s.name),
                s.retention,
                s.window_size,
                s.retain_duplicates,
                self.tuning.resources(ctx.store_memory()),
                self.tuning.setter(),
            )?
            .with_reads(self.reads),
        ))
    }
}

/// Supplies [`InMemoryWindowStore`]s.
#[derive(Debug, Clone)]
pub struct InMemoryWindowStoreSupplier {
    spec: WindowSpec,
}

impl InMemoryWindowStoreSupplier {
    /// Stores as `spec` describes.
    pub(super) fn new(spec: WindowSpec) -> Self {
        InMemoryWindowStoreSupplier { spec }
    }
}

impl WindowBytesStoreSupplier for InMemoryWindowStoreSupplier {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn persistent(&self) -> bool {
        false
    }
    fn retention_period(&self) -> i64 {
        self.spec.retention
    }
    fn window_size(&self) -> i64 {
        self.spec.window_size
    }
    fn retain_duplicates(&self) -> bool {
        self.spec.retain_duplicates
    }
    fn get(&self, _ctx: &StoreContext) -> Result<Box<dyn WindowBytesStore>> {
        let s = &self.spec;
        Ok(Box::new(InMemoryWindowStore::new(
            &s.name,
            s.retention,
            s.window_size,
            s.retain_duplicates,
        )))
    }
}
