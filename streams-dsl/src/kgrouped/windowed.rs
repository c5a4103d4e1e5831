//! The windowed grouped streams, written once over their windows: [`WindowedKStream`]
//! and its three forms [`TimeWindowedKStream`], [`SlidingWindowedKStream`] and
//! [`SessionWindowedKStream`]. What differs between them, the store and the processor,
//! comes from the windows' [`WindowShape`].

use streams_core::SerdeRef;
use streams_core::window::Windowed;

use super::fold::no_merger;
use super::folding::FoldingStream;
use super::shape::WindowShape;
use super::{GeneratedStoreName, KGroupedStream, Windows};
use crate::ktable::KTable;
use crate::materialized::Materialized;
use crate::windows::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};

/// A grouped stream windowed by `W`, ready for an aggregation: made by
/// [`KGroupedStream::windowed_by`]. Its three forms, [`TimeWindowedKStream`],
/// [`SlidingWindowedKStream`] and [`SessionWindowedKStream`], say how each kind of window
/// aggregates.
pub struct WindowedKStream<K, V, W> {
    grouped: KGroupedStream<K, V>,
    windows: W,
    emit: EmitStrategy,
}

/// A grouped stream windowed by [`TimeWindows`] (tumbling or hopping), ready for an
/// aggregation.
///
/// Every aggregation here follows Kafka Streams' `KStreamWindowAggregate`: a record with a
/// null key is dropped and counted (a null *value* is aggregated, as in Java); observed
/// stream time is the largest timestamp this processor has seen in its task; each window
/// the record falls into is updated when its end is after `observed stream time - grace`,
/// and for every other window the record is dropped and counted, while its open windows
/// are still updated. Results are keyed by [`Windowed`] keys (serde:
/// `Serdes::time_windowed(key serde, size)`) and time-stamped with the largest record
/// timestamp in the window. The window store keeps windows for size + grace unless the
/// `Materialized` gives a longer retention.
///
/// # Examples
///
/// A tumbling 10-second count with 2 seconds of grace; a record exactly at a window end
/// opens the next window, and a record whose window closed is dropped:
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::prelude::*;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2)))
///     .count()
///     .to_stream()
///     .to("out", Produced::with(Serdes::time_windowed(Serdes::string(), 10_000), Serdes::option(Serdes::i64())));
/// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
/// let driver = TopologyTestDriver::new(builder.build()?, config)?;
/// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
/// let out = driver.create_output_topic("out", Serdes::time_windowed(Serdes::string(), 10_000), Serdes::option(Serdes::i64()));
/// for ts in [9_999, 10_000, 12_000, 9_000] {
///     input.pipe_record(TestRecord::new("k".to_string(), "v".to_string(), ts))?;
/// }
/// let got: Vec<_> = out.read_records_to_list()?.into_iter().map(|r| (r.key.window.start, r.value, r.timestamp)).collect();
/// // The record at 9 000 comes when stream time is 12 000: window [0, 10 000) closed at 12 000.
/// assert_eq!(got, vec![(0, Some(1), 9_999), (10_000, Some(1), 10_000), (10_000, Some(2), 12_000)]);
/// # Ok::<(), streams_dsl::Error>(())
/// ```
pub type TimeWindowedKStream<K, V> = WindowedKStream<K, V, TimeWindows>;

