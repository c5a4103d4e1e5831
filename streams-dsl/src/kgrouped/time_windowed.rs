//! How time windows (tumbling and hopping) aggregate: their shape and Kafka Streams'
//! `KStreamWindowAggregate` processor. The stream type is
//! [`TimeWindowedKStream`](super::TimeWindowedKStream).

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
use crate::windows::{EmitStrategy, TimeWindows};

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
        forward_flushed(&mut self.flushed, self.send_old, ctx)
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
        AnyShape::Windowed(WindowShape(WindowKind::Time(self)))
    }
}
