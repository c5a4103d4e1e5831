//! How session windows aggregate: their shape and Kafka Streams'
//! `KStreamSessionWindowAggregate` processor. The stream type is
//! [`SessionWindowedKStream`](super::SessionWindowedKStream).
//!
//! Sessions are kept in a timestamped window store indexed by session *end*: the sessions
//! of one key never overlap, so no two share an end. Each entry's "timestamp" is the
//! session's start. Retention (gap + grace by default) expires sessions by their end, as
//! Kafka Streams' session store does: a session ending at or before the store's observed
//! time (latest session end) minus retention is no longer found. Emit-on-close
//! aggregations on RocksDB use Kafka Streams' time-ordered session store instead, whose
//! scan for closed sessions skips only expired segments (see
//! [`WindowReads::TimeOrderedSessions`]).

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

use super::shape::{AnyShape, FoldParts, Shape, WindowKind, WindowShape};
use super::{Fold, is_null, window_store};
use crate::ktable::Change;
use crate::materialized::Materialized;
use crate::windows::{EmitStrategy, SessionWindows};

type Vat<VA> = ValueAndTimestamp<VA>;

/// How an update of the session store reaches downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Forwarded at once: the store has no cache.
    Direct,
    /// Through the store's cache, which forwards what it releases.
    Cached,
}

/// The processor of session-window aggregations.
pub(crate) struct KStreamSessionWindowAggregate<K, V, VA, F> {
    store_name: Arc<str>,
    gap: i64,
    grace: i64,
    emit_on_close: bool,
    emit_interval: i64,
    fold: Arc<F>,
    key_serde: Option<SerdeRef<K>>,
    send_old: bool,
    store: Option<Rc<RefCell<TimestampedWindowStore<K, VA>>>>,
    observed: i64,
    last_emit_close: i64,
    next_emit: i64,
    /// Sessions found for the current record: (end, start and aggregate).
    merged: Vec<(i64, Vat<VA>)>,
    flushed: Vec<FlushedWindowEntry<K, Vat<VA>>>,
    closed: Vec<(Windowed<K>, Vat<VA>)>,
    _types: PhantomData<fn(V)>,
}

