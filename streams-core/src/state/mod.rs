//! State stores: the traits the runtime and processors use, and the machinery that keeps
//! stores durable (changelogs, checkpoints, the state directory and the state manager).
//!
//! The implementations (RocksDB, in-memory, the caching and change-logging layers, the
//! typed wrappers and the `Stores` facade) live in the `streams-state` crate. The runtime
//! only depends on what is here.
//!
//! # Layers
//!
//! A store seen by a processor is a stack, as in Kafka Streams:
//!
//! ```text
//! typed store (serdes)  ->  caching  ->  change-logging  ->  bytes store (RocksDB / memory)
//! ```
//!
//! Every layer below the typed one implements the same bytes-level trait
//! ([`KeyValueBytesStore`] or [`WindowBytesStore`]); all of them implement [`StateStore`]
//! for their lifecycle.
//!
//! # Ownership
//!
//! A task owns one [`StateManager`]. The manager builds each store from its
//! [`StoreBuilder`] into a [`BuiltStore`], restores it from its changelog, and keeps it for
//! flushing, checkpointing and closing. A processor gets its typed store once, at init, with
//! [`StateManager::store`] followed by [`BuiltStore::downcast`]-style `Rc::downcast`.

mod builder;
mod changelog;
mod checkpoint;
mod directory;
mod global;
mod manager;
mod store;
mod store_metrics;
mod stored_position;
mod typed;
mod versioned;

pub use builder::{
    BuiltStore, ChangelogWriter, StoreBuilder, StoreContext,
    WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS, changelog_topic_name, key_value_changelog_config,
    versioned_changelog_config, window_changelog_config,
};
pub use changelog::{ChangelogReader, InMemoryChangelog, OwnedChangelogRecord};
pub use checkpoint::{CHECKPOINT_FILE_NAME, OffsetCheckpoint};
pub use directory::{StateDirectory, TaskDirLock};
pub use global::GlobalStore;
pub(crate) use global::GlobalStores;
pub use manager::{
    CHECKPOINT_OFFSET_DELTA, RestoreSummary, StateManager, StateRestoreListener,
    StoreRestoreSummary,
};
pub use store::{
    CacheFlushEntry, ChangelogRecord, KeyValueBytesIter, KeyValueBytesStore, StateStore,
    WindowBytesEntry, WindowBytesIter, WindowBytesStore,
};
pub use store_metrics::StoreMetrics;
pub use stored_position::StoredPosition;
pub use typed::{
    KeyValueIter, KeyValueStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, ValueAndTimestamp,
    ValueAndTimestampSerde, WindowIter, WindowStore, WindowedIter,
};
pub use versioned::{
    PUT_RETURN_CODE_NOT_PUT, PUT_RETURN_CODE_VALID_TO_UNDEFINED, VersionedBytesStore,
    VersionedRecord,
};
