//! How sliding windows aggregate: their shape and Kafka Streams'
//! `KStreamSlidingWindowAggregate` processor. The stream type is
//! [`SlidingWindowedKStream`](super::SlidingWindowedKStream).

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

use super::flushed::forward_flushed;
use super::shape::{AnyShape, FoldParts, Shape, WindowKind, WindowShape};
use super::{Fold, is_null, window_store};
use crate::ktable::Change;
use crate::materialized::Materialized;
use crate::windows::{EmitStrategy, SlidingWindows};

type Vat<VA> = ValueAndTimestamp<VA>;

/// The processor of sliding-window aggregations.
pub(crate) struct KStreamSlidingWindowAggregate<K, V, VA, F> {
    store_name: Arc<str>,
    diff: i64,
    grace: i64,
    emit_on_close: bool,
    emit_interval: i64,
    fold: Arc<F>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    send_old: bool,
    store: Option<Rc<RefCell<TimestampedWindowStore<K, VA>>>>,
    observed: i64,
    last_emit_close: i64,
    next_emit: i64,
    windows: Vec<(i64, Vat<VA>)>,
    flushed: Vec<FlushedWindowEntry<K, Vat<VA>>>,
    closed: Vec<(Windowed<K>, Vat<VA>)>,
    _types: PhantomData<fn(V)>,
}

/// The order in which windows are loaded, by start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartOrder {
    /// The store's own order.
    Ascending,
    /// The reverse iteration Kafka Streams uses with RocksDB.
    Descending,
}

/// What the scan of a key's windows around a record found: the windows that already exist
/// and the aggregates the missing ones start from.
struct Scan<'a, VA> {
    starts: &'a [i64],
    right_agg: Option<Vat<VA>>,
    left_agg: Option<Vat<VA>>,
    left_created: bool,
    right_created: bool,
    previous: Option<i64>,
}

/// The record being processed, borrowed by the helpers.
struct Current<'a, K, V> {
    key: &'a K,
    value: &'a V,
    timestamp: i64,
    headers: &'a streams_core::Headers,
    close_time: i64,
}

