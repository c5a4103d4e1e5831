//! Cogrouping: several grouped streams, each with its own value type and aggregator,
//! folded into one aggregate per key, as Kafka Streams' `CogroupedKStream` and
//! `CogroupedStreamAggregateBuilder`.

use std::rc::Rc;
use std::sync::Arc;

use streams_core::topology::Topology;
use streams_core::{Result, SerdeRef};

use super::shape::{AnyShape, FoldParts, KeyValueShape, Shape, ShapeKey};
use super::{AggregateFold, KGroupedStream, Windows, add_store, first_some};
use crate::builder::Shared;
use crate::kstream::merge::PassThrough;
use crate::ktable::{Change, KTable, SendOldValues};
use crate::materialized::Materialized;

/// The initializer every member of a cogroup starts a new aggregate with.
pub(super) type SharedInitializer<VA> = Arc<dyn Fn() -> VA + Send + Sync>;

/// How the aggregates of merging sessions combine.
pub(super) type SharedMerger<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;

/// One grouped stream of a cogroup with its aggregator; its value type is erased here,
/// once, when the topology is built.
trait Member<K, VA> {
    /// Which grouping this is: cogrouping the same grouping again replaces its aggregator.
    fn grouping(&self) -> *const ();

    /// The node the member's aggregation reads: the grouping, or its repartition topic's
    /// source, named after `store` unless the grouping is named.
    fn parent(&self, store: &str) -> String;

    /// Adds the member's aggregation processor.
    #[allow(clippy::too_many_arguments)]
    fn add_processor(
        &self,
        shape: AnyShape,
        topology: &mut Topology,
        node: &str,
        parent: &str,
        store: Arc<str>,
        initializer: SharedInitializer<VA>,
        merger: SharedMerger<K, VA>,
        send_old: Arc<SendOldValues>,
    ) -> Result<()>;
}

struct Grouping<K, V, A> {
    grouped: KGroupedStream<K, V>,
    aggregator: Arc<A>,
}

impl<K, V, VA, A> Member<K, VA> for Grouping<K, V, A>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
    A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
{
    fn grouping(&self) -> *const () {
        Rc::as_ptr(&self.grouped.repartition_source).cast()
    }

    fn parent(&self, store: &str) -> String {
        if !self.grouped.partitioning.requires_repartition() {
            return self.grouped.node.clone();
        }
        let prefix = self.grouped.name.as_deref().unwrap_or(store);
        crate::repartition::add_repartition(
            &self.grouped.builder,
            &self.grouped.node,
            prefix,
            self.grouped.key_serde.clone(),
            self.grouped.value_serde.clone(),
        )
    }

    fn add_processor(
        &self,
        shape: AnyShape,
        topology: &mut Topology,
        node: &str,
        parent: &str,
        store: Arc<str>,
        initializer: SharedInitializer<VA>,
        merger: SharedMerger<K, VA>,
        send_old: Arc<SendOldValues>,
    ) -> Result<()> {
        let aggregator = Arc::clone(&self.aggregator);
        let fold = AggregateFold {
            initializer: move || initializer(),
            aggregator: move |k: &K, v: V, agg: VA| aggregator(k, v, agg),
            merger: move |k: &K, agg: VA, session: VA| merger(k, agg, session),
        };
        let parts = FoldParts {
            store_name: store,
            fold: Arc::new(fold),
            key_serde: self.grouped.key_serde.clone(),
            value_serde: self.grouped.value_serde.clone(),
            send_old,
        };
        shape.add_processor(topology, node, parent, parts)
    }
}

