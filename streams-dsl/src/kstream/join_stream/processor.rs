//! The join node of one side: Kafka Streams' `KStreamKStreamJoinLeftSide`/`RightSide`,
//! with the outer-join handling of non-matches held back in the shared store.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::{ReadOnlyWindowStore, changelog_topic_name};
use streams_core::{Error, Record, Result, SerdeRef, TaskId};
use streams_state::{TypedKeyValueStore, TypedWindowStore};

use super::outer::{
    JoinSide, TimeTracker, TimeTrackers, append_entry, begin_key, decode_key, entries,
};

/// A value joiner called with both values.
pub(super) type BothFn<A, B, R> = Arc<dyn Fn(&A, &B) -> R + Send + Sync>;
/// A value joiner called with one side's value alone.
pub(super) type OnlyFn<A, R> = Arc<dyn Fn(&A) -> R + Send + Sync>;

/// What the join processor of one side needs, shared by its instances in all tasks.
/// `VThis`/`VOther` are this side's and the other side's value types; `V1`/`V2` the left
/// and right value types, which the shared store holds.
pub(super) struct JoinSpec<K, VThis, VOther, V1, V2, VR> {
    pub(super) this_side: JoinSide,
    pub(super) other_store: String,
    pub(super) outer_store: Option<String>,
    /// How far back and ahead of this side's record the other side's partners may be.
    pub(super) join_before: i64,
    pub(super) join_after: i64,
    pub(super) windows_before: i64,
    pub(super) windows_after: i64,
    pub(super) grace: i64,
    pub(super) key_serde: SerdeRef<K>,
    pub(super) this_serde: SerdeRef<VThis>,
    pub(super) left_serde: SerdeRef<V1>,
    pub(super) right_serde: SerdeRef<V2>,
    pub(super) both: BothFn<VThis, VOther, VR>,
    pub(super) this_only: Option<OnlyFn<VThis, VR>>,
    pub(super) left_only: Option<OnlyFn<V1, VR>>,
    pub(super) right_only: Option<OnlyFn<V2, VR>>,
    pub(super) trackers: Arc<TimeTrackers>,
}

type OuterStore = TypedKeyValueStore<Vec<u8>, Vec<u8>>;

/// The join processor of one side (Kafka Streams' `KStreamKStreamJoinLeftSide`/`RightSide`).
pub(super) struct JoinProcessor<K, VThis, VOther, V1, V2, VR> {
    spec: Arc<JoinSpec<K, VThis, VOther, V1, V2, VR>>,
    other: Option<Rc<RefCell<TypedWindowStore<K, VOther>>>>,
    outer: Option<Rc<RefCell<OuterStore>>>,
    tracker: Arc<TimeTracker>,
    task: Option<TaskId>,
    /// [`OUTER_JOIN_EMIT_INTERVAL`](streams_core::OUTER_JOIN_EMIT_INTERVAL), read at init.
    emit_interval: i64,
    /// The topic handed to serdes for the shared store: its changelog topic.
    outer_topic: String,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    list_buf: Vec<u8>,
    emitted: Vec<Vec<u8>>,
}

impl<K, VThis, VOther, V1, V2, VR> JoinProcessor<K, VThis, VOther, V1, V2, VR>
where
    K: Clone + 'static,
    VThis: Clone + 'static,
    VOther: Clone + 'static,
    V1: 'static,
    V2: 'static,
    VR: Clone + 'static,
{
    pub(super) fn new(spec: Arc<JoinSpec<K, VThis, VOther, V1, V2, VR>>) -> Self {
        JoinProcessor {
            spec,
            other: None,
            outer: None,
            tracker: Arc::new(TimeTracker::default()),
            task: None,
            emit_interval: 0,
            outer_topic: String::new(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            list_buf: Vec::new(),
            emitted: Vec::new(),
        }
    }

    /// Writes the shared-store key of `key` at `timestamp` on the given side into `key_buf`.
    fn outer_key(&mut self, key: &K, timestamp: i64, side: JoinSide) -> Result<()> {
        begin_key(&mut self.key_buf, timestamp, side);
        self.spec
            .key_serde
            .serialize(&self.outer_topic, key, &mut self.key_buf)?;
        Ok(())
    }

    /// Holds a non-match back in the shared store.
    fn put_outer(&mut self, outer: &RefCell<OuterStore>, record: &Record<K, VThis>) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        self.outer_key(&record.key, record.timestamp, spec.this_side)?;
        self.value_buf.clear();
        self.value_buf.push(spec.this_side.byte());
        spec.this_serde
            .serialize(&self.outer_topic, &record.value, &mut self.value_buf)?;
        let mut store = outer.borrow_mut();
        let store_name = spec.outer_store.as_deref().unwrap_or_default();
        let existing = store.bytes_store().get(&self.key_buf)?;
        append_entry(
            store_name,
            existing.as_deref(),
            &self.value_buf,
            &mut self.list_buf,
        )?;
        store
            .bytes_store_mut()
            .put(&self.key_buf, Some(&self.list_buf))
    }

    /// Emits the held-back non-matches whose window has closed (Kafka Streams'
    /// `emitNonJoinedOuterRecords`), with the current record's headers.
    fn emit_non_joined(
        &mut self,
        outer: &RefCell<OuterStore>,
        record: &Record<K, VThis>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        let tracker = Arc::clone(&self.tracker);
        // Java's long arithmetic: with nothing held back, the minimum is Long.MAX_VALUE and
        // the sum wraps, so the store is looked at anyway.
        if tracker
            .min_time()
            .wrapping_add(spec.join_after)
            .wrapping_add(spec.grace)
            >= tracker.stream_time()
        {
            return Ok(());
        }
        let now = ctx.wall_clock_time();
        if now < tracker.next_time_to_emit() {
            return Ok(());
        }
        tracker.set_next_time_to_emit(now.wrapping_add(self.emit_interval));
        tracker.set_min_time(i64::MAX);

        let store_name = spec.outer_store.as_deref().unwrap_or_default();
        let mut emitted = std::mem::take(&mut self.emitted);
        let result = (|| -> Result<()> {
            let store = outer.borrow();
            let (mut left_open, mut right_open) = (false, false);
            'keys: for item in store.bytes_store().all()? {
                let (k, list) = item?;
                let (ts, side, key_bytes) = decode_key(store_name, &k)?;
                let mut key: Option<K> = None;
                let mut emitted_any = false;
                for entry in entries(store_name, &list) {
                    let entry = entry?;
                    tracker.set_min_time(ts);
                    if left_open && right_open {
                        break 'keys;
                    }
                    let look_back = match side {
                        JoinSide::Left => spec.windows_after,
                        JoinSide::Right => spec.windows_before,
                    };
                    if ts + look_back + spec.grace >= tracker.stream_time() {
                        match side {
                            JoinSide::Left => left_open = true,
                            JoinSide::Right => right_open = true,
                        }
                        continue;
                    }
                    let Some((&flag, bytes)) = entry.split_first() else {
                        continue;
                    };
                    let value = if flag == JoinSide::Left.byte() {
                        let v = spec
                            .left_serde
                            .deserialize(&self.outer_topic, Some(bytes))?;
                        spec.left_only.as_ref().map(|f| f(&v))
                    } else {
                        let v = spec
                            .right_serde
                            .deserialize(&self.outer_topic, Some(bytes))?;
                        spec.right_only.as_ref().map(|f| f(&v))
                    };
                    let Some(value) = value else {
                        continue;
                    };
                    let key = match &key {
                        Some(key) => key.clone(),
                        None => {
                            let decoded = spec
                                .key_serde
                                .deserialize(&self.outer_topic, Some(key_bytes))?;
                            key.insert(decoded).clone()
                        }
                    };
                    emitted_any = true;
                    ctx.forward(Record {
                        key,
                        value,
                        timestamp: ts,
                        headers: record.headers.clone(),
                    })?;
                }
                if emitted_any {
                    emitted.push(k);
                }
            }
            Ok(())
        })();
        let mut deleted = Ok(());
        if !emitted.is_empty() {
            let mut store = outer.borrow_mut();
            for k in emitted.drain(..) {
                if deleted.is_ok() {
                    deleted = store.bytes_store_mut().put(&k, None);
                }
            }
        }
        self.emitted = emitted;
        result.and(deleted)
    }
}

