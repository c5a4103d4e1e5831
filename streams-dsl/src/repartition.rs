//! Repartitioning through an internal topic, shared by groupings, joins, `to_table` and
//! `repartition`, and whether a stream needs it.
//!
//! Kafka Streams' `createRepartitionedSource`: a filter under the stream's node, a sink
//! writing to `<application.id>-<prefix>-repartition`, and a new source reading it back,
//! which starts a new sub-topology. Records are partitioned by murmur2 of their new key.

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::topology::{InternalTopic, InternalTopicKind};
use streams_core::{Consumed, Error, Produced, Record, Result, SerdeRef};

use crate::builder::Shared;

/// The suffix of every repartition topic.
const REPARTITION_TOPIC_SUFFIX: &str = "-repartition";

/// Whether the records of a stream are still partitioned by their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partitioning {
    /// They are: a grouping or join downstream reads them where they are.
    ByKey,
    /// An upstream operator may have changed the key: a grouping or join downstream must
    /// repartition first.
    KeyChanged,
}

impl Partitioning {
    /// Whether a grouping or join downstream must repartition.
    pub(crate) fn requires_repartition(self) -> bool {
        self == Partitioning::KeyChanged
    }

    /// The partitioning of two streams merged into one: a changed key on either side
    /// carries over.
    pub(crate) fn merged(self, other: Partitioning) -> Partitioning {
        if self.requires_repartition() || other.requires_repartition() {
            Partitioning::KeyChanged
        } else {
            Partitioning::ByKey
        }
    }
}

/// What the filter in front of a repartition sink does with null keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NullKeys {
    /// Drops them: nothing downstream can use a record without a key (an aggregation, an
    /// inner join).
    Drop,
    /// Passes them on: a left or outer join downstream still joins a record with a null
    /// key against nothing (Kafka Streams' relaxed null-key joins).
    Keep,
}

/// The filter in front of a repartition sink.
struct RepartitionFilter<K> {
    key_serde: SerdeRef<K>,
    null_keys: NullKeys,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for RepartitionFilter<K> {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if self.null_keys == NullKeys::Drop && self.key_serde.is_null(&record.key) {
            return Ok(());
        }
        ctx.forward(record)
    }
}

/// Whether `name` is a generated node name (`KSTREAM...-<10 digits>`), as Java's
/// `matches("KSTREAM.*-[0-9]{10}")`.
fn is_generated(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("KSTREAM") else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() >= 11
        && bytes[bytes.len() - 11] == b'-'
        && bytes[bytes.len() - 10..].iter().all(u8::is_ascii_digit)
}

/// Repartitions the records of node `parent` through the topic `<prefix>-repartition` (the
/// suffix is not doubled when `prefix` has it), dropping records with a null key, and
/// returns the name of the source node that reads the topic back. Groupings and `to_table`
/// repartition this way: records are partitioned by murmur2 of their key.
///
/// Node names follow Kafka Streams: three indexes are taken (sink, filter, source, in that
/// order); a generated `prefix` (`KSTREAM...-0000000007`) gives generated node names, any
/// other gives `<topic>-filter`, `<topic>-sink` and `<topic>-source`. Missing serdes fail
/// [`StreamsBuilder::build`](crate::StreamsBuilder::build) with an error naming the topic.
pub(crate) fn add_repartition<K, V>(
    builder: &Shared,
    parent: &str,
    prefix: &str,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
) -> String
where
    K: Clone + 'static,
    V: Clone + 'static,
{
    add_repartition_with(
        builder,
        parent,
        prefix,
        key_serde,
        value_serde,
        NullKeys::Drop,
    )
}

/// [`add_repartition`], choosing what happens to records with a null key.
pub(crate) fn add_repartition_with<K, V>(
    builder: &Shared,
    parent: &str,
    prefix: &str,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    null_keys: NullKeys,
) -> String
where
    K: Clone + 'static,
    V: Clone + 'static,
{
    add_repartition_topic(
        builder,
        parent,
        prefix,
        key_serde,
        value_serde,
        null_keys,
        None,
    )
}

/// [`add_repartition_with`], with a fixed partition count for the topic when `partitions`
/// is given.
pub(crate) fn add_repartition_topic<K, V>(
    builder: &Shared,
    parent: &str,
    prefix: &str,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    null_keys: NullKeys,
    partitions: Option<i32>,
) -> String
where
    K: Clone + 'static,
    V: Clone + 'static,
{
    let topic = if prefix.ends_with(REPARTITION_TOPIC_SUFFIX) {
        prefix.to_owned()
    } else {
        format!("{prefix}{REPARTITION_TOPIC_SUFFIX}")
    };
    let mut st = builder.borrow_mut();
    let generated_sink = st.new_name("KSTREAM-SINK-");
    let generated_filter = st.new_name("KSTREAM-FILTER-");
    let generated_source = st.new_name("KSTREAM-SOURCE-");
    let (sink, filter, source) = if is_generated(prefix) {
        (generated_sink, generated_filter, generated_source)
    } else {
        (
            format!("{topic}-sink"),
            format!("{topic}-filter"),
            format!("{topic}-source"),
        )
    };
    let (Some(key_serde), Some(value_serde)) = (key_serde, value_serde) else {
        st.fail(Error::Topology(format!(
            "repartition topic '{topic}' needs a key serde and a value serde: the stream does not \
             know them after an operator changed its types, so pass them to the grouping or join"
        )));
        return source;
    };
    if let Some(n) = partitions
        && n < 1
    {
        st.fail(Error::Topology(format!(
            "repartition topic '{topic}' needs at least one partition, not {n}"
        )));
        return source;
    }
    st.topology.add_internal_topic(InternalTopic {
        name: topic.clone(),
        kind: InternalTopicKind::Repartition,
        partitions,
    });
    let filter_serde = key_serde.clone();
    let r = st
        .topology
        .add_processor::<K, V, K, V, _, _>(
            &filter,
            move || RepartitionFilter {
                key_serde: filter_serde.clone(),
                null_keys,
            },
            &[parent],
        )
        .and_then(|t| {
            t.add_sink(
                &sink,
                &topic,
                Produced::with(key_serde.clone(), value_serde.clone()),
                &[filter.as_str()],
            )
        })
        .and_then(|t| {
            t.add_source(
                &source,
                &[topic.as_str()],
                Consumed::with(key_serde, value_serde),
            )
        })
        .map(|_| ());
    st.record(r);
    source
}

#[cfg(test)]
mod tests {
    use super::is_generated;

    #[test]
    fn generated_names_are_recognised_as_java_does() {
        assert!(is_generated("KSTREAM-KEY-SELECT-0000000001"));
        assert!(is_generated("KSTREAM-AGGREGATE-STATE-STORE-0000000002"));
        assert!(!is_generated("KSTREAM-KEY-SELECT-000000001"));
        assert!(!is_generated("my-join-left"));
        assert!(!is_generated("KSTREAM-0000000001x"));
    }
}