/// Several grouped streams of one key type, each with its own value type and aggregator,
/// aggregated into one table, as Kafka Streams' `CogroupedKStream`.
///
/// Made by [`KGroupedStream::cogroup`]; more groupings join with [`cogroup`](Self::cogroup),
/// then [`aggregate`](Self::aggregate) (or [`windowed_by`](Self::windowed_by) first) adds
/// the topology. The rules are Kafka Streams':
///
/// - one store holds the aggregates (`COGROUPKSTREAM-AGGREGATE-STATE-STORE-<n>` unless
///   named); each grouping gets its own aggregation node (`COGROUPKSTREAM-AGGREGATE-<n>`, or
///   `<name>-cogroup-agg-<i>` when [`named`](Self::named)) folding its records into that
///   store with its aggregator, from the shared initializer; a pass-through node
///   (`COGROUPKSTREAM-MERGE-<n>` or `<name>-cogroup-merge`) merges their updates into the
///   resulting table;
/// - each grouping follows the rules of its own aggregation: records with a null key (by
///   the grouping's key serde) are dropped and counted, and for the non-windowed and
///   sliding aggregations so are null values; an update's timestamp is the largest record
///   timestamp folded into the aggregate, whichever grouping it came from;
/// - a grouping that needs repartitioning gets its repartition topic, named after the
///   grouping (`Grouped::as_`) or else after the store; two unnamed groupings that both
///   need it would make the same topic, which the build rejects as Kafka Streams does;
/// - the groupings' source topics must be co-partitioned;
/// - cogrouping the same grouping twice replaces its aggregator, keeping its place.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let builder = StreamsBuilder::new();
/// let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::i64())).group_by_key();
/// let views = builder.stream("views", Consumed::with(Serdes::string(), Serdes::string())).group_by_key();
/// clicks
///     .cogroup(|_user: &String, n: i64, agg: String| format!("{agg}c{n}"))
///     .cogroup(&views, |_user, page, agg| format!("{agg}v:{page}"))
///     .aggregate(String::new, Serdes::string())
///     .to_stream()
///     .to("activity", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
/// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
/// let driver = TopologyTestDriver::new(builder.build()?, config)?;
/// let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::i64());
/// let views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
/// let out = driver.create_output_topic("activity", Serdes::string(), Serdes::option(Serdes::string()));
/// clicks.pipe_record(TestRecord::new("u".to_string(), 2, 10))?;
/// views.pipe_record(TestRecord::new("u".to_string(), "home".to_string(), 5))?;
/// let got: Vec<_> = out.read_records_to_list()?.into_iter().map(|r| (r.value, r.timestamp)).collect();
/// assert_eq!(got, vec![(Some("c2".to_string()), 10), (Some("c2v:home".to_string()), 10)]);
/// # Ok::<(), streams_dsl::Error>(())
/// ```
pub struct CogroupedKStream<K, VA> {
    builder: Shared,
    members: Vec<Rc<dyn Member<K, VA>>>,
    /// The first grouping's key serde, which the store uses unless `Materialized` gives one.
    key_serde: Option<SerdeRef<K>>,
    next_name: Option<String>,
}

impl<K, VA> Clone for CogroupedKStream<K, VA> {
    fn clone(&self) -> Self {
        CogroupedKStream {
            builder: self.builder.clone(),
            members: self.members.clone(),
            key_serde: self.key_serde.clone(),
            next_name: self.next_name.clone(),
        }
    }
}

impl<K, VA> std::fmt::Debug for CogroupedKStream<K, VA> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CogroupedKStream")
            .field("groupings", &self.members.len())
            .field("name", &self.next_name)
            .finish()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedStream<K, V> {
    /// Starts a cogroup: this grouping's records are folded with `aggregator(key, value,
    /// aggregate)` into an aggregate that other groupings, added with
    /// [`CogroupedKStream::cogroup`], fold into too, as Kafka Streams'
    /// `KGroupedStream.cogroup`.
    pub fn cogroup<VA, A>(&self, aggregator: A) -> CogroupedKStream<K, VA>
    where
        VA: Clone + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        CogroupedKStream {
            builder: self.builder.clone(),
            members: Vec::new(),
            key_serde: self.key_serde.clone(),
            next_name: None,
        }
        .cogroup(self, aggregator)
    }
}

