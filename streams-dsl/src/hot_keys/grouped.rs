//! [`HotKeyGroupedStream`]: a grouped stream whose hot keys are aggregated in two phases,
//! and the [`KGroupedStream`] methods that make one.

use std::hash::Hash;
use std::ops::Add;
use std::sync::Arc;

use streams_core::SerdeRef;
use streams_core::serde::Serdes;

use super::merge::merge_partials;
use super::salt::{HotKeys, Salted};
use super::stages::{StageInputs, StageNames, Stages};
use super::windowed::HotKeyTimeWindowedStream;
use crate::kgrouped::KGroupedStream;
use crate::kstream::KStream;
use crate::ktable::KTable;
use crate::materialized::{Grouped, Materialized};
use crate::windows::TimeWindows;

/// A grouped stream aggregated in two phases so that hot keys spread over partitions:
/// first a partial aggregate per salted key (key and shard), then a merge of each key's
/// partials by the original key. Made by [`KGroupedStream::with_hot_keys`] (the topology
/// salts the keys) or [`KGroupedStream::with_salted_keys`] (the producer did).
///
/// The result is a table keyed by the original key whose value, once every partial update
/// has reached the merge stage, is what the same aggregation without salting gives; see
/// [`hot_keys`](crate::hot_keys) for the rules, and for what the merge function of
/// [`reduce`](Self::reduce) and [`aggregate`](Self::aggregate) must satisfy.
pub struct HotKeyGroupedStream<K, V> {
    /// The grouping of the partial stage, by salted key.
    partial: KGroupedStream<Salted<K>, V>,
    key_serde: Option<SerdeRef<K>>,
    names: StageNames,
}

impl<K, V> Clone for HotKeyGroupedStream<K, V> {
    fn clone(&self) -> Self {
        HotKeyGroupedStream {
            partial: self.partial.clone(),
            key_serde: self.key_serde.clone(),
            names: self.names.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for HotKeyGroupedStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotKeyGroupedStream")
            .field("partial", &self.partial)
            .field("names", &self.names)
            .finish()
    }
}

impl<K, V> KGroupedStream<K, V>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    V: Clone + 'static,
{
    /// Aggregates in two phases, salting the keys in `hot` with round-robin shards: a
    /// key-selecting node salts each record's key and the partial aggregation repartitions
    /// by the salted key (`<name>-partial-repartition`, see [`hot_keys`](crate::hot_keys)),
    /// so a hot key's records spread over that topic's partitions. Other keys keep their
    /// key. The grouping's key serde is needed (the salted keys are written with
    /// [`HotKeys::serde`] over it); without one the build fails.
    ///
    /// This repartitions even a stream that is partitioned by its key already: the hot
    /// key's partition of the input topic still reads all its records, but the aggregation
    /// work is spread. When the producer salts the keys instead, use
    /// [`with_salted_keys`](Self::with_salted_keys).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::hot_keys::HotKeys;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key()
    ///     .with_hot_keys(HotKeys::new(["cust-1"], 4))
    ///     .sum()
    ///     .to_stream()
    ///     .to("totals", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("application.id", "app");
    /// let driver = TopologyTestDriver::with_options(builder.build()?, config, DriverOptions::new().partitions(4))?;
    /// let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let totals = driver.create_output_topic("totals", Serdes::string(), Serdes::option(Serdes::i64()));
    /// for (customer, total) in [("cust-1", 5), ("cust-2", 1), ("cust-1", 7), ("cust-1", 3), ("cust-1", 10)] {
    ///     orders.pipe_input(customer.to_string(), total)?;
    /// }
    /// let finals = totals.read_key_values_to_map()?;
    /// assert_eq!(finals["cust-1"], Some(25));
    /// assert_eq!(finals["cust-2"], Some(1));
    /// // Two repartition topics: by salted key, then by customer.
    /// let repartitions = driver.produced_topic_names().iter().filter(|t| t.ends_with("-repartition")).count();
    /// assert_eq!(repartitions, 2);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn with_hot_keys(&self, hot: HotKeys<K>) -> HotKeyGroupedStream<K, V> {
        let salt = hot.clone();
        self.salted_with(hot, move |key: &K, _: &V| salt.salt_key(key.clone()))
    }

    /// [`with_hot_keys`](Self::with_hot_keys), choosing a hot key's shard from a record
    /// attribute: the shard is `attribute(key, value) % shards`, so a record lands in the
    /// same shard however often it is processed.
    pub fn with_hot_keys_by<F>(&self, hot: HotKeys<K>, attribute: F) -> HotKeyGroupedStream<K, V>
    where
        F: Fn(&K, &V) -> u64 + Send + Sync + 'static,
    {
        let salt = hot.clone();
        self.salted_with(hot, move |key: &K, value: &V| {
            salt.salt_key_by(key.clone(), attribute(key, value))
        })
    }

