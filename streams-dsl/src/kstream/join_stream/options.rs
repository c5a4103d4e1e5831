//! `StreamJoined`: the serdes, names and store options of a stream-stream join.

use std::collections::BTreeMap;

use streams_core::SerdeRef;

use crate::materialized::StoreType;

/// Serdes, names and store options of a stream-stream join, as Kafka Streams' `StreamJoined`.
///
/// Serdes not given are taken from the streams: the key serde from the left stream (or the
/// right), the value serdes from each side. A join whose stores would lack a serde fails
/// [`StreamsBuilder::build`](crate::StreamsBuilder::build) with an error naming the join.
///
/// # Names
///
/// Without a name, node and store names are generated as Kafka Streams generates them
/// (`KSTREAM-JOINTHIS-0000000004`, store `KSTREAM-JOINTHIS-0000000004-store`, ...).
/// [`with_name`](Self::with_name) names the nodes `<name>-this-windowed`,
/// `<name>-other-windowed`, `<name>-this-join` (`-outer-this-join` for an outer join),
/// `<name>-other-join` (`-outer-other-join` for left and outer joins) and `<name>-merge`,
/// and repartition topics `<name>-left-repartition` / `<name>-right-repartition`.
/// [`with_store_name`](Self::with_store_name) names the stores `<store>-this-join-store`,
/// `<store>-other-join-store` (with the same `outer-` prefixes) and the shared store
/// `<store>-left-shared-join-store` or `<store>-outer-shared-join-store`, whose changelogs
/// are `<application.id>-<store name>-changelog`.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let joined: StreamJoined<String, i64, String> =
///     StreamJoined::with(Serdes::string(), Serdes::i64(), Serdes::string())
///         .with_name("orders-payments")
///         .with_store_name("orders-payments-store");
/// assert_eq!(joined.name(), Some("orders-payments"));
/// assert_eq!(joined.store_name(), Some("orders-payments-store"));
/// ```
pub struct StreamJoined<K, V, VO> {
    pub(super) key_serde: Option<SerdeRef<K>>,
    pub(super) value_serde: Option<SerdeRef<V>>,
    pub(super) other_value_serde: Option<SerdeRef<VO>>,
    pub(super) name: Option<String>,
    pub(super) store_name: Option<String>,
    pub(super) logging: bool,
    pub(super) logging_config: BTreeMap<String, String>,
    pub(super) store_type: StoreType,
}

impl<K, V, VO> Default for StreamJoined<K, V, VO> {
    fn default() -> Self {
        StreamJoined {
            key_serde: None,
            value_serde: None,
            other_value_serde: None,
            name: None,
            store_name: None,
            logging: true,
            logging_config: BTreeMap::new(),
            store_type: StoreType::default(),
        }
    }
}

impl<K, V, VO> std::fmt::Debug for StreamJoined<K, V, VO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJoined")
            .field("name", &self.name)
            .field("store_name", &self.store_name)
            .field("logging", &self.logging)
            .field("store_type", &self.store_type)
            .finish_non_exhaustive()
    }
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    /// A join with the given key serde and value serdes of the left (`value_serde`) and
    /// right (`other_value_serde`) streams.
    pub fn with(
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        other_value_serde: SerdeRef<VO>,
    ) -> Self {
        StreamJoined {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            other_value_serde: Some(other_value_serde),
            ..StreamJoined::default()
        }
    }

    /// A join that takes every serde from the streams.
    pub fn inherit() -> Self {
        StreamJoined::default()
    }

    /// Sets the key serde.
    #[must_use]
    pub fn with_key_serde(mut self, serde: SerdeRef<K>) -> Self {
        self.key_serde = Some(serde);
        self
    }

    /// Sets the value serde of the left stream.
    #[must_use]
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// Sets the value serde of the right stream.
    #[must_use]
    pub fn with_other_value_serde(mut self, serde: SerdeRef<VO>) -> Self {
        self.other_value_serde = Some(serde);
        self
    }

    /// Names the join's nodes and repartition topics (see the type's documentation).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the join's stores, and so their changelog topics (see the type's documentation).
    #[must_use]
    pub fn with_store_name(mut self, store_name: impl Into<String>) -> Self {
        self.store_name = Some(store_name.into());
        self
    }

    /// Logs the stores to changelog topics (the default), created with `config` over the
    /// defaults. The window stores' changelogs always use `cleanup.policy=delete`, as they
    /// hold duplicates.
    #[must_use]
    pub fn with_logging_enabled(mut self, config: BTreeMap<String, String>) -> Self {
        self.logging = true;
        self.logging_config = config;
        self
    }

    /// No changelogs: the join's state is not restored after a restart or a move.
    #[must_use]
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Which bytes stores back the join (RocksDB by default).
    #[must_use]
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = store_type;
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The store name, if one was given.
    pub fn store_name(&self) -> Option<&str> {
        self.store_name.as_deref()
    }
}
