//! `count`, `reduce` and `aggregate` of a grouped stream: Kafka Streams' `KStreamAggregate`
//! and `KStreamReduce`.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore, StoreBuilder, ValueAndTimestamp};
use streams_core::topology::Topology;
use streams_core::{Error, Record, Result, SerdeRef};
use streams_state::{FlushedEntry, TimestampedKeyValueStore};

use super::flushed::forward_flushed;
use super::fold::no_merger;
use super::folding::FoldingStream;
use super::shape::{AnyShape, FoldParts, KeyValueShape, Shape};
use super::{Fold, GeneratedStoreName, KGroupedStream, is_null, key_value_store};
use crate::ktable::{Change, KTable};
use crate::materialized::Materialized;

/// The aggregation processor: one aggregate per key in a timestamped key-value store.
pub(crate) struct KStreamAggregate<K, V, VA, F> {
    store_name: Arc<str>,
    fold: Arc<F>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    send_old: bool,
    store: Option<Rc<RefCell<TimestampedKeyValueStore<K, VA>>>>,
    flushed: Vec<FlushedEntry<K, ValueAndTimestamp<VA>>>,
    _types: PhantomData<fn(V)>,
}

impl<K, V, VA, F> KStreamAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
{
    fn store(&self) -> Result<&Rc<RefCell<TimestampedKeyValueStore<K, VA>>>> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.to_string()))
    }

    /// Forwards what the cache released, as Kafka Streams' `TimestampedCacheFlushListener`:
    /// the timestamp is the new value's, or the entry's for a delete.
    fn forward_flushed(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        forward_flushed(&mut self.flushed, self.send_old, ctx)
    }
}