    fn salted_with<F>(&self, hot: HotKeys<K>, salt: F) -> HotKeyGroupedStream<K, V>
    where
        F: Fn(&K, &V) -> Salted<K> + Send + Sync + 'static,
    {
        let names = StageNames {
            grouping: self.name.clone(),
            processor: self.next_name.clone(),
        };
        let stream = KStream::new(
            self.builder.clone(),
            self.node.clone(),
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.partitioning,
        );
        let grouped = Grouped {
            name: names.partial_grouping(),
            key_serde: self.key_serde.clone().map(|k| hot.serde(k)),
            value_serde: self.value_serde.clone(),
        };
        HotKeyGroupedStream {
            partial: stream.group_by_with(salt, grouped),
            key_serde: self.key_serde.clone(),
            names,
        }
    }
}

impl<K: Clone + PartialEq + 'static, V: Clone + 'static> KGroupedStream<Salted<K>, V> {
    /// Aggregates keys that the producer salted (with [`HotKeys::salt`] or
    /// [`HotKeys::salt_key`]) in two phases: the partial aggregation runs on this grouping
    /// as it is (no repartition when the stream is read from the salted topic: its records
    /// are where the salted keys put them), and the merge stage regroups by the original
    /// key, written with `key_serde`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::hot_keys::HotKeys;
    /// use streams_dsl::prelude::*;
    ///
    /// let hot: HotKeys<String> = HotKeys::new(["cust-1"], 4);
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("orders", Consumed::with(hot.serde(Serdes::string()), Serdes::i64()))
    ///     .group_by_key()
    ///     .with_salted_keys(Serdes::string())
    ///     .count()
    ///     .to_stream()
    ///     .to("counts", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// // Keys as a producer salted them.
    /// let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let counts = driver.create_output_topic("counts", Serdes::string(), Serdes::option(Serdes::i64()));
    /// for customer in ["cust-1", "cust-2", "cust-1", "cust-1"] {
    ///     orders.pipe_input(hot.salt(customer).into_owned(), 1)?;
    /// }
    /// let finals = counts.read_key_values_to_map()?;
    /// assert_eq!((finals["cust-1"], finals["cust-2"]), (Some(3), Some(1)));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn with_salted_keys(&self, key_serde: SerdeRef<K>) -> HotKeyGroupedStream<K, V> {
        HotKeyGroupedStream {
            partial: self.clone(),
            key_serde: Some(key_serde),
            names: StageNames {
                grouping: self.name.clone(),
                processor: self.next_name.clone(),
            },
        }
    }
}