/// A grouped stream windowed by [`SlidingWindows`], ready for an aggregation.
///
/// Every aggregation here follows Kafka Streams' `KStreamSlidingWindowAggregate`: a record
/// with a null key or a null value is dropped and counted; a record at `ts` is dropped (and
/// counted) when `ts + difference` is below `observed stream time - grace`; otherwise it
/// updates every existing window of its key that contains it, creates its left window
/// `[ts - difference, ts]` (holding the records within the difference before it) and, when
/// later records exist within the difference, its right window `[ts + 1, ts + 1 +
/// difference]`, and creates the right window of the previous record when needed. Windows
/// include both ends; the windowed key's window is `[start, start + difference]`. Records
/// earlier than the difference go to the window `[0, difference]`. The store keeps windows
/// for 2 × difference + grace unless `Materialized` gives a longer retention.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::prelude::*;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::from_millis(10)))
///     .count()
///     .to_stream()
///     .to("out", Produced::with(Serdes::time_windowed(Serdes::string(), 10), Serdes::option(Serdes::i64())));
/// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
/// let driver = TopologyTestDriver::new(builder.build()?, config)?;
/// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
/// let out = driver.create_output_topic("out", Serdes::time_windowed(Serdes::string(), 10), Serdes::option(Serdes::i64()));
/// input.pipe_record(TestRecord::new("k".to_string(), "a".to_string(), 100))?;
/// input.pipe_record(TestRecord::new("k".to_string(), "b".to_string(), 105))?;
/// let got: Vec<_> = out.read_key_values_to_list()?.into_iter().map(|(k, v)| (k.window.start, k.window.end, v)).collect();
/// // [90,100] holds the first record; [95,105] both; [101,111] the second record only.
/// assert_eq!(got, vec![(90, 100, Some(1)), (101, 111, Some(1)), (95, 105, Some(2))]);
/// # Ok::<(), streams_dsl::Error>(())
/// ```
pub type SlidingWindowedKStream<K, V> = WindowedKStream<K, V, SlidingWindows>;

/// A grouped stream windowed by [`SessionWindows`], ready for an aggregation.
///
/// Every aggregation here follows Kafka Streams' `KStreamSessionWindowAggregate`: a record
/// with a null key is dropped and counted (a null value is aggregated, as in Java). A
/// record at `ts` merges with every session of its key ending at or after `ts - gap` and
/// starting at or before `ts + gap` that the store still holds: the store keeps sessions
/// for its retention (gap + grace unless `Materialized` gives more) by their end, and no
/// longer finds a session ending before `latest session end - retention + 1`, even when
/// the record is within its gap. If the merged session ends before
/// `observed stream time - grace - gap`, the record is dropped and counted. Otherwise each
/// absorbed session is retracted with a tombstone (`Change { new: None, .. }`, timestamp =
/// its end), then the merged session is forwarded with its end as timestamp. Keys are
/// [`Windowed`] with the session's real start and end (serde: `Serdes::session_windowed`).
///
/// # Examples
///
/// A record within the gap of a session merges with it: the session is retracted, then
/// the merged session comes out. Only sessions the store still finds can merge: it
/// finds a session while its end is at least `latest session end - retention + 1`
/// (retention = gap + grace by default). Here, at 120 with a retention of 10 ms, the
/// session [100, 100] (end 100 < 120 - 10 + 1) is no longer found, so the record at 110
/// merges only with [120, 120]. Kafka Streams gives the same four records.
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::prelude::*;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_millis(10)))
///     .count()
///     .to_stream()
///     .to("out", Produced::with(Serdes::session_windowed(Serdes::string()), Serdes::option(Serdes::i64())));
/// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
/// let driver = TopologyTestDriver::new(builder.build()?, config)?;
/// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
/// let out = driver.create_output_topic("out", Serdes::session_windowed(Serdes::string()), Serdes::option(Serdes::i64()));
/// for ts in [100, 120, 110] {
///     input.pipe_record(TestRecord::new("k".to_string(), "v".to_string(), ts))?;
/// }
/// let got: Vec<_> = out.read_records_to_list()?.into_iter()
///     .map(|r| (r.key.window.start, r.key.window.end, r.value, r.timestamp)).collect();
/// assert_eq!(got, vec![
///     (100, 100, Some(1), 100),
///     (120, 120, Some(1), 120),
///     (120, 120, None, 120),
///     (110, 120, Some(2), 120),
/// ]);
/// # Ok::<(), streams_dsl::Error>(())
/// ```
pub type SessionWindowedKStream<K, V> = WindowedKStream<K, V, SessionWindows>;

/// Windows whose aggregates never merge: [`TimeWindows`] and [`SlidingWindows`]. Their
/// `aggregate` takes no merger; sessions, which merge, take one.
pub trait FixedWindows: Windows {}

impl FixedWindows for TimeWindows {}