impl<K, V, VA, F> KStreamSessionWindowAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
{
    fn store(&self) -> Result<Rc<RefCell<TimestampedWindowStore<K, VA>>>> {
        self.store
            .clone()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.to_string()))
    }

    /// Forwards cache releases as Kafka Streams' `SessionCacheFlushListener` would: a
    /// session replaced by one with the same end but another start is retracted first.
    fn forward_flushed(
        &mut self,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        for e in self.flushed.drain(..) {
            let end = e.key.window.start;
            let key = e.key.key;
            match (e.new_value, e.old_value) {
                (Some(new), old) => {
                    let mut old_same = None;
                    if let Some(old) = old {
                        if old.timestamp == new.timestamp {
                            old_same = Some(old.value);
                        } else {
                            let gone = Windowed::new(key.clone(), Window::new(old.timestamp, end));
                            let retract = if self.send_old { Some(old.value) } else { None };
                            ctx.forward(Record::new(gone, Change::new(None, retract), end))?;
                        }
                    }
                    let old = if self.send_old { old_same } else { None };
                    let k = Windowed::new(key, Window::new(new.timestamp, end));
                    ctx.forward(Record::new(k, Change::new(Some(new.value), old), end))?;
                }
                (None, Some(old)) => {
                    let gone = Windowed::new(key, Window::new(old.timestamp, end));
                    let retract = if self.send_old { Some(old.value) } else { None };
                    ctx.forward(Record::new(gone, Change::new(None, retract), end))?;
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    fn forward_update(
        &mut self,
        key: Windowed<K>,
        change: Change<VA>,
        delivery: Delivery,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if self.emit_on_close {
            return Ok(());
        }
        if delivery == Delivery::Cached {
            return self.forward_flushed(ctx);
        }
        let end = key.window.end;
        ctx.forward(Record::new(key, change, end))
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
        let upper = close_time - 1;
        if upper < 0 {
            return Ok(());
        }
        let lower = self.last_emit_close.max(0);
        if upper < lower {
            return Ok(());
        }
        let store = self.store()?;
        {
            let s = store.borrow();
            for item in s.fetch_all(lower, upper)? {
                self.closed.push(item?);
            }
        }
        // Java reads closed sessions from a time-ordered session store whose keys are laid
        // out end time, start time, key (`PrefixedSessionKeySchemas.TimeFirstSessionKeySchema`),
        // so sessions closing together come out by end, then start, then key bytes. Here the
        // stored window's start is the session's end and the value's timestamp its start; the
        // scan is in key-byte order within one end time and the sort is stable.
        self.closed
            .sort_by_key(|(k, v)| (k.window.start, v.timestamp));
        for (key, v) in self.closed.drain(..) {
            let end = key.window.start;
            let session = Windowed::new(key.key, Window::new(v.timestamp, end));
            let mut r = Record::new(session, Change::new(Some(v.value), None), end);
            r.headers = headers.clone();
            ctx.forward(r)?;
        }
        self.last_emit_close = close_time;
        Ok(())
    }
}

impl<K, V, VA, F> Processor<K, V, Windowed<K>, Change<VA>>
    for KStreamSessionWindowAggregate<K, V, VA, F>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
    F: Fold<K, V, VA>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        self.store = Some(ctx.state_store::<TimestampedWindowStore<K, VA>>(&self.store_name)?);
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
        let Record {
            key,
            value,
            timestamp: ts,
            headers,
        } = record;
        self.observed = self.observed.max(ts);
        let close_time = self.observed - self.grace - self.gap;
        let store = self.store()?;
        self.merged.clear();
        {
            let s = store.borrow();
            let latest_start = ts.saturating_add(self.gap);
            // Kafka Streams' `findSessions(key, ts - gap, ts + gap)` bounds the end from
            // below only: in a cogroup, another grouping's processor may have stored
            // sessions ending after this processor's observed stream time.
            for item in s.fetch(&key, (ts - self.gap).max(0), i64::MAX)? {
                let (end, session) = item?;
                if session.timestamp <= latest_start {
                    self.merged.push((end, session));
                }
            }
        }
        let mut agg = self.fold.initial();
        let (mut start, mut end) = (ts, ts);
        for (session_end, session) in &self.merged {
            agg = Some(self.fold.merge(&key, agg, session.value.clone()));
            start = start.min(session.timestamp);
            end = end.max(*session_end);
        }
        if end < close_time {
            ctx.record_dropped();
        } else {
            if (start, end) != (ts, ts) {
                let merged = std::mem::take(&mut self.merged);
                for (session_end, session) in &merged {
                    let mut s = store.borrow_mut();
                    s.delete(&key, *session_end)?;
                    let delivery = if s.caching_enabled() {
                        self.flushed.extend(s.take_evicted()?);
                        Delivery::Cached
                    } else {
                        Delivery::Direct
                    };
                    drop(s);
                    let old = if self.send_old {
                        Some(session.value.clone())
                    } else {
                        None
                    };
                    let gone =
                        Windowed::new(key.clone(), Window::new(session.timestamp, *session_end));
                    self.forward_update(gone, Change::new(None, old), delivery, ctx)?;
                }
                self.merged = merged;
            }
            let new = self.fold.apply(&key, value, agg);
            let stored = ValueAndTimestamp::new(new, start);
            let mut s = store.borrow_mut();
            s.put(&key, &stored, end)?;
            let delivery = if s.caching_enabled() {
                self.flushed.extend(s.take_evicted()?);
                Delivery::Cached
            } else {
                Delivery::Direct
            };
            drop(s);
            let session = Windowed::new(key, Window::new(start, end));
            self.forward_update(
                session,
                Change::new(Some(stored.value), None),
                delivery,
                ctx,
            )?;
        }
        if self.emit_on_close {
            self.maybe_emit_final(close_time, &headers, ctx)?;
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

/// Session-window aggregation with its windows and emit strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionShape {
    pub(crate) windows: SessionWindows,
    pub(crate) emit: EmitStrategy,
}

impl Shape for SessionShape {
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
        let minimum = windows
            .inactivity_gap_ms()
            .saturating_add(windows.grace_ms());
        windows.validate()?;
        window_store(
            name,
            materialized,
            key_serde,
            value_serde,
            node,
            minimum,
            1,
            self.emit,
            WindowReads::TimeOrderedSessions,
        )
    }

    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        Serdes::session_windowed(key_serde)
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
        let supplier = move || KStreamSessionWindowAggregate {
            store_name: Arc::clone(&parts.store_name),
            gap: windows.inactivity_gap_ms(),
            grace: windows.grace_ms(),
            emit_on_close,
            emit_interval: 0,
            fold: Arc::clone(&parts.fold),
            key_serde: parts.key_serde.clone(),
            send_old: parts.send_old.enabled(),
            store: None,
            observed: -1,
            last_emit_close: -1,
            next_emit: 0,
            merged: Vec::new(),
            flushed: Vec::new(),
            closed: Vec::new(),
            _types: PhantomData,
        };
        topology
            .add_processor(node, supplier, &[parent])
            .map(|_| ())
    }

    fn erased(self) -> AnyShape {
        AnyShape::Windowed(WindowShape(WindowKind::Session(self)))
    }
}
