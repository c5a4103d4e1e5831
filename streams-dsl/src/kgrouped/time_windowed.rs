//! Aggregations over time windows (tumbling and hopping): Kafka Streams'
//! `TimeWindowedKStream` and `KStreamWindowAggregate`.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::serde::Serdes;
use streams_core::state::{ReadOnlyWindowStore, StoreBuilder, ValueAndTimestamp, WindowStore};
use streams_core::topology::Topology;
use streams_core::window::{Window, Windowed};
use streams_core::{Error, Record, Result, SerdeRef};
use streams_state::{FlushedWindowEntry, TimestampedWindowStore, WindowReads};

use super::fold::no_merger;
use super::folding::FoldingStream;
use super::shape::{AnyShape, FoldParts, Shape};
use super::{Fold, GeneratedStoreName, KGroupedStream, is_null, window_store};
use crate::ktable::{Change, KTable};
use crate::materialized::Materialized;
use crate::windows::{EmitStrategy, TimeWindows};

/// A grouped stream windowed by [`TimeWindows`], ready for an aggregation.
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
pub struct TimeWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    shape: TimeShape,
}

impl<K, V> std::fmt::Debug for TimeWindowedKStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeWindowedKStream")
            .field("windows", &self.shape.windows)
            .field("emit", &self.shape.emit)
            .finish()
    }
}

/// The processor of time-windowed aggregations.
pub(crate) struct KStreamWindowAggregate<K, V, VA, F> {
    store_name: Arc<str>,
    windows: TimeWindows,
    emit_on_close: bool,
    emit_interval: i64,
    fold: Arc<F>,
    key_serde: Option<SerdeRef<K>>,
    send_old: bool,
    store: Option<Rc<RefCell<TimestampedWindowStore<K, VA>>>>,
    observed: i64,
    last_emit_close: i64,
    next_emit: i64,
    flushed: Vec<FlushedWindowEntry<K, ValueAndTimestamp<VA>>>,
    closed: Vec<(Windowed<K>, ValueAndTimestamp<VA>)>,
    _types: PhantomData<fn(V)>,
}

impl<K, V, VA, F> KStreamWindowAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
{
    fn store(&self) -> Result<Rc<RefCell<TimestampedWindowStore<K, VA>>>> {
        self.store
            .clone()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.to_string()))
    }

    fn forward_flushed(
        &mut self,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        for e in self.flushed.drain(..) {
            let timestamp = e.new_value.as_ref().map_or(e.timestamp, |v| v.timestamp);
            let old = if self.send_old {
                e.old_value.map(|v| v.value)
            } else {
                None
            };
            let change = Change::new(e.new_value.map(|v| v.value), old);
            ctx.forward(Record::new(e.key, change, timestamp))?;
        }
        Ok(())
    }

    /// Emit-on-close: forwards the windows that closed since the last emission, at most
    /// once per emit interval of wall-clock time, as Kafka Streams'
    /// `AbstractKStreamTimeWindowAggregateProcessor.maybeForwardFinalResult`.
    fn maybe_emit_final(
        &mut self,
        close_time: i64,
        headers: &streams_core::Headers,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let now = ctx.wall_clock_time();
        if now < self.next_emit {
            return Ok(());
        }
        self.next_emit = now.saturating_add(self.emit_interval);
        if self.last_emit_close != -1 && self.last_emit_close >= close_time {
            return Ok(());
        }
        let size = self.windows.size_ms();
        let upper = close_time - size;
        if upper < 0 {
            return Ok(());
        }
        let lower = if self.last_emit_close == -1 {
            0
        } else {
            (self.last_emit_close - size).max(0) + 1
        };
        if self.last_emit_close != -1 {
            let closing: Vec<i64> = self.windows.starts_for(upper).collect();
            let emitted: Vec<i64> = self.windows.starts_for(lower - 1).collect();
            if closing == emitted {
                return Ok(());
            }
        }
        let store = self.store()?;
        {
            let s = store.borrow();
            for item in s.fetch_all(lower, upper)? {
                self.closed.push(item?);
            }
        }
        // A time-ordered store, as Kafka Streams uses for emit-on-close, yields windows by
        // start time.
        self.closed.sort_by_key(|(k, _)| k.window.start);
        for (key, v) in self.closed.drain(..) {
            let mut r = Record::new(key, Change::new(Some(v.value), None), v.timestamp);
            r.headers = headers.clone();
            ctx.forward(r)?;
        }
        self.last_emit_close = close_time;
        Ok(())
    }
}

