//! [`KGroupedTable`]: a table regrouped by [`KTable::group_by`](crate::KTable::group_by), and
//! its `count`, `reduce` and `aggregate` (Kafka Streams' `KGroupedTableImpl`,
//! `KTableAggregate` and `KTableReduce`).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::serde::Serdes;
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore, ValueAndTimestamp};
use streams_core::topology::{InternalTopic, InternalTopicKind};
use streams_core::{Consumed, Error, Produced, Record, Result, SerdeRef};
use streams_state::{FlushedEntry, TimestampedKeyValueStore};

use super::flushed::forward_flushed;
use super::fold::no_merger;
use super::{AggregateFold, CountFold, Fold, ReduceFold, first_some, is_null, key_value_store};
use crate::builder::Shared;
use crate::ktable::{Change, ChangedSerde, KTable};
use crate::materialized::Materialized;

/// A table regrouped by a new key, ready for an aggregation, as Kafka Streams'
/// `KGroupedTable`. Made by [`KTable::group_by`](crate::KTable::group_by).
///
/// Its aggregations keep one aggregate per new key and follow Kafka Streams' rules for each
/// change that arrives through the repartition topic: the subtractor removes the old row's
/// value (when there is one and the key has an aggregate), then the adder adds the new row's
/// value (starting from the initializer when the key has no aggregate). An aggregate that is
/// null (by its serde's [`is_null`](streams_core::Serde::is_null)) after the update deletes
/// the key: a delete is forwarded. The update's timestamp is the record's, or the later of
/// the record's and the aggregate's when the key had an aggregate. Caching is as for
/// [`KGroupedStream`](crate::KGroupedStream)'s aggregations.
pub struct KGroupedTable<K, V> {
    pub(crate) builder: Shared,
    /// The node selecting the new keys.
    pub(crate) node: String,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    /// The grouping's name, which names the repartition topic.
    pub(crate) name: Option<String>,
    pub(crate) next_name: Option<String>,
    /// The source of the repartition topic once made, reused by later aggregations of a
    /// named grouping, as Kafka Streams does.
    pub(crate) repartition_source: Rc<RefCell<Option<String>>>,
}

impl<K, V> Clone for KGroupedTable<K, V> {
    fn clone(&self) -> Self {
        KGroupedTable {
            builder: self.builder.clone(),
            node: self.node.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            name: self.name.clone(),
            next_name: self.next_name.clone(),
            repartition_source: self.repartition_source.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for KGroupedTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KGroupedTable")
            .field("node", &self.node)
            .field("name", &self.name)
            .finish()
    }
}

/// Kafka Streams' `KTableAggregate` and `KTableReduce`: `adder` is the fold of a new value
/// (reduce's takes the first value as it is), `subtractor(key, old value, aggregate)`.
struct KTableAggregate<K, V, VA, F, S> {
    store_name: Arc<str>,
    adder: Arc<F>,
    subtractor: Arc<S>,
    agg_serde: Option<SerdeRef<VA>>,
    send_old: bool,
    store: Option<Rc<RefCell<TimestampedKeyValueStore<K, VA>>>>,
    flushed: Vec<FlushedEntry<K, ValueAndTimestamp<VA>>>,
    _types: PhantomData<fn(V)>,
}

impl<K, V, VA, F, S> KTableAggregate<K, V, VA, F, S>
where
    K: Clone + 'static,
    VA: Clone + 'static,
{
    fn store(&self) -> Result<&Rc<RefCell<TimestampedKeyValueStore<K, VA>>>> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.to_string()))
    }

    /// `None` for an aggregate that is Kafka's null.
    fn non_null(&self, agg: VA) -> Option<VA> {
        (!is_null(self.agg_serde.as_ref(), &agg)).then_some(agg)
    }

    /// Forwards what the cache released, as Kafka Streams' `TimestampedCacheFlushListener`.
    fn forward_flushed(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        forward_flushed(&mut self.flushed, self.send_old, ctx)
    }
}