impl<K, V, VA, F> Processor<K, V, K, Change<VA>> for KStreamAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
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
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<()> {
        if is_null(self.key_serde.as_ref(), &record.key)
            || is_null(self.value_serde.as_ref(), &record.value)
        {
            ctx.record_dropped();
            return Ok(());
        }
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let store = Rc::clone(self.store()?);
        let mut s = store.borrow_mut();
        let (old, new_timestamp) = match s.get(&key)? {
            Some(stored) => (Some(stored.value), timestamp.max(stored.timestamp)),
            None => (self.fold.initial(), timestamp),
        };
        let forwarded_old = if self.send_old { old.clone() } else { None };
        let new = self.fold.apply(&key, value, old);
        let stored = ValueAndTimestamp::new(new, new_timestamp);
        s.put(&key, &stored)?;
        if s.caching_enabled() {
            self.flushed.extend(s.take_evicted()?);
            drop(s);
            return self.forward_flushed(ctx);
        }
        drop(s);
        ctx.forward(Record {
            key,
            value: Change::new(Some(stored.value), forwarded_old),
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

impl Shape for KeyValueShape {
    type Key<K: Clone + 'static> = K;

    fn grace_ms(&self) -> Option<i64> {
        None
    }

    fn store<K: 'static, VA: 'static>(
        &self,
        name: &str,
        materialized: &Materialized<K, VA>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<VA>>,
        node: &str,
    ) -> Result<Arc<dyn StoreBuilder>> {
        key_value_store(name, materialized, key_serde, value_serde, node)
    }

    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>) -> SerdeRef<K> {
        key_serde
    }

    fn add_processor<K, V, VA, F>(
        &self,
        topology: &mut Topology,
        node: &str,
        parent: &str,
        parts: FoldParts<K, V, F>,
    ) -> Result<()>
    where
        K: Clone + 'static,
        V: Clone + 'static,
        VA: Clone + 'static,
        F: Fold<K, V, VA>,
    {
        let supplier = move || KStreamAggregate {
            store_name: Arc::clone(&parts.store_name),
            fold: Arc::clone(&parts.fold),
            key_serde: parts.key_serde.clone(),
            value_serde: parts.value_serde.clone(),
            send_old: parts.send_old.enabled(),
            store: None,
            flushed: Vec::new(),
            _types: PhantomData,
        };
        topology
            .add_processor(node, supplier, &[parent])
            .map(|_| ())
    }

    fn erased(self) -> AnyShape {
        AnyShape::KeyValue(self)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> FoldingStream<K, V> for KGroupedStream<K, V> {
    type Shape = KeyValueShape;

    fn grouped(&self) -> &KGroupedStream<K, V> {
        self
    }

    fn shape(&self) -> KeyValueShape {
        KeyValueShape
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedStream<K, V> {
    /// Counts the records of each key, as Kafka Streams' `KGroupedStream.count()`.
    ///
    /// A record whose key or value is null (by its serde's
    /// [`is_null`](streams_core::Serde::is_null)) is dropped and counted as dropped. Each
    /// update's timestamp is the largest record timestamp counted so far; with caching off
    /// every record forwards one update, with caching on updates of a key are merged until
    /// the cache flushes. The store (`KSTREAM-AGGREGATE-STATE-STORE-<n>`, RocksDB, cached,
    /// logged) uses the grouping's key serde and `Serdes::i64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("words", Consumed::with(Serdes::string(), Serdes::option(Serdes::string())))
    ///     .group_by_key()
    ///     .count()
    ///     .to_stream()
    ///     .to("counts", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let words = driver.create_input_topic("words", Serdes::string(), Serdes::option(Serdes::string()));
    /// let counts = driver.create_output_topic("counts", Serdes::string(), Serdes::option(Serdes::i64()));
    /// words.pipe_record(TestRecord::new("a".to_string(), Some("x".to_string()), 10))?;
    /// words.pipe_record(TestRecord::new("a".to_string(), None, 20))?; // null value: dropped
    /// words.pipe_record(TestRecord::new("a".to_string(), Some("y".to_string()), 5))?;
    /// let out: Vec<_> = counts.read_records_to_list()?.into_iter().map(|r| (r.value, r.timestamp)).collect();
    /// assert_eq!(out, vec![(Some(1), 10), (Some(2), 10)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn count(&self) -> KTable<K, i64> {
        self.count_fold(Materialized::default(), GeneratedStoreName::Next)
    }

    /// [`count`](Self::count) with the store set up by `materialized` (its value serde
    /// defaults to `Serdes::i64`).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let counts = builder
    ///     .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .count_with(Materialized::as_("word-counts").with_store_type(StoreType::InMemory));
    /// assert_eq!(counts.queryable_store_name(), Some("word-counts"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.count_fold(materialized, GeneratedStoreName::SkipOne)
    }

    /// Combines the values of each key with `reducer(aggregate, value)`, the first value
    /// being the aggregate as it is, as Kafka Streams' `KGroupedStream.reduce`.
    ///
    /// Null keys and values are dropped and counted; timestamps and caching are as for
    /// [`count`](Self::count). The store (`KSTREAM-REDUCE-STATE-STORE-<n>`) uses the
    /// grouping's serdes.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key()
    ///     .reduce(|agg, v| agg.max(v))
    ///     .to_stream()
    ///     .to("max", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let out = driver.create_output_topic("max", Serdes::string(), Serdes::option(Serdes::i64()));
    /// input.pipe_key_value_list([3, 1, 7].map(|v| ("k".to_string(), v)))?;
    /// assert_eq!(out.read_values_to_list()?, vec![Some(3), Some(3), Some(7)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn reduce<R>(&self, reducer: R) -> KTable<K, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) with the store set up by `materialized`.
    pub fn reduce_with<R>(&self, reducer: R, materialized: Materialized<K, V>) -> KTable<K, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_fold(reducer, materialized)
    }

    /// Folds the values of each key into an aggregate: `aggregator(key, value, aggregate)`,
    /// starting from `initializer()`, as Kafka Streams' `KGroupedStream.aggregate`. The
    /// aggregate is stored with `value_serde`.
    ///
    /// Null keys and values are dropped and counted; timestamps and caching are as for
    /// [`count`](Self::count).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key()
    ///     .aggregate(|| 0i64, |_k, v, sum| sum + v, Serdes::i64())
    ///     .to_stream()
    ///     .to("totals", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let totals = driver.create_output_topic("totals", Serdes::string(), Serdes::option(Serdes::i64()));
    /// orders.pipe_key_value_list([("a", 5), ("b", 1), ("a", 7)].map(|(k, v)| (k.to_string(), v)))?;
    /// assert_eq!(totals.read_values_to_list()?, vec![Some(5), Some(1), Some(12)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn aggregate<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            aggregator,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
    /// give the aggregate's serde (the build fails without it).
    pub fn aggregate_with<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_fold_with(initializer, aggregator, no_merger::<K, VA>, materialized)
    }
}