impl<K: Clone + PartialEq + 'static, V: Clone + 'static> HotKeyGroupedStream<K, V> {
    /// Names the aggregation: its final node becomes `name`, the partial aggregation
    /// `name-partial` and the regrouped one `name-merge`.
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut g = self.clone();
        g.names.processor = Some(name.into());
        g
    }

    /// Windows both stages by `windows` (tumbling or hopping) for a windowed two-phase
    /// aggregation.
    pub fn windowed_by(&self, windows: TimeWindows) -> HotKeyTimeWindowedStream<K, V> {
        HotKeyTimeWindowedStream::new(
            self.partial.clone(),
            windows,
            self.key_serde.clone(),
            self.names.clone(),
        )
    }

    /// The partial stage's grouping, carrying the aggregation's name.
    fn partial_grouping(&self) -> KGroupedStream<Salted<K>, V> {
        match self.names.partial_processor() {
            Some(n) => self.partial.named(n),
            None => self.partial.clone(),
        }
    }

    fn inputs<VA>(
        &self,
        m: &Materialized<K, VA>,
        default_value_serde: Option<SerdeRef<VA>>,
    ) -> StageInputs<K, VA> {
        StageInputs {
            default_value_serde,
            merge_key_serde: m.key_serde.clone().or_else(|| self.key_serde.clone()),
            names: self.names.clone(),
        }
    }

    /// Counts the records of each key: each shard counts its records, and the merge adds
    /// the counts up.
    ///
    /// # Examples
    ///
    /// The two-phase count gives what the plain count gives:
    ///
    /// ```
    /// use streams_dsl::hot_keys::HotKeys;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    /// let grouped = clicks.group_by_key();
    /// let out = || Produced::with(Serdes::string(), Serdes::option(Serdes::i64()));
    /// grouped.count().to_stream().to("plain", out());
    /// grouped.with_hot_keys(HotKeys::new(["home"], 3)).count().to_stream().to("salted", out());
    /// let driver = TopologyTestDriver::with_options(builder.build()?, StreamsConfig::new(), DriverOptions::new().partitions(3))?;
    /// let input = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// for page in ["home", "cart", "home", "home", "faq", "home", "cart"] {
    ///     input.pipe_input(page.to_string(), "user".to_string())?;
    /// }
    /// let plain = driver.create_output_topic("plain", Serdes::string(), Serdes::option(Serdes::i64()));
    /// let salted = driver.create_output_topic("salted", Serdes::string(), Serdes::option(Serdes::i64()));
    /// let finals = salted.read_key_values_to_map()?;
    /// assert_eq!(finals, plain.read_key_values_to_map()?);
    /// assert_eq!(finals["home"], Some(4));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn count(&self) -> KTable<K, i64> {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) with the stores set up by `materialized` (see
    /// [`hot_keys`](crate::hot_keys) for how it names both stages' stores).
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        let stages = Stages::new(
            &materialized,
            self.inputs(&materialized, Some(Serdes::i64())),
        );
        let partials = self.partial_grouping().count_with(stages.partial);
        merge_partials(&partials, split, |_: &K, a, b| a + b, stages.merge)
    }

    /// Adds up the values of each key (`+`), as `reduce(|a, v| a + v)` would; the
    /// grouping's value serde stores the sums. Floating-point sums may differ from the
    /// plain aggregation's in the last bits, since they are added in another order.
    pub fn sum(&self) -> KTable<K, V>
    where
        V: Add<Output = V>,
    {
        self.reduce(|a, v| a + v)
    }

    /// The smallest value of each key (by `<`; the first of equal values).
    pub fn min(&self) -> KTable<K, V>
    where
        V: PartialOrd,
    {
        self.reduce(|a, v| if v < a { v } else { a })
    }

    /// The largest value of each key (by `>`; the first of equal values).
    pub fn max(&self) -> KTable<K, V>
    where
        V: PartialOrd,
    {
        self.reduce(|a, v| if v > a { v } else { a })
    }

    /// Combines the values of each key with `reducer(aggregate, value)`, which also merges
    /// two shards' partial results: it must be associative and commutative (a sum, a min),
    /// so that how the records split over shards does not change the result.
    pub fn reduce<R>(&self, reducer: R) -> KTable<K, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) with the stores set up by `materialized`; the value serde
    /// defaults to the grouping's.
    pub fn reduce_with<R>(&self, reducer: R, materialized: Materialized<K, V>) -> KTable<K, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let serde = self.partial.value_serde.clone();
        let stages = Stages::new(&materialized, self.inputs(&materialized, serde));
        let reducer = Arc::new(reducer);
        let partial_reducer = Arc::clone(&reducer);
        let partials = self
            .partial_grouping()
            .reduce_with(move |a, v| partial_reducer(a, v), stages.partial);
        merge_partials(
            &partials,
            split,
            move |_: &K, a, b| reducer(a, b),
            stages.merge,
        )
    }

    /// Folds the values of each key with `aggregator(key, value, aggregate)` from
    /// `initializer()` per shard, and merges two shards' aggregates with
    /// `merger(key, aggregate, aggregate)`, as Kafka Streams' `Merger`. The aggregate is
    /// stored with `value_serde`.
    ///
    /// The merge must give what folding both shards' records into one aggregate gives,
    /// in any split and order: `merger(k, fold(A), fold(B)) == fold(A ∪ B)`.
    ///
    /// # Examples
    ///
    /// An average kept as a sum and a count:
    ///
    /// ```
    /// use streams_dsl::hot_keys::HotKeys;
    /// use streams_dsl::prelude::*;
    ///
    /// let pair = Serdes::json::<(i64, i64)>();
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("ratings", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key()
    ///     .with_hot_keys(HotKeys::new(["film-1"], 4))
    ///     .aggregate(
    ///         || (0i64, 0i64),
    ///         |_film, stars, (sum, n)| (sum + stars, n + 1),
    ///         |_film, (s1, n1), (s2, n2)| (s1 + s2, n1 + n2),
    ///         pair.clone(),
    ///     )
    ///     .to_stream()
    ///     .to("sums", Produced::with(Serdes::string(), Serdes::option(pair.clone())));
    /// let driver = TopologyTestDriver::with_options(builder.build()?, StreamsConfig::new(), DriverOptions::new().partitions(4))?;
    /// let ratings = driver.create_input_topic("ratings", Serdes::string(), Serdes::i64());
    /// let sums = driver.create_output_topic("sums", Serdes::string(), Serdes::option(pair));
    /// for stars in [5, 3, 4, 4, 1, 5] {
    ///     ratings.pipe_input("film-1".to_string(), stars)?;
    /// }
    /// assert_eq!(sums.read_key_values_to_map()?["film-1"], Some((22, 6)));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn aggregate<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        value_serde: SerdeRef<VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            aggregator,
            merger,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the stores set up by `materialized`, which must
    /// give the aggregate's serde (the build fails without it).
    pub fn aggregate_with<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        let stages = Stages::new(&materialized, self.inputs(&materialized, None));
        let partials = self.partial_grouping().aggregate_with(
            initializer,
            move |key: &Salted<K>, value, agg| aggregator(&key.key, value, agg),
            stages.partial,
        );
        merge_partials(&partials, split, merger, stages.merge)
    }
}

/// The original key and shard of a partial aggregate's key.
fn split<K: Clone>(key: &Salted<K>) -> (K, Option<u32>) {
    (key.key.clone(), key.shard)
}
