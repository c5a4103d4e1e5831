//! [`HotKeyTimeWindowedStream`]: two-phase aggregation over time windows.

use std::ops::Add;
use std::sync::Arc;

use streams_core::SerdeRef;
use streams_core::serde::Serdes;
use streams_core::window::Windowed;

use super::merge::merge_partials;
use super::salt::Salted;
use super::stages::{StageInputs, StageNames, Stages};
use crate::kgrouped::{KGroupedStream, TimeWindowedKStream};
use crate::ktable::KTable;
use crate::materialized::Materialized;
use crate::windows::TimeWindows;

/// A hot-key grouping windowed by [`TimeWindows`] (tumbling or hopping): each shard
/// aggregates its records per window as
/// [`TimeWindowedKStream`] does (the same grace, lateness and retention rules), and the
/// merge stage merges the shards' partials per key and window. Made by
/// [`HotKeyGroupedStream::windowed_by`](crate::hot_keys::HotKeyGroupedStream::windowed_by).
///
/// Results are keyed by `Windowed<K>` (serde `Serdes::time_windowed(key serde, size)`).
/// Updates are emitted as windows change; emit-on-close is not offered, since a merged
/// window is complete only once every shard's final partial has arrived. The merge stage
/// keeps each key's partials per window in a key-value store, without retention.
///
/// Lateness is judged per partial-stage task, by that task's stream time, as for any
/// windowed aggregation: with one partition, or with a grace that covers the input's
/// disorder, the same records are dropped as late as in the plain aggregation; with a
/// shorter grace over several partitions, salting moves a hot key's records to other
/// tasks, whose stream times differ, so which records are late may differ.
pub struct HotKeyTimeWindowedStream<K, V> {
    partial: KGroupedStream<Salted<K>, V>,
    windows: TimeWindows,
    key_serde: Option<SerdeRef<K>>,
    names: StageNames,
}

impl<K, V> std::fmt::Debug for HotKeyTimeWindowedStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotKeyTimeWindowedStream")
            .field("windows", &self.windows)
            .field("names", &self.names)
            .finish()
    }
}

impl<K: Clone + PartialEq + 'static, V: Clone + 'static> HotKeyTimeWindowedStream<K, V> {
    pub(crate) fn new(
        partial: KGroupedStream<Salted<K>, V>,
        windows: TimeWindows,
        key_serde: Option<SerdeRef<K>>,
        names: StageNames,
    ) -> Self {
        HotKeyTimeWindowedStream {
            partial,
            windows,
            key_serde,
            names,
        }
    }

    /// The partial stage's windowed grouping, carrying the aggregation's name.
    fn partial_windowed(&self) -> TimeWindowedKStream<Salted<K>, V> {
        let grouped = match self.names.partial_processor() {
            Some(n) => self.partial.named(n),
            None => self.partial.clone(),
        };
        TimeWindowedKStream::new(grouped, self.windows)
    }

    fn inputs<VA>(
        &self,
        m: &Materialized<K, VA>,
        default_value_serde: Option<SerdeRef<VA>>,
    ) -> StageInputs<Windowed<K>, VA> {
        let size = self.windows.size_ms();
        StageInputs {
            default_value_serde,
            merge_key_serde: m
                .key_serde
                .clone()
                .or_else(|| self.key_serde.clone())
                .map(|k| Serdes::time_windowed(k, size)),
            names: self.names.clone(),
        }
    }

    /// Counts the records of each key per window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::hot_keys::HotKeys;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .with_hot_keys(HotKeys::new(["home"], 4))
    ///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
    ///     .count()
    ///     .to_stream()
    ///     .to("per-minute", Produced::with(Serdes::time_windowed(Serdes::string(), 60_000), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::with_options(builder.build()?, StreamsConfig::new(), DriverOptions::new().partitions(2))?;
    /// let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("per-minute", Serdes::time_windowed(Serdes::string(), 60_000), Serdes::option(Serdes::i64()));
    /// for ts in [1_000, 2_000, 59_999, 60_000, 61_000] {
    ///     clicks.pipe_record(TestRecord::new("home".to_string(), "u".to_string(), ts))?;
    /// }
    /// let finals = out.read_key_values_to_map()?;
    /// let per_window: Vec<_> = [0, 60_000].iter().map(|start| {
    ///     finals.iter().find(|(k, _)| k.window.start == *start).and_then(|(_, v)| *v)
    /// }).collect();
    /// assert_eq!(per_window, vec![Some(3), Some(2)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_with(Materialized::default())
    }

    /// [`count`](Self::count) with the stores set up by `materialized`.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let stages = Stages::new(
            &materialized,
            self.inputs(&materialized, Some(Serdes::i64())),
        );
        let partials = self.partial_windowed().count_with(stages.partial);
        merge_partials(
            &partials,
            split,
            |_: &Windowed<K>, a, b| a + b,
            stages.merge,
        )
    }

    /// Adds up the values of each key per window (see
    /// [`HotKeyGroupedStream::sum`](crate::hot_keys::HotKeyGroupedStream::sum)).
    pub fn sum(&self) -> KTable<Windowed<K>, V>
    where
        V: Add<Output = V>,
    {
        self.reduce(|a, v| a + v)
    }

    /// The smallest value of each key per window.
    pub fn min(&self) -> KTable<Windowed<K>, V>
    where
        V: PartialOrd,
    {
        self.reduce(|a, v| if v < a { v } else { a })
    }

    /// The largest value of each key per window.
    pub fn max(&self) -> KTable<Windowed<K>, V>
    where
        V: PartialOrd,
    {
        self.reduce(|a, v| if v > a { v } else { a })
    }

    /// Combines the values of each key per window with `reducer`, which also merges the
    /// shards' partials and must be associative and commutative.
    pub fn reduce<R>(&self, reducer: R) -> KTable<Windowed<K>, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) with the stores set up by `materialized`.
    pub fn reduce_with<R>(
        &self,
        reducer: R,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let serde = self.partial.value_serde.clone();
        let stages = Stages::new(&materialized, self.inputs(&materialized, serde));
        let reducer = Arc::new(reducer);
        let partial_reducer = Arc::clone(&reducer);
        let partials = self
            .partial_windowed()
            .reduce_with(move |a, v| partial_reducer(a, v), stages.partial);
        let merge = move |_: &Windowed<K>, a, b| reducer(a, b);
        merge_partials(&partials, split, merge, stages.merge)
    }

    /// Folds the values of each key per window and shard, and merges the shards' aggregates
    /// with `merger(key, aggregate, aggregate)` (see
    /// [`HotKeyGroupedStream::aggregate`](crate::hot_keys::HotKeyGroupedStream::aggregate)).
    pub fn aggregate<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA>
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
    /// give the aggregate's serde.
    pub fn aggregate_with<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        let stages = Stages::new(&materialized, self.inputs(&materialized, None));
        let partials = self.partial_windowed().aggregate_with(
            initializer,
            move |key: &Salted<K>, value, agg| aggregator(&key.key, value, agg),
            stages.partial,
        );
        let merge = move |key: &Windowed<K>, a, b| merger(&key.key, a, b);
        merge_partials(&partials, split, merge, stages.merge)
    }
}

/// The original windowed key and shard of a partial aggregate's key.
fn split<K: Clone>(key: &Windowed<Salted<K>>) -> (Windowed<K>, Option<u32>) {
    (
        Windowed::new(key.key.key.clone(), key.window),
        key.key.shard,
    )
}
