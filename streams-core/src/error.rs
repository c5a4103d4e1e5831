//! The crate's error type.

use std::error::Error as StdError;

/// A boxed error from user code or a lower layer, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in `streams-core`.
///
/// Each variant names what failed and where, and keeps the underlying cause as its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be serialized.
    #[error("failed to serialize {what} for topic '{topic}'")]
    Serialization {
        /// What was being serialized (for example "key" or "value of type Order").
        what: String,
        /// The topic the bytes were meant for.
        topic: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// Bytes could not be deserialized.
    #[error("failed to deserialize {what} from topic '{topic}'")]
    Deserialization {
        /// What was being deserialized.
        what: String,
        /// The topic the bytes came from.
        topic: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// The topology is invalid: a missing parent, a duplicate name, a type mismatch and so on.
    #[error("invalid topology: {0}")]
    Topology(String),

    /// A configuration key is unknown or its value is invalid.
    #[error("invalid configuration '{key}': {reason}")]
    Config {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A user processor or callback failed while processing a record.
    #[error("processing failed in node '{node}'")]
    Processing {
        /// The node whose processor failed.
        node: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// A state store operation failed.
    #[error("state store '{store}' failed: {reason}")]
    Store {
        /// The store's name.
        store: String,
        /// What was being done.
        reason: String,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// A state store was requested that the node is not connected to, or with the wrong type.
    #[error(
        "state store '{0}' is not available to this processor (not connected, or of another type)"
    )]
    StoreNotAvailable(String),

    /// An interactive query cannot be answered now, but may be soon: the instance is not
    /// running, the group is rebalancing, a task is restoring, or the key's task is held by
    /// another instance. Java's (retriable) `InvalidStateStoreException`.
    #[error("store '{store}' cannot be queried now: {reason}")]
    QueryUnavailable {
        /// The store queried.
        store: String,
        /// Why not.
        reason: String,
    },

    /// An interactive query names a store the topology does not have (Java's
    /// `UnknownStateStoreException`).
    #[error("unknown state store '{0}'")]
    UnknownStore(String),

    /// The state directory could not be used.
    #[error("state directory '{path}': {reason}")]
    StateDir {
        /// The directory.
        path: String,
        /// What went wrong.
        reason: String,
        /// The cause, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },

    /// A topic is unknown to the topology or the driver.
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),

    /// An I/O error.
    #[error("I/O error: {context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The Kafka client reported an error.
    #[error("Kafka error: {context}")]
    Kafka {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// The application is not in a state that allows the call.
    #[error("illegal state: {0}")]
    IllegalState(String),

    /// An operation did not complete in time.
    #[error("timed out: {0}")]
    Timeout(String),

    /// The thread's tasks no longer belong to it, as Kafka Streams' `TaskMigratedException`:
    /// its group membership ended (the poll interval was exceeded, the generation is stale,
    /// the member is unknown) or its producer was fenced. The runtime closes the tasks
    /// without committing, creates its clients anew and rejoins the group.
    #[error("tasks migrated: {context}")]
    TaskMigrated {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// Work since the last commit cannot be committed, as Kafka Streams'
    /// `TaskCorruptedException`: a retriable delivery failure, a transaction that timed out
    /// or must be aborted. The runtime aborts what is uncommitted, closes the tasks without
    /// committing (under exactly-once their stores are restored from the changelogs) and
    /// processes again from the last committed offsets.
    #[error("uncommitted work lost: {context}")]
    TaskCorrupted {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// A changelog partition no longer holds the offset a restore must read from:
    /// retention or `DeleteRecords` moved its start past the store's checkpoint. The state
    /// manager answers it by wiping the store and restoring it from the log start.
    #[error("changelog {topic}-{partition} no longer holds the restore position")]
    ChangelogOutOfRange {
        /// The changelog topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// The cause.
        #[source]
        source: BoxError,
    },

    /// A persistent state store's files are damaged. The state manager answers it by wiping
    /// the store and restoring it in full from its changelog.
    #[error("state store '{store}' is corrupted at '{path}'")]
    StoreCorrupted {
        /// The store's name.
        store: String,
        /// The store's directory.
        path: String,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// A deserialization error for the given topic, with a message as its cause.
    pub fn deserialization(
        what: impl Into<String>,
        topic: &str,
        cause: impl Into<BoxError>,
    ) -> Self {
        Error::Deserialization {
            what: what.into(),
            topic: topic.to_owned(),
            source: cause.into(),
        }
    }

    /// A serialization error for the given topic, with a message as its cause.
    pub fn serialization(what: impl Into<String>, topic: &str, cause: impl Into<BoxError>) -> Self {
        Error::Serialization {
            what: what.into(),
            topic: topic.to_owned(),
            source: cause.into(),
        }
    }

    /// A state store error with a cause.
    pub fn store(
        store: impl Into<String>,
        reason: impl Into<String>,
        cause: impl Into<BoxError>,
    ) -> Self {
        Error::Store {
            store: store.into(),
            reason: reason.into(),
            source: Some(cause.into()),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