impl<K, V, VA, F> KStreamSlidingWindowAggregate<K, V, VA, F>
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
        forward_flushed(&mut self.flushed, self.send_old, ctx)
    }

    /// Puts a window and forwards the update (directly, or what the cache released).
    fn put_and_forward(
        &mut self,
        cur: &Current<'_, K, V>,
        start: i64,
        stored: &Vat<VA>,
        old: Option<VA>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let store = self.store()?;
        let mut s = store.borrow_mut();
        s.put(cur.key, stored, start)?;
        if self.emit_on_close {
            return Ok(());
        }
        if s.caching_enabled() {
            self.flushed.extend(s.take_evicted()?);
            drop(s);
            return self.forward_flushed(ctx);
        }
        drop(s);
        let old = if self.send_old { old } else { None };
        let mut r = Record::new(
            Windowed::new(cur.key.clone(), Window::new(start, start + self.diff)),
            Change::new(Some(stored.value.clone()), old),
            stored.timestamp,
        );
        r.headers = cur.headers.clone();
        ctx.forward(r)
    }

    /// Java's `updateWindowAndForward`: folds the record into the window holding
    /// `existing` (or a new one), unless the window is closed.
    fn update_window(
        &mut self,
        cur: &Current<'_, K, V>,
        start: i64,
        existing: Option<Vat<VA>>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let end = start + self.diff;
        if end < cur.close_time {
            ctx.record_dropped();
            return Ok(());
        }
        let (old, new_timestamp) = match existing {
            Some(v) => {
                let ts = cur.timestamp.max(v.timestamp);
                (Some(v.value), ts)
            }
            None => (None, cur.timestamp),
        };
        let forwarded_old = if self.send_old { old.clone() } else { None };
        let new = self.fold.apply(cur.key, cur.value.clone(), old);
        let stored = ValueAndTimestamp::new(new, new_timestamp);
        self.put_and_forward(cur, start, &stored, forwarded_old, ctx)
    }

    /// A fresh aggregate for a new window: Java's `ValueAndTimestamp.make(initializer(),
    /// timestamp)`, which is null for reduce.
    fn fresh(&self, timestamp: i64) -> Option<Vat<VA>> {
        self.fold
            .initial()
            .map(|v| ValueAndTimestamp::new(v, timestamp))
    }

    /// The windows of the key starting in `[from, to]`, in `order`.
    fn load_windows(&mut self, key: &K, from: i64, to: i64, order: StartOrder) -> Result<()> {
        self.windows.clear();
        let store = self.store()?;
        let s = store.borrow();
        for item in s.fetch(key, from, to)? {
            self.windows.push(item?);
        }
        if order == StartOrder::Descending {
            self.windows.reverse();
        }
        Ok(())
    }

    fn process_reverse(
        &mut self,
        cur: &Current<'_, K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let ts = cur.timestamp;
        let mut starts = Vec::new();
        let mut left_agg: Option<Vat<VA>> = None;
        let mut right_agg: Option<Vat<VA>> = None;
        let mut left_created = false;
        let mut right_created = false;
        let mut previous: Option<i64> = None;
        self.load_windows(
            cur.key,
            (ts - 2 * self.diff).max(0),
            ts + 1,
            StartOrder::Descending,
        )?;
        let windows = std::mem::take(&mut self.windows);
        let mut stop = false;
        for (start, value) in &windows {
            let start = *start;
            starts.push(start);
            let end = start + self.diff;
            let max_ts = value.timestamp;
            if start == ts + 1 {
                right_created = true;
            } else if end > ts {
                if right_agg.is_none() {
                    right_agg = Some(value.clone());
                }
                self.update_window(cur, start, Some(value.clone()), ctx)?;
            } else if end == ts {
                left_created = true;
                self.update_window(cur, start, Some(value.clone()), ctx)?;
                if max_ts < ts {
                    previous = Some(max_ts);
                } else {
                    stop = true;
                    break;
                }
            } else {
                left_agg = Some(value.clone());
                previous = Some(max_ts);
                break;
            }
        }
        self.windows = windows;
        if stop {
            return Ok(());
        }
        let scan = Scan {
            starts: &starts,
            right_agg,
            left_agg,
            left_created,
            right_created,
            previous,
        };
        self.create_windows(cur, scan, ctx)
    }

    fn create_windows(
        &mut self,
        cur: &Current<'_, K, V>,
        scan: Scan<'_, VA>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let Scan {
            starts,
            right_agg,
            left_agg,
            left_created,
            right_created,
            previous,
        } = scan;
        let ts = cur.timestamp;
        if let Some(prev) = previous {
            let prev_right_start = prev + 1;
            if !starts.contains(&prev_right_start) && prev_right_start + self.diff >= ts {
                let fresh = self.fresh(ts);
                self.update_window(cur, prev_right_start, fresh, ctx)?;
            }
        }
        if !left_created {
            let left_not_empty = previous.is_some_and(|p| ts - self.diff <= p);
            let value = if left_not_empty {
                left_agg.map(|v| ValueAndTimestamp::new(v.value, ts))
            } else {
                self.fresh(ts)
            };
            self.update_window(cur, ts - self.diff, value, ctx)?;
        }
        if !right_created
            && let Some(right) = right_agg
            && right.timestamp > ts
        {
            self.put_and_forward(cur, ts + 1, &right, None, ctx)?;
        }
        Ok(())
    }

    /// Records earlier than the time difference, whose windows would start before 0: they
    /// share the window `[0, difference]`, as Kafka Streams' `processEarly`.
    fn process_early(
        &mut self,
        cur: &Current<'_, K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let ts = cur.timestamp;
        let mut combined: Option<Vat<VA>> = None;
        let mut right_agg: Option<Vat<VA>> = None;
        let mut right_created = false;
        let mut starts = Vec::new();
        let mut previous: Option<i64> = None;
        self.load_windows(cur.key, 0, ts + 1, StartOrder::Ascending)?;
        let windows = std::mem::take(&mut self.windows);
        for (start, value) in &windows {
            let start = *start;
            starts.push(start);
            if start == 0 {
                combined = Some(value.clone());
                if value.timestamp < ts {
                    previous = Some(value.timestamp);
                }
            } else if start <= ts {
                right_agg = Some(value.clone());
                self.update_window(cur, start, Some(value.clone()), ctx)?;
            } else if start == ts + 1 {
                right_created = true;
            }
        }
        self.windows = windows;
        if right_agg.is_none()
            && let Some(c) = &combined
            && c.timestamp > ts
        {
            right_agg = Some(c.clone());
        }
        if !right_created
            && let Some(right) = right_agg
            && right.timestamp > ts
        {
            self.put_and_forward(cur, ts + 1, &right, None, ctx)?;
        }
        if let Some(prev) = previous
            && !starts.contains(&(prev + 1))
        {
            let fresh = self.fresh(ts);
            self.update_window(cur, prev + 1, fresh, ctx)?;
        }
        match combined {
            None => {
                let fresh = self.fresh(ts);
                self.update_window(cur, 0, fresh, ctx)
            }
            Some(c) => self.update_window(cur, 0, Some(c), ctx),
        }
    }

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
        let upper = close_time - self.diff - 1;
        if upper < 0 {
            return Ok(());
        }
        let lower = if self.last_emit_close == -1 {
            0
        } else {
            (self.last_emit_close - self.diff).max(0)
        };
        let store = self.store()?;
        {
            let s = store.borrow();
            for item in s.fetch_all(lower, upper)? {
                self.closed.push(item?);
            }
        }
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