impl<K, V, VA, F> Processor<K, V, Windowed<K>, Change<VA>> for KStreamWindowAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let store = ctx.state_store::<TimestampedWindowStore<K, VA>>(&self.store_name)?;
        // Old values are read from the store below only when they are forwarded.
        store.borrow_mut().set_send_old_values(self.send_old);
        self.store = Some(store);
        self.emit_interval = ctx.app_config().windowed_aggregation_emit_interval_ms()?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if is_null(self.key_serde.as_ref(), &record.key) {
            ctx.record_dropped();
            return Ok(());
        }
        let timestamp = record.timestamp;
        self.observed = self.observed.max(timestamp);
        let close_time = self.observed - self.windows.grace_ms();
        let store = self.store()?;
        let size = self.windows.size_ms();
        for start in self.windows.starts_for(timestamp) {
            let end = start.saturating_add(size);
            if end <= close_time {
                ctx.record_dropped();
                continue;
            }
            let mut s = store.borrow_mut();
            let (old, new_timestamp) = match s.fetch_at(&record.key, start)? {
                Some(stored) => (Some(stored.value), timestamp.max(stored.timestamp)),
                None => (self.fold.initial(), timestamp),
            };
            let forwarded_old = if self.send_old { old.clone() } else { None };
            let new = self.fold.apply(&record.key, record.value.clone(), old);
            let stored = ValueAndTimestamp::new(new, new_timestamp);
            s.put(&record.key, &stored, start)?;
            if self.emit_on_close {
                continue;
            }
            if s.caching_enabled() {
                self.flushed.extend(s.take_evicted()?);
                drop(s);
                self.forward_flushed(ctx)?;
            } else {
                drop(s);
                let mut r = Record::new(
                    Windowed::new(record.key.clone(), Window::new(start, end)),
                    Change::new(Some(stored.value), forwarded_old),
                    new_timestamp,
                );
                r.headers = record.headers.clone();
                ctx.forward(r)?;
            }
        }
        if self.emit_on_close {
            self.maybe_emit_final(close_time, &record.headers, ctx)?;
        }
        Ok(())
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let store = self.store()?;
        let mut s = store.borrow_mut();
        if !s.caching_enabled() {
            return Ok(());
        }
        let flushed = &mut self.flushed;
        s.flush_cache(|e| flushed.push(e))?;
        drop(s);
        if self.emit_on_close {
            self.flushed.clear();
            return Ok(());
        }
        self.forward_flushed(ctx)
    }
}

/// Time-windowed aggregation with its windows and emit strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeShape {
    pub(crate) windows: TimeWindows,
    pub(crate) emit: EmitStrategy,
}

impl Shape for TimeShape {
    type Key<K: Clone + 'static> = Windowed<K>;

    fn grace_ms(&self) -> Option<i64> {
        Some(self.windows.grace_ms())
    }

    fn store<K: 'static, VA: 'static>(
        &self,
        name: &str,
        materialized: &Materialized<K, VA>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<VA>>,
        node: &str,
    ) -> Result<Arc<dyn StoreBuilder>> {
        let windows = self.windows;
        let minimum = windows.size_ms().saturating_add(windows.grace_ms());
        windows.validate()?;
        window_store(
            name,
            materialized,
            key_serde,
            value_serde,
            node,
            minimum,
            windows.size_ms(),
            self.emit,
            WindowReads::TimeOrderedWindows,
        )
    }

    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        Serdes::time_windowed(key_serde, self.windows.size_ms())
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
        let (windows, emit_on_close) = (self.windows, self.emit.is_on_window_close());
        let supplier = move || KStreamWindowAggregate {
            store_name: Arc::clone(&parts.store_name),
            windows,
            emit_on_close,
            emit_interval: 0,
            fold: Arc::clone(&parts.fold),
            key_serde: parts.key_serde.clone(),
            send_old: parts.send_old.enabled(),
            store: None,
            observed: -1,
            last_emit_close: -1,
            next_emit: 0,
            flushed: Vec::new(),
            closed: Vec::new(),
            _types: PhantomData,
        };
        topology
            .add_processor(node, supplier, &[parent])
            .map(|_| ())
    }

    fn erased(self) -> AnyShape {
        AnyShape::Time(self)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> FoldingStream<K, V> for TimeWindowedKStream<K, V> {
    type Shape = TimeShape;

    fn grouped(&self) -> &KGroupedStream<K, V> {
        &self.grouped
    }

    fn shape(&self) -> TimeShape {
        self.shape
    }
}

impl<K: Clone + 'static, V: Clone + 'static> TimeWindowedKStream<K, V> {
    pub(crate) fn new(grouped: KGroupedStream<K, V>, windows: TimeWindows) -> Self {
        TimeWindowedKStream {
            grouped,
            shape: TimeShape {
                windows,
                emit: EmitStrategy::on_window_update(),
            },
        }
    }

    /// Sets when results are forwarded: every update (the default) or, with
    /// [`EmitStrategy::on_window_close`], only each window's final result.
    #[must_use]
    pub fn emit_strategy(mut self, emit: EmitStrategy) -> Self {
        self.shape.emit = emit;
        self
    }

    /// Counts the records of each key per window.
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
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_fold(Materialized::default(), GeneratedStoreName::Next)
    }

    /// [`count`](Self::count) with the store set up by `materialized`.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.count_fold(materialized, GeneratedStoreName::SkipOne)
    }

    /// Combines the values of each key per window with `reducer(aggregate, value)`.
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
