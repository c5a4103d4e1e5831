//! Option structs for sources, sinks and node names.

use std::fmt;
use std::sync::Arc;

use crate::processor::TimestampExtractor;
use crate::serde::SerdeRef;

/// A name for an operator's processor node, instead of a generated one such as
/// `KSTREAM-FILTER-0000000001`.
///
/// # Examples
///
/// ```
/// use streams_core::Named;
/// assert_eq!(Named::as_("high-value-orders").name(), "high-value-orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named(String);

impl Named {
    /// A node name. Like Kafka Streams, names may use ASCII letters, digits, `.`, `_` and `-`,
    /// up to 249 characters; other names are rejected when the topology is built.
    pub fn as_(name: impl Into<String>) -> Self {
        Named(name.into())
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// Where a source starts reading a partition that has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// From the beginning of the partition.
    #[default]
    Earliest,
    /// From the end: only records produced after the application started.
    Latest,
}

/// How a source topic is read: serdes, timestamp extractor, node name, offset reset.
///
/// # Examples
///
/// ```
/// use streams_core::Consumed;
/// use streams_core::serde::Serdes;
///
/// let consumed = Consumed::with(Serdes::string(), Serdes::i64()).with_name("orders-source");
/// # let _ = consumed;
/// ```
pub struct Consumed<K, V> {
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    pub(crate) name: Option<String>,
    pub(crate) offset_reset: Option<OffsetReset>,
}

impl<K, V> Consumed<K, V> {
    /// Reads keys and values with the given serdes.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Consumed {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            extractor: None,
            name: None,
            offset_reset: None,
        }
    }

    /// Takes each record's timestamp from `extractor` instead of the record itself.
    #[must_use]
    pub fn with_timestamp_extractor(mut self, extractor: impl TimestampExtractor<K, V>) -> Self {
        self.extractor = Some(Arc::new(extractor));
        self
    }

    /// Names the source node.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Where to start when the group has no committed offset.
    #[must_use]
    pub fn with_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.offset_reset = Some(reset);
        self
    }

    /// The source node's name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Applies a typed extractor to records whose key and value may be null: a record with a null
/// key or value keeps its own timestamp (checked as the default extractor does).
struct NullableExtractor<K, V>(Arc<dyn TimestampExtractor<K, V>>);

impl<K: 'static, V: 'static> TimestampExtractor<Option<K>, Option<V>> for NullableExtractor<K, V> {
    fn extract(
        &self,
        key: &Option<K>,
        value: &Option<V>,
        ts: i64,
        partition_time: i64,
    ) -> Result<i64, String> {
        match (key, value) {
            (Some(k), Some(v)) => self.0.extract(k, v, ts, partition_time),
            _ => crate::processor::FailOnInvalidTimestamp.extract(&(), &(), ts, partition_time),
        }
    }
}

impl<K: 'static, V: 'static> Consumed<K, V> {
    /// The same options for a source whose keys and values may be null on the wire, as a
    /// table's source is: the serdes are wrapped in [`Serdes::option`](crate::serde::Serdes::option).
    pub fn into_nullable(self) -> Consumed<Option<K>, Option<V>> {
        Consumed {
            key_serde: self.key_serde.map(crate::serde::Serdes::option),
            value_serde: self.value_serde.map(crate::serde::Serdes::option),
            extractor: self.extractor.map(|x| {
                Arc::new(NullableExtractor(x)) as Arc<dyn TimestampExtractor<Option<K>, Option<V>>>
            }),
            name: self.name,
            offset_reset: self.offset_reset,
        }
    }
}

impl<K, V> fmt::Debug for Consumed<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumed")
            .field("name", &self.name)
            .field("offset_reset", &self.offset_reset)
            .field("custom_extractor", &self.extractor.is_some())
            .finish()
    }
}

/// Chooses the partition of an output record; `None` leaves it to the default rule.
///
/// Closures `Fn(&str, &K, &V, i32) -> Option<i32>` (topic, key, value, partition count) are
/// partitioners.
pub trait StreamPartitioner<K, V>: Send + Sync + 'static {
    /// The partition for the record, in `0..num_partitions`, or `None` for the default.
    fn partition(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<i32>;
}

impl<K, V, F> StreamPartitioner<K, V> for F
where
    F: Fn(&str, &K, &V, i32) -> Option<i32> + Send + Sync + 'static,
{
    fn partition(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<i32> {
        self(topic, key, value, num_partitions)
    }
}

/// How records are written to a sink topic: serdes, partitioner, node name.
///
/// Without a partitioner, a record goes to `murmur2(serialized key) % partitions`, exactly
/// as Kafka's Java producer places it; a record with a null key is left to the producer.
pub struct Produced<K, V> {
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Produced<K, V> {
    /// Writes keys and values with the given serdes.
    pub fn with(key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Produced {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            partitioner: None,
            name: None,
        }
    }

    /// Keeps the serdes the stream already has; only useful with the other options.
    pub fn inherit() -> Self {
        Produced {
            key_serde: None,
            value_serde: None,
            partitioner: None,
            name: None,
        }
    }

    /// Places records with `partitioner`.
    #[must_use]
    pub fn with_partitioner(mut self, partitioner: impl StreamPartitioner<K, V>) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Names the sink node.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The sink node's name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Fills in serdes that were not given from `key`/`value`.
    #[must_use]
    pub fn or_serdes(mut self, key: Option<SerdeRef<K>>, value: Option<SerdeRef<V>>) -> Self {
        if self.key_serde.is_none() {
            self.key_serde = key;
        }
        if self.value_serde.is_none() {
            self.value_serde = value;
        }
        self
    }

    /// The key serde, if known.
    pub fn key_serde(&self) -> Option<&SerdeRef<K>> {
        self.key_serde.as_ref()
    }

    /// The value serde, if known.
    pub fn value_serde(&self) -> Option<&SerdeRef<V>> {
        self.value_serde.as_ref()
    }
}

impl<K, V> Consumed<K, V> {
    /// Fills in serdes that were not given from `key`/`value`.
    #[must_use]
    pub fn or_serdes(mut self, key: Option<SerdeRef<K>>, value: Option<SerdeRef<V>>) -> Self {
        if self.key_serde.is_none() {
            self.key_serde = key;
        }
        if self.value_serde.is_none() {
            self.value_serde = value;
        }
        self
    }

    /// The key serde, if known.
    pub fn key_serde(&self) -> Option<&SerdeRef<K>> {
        self.key_serde.as_ref()
    }

    /// The value serde, if known.
    pub fn value_serde(&self) -> Option<&SerdeRef<V>> {
        self.value_serde.as_ref()
    }
}

impl<K, V> fmt::Debug for Produced<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Produced")
            .field("name", &self.name)
            .field("custom_partitioner", &self.partitioner.is_some())
            .finish()
    }
}