impl FixedWindows for SlidingWindows {}

impl<K, V, W: std::fmt::Debug> std::fmt::Debug for WindowedKStream<K, V, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedKStream")
            .field("windows", &self.windows)
            .field("emit", &self.emit)
            .finish()
    }
}

impl<K: Clone + 'static, V: Clone + 'static, W: Windows> FoldingStream<K, V>
    for WindowedKStream<K, V, W>
{
    type Shape = WindowShape;

    fn grouped(&self) -> &KGroupedStream<K, V> {
        &self.grouped
    }

    fn shape(&self) -> WindowShape {
        self.windows.shape(self.emit)
    }
}

impl<K: Clone + 'static, V: Clone + 'static, W: Windows> WindowedKStream<K, V, W> {
    pub(crate) fn new(grouped: KGroupedStream<K, V>, windows: W) -> Self {
        WindowedKStream {
            grouped,
            windows,
            emit: EmitStrategy::on_window_update(),
        }
    }

    /// Sets when results are forwarded: every update (the default) or, with
    /// [`EmitStrategy::on_window_close`], only each window's (or session's) final result.
    #[must_use]
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.emit = emit;
        self
    }

    /// Counts the records of each key per window (per session for session windows). See
    /// each form's examples: [`TimeWindowedKStream`], [`SlidingWindowedKStream`],
    /// [`SessionWindowedKStream`].
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_fold(Materialized::default(), GeneratedStoreName::Next)
    }

    /// [`count`](Self::count) with the store set up by `materialized`.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let generated = self.shape().count_with_store_name();
        self.count_fold(materialized, generated)
    }

    /// Combines the values of each key per window with `reducer(aggregate, value)`; merging
    /// sessions combine their aggregates with the reducer too.
    pub fn reduce<R>(&self, reducer: R) -> KTable<Windowed<K>, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_with(reducer, Materialized::default())
    }

    /// [`reduce`](Self::reduce) with the store set up by `materialized`.
    pub fn reduce_with<R>(
        &self,
        reducer: R,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V>
    where
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_fold(reducer, materialized)
    }
}

impl<K: Clone + 'static, V: Clone + 'static, W: FixedWindows> WindowedKStream<K, V, W> {
    /// Folds the values of each key per window: `aggregator(key, value, aggregate)` from
    /// `initializer()`, stored with `value_serde`.
    ///
    /// # Examples
    ///
    /// An hourly revenue sum:
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("sales", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key()
    ///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(3600)))
    ///     .aggregate(|| 0i64, |_shop, cents, sum| sum + cents, Serdes::i64())
    ///     .to_stream()
    ///     .to("revenue", Produced::with(Serdes::time_windowed(Serdes::string(), 3_600_000), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let sales = driver.create_input_topic("sales", Serdes::string(), Serdes::i64());
    /// let revenue = driver.create_output_topic("revenue", Serdes::time_windowed(Serdes::string(), 3_600_000), Serdes::option(Serdes::i64()));
    /// sales.pipe_record(TestRecord::new("shop".to_string(), 1_250, 1_000))?;
    /// sales.pipe_record(TestRecord::new("shop".to_string(), 999, 3_599_999))?;
    /// assert_eq!(revenue.read_values_to_list()?, vec![Some(1_250), Some(2_249)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn aggregate<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        value_serde: SerdeRef<VA>,
    ) -> KTable<Windowed<K>, VA>
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
    /// give the aggregate's serde.
    pub fn aggregate_with<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Clone + 'static,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, V, VA) -> VA + Send + Sync + 'static,
    {
        self.aggregate_fold_with(initializer, aggregator, no_merger::<K, VA>, materialized)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> WindowedKStream<K, V, SessionWindows> {
    /// Folds the values of each session: `aggregator(key, value, aggregate)` from
    /// `initializer()`; when sessions merge, `merger(key, aggregate, other)` combines their
    /// aggregates. Stored with `value_serde`.
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

    /// [`aggregate`](Self::aggregate) with the store set up by `materialized`, which must
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
        self.aggregate_fold_with(initializer, aggregator, merger, materialized)
    }
}
