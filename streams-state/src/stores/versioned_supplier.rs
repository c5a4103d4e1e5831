//! The supplier of RocksDB versioned stores.

use std::time::Duration;

use streams_core::state::{StoreContext, VersionedBytesStore};
use streams_core::{Error, Result};

use super::rocks_tuning::{RocksTuning, tuning_setters};
use super::supplier::VersionedBytesStoreSupplier;
use crate::rocks::RocksDbVersionedStore;

/// Supplies [`RocksDbVersionedStore`]s at `<task dir>/rocksdb/<name>`.
#[derive(Clone)]
pub struct RocksDbVersionedStoreSupplier {
    name: String,
    history_retention: i64,
    segment_interval: i64,
    tuning: RocksTuning,
}

impl std::fmt::Debug for RocksDbVersionedStoreSupplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbVersionedStoreSupplier")
            .field("name", &self.name)
            .field("history_retention", &self.history_retention)
            .field("segment_interval", &self.segment_interval)
            .finish_non_exhaustive()
    }
}

/// A duration in whole milliseconds, or a configuration error naming `key`.
fn millis(key: &str, d: Duration) -> Result<i64> {
    i64::try_from(d.as_millis()).map_err(|_| Error::Config {
        key: key.to_owned(),
        reason: format!("{d:?} is too large"),
    })
}

/// Kafka Streams' default segment interval for a history retention
/// (`RocksDbVersionedKeyValueBytesStoreSupplier.defaultSegmentInterval`).
fn default_segment_interval(history_retention: i64) -> i64 {
    if history_retention <= 60_000 {
        (history_retention / 3).max(2_000)
    } else if history_retention <= 300_000 {
        (history_retention / 5).max(20_000)
    } else if history_retention <= 3_600_000 {
        (history_retention / 12).max(60_000)
    } else {
        (history_retention / 24).max(300_000)
    }
}

impl RocksDbVersionedStoreSupplier {
    /// Stores named `name` keeping `history_retention` of history, dropped in steps of
    /// `segment_interval` (Kafka Streams' default for the retention when `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a duration does not fit in 64-bit milliseconds or the segment
    /// interval is under 1 ms.
    pub(super) fn new(
        name: String,
        history_retention: Duration,
        segment_interval: Option<Duration>,
    ) -> Result<Self> {
        let history_retention = millis("history_retention", history_retention)?;
        let segment_interval = match segment_interval {
            Some(d) => millis("segment_interval", d)?,
            None => default_segment_interval(history_retention),
        };
        if segment_interval < 1 {
            return Err(Error::Config {
                key: "segment_interval".into(),
                reason: format!("the segment interval of store '{name}' must be at least 1 ms"),
            });
        }
        Ok(RocksDbVersionedStoreSupplier {
            name,
            history_retention,
            segment_interval,
            tuning: RocksTuning::default(),
        })
    }

    tuning_setters!("store");
}

impl VersionedBytesStoreSupplier for RocksDbVersionedStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn history_retention(&self) -> i64 {
        self.history_retention
    }

    fn segment_interval(&self) -> i64 {
        self.segment_interval
    }

    fn get(&self, ctx: &StoreContext) -> Result<Box<dyn VersionedBytesStore>> {
        Ok(Box::new(RocksDbVersionedStore::open(
            &self.name,
            ctx.state_dir().join("rocksdb").join(&self.name),
            self.history_retention,
            self.segment_interval,
            self.tuning.resources(ctx.store_memory()),
            self.tuning.setter(),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_segment_intervals_follow_kafka_streams() {
        assert_eq!(default_segment_interval(0), 2_000);
        assert_eq!(default_segment_interval(60_000), 20_000);
        assert_eq!(default_segment_interval(300_000), 60_000);
        assert_eq!(default_segment_interval(3_600_000), 300_000);
        assert_eq!(default_segment_interval(86_400_000), 3_600_000);
    }
}