impl<K, VThis, VOther, V1, V2, VR> Processor<K, VThis, K, VR>
    for JoinProcessor<K, VThis, VOther, V1, V2, VR>
where
    K: Clone + 'static,
    VThis: Clone + 'static,
    VOther: Clone + 'static,
    V1: 'static,
    V2: 'static,
    VR: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.other = Some(ctx.state_store::<TypedWindowStore<K, VOther>>(&self.spec.other_store)?);
        if let Some(name) = &self.spec.outer_store {
            self.outer = Some(ctx.state_store::<OuterStore>(name)?);
            self.outer_topic = changelog_topic_name(ctx.application_id(), name);
        }
        let task = ctx.task_id();
        self.tracker = self.spec.trackers.get(task);
        self.task = Some(task);
        self.emit_interval = ctx.app_config().outer_join_emit_interval_ms()?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, VThis>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        let tracker = Arc::clone(&self.tracker);
        let ts = record.timestamp;
        tracker.advance_stream_time(ts);

        let key_null = spec.key_serde.is_null(&record.key);
        let value_null = spec.this_serde.is_null(&record.value);
        if key_null
            && !value_null
            && let Some(only) = &spec.this_only
        {
            // A left or outer join joins a record without a key against nothing, at once.
            let value = only(&record.value);
            return ctx.forward(record.with_value(value));
        }
        if key_null || value_null {
            ctx.record_dropped();
            return Ok(());
        }

        let outer = self.outer.clone();
        if ts == tracker.stream_time()
            && let Some(outer) = &outer
        {
            self.emit_non_joined(outer, &record, ctx)?;
        }

        let time_from = ts.saturating_sub(spec.join_before).max(0);
        let time_to = ts.saturating_add(spec.join_after).max(0);
        let Some(other) = self.other.clone() else {
            return Err(Error::IllegalState(format!(
                "join store '{}' used before init",
                spec.other_store
            )));
        };
        let mut matched = false;
        {
            let other = other.borrow();
            for item in other.fetch(&record.key, time_from, time_to)? {
                let (other_ts, other_value) = item?;
                matched = true;
                if let Some(outer) = &outer {
                    // The partner no longer waits for a match.
                    self.outer_key(&record.key, other_ts, spec.this_side.other())?;
                    outer
                        .borrow_mut()
                        .bytes_store_mut()
                        .put(&self.key_buf, None)?;
                }
                let value = (spec.both)(&record.value, &other_value);
                ctx.forward(Record {
                    key: record.key.clone(),
                    value,
                    timestamp: ts.max(other_ts),
                    headers: record.headers.clone(),
                })?;
            }
        }
        if !matched && let Some(only) = &spec.this_only {
            match &outer {
                Some(outer) if time_to >= tracker.stream_time() => {
                    tracker.update_min_time(ts);
                    self.put_outer(outer, &record)?;
                }
                _ => {
                    // The window is already closed: no partner can come any more.
                    let value = only(&record.value);
                    ctx.forward(record.with_value(value))?;
                }
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(task) = self.task.take() {
            self.spec.trackers.remove(task);
        }
        Ok(())
    }
}