impl<K: Clone + 'static, VA: Clone + 'static> CogroupedKStream<K, VA> {
    /// Adds `grouped`, whose records are folded with `aggregator(key, value, aggregate)`.
    /// A grouping already in the cogroup keeps its place and gets the new aggregator.
    #[must_use]
    pub fn cogroup<V, A>(&self, grouped: &KGroupedStream<K, V>, aggregator: A) -> Self
    where
        V: Clone + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        let member: Rc<dyn Member<K, VA>> = Rc::new(Grouping {
            grouped: grouped.clone(),
            aggregator: Arc::new(aggregator),
        });
        let mut next = self.clone();
        match next
            .members
            .iter()
            .position(|m| m.grouping() == member.grouping())
        {
            Some(i) => next.members[i] = member,
            None => next.members.push(member),
        }
        next
    }

    /// Names the aggregation's nodes `<name>-cogroup-agg-<i>` and `<name>-cogroup-merge`
    /// instead of generated names, as Kafka Streams' `Named`.
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.next_name = Some(name.into());
        next
    }

    /// Aggregates every grouping into one table, each new aggregate starting from
    /// `initializer()`, stored with `value_serde`.
    pub fn aggregate<I>(&self, initializer: I, value_serde: SerdeRef<VA>) -> KTable<K, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
    /// give the aggregate's serde (the build fails without it).
    pub fn aggregate_with<I>(
        &self,
        initializer: I,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        self.build(
            KeyValueShape,
            Arc::new(initializer),
            Arc::new(super::fold::no_merger::<K, VA>),
            materialized,
        )
    }

    /// Windows the cogroup: [`TimeWindows`](crate::TimeWindows) and
    /// [`SlidingWindows`](crate::SlidingWindows) give a
    /// [`TimeWindowedCogroupedKStream`](super::TimeWindowedCogroupedKStream),
    /// [`SessionWindows`](crate::SessionWindows) a
    /// [`SessionWindowedCogroupedKStream`](super::SessionWindowedCogroupedKStream). Windowed
    /// cogroups emit on every update, as in Kafka Streams.
    pub fn windowed_by<W: Windows>(&self, windows: W) -> W::Cogrouped<K, VA> {
        windows.window_cogroup(self.clone())
    }

    /// Adds the cogroup's nodes, in Kafka Streams' naming order: the store, each
    /// grouping's repartition topic, each grouping's aggregation node, the merge node.
    pub(super) fn build<S: Shape>(
        &self,
        shape: S,
        initializer: SharedInitializer<VA>,
        merger: SharedMerger<K, VA>,
        materialized: Materialized<K, VA>,
    ) -> KTable<ShapeKey<S, K>, VA> {
        let store = match &materialized.name {
            Some(name) => name.clone(),
            None => self
                .builder
                .borrow_mut()
                .new_name("COGROUPKSTREAM-AGGREGATE-STATE-STORE-"),
        };
        let parents: Vec<String> = self.members.iter().map(|m| m.parent(&store)).collect();
        let mut st = self.builder.borrow_mut();
        let name = self.next_name.as_deref();
        let processors: Vec<String> = (0..self.members.len())
            .map(|i| {
                let given = name.map(|n| format!("{n}-cogroup-agg-{i}"));
                st.name_or_generate(given.as_deref(), "COGROUPKSTREAM-AGGREGATE-")
            })
            .collect();
        let given = name.map(|n| format!("{n}-cogroup-merge"));
        let merge = st.name_or_generate(given.as_deref(), "COGROUPKSTREAM-MERGE-");
        let key_serde = first_some(materialized.key_serde.clone(), self.key_serde.clone());
        let value_serde = materialized.value_serde.clone();
        let first = processors.first().map_or(merge.as_str(), String::as_str);
        let store_builder = shape.store(
            &store,
            &materialized,
            key_serde.clone(),
            value_serde.clone(),
            first,
        );
        let table = KTable::new(
            self.builder.clone(),
            merge.clone(),
            key_serde.map(|k| shape.table_key_serde(k)),
            value_serde,
            Some(store.clone()),
        );
        let store_name: Arc<str> = store.as_str().into();
        for ((member, node), parent) in self.members.iter().zip(&processors).zip(&parents) {
            if let Some(grace) = shape.grace_ms() {
                st.tables.window_grace.insert(node.clone(), grace);
            }
            let r = member.add_processor(
                shape.erased(),
                &mut st.topology,
                node,
                parent,
                Arc::clone(&store_name),
                Arc::clone(&initializer),
                Arc::clone(&merger),
                Arc::clone(&table.send_old),
            );
            st.record(r);
        }
        let nodes: Vec<&str> = processors.iter().map(String::as_str).collect();
        add_store(&mut st, store_builder, &nodes);
        let r = st
            .topology
            .add_processor::<ShapeKey<S, K>, Change<VA>, ShapeKey<S, K>, Change<VA>, _, _>(
                &merge,
                || PassThrough,
                &nodes,
            )
            .map(|_| ());
        st.record(r);
        let mut group = Vec::new();
        for parent in &parents {
            group.extend(st.topology.upstream_source_topics(parent));
        }
        let group: Vec<&str> = group.iter().map(String::as_str).collect();
        st.topology.add_copartition_group(&group);
        drop(st);
        table
    }
}