impl<K, V, VA, F> Processor<K, V, Windowed<K>, Change<VA>>
    for KStreamSlidingWindowAggregate<K, V, VA, F>
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
        if is_null(self.key_serde.as_ref(), &record.key)
            || is_null(self.value_serde.as_ref(), &record.value)
        {
            ctx.record_dropped();
            return Ok(());
        }
        let ts = record.timestamp;
        self.observed = self.observed.max(ts);
        let close_time = self.observed - self.grace;
        if ts + self.diff < close_time {
            ctx.record_dropped();
            return Ok(());
        }
        let cur = Current {
            key: &record.key,
            value: &record.value,
            timestamp: ts,
            headers: &record.headers,
            close_time,
        };
        if ts < self.diff {
            return self.process_early(&cur, ctx);
        }
        self.process_reverse(&cur, ctx)?;
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
        self.forward_flushed(ctx)
    }
}

/// Sliding-window aggregation with its windows and emit strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlidingShape {
    pub(crate) windows: SlidingWindows,
    pub(crate) emit: EmitStrategy,
}

impl Shape for SlidingShape {
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
        let diff = windows.time_difference_ms();
        let minimum = diff.saturating_mul(2).saturating_add(windows.grace_ms());
        windows.validate()?;
        window_store(
            name,
            materialized,
            key_serde,
            value_serde,
            node,
            minimum,
            diff,
            self.emit,
            WindowReads::TimeOrderedWindows,
        )
    }

    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        Serdes::time_windowed(key_serde, self.windows.time_difference_ms())
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
        let windows = self.windows;
        let emit_on_close = self.emit.is_on_window_close();
        let supplier = move || KStreamSlidingWindowAggregate {
            store_name: Arc::clone(&parts.store_name),
            diff: windows.time_difference_ms(),
            grace: windows.grace_ms(),
            emit_on_close,
            emit_interval: 0,
            fold: Arc::clone(&parts.fold),
            key_serde: parts.key_serde.clone(),
            value_serde: parts.value_serde.clone(),
            send_old: parts.send_old.enabled(),
            store: None,
            observed: -1,
            last_emit_close: -1,
            next_emit: 0,
            windows: Vec::new(),
            flushed: Vec::new(),
            closed: Vec::new(),
            _types: PhantomData,
        };
        topology
            .add_processor(node, supplier, &[parent])
            .map(|_| ())
    }

    fn erased(self) -> AnyShape {
        AnyShape::Windowed(WindowShape(WindowKind::Sliding(self)))
    }
}