impl<K, V, VA, F, S> Processor<K, Change<V>, K, Change<VA>> for KTableAggregate<K, V, VA, F, S>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
    S: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let store = ctx.state_store::<TimestampedKeyValueStore<K, VA>>(&self.store_name)?;
        // Old values are read from the store below only when they are forwarded.
        store.borrow_mut().set_send_old_values(self.send_old);
        self.store = Some(store);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<()> {
        let Record {
            key,
            value: change,
            timestamp,
            headers,
        } = record;
        let store = Rc::clone(self.store()?);
        let stored = store.borrow().get(&key)?;
        let (old_agg, old_timestamp) = match stored {
            Some(s) => (Some(s.value), Some(s.timestamp)),
            None => (None, None),
        };
        let forwarded_old = if self.send_old { old_agg.clone() } else { None };
        let touched = change.old.is_some() || change.new.is_some();
        // First remove the old value, then add the new one.
        let intermediate = match (change.old, old_agg) {
            (Some(old), Some(agg)) => self.non_null((self.subtractor)(&key, old, agg)),
            (_, agg) => agg,
        };
        let new_agg = match change.new {
            Some(new) => self.non_null(self.adder.apply(&key, new, intermediate)),
            None => intermediate,
        };
        let new_timestamp = match old_timestamp {
            Some(t) if touched => timestamp.max(t),
            _ => timestamp,
        };
        let mut s = store.borrow_mut();
        match &new_agg {
            Some(agg) => s.put(&key, &ValueAndTimestamp::new(agg.clone(), new_timestamp))?,
            None => {
                s.delete(&key)?;
            }
        }
        if s.caching_enabled() {
            self.flushed.extend(s.take_evicted()?);
            drop(s);
            return self.forward_flushed(ctx);
        }
        drop(s);
        ctx.forward(Record {
            key,
            value: Change::new(new_agg, forwarded_old),
            timestamp: new_timestamp,
            headers,
        })
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        let store = Rc::clone(self.store()?);
        let mut s = store.borrow_mut();
        if !s.caching_enabled() {
            return Ok(());
        }
        let flushed = &mut self.flushed;
        s.flush_cache(|e| flushed.push(e))?;
        drop(s);
        self.forward_flushed(ctx)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedTable<K, V> {
    /// Names the processor node of the next aggregation, instead of a generated name such
    /// as `KTABLE-AGGREGATE-0000000007`; its repartition sink and source become
    /// `<name>-sink` and `<name>-source`.
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut g = self.clone();
        g.next_name = Some(name.into());
        g
    }

    /// Adds the repartition topic (when this grouping has none yet) and the aggregation
    /// processor with its store, in Kafka Streams' naming order: store (already named by
    /// the caller), sink, source, processor.
    #[allow(clippy::too_many_arguments)]
    fn aggregate_impl<VA, F, S>(
        &self,
        prefix: &str,
        adder: F,
        subtractor: S,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<SerdeRef<VA>>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        F: Fold<K, V, VA>,
        S: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        let mut st = self.builder.borrow_mut();
        let store = match &materialized.name {
            Some(n) => n.clone(),
            None => st.new_name("KTABLE-AGGREGATE-STATE-STORE-"),
        };
        let given = self.next_name.as_deref();
        let generated_sink = st.new_name("KSTREAM-SINK-");
        let generated_source = st.new_name("KSTREAM-SOURCE-");
        let (sink, source) = match given {
            Some(n) => (format!("{n}-sink"), format!("{n}-source")),
            None => (generated_sink, generated_source),
        };
        let processor = st.name_or_generate(given, prefix);
        let topic = format!(
            "{}-repartition",
            self.name.as_deref().unwrap_or(store.as_str())
        );
        let existing = if self.name.is_some() {
            self.repartition_source.borrow().clone()
        } else {
            None
        };
        let parent = match existing {
            Some(source) => source,
            None => {
                match (self.key_serde.clone(), self.value_serde.clone()) {
                    (Some(ks), Some(vs)) => {
                        st.topology.add_internal_topic(InternalTopic {
                            name: topic.clone(),
                            kind: InternalTopicKind::Repartition,
                            partitions: None,
                        });
                        let changed: SerdeRef<Change<V>> = Arc::new(ChangedSerde::new(vs));
                        let r = st
                            .topology
                            .add_sink(
                                &sink,
                                &topic,
                                Produced::with(ks.clone(), Arc::clone(&changed)),
                                &[self.node.as_str()],
                            )
                            .and_then(|t| {
                                t.add_source(
                                    &source,
                                    &[topic.as_str()],
                                    Consumed::with(ks, changed),
                                )
                            })
                            .map(|_| ());
                        st.record(r);
                    }
                    _ => st.fail(Error::Topology(format!(
                        "repartition topic '{topic}' of a table grouping needs a key serde and a \
                         value serde: give them with KTable::group_by_with(.., Grouped::with(...))"
                    ))),
                }
                *self.repartition_source.borrow_mut() = Some(source.clone());
                source
            }
        };
        drop(st);
        let key_serde = first_some(materialized.key_serde.clone(), self.key_serde.clone());
        let value_serde = first_some(materialized.value_serde.clone(), default_value_serde);
        let store_builder = key_value_store(
            &store,
            &materialized,
            key_serde.clone(),
            value_serde.clone(),
            &processor,
        );
        let table = KTable::new(
            self.builder.clone(),
            processor.clone(),
            key_serde,
            value_serde.clone(),
            Some(store.clone()),
        );
        let flag = Arc::clone(&table.send_old);
        let store_name: Arc<str> = store.as_str().into();
        let adder = Arc::new(adder);
        let subtractor = Arc::new(subtractor);
        let mut st = self.builder.borrow_mut();
        let r = st
            .topology
            .add_processor::<K, Change<V>, K, Change<VA>, _, _>(
                &processor,
                move || KTableAggregate {
                    store_name: Arc::clone(&store_name),
                    adder: Arc::clone(&adder),
                    subtractor: Arc::clone(&subtractor),
                    agg_serde: value_serde.clone(),
                    send_old: flag.enabled(),
                    store: None,
                    flushed: Vec::new(),
                    _types: PhantomData,
                },
                &[parent.as_str()],
            )
            .map(|_| ());
        st.record(r);
        match store_builder {
            Ok(b) => {
                let r = st
                    .topology
                    .add_state_store(b, &[processor.as_str()])
                    .map(|_| ());
                st.record(r);
            }
            Err(e) => st.fail(e),
        }
        drop(st);
        table
    }

    /// Counts the rows of each new key, as Kafka Streams' `KGroupedTable.count()`: a row
    /// joining the group adds one, a row leaving it (deleted, or moved to another key)
    /// subtracts one. A count that falls to 0 stays in the table as 0.
    ///
    /// The store (`KTABLE-AGGREGATE-STATE-STORE-<n>`, RocksDB, cached, logged) uses the
    /// grouping's key serde and `Serdes::i64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("owner", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(|item: &String, owner| (owner, item.clone()), Grouped::with(Serdes::string(), Serdes::string()))
    ///     .count()
    ///     .to_stream()
    ///     .to("items-per-owner", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn count(&self) -> KTable<K, i64> {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) with the store set up by `materialized` (its value serde
    /// defaults to `Serdes::i64`).
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate_impl(
            "KTABLE-AGGREGATE-",
            CountFold,
            |_: &K, _: V, agg: i64| agg - 1,
            materialized,
            Some(Serdes::i64()),
        )
    }

    /// Combines the values of each new key with `adder(aggregate, value)` (the first value
    /// being the aggregate as it is) and removes a leaving row's value with
    /// `subtractor(aggregate, value)`, as Kafka Streams' `KGroupedTable.reduce`. A result
    /// that is null (by the value serde) deletes the key.
    ///
    /// The store (`KTABLE-AGGREGATE-STATE-STORE-<n>`, processor `KTABLE-REDUCE-<n>`) uses
    /// the grouping's serdes.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// // Total balance per branch; an account moving branch leaves the old total.
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("accounts", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(
    ///         |_id, row: String| {
    ///             let (branch, balance) = row.split_once(':').unwrap_or(("?", "0"));
    ///             (branch.to_string(), balance.parse::<i64>().unwrap_or(0))
    ///         },
    ///         Grouped::with(Serdes::string(), Serdes::i64()),
    ///     )
    ///     .reduce(|total, v| total + v, |total, v| total - v)
    ///     .to_stream()
    ///     .to("totals", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let input = driver.create_input_topic("accounts", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("totals", Serdes::string(), Serdes::option(Serdes::i64()));
    /// input.pipe_input("a1".to_string(), "north:10".to_string())?;
    /// input.pipe_input("a2".to_string(), "north:5".to_string())?;
    /// input.pipe_input("a1".to_string(), "north:12".to_string())?; // same key: one update
    /// input.pipe_input("a2".to_string(), "south:5".to_string())?;
    /// assert_eq!(
    ///     out.read_key_values_to_list()?,
    ///     vec![
    ///         ("north".to_string(), Some(10)),
    ///         ("north".to_string(), Some(15)),
    ///         ("north".to_string(), Some(17)),
    ///         ("north".to_string(), Some(12)),
    ///         ("south".to_string(), Some(5)),
    ///     ]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn reduce<A, S>(&self, adder: A, subtractor: S) -> KTable<K, V>
    where
        A: Fn(V, V) -> V + Send + Sync + 'static,
        S: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_with(adder, subtractor, Materialized::default())
    }

    /// [`reduce`](Self::reduce) with the store set up by `materialized`.
    pub fn reduce_with<A, S>(
        &self,
        adder: A,
        subtractor: S,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        A: Fn(V, V) -> V + Send + Sync + 'static,
        S: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.aggregate_impl(
            "KTABLE-REDUCE-",
            ReduceFold(adder),
            move |_: &K, v: V, agg: V| subtractor(agg, v),
            materialized,
            self.value_serde.clone(),
        )
    }

    /// Folds the values of each new key into an aggregate, as Kafka Streams'
    /// `KGroupedTable.aggregate`: `adder(key, value, aggregate)` adds a joining row's value,
    /// starting from `initializer()`, and `subtractor(key, value, aggregate)` removes a
    /// leaving row's value. A result that is null (by `value_serde`) deletes the key. The
    /// aggregate is stored with `value_serde`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// // The set of products per category, as a sorted list.
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("product-category", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(|product: &String, category| (category, product.clone()), Grouped::with(Serdes::string(), Serdes::string()))
    ///     .aggregate(
    ///         String::new,
    ///         |_cat, p, agg: String| {
    ///             let mut v: Vec<&str> = agg.split(',').filter(|s| !s.is_empty()).collect();
    ///             v.push(&p);
    ///             v.sort();
    ///             v.join(",")
    ///         },
    ///         |_cat, p, agg: String| agg.split(',').filter(|s| *s != p).collect::<Vec<_>>().join(","),
    ///         Serdes::string(),
    ///     )
    ///     .to_stream()
    ///     .to("products", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let input = driver.create_input_topic("product-category", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("products", Serdes::string(), Serdes::option(Serdes::string()));
    /// input.pipe_input("pen".to_string(), Some("office".to_string()))?;
    /// input.pipe_input("ink".to_string(), Some("office".to_string()))?;
    /// input.pipe_input("pen".to_string(), None)?;
    /// assert_eq!(
    ///     out.read_values_to_list()?,
    ///     vec![Some("pen".to_string()), Some("ink,pen".to_string()), Some("ink".to_string())]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn aggregate<VA, I, A, S>(
        &self,
        initializer: I,
        adder: A,
        subtractor: S,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        S: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            adder,
            subtractor,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
    /// give the aggregate's serde (the build fails without it).
    pub fn aggregate_with<VA, I, A, S>(
        &self,
        initializer: I,
        adder: A,
        subtractor: S,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        S: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_impl(
            "KTABLE-AGGREGATE-",
            AggregateFold {
                initializer,
                aggregator: adder,
                merger: no_merger::<K, VA>,
            },
            subtractor,
            materialized,
            None,
        )
    }
}
