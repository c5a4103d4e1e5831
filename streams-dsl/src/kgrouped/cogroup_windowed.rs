//! Windowed cogroups: Kafka Streams' `TimeWindowedCogroupedKStream` (time and sliding
//! windows) and `SessionWindowedCogroupedKStream`.

use std::sync::Arc;

use streams_core::SerdeRef;
use streams_core::window::Windowed;

use super::cogroup::CogroupedKStream;
use super::fold::no_merger;
use super::shape::WindowShape;
use crate::ktable::KTable;
use crate::materialized::Materialized;

/// A cogroup windowed by [`TimeWindows`](crate::TimeWindows) or
/// [`SlidingWindows`](crate::SlidingWindows), ready for its aggregation.
///
/// Each grouping's records are aggregated into the windows as that grouping's own
/// windowed aggregation would ([`TimeWindowedKStream`](super::TimeWindowedKStream),
/// [`SlidingWindowedKStream`](super::SlidingWindowedKStream)), into one window store,
/// emitting on every update; keys are [`Windowed`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::prelude::*;
///
/// let builder = StreamsBuilder::new();
/// let a = builder.stream("a", Consumed::with(Serdes::string(), Serdes::i64())).group_by_key();
/// let b = builder.stream("b", Consumed::with(Serdes::string(), Serdes::i64())).group_by_key();
/// a.cogroup(|_k: &String, v: i64, sum: i64| sum + v)
///     .cogroup(&b, |_k, v, sum| sum - v)
///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(100)))
///     .aggregate(|| 0, Serdes::i64())
///     .to_stream()
///     .to("net", Produced::with(Serdes::time_windowed(Serdes::string(), 100), Serdes::option(Serdes::i64())));
/// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
/// let driver = TopologyTestDriver::new(builder.build()?, config)?;
/// let a = driver.create_input_topic("a", Serdes::string(), Serdes::i64());
/// let b = driver.create_input_topic("b", Serdes::string(), Serdes::i64());
/// let out = driver.create_output_topic("net", Serdes::time_windowed(Serdes::string(), 100), Serdes::option(Serdes::i64()));
/// a.pipe_record(TestRecord::new("k".to_string(), 10, 50))?;
/// b.pipe_record(TestRecord::new("k".to_string(), 3, 60))?;
/// b.pipe_record(TestRecord::new("k".to_string(), 1, 150))?;
/// let got: Vec<_> = out.read_key_values_to_list()?.into_iter().map(|(k, v)| (k.window.start, v)).collect();
/// assert_eq!(got, vec![(0, Some(10)), (0, Some(7)), (100, Some(-1))]);
/// # Ok::<(), streams_dsl::Error>(())
/// ```
pub struct TimeWindowedCogroupedKStream<K, VA> {
    cogrouped: CogroupedKStream<K, VA>,
    shape: WindowShape,
}

impl<K, VA> std::fmt::Debug for TimeWindowedCogroupedKStream<K, VA> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeWindowedCogroupedKStream")
            .field("cogrouped", &self.cogrouped)
            .field("windows", &self.shape)
            .finish()
    }
}

impl<K: Clone + 'static, VA: Clone + 'static> TimeWindowedCogroupedKStream<K, VA> {
    pub(crate) fn new(cogrouped: CogroupedKStream<K, VA>, shape: WindowShape) -> Self {
        TimeWindowedCogroupedKStream { cogrouped, shape }
    }

    /// Aggregates every grouping into the windows, each new window's aggregate starting
    /// from `initializer()`, stored with `value_serde`.
    pub fn aggregate<I>(&self, initializer: I, value_serde: SerdeRef<VA>) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
    /// give the aggregate's serde.
    pub fn aggregate_with<I>(
        &self,
        initializer: I,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        let (initializer, merger) = (Arc::new(initializer), Arc::new(no_merger::<K, VA>));
        self.cogrouped
            .build(self.shape, initializer, merger, materialized)
    }
}

/// A cogroup windowed by [`SessionWindows`](crate::SessionWindows), ready for its
/// aggregation.
///
/// Each grouping's records are aggregated into sessions as that grouping's own
/// [`SessionWindowedKStream`](super::SessionWindowedKStream) would, into one session
/// store, emitting on every update; merging sessions combine with the merger.
pub struct SessionWindowedCogroupedKStream<K, VA> {
    cogrouped: CogroupedKStream<K, VA>,
    shape: WindowShape,
}

impl<K, VA> std::fmt::Debug for SessionWindowedCogroupedKStream<K, VA> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWindowedCogroupedKStream")
            .field("cogrouped", &self.cogrouped)
            .field("windows", &self.shape)
            .finish()
    }
}

impl<K: Clone + 'static, VA: Clone + 'static> SessionWindowedCogroupedKStream<K, VA> {
    pub(crate) fn new(cogrouped: CogroupedKStream<K, VA>, shape: WindowShape) -> Self {
        SessionWindowedCogroupedKStream { cogrouped, shape }
    }

    /// Aggregates every grouping into sessions, each new session's aggregate starting from
    /// `initializer()`, merging sessions with `merger(key, aggregate, other session's
    /// aggregate)`, stored with `value_serde`.
    pub fn aggregate<I, M>(
        &self,
        initializer: I,
        merger: M,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_with(
            initializer,
            merger,
            Materialized::default().with_value_serde(value_serde),
        )
    }

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
    /// give the aggregate's serde.
    pub fn aggregate_with<I, M>(
        &self,
        initializer: I,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        self.cogrouped.build(
            self.shape,
            Arc::new(initializer),
            Arc::new(merger),
            materialized,
        )
    }
}
