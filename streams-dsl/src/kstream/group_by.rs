//! `group_by_key` and `group_by`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use crate::kgrouped::KGroupedStream;
use crate::materialized::Grouped;
use crate::repartition::Partitioning;

/// Sets the key of each record with the selector, as Kafka Streams' `KStreamMap` for a
/// key-changing grouping.
struct KeySelect<F> {
    selector: Arc<F>,
}

impl<K, V, KR, F> Processor<K, V, KR, V> for KeySelect<F>
where
    KR: Clone + 'static,
    V: Clone + 'static,
    F: Fn(&K, &V) -> KR + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, KR, V>,
    ) -> Result<()> {
        let key = (self.selector)(&record.key, &record.value);
        ctx.forward(Record {
            key,
            value: record.value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Groups the records by their key for an aggregation, as Kafka Streams'
    /// `groupByKey()`.
    ///
    /// When an upstream operator may have changed the key
    /// ([`is_repartition_required`](Self::is_repartition_required)), the aggregation first
    /// writes the records to a repartition topic `<application.id>-<store>-repartition`,
    /// partitioned by murmur2 of the key, so that all records of a key meet in one task.
    /// Otherwise no topic is added. The grouping uses the stream's serdes.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let grouped = builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key();
    /// assert!(!grouped.is_repartition_required());
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn group_by_key(&self) -> KGroupedStream<K, V> {
        self.group_by_key_with(Grouped::default())
    }

    /// [`group_by_key`](Self::group_by_key) with serdes and a repartition topic name given
    /// by `grouped` (a named grouping writes `<application.id>-<name>-repartition`).
    pub fn group_by_key_with(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream {
            builder: self.builder.clone(),
            node: self.node.clone(),
            key_serde: grouped.key_serde.or_else(|| self.key_serde.clone()),
            value_serde: grouped.value_serde.or_else(|| self.value_serde.clone()),
            partitioning: self.partitioning,
            name: grouped.name,
            next_name: None,
            repartition_source: Rc::new(RefCell::new(None)),
        }
    }

    /// Groups the records by the key `selector` returns, as Kafka Streams' `groupBy`: the
    /// aggregation always goes through a repartition topic, partitioned by murmur2 of the
    /// new key. Records whose new key is null (by the key serde) are dropped before the
    /// repartition topic.
    ///
    /// The new key's serde must be given with [`group_by_with`](Self::group_by_with);
    /// without it the build fails. The value serde carries over.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(|_, v| v.len() as i64, Grouped::with(Serdes::i64(), Serdes::string()))
    ///     .count()
    ///     .to_stream()
    ///     .to("by-length", Produced::with(Serdes::i64(), Serdes::option(Serdes::i64())));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"));
    /// let config = StreamsConfig::new().set("application.id", "app").set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(topology, config)?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("by-length", Serdes::i64(), Serdes::option(Serdes::i64()));
    /// input.pipe_key_value_list([("a", "xy"), ("b", "zz"), ("c", "w")].map(|(k, v)| (k.to_string(), v.to_string())))?;
    /// assert_eq!(out.read_key_values_to_list()?, vec![(2, Some(1)), (2, Some(2)), (1, Some(1))]);
    /// assert!(driver.produced_topic_names().contains(&"app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition".to_string()));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn group_by<KR, F>(&self, selector: F) -> KGroupedStream<KR, V>
    where
        KR: Clone + 'static,
        F: Fn(&K, &V) -> KR + Send + Sync + 'static,
    {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with serdes and a name given by `grouped`. A named
    /// grouping also names the key-selecting node after it.
    pub fn group_by_with<KR, F>(
        &self,
        selector: F,
        grouped: Grouped<KR, V>,
    ) -> KGroupedStream<KR, V>
    where
        KR: Clone + 'static,
        F: Fn(&K, &V) -> KR + Send + Sync + 'static,
    {
        let selector = Arc::new(selector);
        let named = match (&grouped.name, &self.next_name) {
            (Some(n), _) => self.named(n.clone()),
            (None, _) => self.clone(),
        };
        let keyed: KStream<KR, V> = named.add(
            "KSTREAM-KEY-SELECT-",
            move || KeySelect {
                selector: Arc::clone(&selector),
            },
            None,
            self.value_serde.clone(),
            Partitioning::KeyChanged,
        );
        KGroupedStream {
            builder: self.builder.clone(),
            node: keyed.node,
            key_serde: grouped.key_serde,
            value_serde: grouped.value_serde.or_else(|| self.value_serde.clone()),
            partitioning: Partitioning::KeyChanged,
            name: grouped.name,
            next_name: None,
            repartition_source: Rc::new(RefCell::new(None)),
        }
    }
}
