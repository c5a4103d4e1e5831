//! `Materialized` and `Grouped`: how a table's store and a grouping's repartition are set up.

use std::collections::BTreeMap;
use std::time::Duration;

use streams_core::{Error, SerdeRef};

/// Which bytes store backs a materialized table or aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreType {
    /// RocksDB on local disk: the default, as in Kafka Streams.
    #[default]
    RocksDb,
    /// Memory only; restored from the changelog on restart.
    InMemory,
    /// A versioned RocksDB store (KIP-889) keeping every version of each key's value for
    /// `history_retention` behind the table's observed stream time, as Kafka Streams'
    /// `Stores.persistentVersionedKeyValueStore`: the table is always materialized, never
    /// cached, and stream-table joins look up the value as of the stream record's
    /// timestamp (KIP-914). For tables only (`StreamsBuilder::table_with`,
    /// `KStream::to_table_with`, foreign-key join results); an aggregation, a windowed
    /// store, a stream-stream join or a global table given this type fails the build.
    Versioned {
        /// How far behind the observed stream time old versions stay readable; updates
        /// older than that are dropped.
        history_retention: Duration,
    },
}

impl StoreType {
    /// Whether this is [`StoreType::Versioned`].
    pub fn is_versioned(&self) -> bool {
        matches!(self, StoreType::Versioned { .. })
    }
}

/// The build error of an operator that cannot keep its state in a versioned store.
pub(crate) fn versioned_store_unsupported(node: &str, what: &str) -> Error {
    Error::Topology(format!(
        "'{node}': {what} cannot use a versioned store (StoreType::Versioned); versioned stores \
         back tables only"
    ))
}

/// How the state store of a table or aggregation is made: its name (and so its changelog
/// topic), serdes, caching, logging, retention and store type.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::prelude::*;
///
/// let m: Materialized<String, i64> = Materialized::as_("revenue-per-hour")
///     .with_value_serde(Serdes::i64())
///     .with_caching_disabled()
///     .with_retention(Duration::from_secs(7 * 24 * 3600));
/// assert_eq!(m.store_name(), Some("revenue-per-hour"));
/// ```
pub struct Materialized<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) caching: bool,
    pub(crate) logging: bool,
    pub(crate) logging_config: BTreeMap<String, String>,
    pub(crate) retention: Option<Duration>,
    pub(crate) store_type: StoreType,
}

impl<K, V> Default for Materialized<K, V> {
    fn default() -> Self {
        Materialized {
            name: None,
            key_serde: None,
            value_serde: None,
            caching: true,
            logging: true,
            logging_config: BTreeMap::new(),
            retention: None,
            store_type: StoreType::default(),
        }
    }
}

impl<K, V> std::fmt::Debug for Materialized<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Materialized")
            .field("name", &self.name)
            .field("caching", &self.caching)
            .field("logging", &self.logging)
            .field("retention", &self.retention)
            .field("store_type", &self.store_type)
            .finish()
    }
}

impl<K, V> Materialized<K, V> {
    /// A store with the given name; its changelog is `<application.id>-<name>-changelog`.
    pub fn as_(name: impl Into<String>) -> Self {
        Materialized {
            name: Some(name.into()),
            ..Materialized::default()
        }
    }

    /// A store with a generated name and the given serdes.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Materialized {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            ..Materialized::default()
        }
    }

    /// Sets the key serde.
    #[must_use]
    pub fn with_key_serde(mut self, serde: SerdeRef<K>) -> Self {
        self.key_serde = Some(serde);
        self
    }

    /// Sets the value serde.
    #[must_use]
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// Turns the record cache off: every update is forwarded at once.
    #[must_use]
    pub fn with_caching_disabled(mut self) -> Self {
        self.caching = false;
        self
    }

    /// Turns the record cache on (the default): updates to one key are merged until commit.
    #[must_use]
    pub fn with_caching_enabled(mut self) -> Self {
        self.caching = true;
        self
    }

    /// Turns the changelog off: the store is not restored after a restart or a move.
    #[must_use]
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Turns the changelog on (the default) with extra topic configs.
    #[must_use]
    pub fn with_logging_enabled(mut self, config: BTreeMap<String, String>) -> Self {
        self.logging = true;
        self.logging_config = config;
        self
    }

    /// How long a window or session store keeps data; at least the window size plus grace.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Which bytes store to use.
    #[must_use]
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = store_type;
        self
    }

    /// The store name, if one was given.
    pub fn store_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether a table materialized this way keeps a store even when nothing downstream
    /// reads it: a named store is queryable, and a versioned one is how the table is
    /// versioned, as Kafka Streams' `Materialized.as(...)`.
    pub(crate) fn forces_store(&self) -> bool {
        self.name.is_some() || self.store_type.is_versioned()
    }
}

/// How a grouping repartitions: serdes for the repartition topic and its name.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let g = Grouped::with(Serdes::string(), Serdes::i64()).with_name("by-customer");
/// assert_eq!(g.name(), Some("by-customer"));
/// ```
pub struct Grouped<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
}

impl<K, V> Default for Grouped<K, V> {
    fn default() -> Self {
        Grouped {
            name: None,
            key_serde: None,
            value_serde: None,
        }
    }
}

impl<K, V> std::fmt::Debug for Grouped<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped").field("name", &self.name).finish()
    }
}

impl<K, V> Grouped<K, V> {
    /// Groups with the given serdes.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Grouped {
            name: None,
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
        }
    }

    /// Names the grouping: the repartition topic becomes `<application.id>-<name>-repartition`.
    pub fn as_(name: impl Into<String>) -> Self {
        Grouped {
            name: Some(name.into()),
            ..Grouped::default()
        }
    }

    /// Also names the grouping.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// How a stream-table join repartitions the stream when an upstream operator may have
/// changed its key: the serdes of the repartition topic and the join's name, as Kafka
/// Streams' `Joined`.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let j = Joined::with(Serdes::string(), Serdes::i64()).with_name("orders-by-customer");
/// assert_eq!(j.name(), Some("orders-by-customer"));
/// ```
pub struct Joined<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
}

impl<K, V> Default for Joined<K, V> {
    fn default() -> Self {
        Joined {
            name: None,
            key_serde: None,
            value_serde: None,
        }
    }
}

impl<K, V> std::fmt::Debug for Joined<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined").field("name", &self.name).finish()
    }
}

impl<K, V> Joined<K, V> {
    /// Joins with the given serdes for the stream's key and value.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Joined {
            name: None,
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
        }
    }

    /// Names the join: its processor is `<name>` and a repartition topic
    /// `<application.id>-<name>-repartition`.
    pub fn as_(name: impl Into<String>) -> Self {
        Joined {
            name: Some(name.into()),
            ..Joined::default()
        }
    }

    /// Also names the join.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
