//! This crate's error type.

use std::path::PathBuf;

/// What can go wrong inside a store implementation.
///
/// Store methods return [`streams_core::Error`]; this error is kept as the `source` of the
/// [`Error::Store`](streams_core::Error::Store) it converts into, except for
/// [`StateError::Corrupted`], which becomes
/// [`Error::StoreCorrupted`](streams_core::Error::StoreCorrupted) so that the state manager
/// wipes the store and restores it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// RocksDB reported an error.
    #[error("RocksDB failed to {op} in store '{store}'")]
    RocksDb {
        /// The store.
        store: String,
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: rocksdb::Error,
    },

    /// RocksDB found the store's files damaged when opening them.
    #[error("store '{store}' has damaged files in '{}'", path.display())]
    Corrupted {
        /// The store.
        store: String,
        /// Its directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rocksdb::Error,
    },

    /// A file-system operation failed.
    #[error("cannot {op} '{}' for store '{store}'", path.display())]
    Io {
        /// The store.
        store: String,
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The store was used after [`close`](streams_core::state::StateStore::close).
    #[error("store '{store}' is closed")]
    Closed {
        /// The store.
        store: String,
    },

    /// An argument or configuration is invalid.
    #[error("invalid argument for store '{store}': {reason}")]
    InvalidArgument {
        /// The store.
        store: String,
        /// What is wrong.
        reason: String,
    },

    /// A write through a stream task's view of a global store: only the global processor
    /// writes global stores.
    #[error(
        "store '{store}' is a global store and read-only here; only its global processor writes it"
    )]
    ReadOnly {
        /// The store.
        store: String,
    },

    /// A changelog record does not have the layout the store expects.
    #[error("malformed changelog record at offset {offset} for store '{store}': {reason}")]
    MalformedRecord {
        /// The store.
        store: String,
        /// The record's offset.
        offset: i64,
        /// What is wrong.
        reason: String,
    },
}

impl StateError {
    fn store(&self) -> &str {
        match self {
            StateError::RocksDb { store, .. }
            | StateError::Corrupted { store, .. }
            | StateError::Io { store, .. }
            | StateError::Closed { store }
            | StateError::ReadOnly { store }
            | StateError::InvalidArgument { store, .. }
            | StateError::MalformedRecord { store, .. } => store,
        }
    }

    /// The error of a failed RocksDB operation on `store`; the store name is copied only
    /// when it fails (this wraps every read and write).
    pub(crate) fn rocks<'a>(
        store: &'a str,
        op: &'static str,
    ) -> impl FnOnce(rocksdb::Error) -> StateError + 'a {
        move |source| StateError::RocksDb {
            store: store.to_owned(),
            op,
            source,
        }
    }

    pub(crate) fn closed(store: &str) -> StateError {
        StateError::Closed {
            store: store.to_owned(),
        }
    }
}

impl From<StateError> for streams_core::Error {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Corrupted {
                store,
                path,
                source,
            } => streams_core::Error::StoreCorrupted {
                store,
                path: path.display().to_string(),
                source: Some(Box::new(source)),
            },
            other => {
                let store = other.store().to_owned();
                let reason = other.to_string();
                streams_core::Error::Store {
                    store,
                    reason,
                    source: Some(Box::new(other)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn converts_into_core_errors_keeping_the_cause() {
        let io = StateError::Io {
            store: "s".into(),
            op: "create",
            path: PathBuf::from("/x"),
            source: std::io::Error::other("disk full"),
        };
        let core: streams_core::Error = io.into();
        assert!(matches!(&core, streams_core::Error::Store { store, .. } if store == "s"));
        let source = core.source().map(|s| s.to_string()).unwrap_or_default();
        assert!(source.contains("cannot create '/x'"), "{source}");
        let closed: streams_core::Error = StateError::closed("c").into();
        assert!(closed.to_string().contains("'c'"));
    }
}
