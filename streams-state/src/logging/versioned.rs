//! The change-logging layer of versioned stores.

use streams_core::Result;
use streams_core::state::{StateStore, StoreContext, VersionedBytesStore, VersionedRecord};

use super::Log;
use crate::delegate::delegate_state_store;

/// Logs every put and delete of a versioned bytes store to
/// `<application.id>-<store>-changelog`, as Kafka Streams'
/// `ChangeLoggingVersionedKeyValueBytesStore`: the record key is the store key, the value
/// the plain value (null for a tombstone or a delete), and the record timestamp the
/// version's timestamp, which restoring replays as the version's. Like Kafka Streams, it logs
/// a write the store below rejected as too old too; restoring skips it again.
pub struct ChangeLoggingVersionedBytesStore {
    inner: Box<dyn VersionedBytesStore>,
    log: Log,
}

impl std::fmt::Debug for ChangeLoggingVersionedBytesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLoggingVersionedBytesStore")
            .field("store", &self.log.store)
            .field("topic", &self.log.topic)
            .field("partition", &self.log.partition)
            .finish_non_exhaustive()
    }
}

impl ChangeLoggingVersionedBytesStore {
    /// Wraps `inner`, logging through `ctx`'s changelog writer.
    pub fn new(inner: Box<dyn VersionedBytesStore>, ctx: &StoreContext) -> Self {
        let log = Log::new(inner.name(), ctx, false);
        ChangeLoggingVersionedBytesStore { inner, log }
    }
}

impl StateStore for ChangeLoggingVersionedBytesStore {
    delegate_state_store!(inner);
}

impl VersionedBytesStore for ChangeLoggingVersionedBytesStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64> {
        let valid_to = self.inner.put(key, value, timestamp)?;
        self.log.send_at(key, value, timestamp)?;
        Ok(valid_to)
    }

    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        let old = self.inner.delete(key, timestamp)?;
        self.log.send_at(key, None, timestamp)?;
        Ok(old)
    }

    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        self.inner.get(key)
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord<Vec<u8>>>> {
        self.inner.get_as_of(key, as_of)
    }

    fn history_retention(&self) -> i64 {
        self.inner.history_retention()
    }
}
