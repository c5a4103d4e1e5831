//! `join`, `left_join` and `outer_join` of two streams within a [`JoinWindows`]: Kafka
//! Streams' `KStreamKStreamJoin`, with the outer-join "shared store" of KAFKA-10847.
//!
//! # Topology
//!
//! As in Kafka Streams, each side gets a window store retaining duplicates, filled by a
//! `KSTREAM-WINDOWED-` node; a join node per side (`KSTREAM-JOINTHIS-`/`KSTREAM-JOINOTHER-`,
//! or `KSTREAM-OUTERTHIS-`/`KSTREAM-OUTEROTHER-` for a side whose non-matches are emitted)
//! looks each record up in the other side's store; a `KSTREAM-MERGE-` node joins both
//! outputs. Left and outer joins add the shared `KSTREAM-OUTERSHARED-` store, where
//! non-matches wait for their window to close.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::serde::Serdes;
use streams_core::state::{ReadOnlyWindowStore, StoreBuilder, WindowStore, changelog_topic_name};
use streams_core::topology::NodeDescriptionKind;
use streams_core::{Error, Record, Result, SerdeRef, TaskId, Topology};
use streams_state::{Stores, TypedKeyValueStore, TypedWindowStore};

use super::KStream;
use super::join_stream_outer::{
    TimeTracker, TimeTrackers, append_entry, begin_key, decode_key, entries,
};
use super::repartition::{NullKeys, add_repartition_with};
use crate::join_windows::JoinWindows;
use crate::materialized::StoreType;

/// Serdes, names and store options of a stream-stream join, as Kafka Streams' `StreamJoined`.
///
/// Serdes not given are taken from the streams: the key serde from the left stream (or the
/// right), the value serdes from each side. A join whose stores would lack a serde fails
/// [`StreamsBuilder::build`](crate::StreamsBuilder::build) with an error naming the join.
///
/// # Names
///
/// Without a name, node and store names are generated as Kafka Streams generates them
/// (`KSTREAM-JOINTHIS-0000000004`, store `KSTREAM-JOINTHIS-0000000004-store`, ...).
/// [`with_name`](Self::with_name) names the nodes `<name>-this-windowed`,
/// `<name>-other-windowed`, `<name>-this-join` (`-outer-this-join` for an outer join),
/// `<name>-other-join` (`-outer-other-join` for left and outer joins) and `<name>-merge`,
/// and repartition topics `<name>-left-repartition` / `<name>-right-repartition`.
/// [`with_store_name`](Self::with_store_name) names the stores `<store>-this-join-store`,
/// `<store>-other-join-store` (with the same `outer-` prefixes) and the shared store
/// `<store>-left-shared-join-store` or `<store>-outer-shared-join-store`, whose changelogs
/// are `<application.id>-<store name>-changelog`.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let joined: StreamJoined<String, i64, String> =
///     StreamJoined::with(Serdes::string(), Serdes::i64(), Serdes::string())
///         .with_name("orders-payments")
///         .with_store_name("orders-payments-store");
/// assert_eq!(joined.name(), Some("orders-payments"));
/// assert_eq!(joined.store_name(), Some("orders-payments-store"));
/// ```
pub struct StreamJoined<K, V, VO> {
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    other_value_serde: Option<SerdeRef<VO>>,
    name: Option<String>,
    store_name: Option<String>,
    logging: bool,
    logging_config: BTreeMap<String, String>,
    store_type: StoreType,
}

impl<K, V, VO> Default for StreamJoined<K, V, VO> {
    fn default() -> Self {
        StreamJoined {
            key_serde: None,
            value_serde: None,
            other_value_serde: None,
            name: None,
            store_name: None,
            logging: true,
            logging_config: BTreeMap::new(),
            store_type: StoreType::default(),
        }
    }
}

impl<K, V, VO> std::fmt::Debug for StreamJoined<K, V, VO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamJoined")
            .field("name", &self.name)
            .field("store_name", &self.store_name)
            .field("logging", &self.logging)
            .field("store_type", &self.store_type)
            .finish_non_exhaustive()
    }
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    /// A join with the given key serde and value serdes of the left (`value_serde`) and
    /// right (`other_value_serde`) streams.
    pub fn with(
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        other_value_serde: SerdeRef<VO>,
    ) -> Self {
        StreamJoined {
            key_serde: Some(key_serde),
            value_serde: Some(value_serde),
            other_value_serde: Some(other_value_serde),
            ..StreamJoined::default()
        }
    }

    /// A join that takes every serde from the streams.
    pub fn inherit() -> Self {
        StreamJoined::default()
    }

    /// Sets the key serde.
    #[must_use]
    pub fn with_key_serde(mut self, serde: SerdeRef<K>) -> Self {
        self.key_serde = Some(serde);
        self
    }

    /// Sets the value serde of the left stream.
    #[must_use]
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// Sets the value serde of the right stream.
    #[must_use]
    pub fn with_other_value_serde(mut self, serde: SerdeRef<VO>) -> Self {
        self.other_value_serde = Some(serde);
        self
    }

    /// Names the join's nodes and repartition topics (see the type's documentation).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the join's stores, and so their changelog topics (see the type's documentation).
    #[must_use]
    pub fn with_store_name(mut self, store_name: impl Into<String>) -> Self {
        self.store_name = Some(store_name.into());
        self
    }

    /// Logs the stores to changelog topics (the default), created with `config` over the
    /// defaults. The window stores' changelogs always use `cleanup.policy=delete`, as they
    /// hold duplicates.
    #[must_use]
    pub fn with_logging_enabled(mut self, config: BTreeMap<String, String>) -> Self {
        self.logging = true;
        self.logging_config = config;
        self
    }

    /// No changelogs: the join's state is not restored after a restart or a move.
    #[must_use]
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Which bytes stores back the join (RocksDB by default).
    #[must_use]
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = store_type;
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The store name, if one was given.
    pub fn store_name(&self) -> Option<&str> {
        self.store_name.as_deref()
    }
}

type BothFn<A, B, R> = Arc<dyn Fn(&A, &B) -> R + Send + Sync>;
type OnlyFn<A, R> = Arc<dyn Fn(&A) -> R + Send + Sync>;

/// A join's value joiner, split by what it is called with: both values, the left value
/// alone (left and outer joins) or the right value alone (outer joins).
struct Joiners<V1, V2, VR> {
    both: BothFn<V1, V2, VR>,
    left_only: Option<OnlyFn<V1, VR>>,
    right_only: Option<OnlyFn<V2, VR>>,
}

/// Puts each record of one side into that side's window store and forwards it (Kafka
/// Streams' `KStreamJoinWindow`). Records with a null key or value are forwarded but not
/// stored: they never join.
struct JoinWindowProcessor<K, V> {
    store_name: Arc<str>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    store: Option<Rc<RefCell<TypedWindowStore<K, V>>>>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for JoinWindowProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        self.store = Some(ctx.state_store::<TypedWindowStore<K, V>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if !self.key_serde.is_null(&record.key)
            && !self.value_serde.is_null(&record.value)
            && let Some(store) = &self.store
        {
            store
                .borrow_mut()
                .put(&record.key, &record.value, record.timestamp)?;
        }
        ctx.forward(record)
    }
}

/// What the join processor of one side needs, shared by its instances in all tasks.
/// `VThis`/`VOther` are this side's and the other side's value types; `V1`/`V2` the left
/// and right value types, which the shared store holds.
struct JoinSpec<K, VThis, VOther, V1, V2, VR> {
    this_left: bool,
    other_store: String,
    outer_store: Option<String>,
    /// How far back and ahead of this side's record the other side's partners may be.
    join_before: i64,
    join_after: i64,
    windows_before: i64,
    windows_after: i64,
    grace: i64,
    key_serde: SerdeRef<K>,
    this_serde: SerdeRef<VThis>,
    left_serde: SerdeRef<V1>,
    right_serde: SerdeRef<V2>,
    both: BothFn<VThis, VOther, VR>,
    this_only: Option<OnlyFn<VThis, VR>>,
    left_only: Option<OnlyFn<V1, VR>>,
    right_only: Option<OnlyFn<V2, VR>>,
    trackers: Arc<TimeTrackers>,
}

type OuterStore = TypedKeyValueStore<Vec<u8>, Vec<u8>>;

/// The join processor of one side (Kafka Streams' `KStreamKStreamJoinLeftSide`/`RightSide`).
struct JoinProcessor<K, VThis, VOther, V1, V2, VR> {
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
    fn new(spec: Arc<JoinSpec<K, VThis, VOther, V1, V2, VR>>) -> Self {
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
    fn outer_key(&mut self, key: &K, timestamp: i64, left: bool) -> Result<()> {
        begin_key(&mut self.key_buf, timestamp, left);
        self.spec
            .key_serde
            .serialize(&self.outer_topic, key, &mut self.key_buf)?;
        Ok(())
    }

    /// Holds a non-match back in the shared store.
    fn put_outer(&mut self, outer: &RefCell<OuterStore>, record: &Record<K, VThis>) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        self.outer_key(&record.key, record.timestamp, spec.this_left)?;
        self.value_buf.clear();
        self.value_buf.push(u8::from(spec.this_left));
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
                let (ts, left, key_bytes) = decode_key(store_name, &k)?;
                let mut key: Option<K> = None;
                let mut emitted_any = false;
                for entry in entries(store_name, &list) {
                    let entry = entry?;
                    tracker.set_min_time(ts);
                    if left_open && right_open {
                        break 'keys;
                    }
                    let look_back = if left {
                        spec.windows_after
                    } else {
                        spec.windows_before
                    };
                    if ts + look_back + spec.grace >= tracker.stream_time() {
                        if left {
                            left_open = true;
                        } else {
                            right_open = true;
                        }
                        continue;
                    }
                    let Some((&flag, bytes)) = entry.split_first() else {
                        continue;
                    };
                    let value = if flag == 1 {
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
                    self.outer_key(&record.key, other_ts, !spec.this_left)?;
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

/// Which records of a join produce output without a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinKind {
    Inner,
    Left,
    Outer,
}

/// The source topics upstream of `node`, found through the topology's description.
fn upstream_source_topics(topology: &Topology, node: &str) -> BTreeSet<String> {
    let description = topology.describe();
    let nodes: BTreeMap<&str, _> = description
        .subtopologies
        .iter()
        .flat_map(|s| s.nodes.iter())
        .map(|n| (n.name.as_str(), n))
        .collect();
    let mut topics = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![node];
    while let Some(name) = stack.pop() {
        if !seen.insert(name) {
            continue;
        }
        let Some(n) = nodes.get(name) else { continue };
        if let NodeDescriptionKind::Source { topics: t } = &n.kind {
            topics.extend(t.iter().cloned());
        }
        stack.extend(n.predecessors.iter().map(String::as_str));
    }
    topics
}

fn window_store(
    name: &str,
    windows: &JoinWindows,
    store_type: StoreType,
) -> Result<Box<dyn streams_state::WindowBytesStoreSupplier>> {
    // A window store needs a size and a retention of at least 1 ms; a join of equal
    // timestamps only (size 0) fetches by time range, so the size does not matter.
    let size = Duration::from_millis(u64::try_from(windows.size_ms().max(1)).unwrap_or(u64::MAX));
    let retention =
        Duration::from_millis(u64::try_from(windows.retention_ms().max(1)).unwrap_or(u64::MAX));
    Ok(match store_type {
        StoreType::RocksDb => Box::new(Stores::persistent_window_store(
            name, retention, size, true,
        )?),
        StoreType::InMemory => {
            Box::new(Stores::in_memory_window_store(name, retention, size, true)?)
        }
    })
}

/// Everything `do_join` needs besides the streams.
struct JoinArgs<V, VO, VR> {
    joiners: Joiners<V, VO, VR>,
    kind: JoinKind,
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Joins this stream with `other`: each pair of records with the same key whose
    /// timestamps are at most `windows` apart gives `joiner(left value, right value)`.
    ///
    /// The rules, as Kafka Streams' `KStreamKStreamJoin`:
    ///
    /// - a left record at `t1` joins the right records in `[t1 - before, t1 + after]`,
    ///   both ends inclusive, and a right record at `t2` the left records in
    ///   `[t2 - after, t2 + before]`, whichever arrives second producing the result;
    /// - the result has the key, the larger of the two timestamps, and the headers of the
    ///   record that arrived second;
    /// - records with a null key or a null value (as the serdes' `is_null` tells, for
    ///   `Option` types) are dropped and counted;
    /// - each side's records are kept, duplicates included, for `before + after + grace`
    ///   of stream time; a record older than that is not stored and finds no partners;
    /// - both inputs must be co-partitioned: the application refuses to start when their
    ///   topics differ in partition count. A stream whose key an upstream operator may have
    ///   changed is first repartitioned through `<application.id>-<name>-repartition`
    ///   (`<name>` is the join's name with `-left`/`-right`, or the stream's node name).
    ///
    /// `joined` gives serdes, names and store options; [`StreamJoined::inherit`] takes the
    /// streams' serdes. The result has the key serde and no value serde.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let orders = builder.stream("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// let payments = builder.stream("payments", Consumed::with(Serdes::string(), Serdes::i64()));
    /// orders
    ///     .join(
    ///         &payments,
    ///         |order, amount| format!("{order} paid {amount}"),
    ///         JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(5)),
    ///         StreamJoined::inherit(),
    ///     )
    ///     .to("paid", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    /// let p = driver.create_input_topic("payments", Serdes::string(), Serdes::i64());
    /// let out = driver.create_output_topic("paid", Serdes::string(), Serdes::string());
    /// o.pipe_record(TestRecord::new("o1".to_string(), "book".to_string(), 10_000))?;
    /// p.pipe_record(TestRecord::new("o1".to_string(), 12, 15_000))?; // exactly 5 s later: joins
    /// p.pipe_record(TestRecord::new("o1".to_string(), 13, 15_001))?; // 1 ms too late
    /// let results = out.read_records_to_list()?;
    /// assert_eq!(results.len(), 1);
    /// assert_eq!(results[0].value, "book paid 12");
    /// assert_eq!(results[0].timestamp, 15_000); // the larger timestamp
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let joiners = Joiners {
            both: Arc::new(joiner),
            left_only: None,
            right_only: None,
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Inner,
            },
            windows,
            joined,
        )
    }

    /// Left-joins this stream with `other`: as [`join`](Self::join), and every left record
    /// that finds no partner gives `joiner(left value, None)` once its window has closed.
    ///
    /// A left record without a match is held back in the join's shared store and emitted,
    /// with its own timestamp, once stream time passes its window end plus grace
    /// (`t1 + after + grace`); a match arriving before that removes it, so no spurious
    /// `(v, None)` result precedes a real one. A left record whose window had already
    /// closed when it arrived gives `(v, None)` at once. A left record with a null key
    /// (and a value) gives `joiner(v, None)` at once; one with a null value is dropped.
    /// Held-back records are looked at when a record advances stream time, at most once
    /// per emit interval of wall-clock time (the setting
    /// [`OUTER_JOIN_EMIT_INTERVAL`](crate::OUTER_JOIN_EMIT_INTERVAL): 1 s, and 0 in the test
    /// driver, as in Kafka Streams).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    /// let views = builder.stream("views", Consumed::with(Serdes::string(), Serdes::string()));
    /// clicks
    ///     .left_join(
    ///         &views,
    ///         |c, v| format!("{c}/{}", v.map_or("-", String::as_str)),
    ///         JoinWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(2)),
    ///         StreamJoined::inherit(),
    ///     )
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let c = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// let v = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// c.pipe_record(TestRecord::new("a".to_string(), "c1".to_string(), 0))?;
    /// v.pipe_record(TestRecord::new("z".to_string(), "v".to_string(), 7_000))?;
    /// assert!(out.is_empty()); // the window of c1 closes at 0 + 5 s + 2 s
    /// v.pipe_record(TestRecord::new("z".to_string(), "v".to_string(), 7_001))?;
    /// let r = out.read_record()?;
    /// assert_eq!((r.value.as_str(), r.timestamp), ("c1/-", 0));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn left_join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner = Arc::new(joiner);
        let only = Arc::clone(&joiner);
        let joiners = Joiners {
            both: Arc::new(move |a: &V, b: &VO| joiner(a, Some(b))),
            left_only: Some(Arc::new(move |a: &V| only(a, None))),
            right_only: None,
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Left,
            },
            windows,
            joined,
        )
    }

    /// Outer-joins this stream with `other`: as [`left_join`](Self::left_join), for both
    /// sides. A right record without a partner gives `joiner(None, right value)` once
    /// stream time passes `t2 + before + grace`; left non-matches give
    /// `joiner(left value, None)` as in a left join. Held-back records come out in
    /// timestamp order, right before left for equal timestamps, then by key bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let a = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    /// let b = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
    /// a.outer_join(
    ///     &b,
    ///     |l, r| format!("{}+{}", l.map_or("-", String::as_str), r.map_or("-", String::as_str)),
    ///     JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(1)),
    ///     StreamJoined::inherit(),
    /// )
    /// .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let ia = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    /// let ib = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// ib.pipe_record(TestRecord::new("k".to_string(), "right".to_string(), 0))?;
    /// ia.pipe_record(TestRecord::new("x".to_string(), "left".to_string(), 1_001))?;
    /// ia.pipe_record(TestRecord::new("y".to_string(), "left".to_string(), 2_002))?;
    /// assert_eq!(out.read_values_to_list()?, vec!["-+right", "left+-"]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn outer_join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner = Arc::new(joiner);
        let left = Arc::clone(&joiner);
        let right = Arc::clone(&joiner);
        let joiners = Joiners {
            both: Arc::new(move |a: &V, b: &VO| joiner(Some(a), Some(b))),
            left_only: Some(Arc::new(move |a: &V| left(Some(a), None))),
            right_only: Some(Arc::new(move |b: &VO| right(None, Some(b)))),
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Outer,
            },
            windows,
            joined,
        )
    }

    fn do_join<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        args: JoinArgs<V, VO, VR>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
    {
        let JoinArgs { joiners, kind } = args;
        let left_outer = kind != JoinKind::Inner;
        let right_outer = kind == JoinKind::Outer;
        if !Rc::ptr_eq(&self.builder, &other.builder) {
            self.builder.borrow_mut().fail(Error::Topology(format!(
                "cannot join '{}' with '{}': the streams come from different builders",
                self.node, other.node
            )));
            return KStream::new(self.builder.clone(), self.node.clone(), None, None, false);
        }
        let name = joined.name.clone().or_else(|| self.next_name.clone());
        let key_serde = joined
            .key_serde
            .clone()
            .or_else(|| self.key_serde.clone())
            .or_else(|| other.key_serde.clone());
        let value_serde = joined
            .value_serde
            .clone()
            .or_else(|| self.value_serde.clone());
        let other_value_serde = joined
            .other_value_serde
            .clone()
            .or_else(|| other.value_serde.clone());
        let null_keys = if left_outer {
            NullKeys::Keep
        } else {
            NullKeys::Drop
        };

        // Repartition first, as Kafka Streams' doJoin, so that the indexes match.
        let this_node = if self.repartition_required {
            let prefix = name
                .as_ref()
                .map_or_else(|| self.node.clone(), |n| format!("{n}-left"));
            add_repartition_with(
                &self.builder,
                &self.node,
                &prefix,
                key_serde.clone(),
                value_serde.clone(),
                null_keys,
            )
        } else {
            self.node.clone()
        };
        let other_node = if other.repartition_required {
            let prefix = name
                .as_ref()
                .map_or_else(|| other.node.clone(), |n| format!("{n}-right"));
            add_repartition_with(
                &self.builder,
                &other.node,
                &prefix,
                key_serde.clone(),
                other_value_serde.clone(),
                null_keys,
            )
        } else {
            other.node.clone()
        };

        let mut st = self.builder.borrow_mut();
        // Names, in Kafka Streams' order: both windowed nodes, the generated join names,
        // the merge node.
        let named = |st: &mut crate::builder::BuilderState, suffix: &str, prefix: &str| {
            let generated = st.new_name(prefix);
            name.as_ref().map_or(generated, |n| format!("{n}{suffix}"))
        };
        let this_windowed = named(&mut st, "-this-windowed", "KSTREAM-WINDOWED-");
        let other_windowed = named(&mut st, "-other-windowed", "KSTREAM-WINDOWED-");
        let (this_suffix, this_prefix) = if right_outer {
            ("-outer-this-join", "KSTREAM-OUTERTHIS-")
        } else {
            ("-this-join", "KSTREAM-JOINTHIS-")
        };
        let (other_suffix, other_prefix) = if left_outer {
            ("-outer-other-join", "KSTREAM-OUTEROTHER-")
        } else {
            ("-other-join", "KSTREAM-JOINOTHER-")
        };
        let this_generated = st.new_name(this_prefix);
        let other_generated = st.new_name(other_prefix);
        let this_join = name
            .as_ref()
            .map_or_else(|| this_generated.clone(), |n| format!("{n}{this_suffix}"));
        let other_join = name
            .as_ref()
            .map_or_else(|| other_generated.clone(), |n| format!("{n}{other_suffix}"));
        let merge = named(&mut st, "-merge", "KSTREAM-MERGE-");

        let store_base = joined.store_name.as_deref();
        let this_store = store_base.map_or_else(
            || format!("{this_generated}-store"),
            |s| format!("{s}{this_suffix}-store"),
        );
        let other_store = store_base.map_or_else(
            || format!("{other_generated}-store"),
            |s| format!("{s}{other_suffix}-store"),
        );
        let outer_store = left_outer.then(|| {
            let suffix = if right_outer {
                "-outer-shared-join"
            } else {
                "-left-shared-join"
            };
            match store_base {
                Some(s) => format!("{s}{suffix}-store"),
                None => format!(
                    "KSTREAM-OUTERSHARED-{}-store",
                    this_generated.strip_prefix(this_prefix).unwrap_or_default()
                ),
            }
        });

        let (Some(key_serde), Some(value_serde), Some(other_value_serde)) =
            (key_serde, value_serde, other_value_serde)
        else {
            st.fail(Error::Topology(format!(
                "join '{merge}' needs a key serde and both value serdes for its stores: pass \
                 them with StreamJoined::with(key, value, other value)"
            )));
            drop(st);
            return KStream::new(self.builder.clone(), merge, None, None, false);
        };

        let topics: Vec<String> = upstream_source_topics(&st.topology, &this_node)
            .into_iter()
            .chain(upstream_source_topics(&st.topology, &other_node))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        st.topology.add_copartition_group(&topic_refs);

        let trackers = Arc::new(TimeTrackers::default());
        let Joiners {
            both,
            left_only,
            right_only,
        } = joiners;
        let this_spec = Arc::new(JoinSpec::<K, V, VO, V, VO, VR> {
            this_left: true,
            other_store: other_store.clone(),
            outer_store: outer_store.clone(),
            join_before: windows.before_ms(),
            join_after: windows.after_ms(),
            windows_before: windows.before_ms(),
            windows_after: windows.after_ms(),
            grace: windows.grace_ms(),
            key_serde: key_serde.clone(),
            this_serde: value_serde.clone(),
            left_serde: value_serde.clone(),
            right_serde: other_value_serde.clone(),
            both: Arc::clone(&both),
            this_only: left_only.clone(),
            left_only: left_only.clone(),
            right_only: right_only.clone(),
            trackers: Arc::clone(&trackers),
        });
        let reversed = Arc::clone(&both);
        let other_spec = Arc::new(JoinSpec::<K, VO, V, V, VO, VR> {
            this_left: false,
            other_store: this_store.clone(),
            outer_store: outer_store.clone(),
            join_before: windows.after_ms(),
            join_after: windows.before_ms(),
            windows_before: windows.before_ms(),
            windows_after: windows.after_ms(),
            grace: windows.grace_ms(),
            key_serde: key_serde.clone(),
            this_serde: other_value_serde.clone(),
            left_serde: value_serde.clone(),
            right_serde: other_value_serde.clone(),
            both: Arc::new(move |b: &VO, a: &V| reversed(a, b)),
            this_only: right_only.clone(),
            left_only,
            right_only,
            trackers,
        });

        let this_window_store: Arc<str> = this_store.as_str().into();
        let other_window_store: Arc<str> = other_store.as_str().into();
        let (ks1, vs1) = (key_serde.clone(), value_serde.clone());
        let (ks2, vs2) = (key_serde.clone(), other_value_serde.clone());
        let r = st
            .topology
            .add_processor::<K, V, K, V, _, _>(
                &this_windowed,
                move || JoinWindowProcessor {
                    store_name: Arc::clone(&this_window_store),
                    key_serde: ks1.clone(),
                    value_serde: vs1.clone(),
                    store: None,
                },
                &[this_node.as_str()],
            )
            .and_then(|t| {
                t.add_processor::<K, VO, K, VO, _, _>(
                    &other_windowed,
                    move || JoinWindowProcessor {
                        store_name: Arc::clone(&other_window_store),
                        key_serde: ks2.clone(),
                        value_serde: vs2.clone(),
                        store: None,
                    },
                    &[other_node.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, V, K, VR, _, _>(
                    &this_join,
                    move || JoinProcessor::new(Arc::clone(&this_spec)),
                    &[this_windowed.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, VO, K, VR, _, _>(
                    &other_join,
                    move || JoinProcessor::new(Arc::clone(&other_spec)),
                    &[other_windowed.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, VR, K, VR, _, _>(
                    &merge,
                    || super::merge::PassThrough,
                    &[this_join.as_str(), other_join.as_str()],
                )
            })
            .map(|_| ());
        st.record(r);

        let stores = (|| -> Result<()> {
            let mut window_config = joined.logging_config.clone();
            window_config.insert("cleanup.policy".to_owned(), "delete".to_owned());
            let this_builder = Stores::window_store_builder(
                BoxedWindowSupplier(window_store(&this_store, &windows, joined.store_type)?),
                key_serde.clone(),
                value_serde.clone(),
            );
            let other_builder = Stores::window_store_builder(
                BoxedWindowSupplier(window_store(&other_store, &windows, joined.store_type)?),
                key_serde.clone(),
                other_value_serde.clone(),
            );
            let (this_builder, other_builder) = if joined.logging {
                (
                    this_builder.with_logging_enabled(window_config.clone()),
                    other_builder.with_logging_enabled(window_config),
                )
            } else {
                (
                    this_builder.with_logging_disabled(),
                    other_builder.with_logging_disabled(),
                )
            };
            st.topology.add_state_store(
                Arc::new(this_builder) as Arc<dyn StoreBuilder>,
                &[this_windowed.as_str(), other_join.as_str()],
            )?;
            st.topology.add_state_store(
                Arc::new(other_builder) as Arc<dyn StoreBuilder>,
                &[other_windowed.as_str(), this_join.as_str()],
            )?;
            if let Some(outer_store) = &outer_store {
                let builder: Arc<dyn StoreBuilder> = match (joined.store_type, joined.logging) {
                    (StoreType::RocksDb, true) => Arc::new(
                        Stores::key_value_store_builder(
                            Stores::persistent_key_value_store(outer_store),
                            Serdes::bytes(),
                            Serdes::bytes(),
                        )
                        .with_logging_enabled(joined.logging_config.clone()),
                    ),
                    (StoreType::RocksDb, false) => Arc::new(
                        Stores::key_value_store_builder(
                            Stores::persistent_key_value_store(outer_store),
                            Serdes::bytes(),
                            Serdes::bytes(),
                        )
                        .with_logging_disabled(),
                    ),
                    (StoreType::InMemory, true) => Arc::new(
                        Stores::key_value_store_builder(
                            Stores::in_memory_key_value_store(outer_store),
                            Serdes::bytes(),
                            Serdes::bytes(),
                        )
                        .with_logging_enabled(joined.logging_config.clone()),
                    ),
                    (StoreType::InMemory, false) => Arc::new(
                        Stores::key_value_store_builder(
                            Stores::in_memory_key_value_store(outer_store),
                            Serdes::bytes(),
                            Serdes::bytes(),
                        )
                        .with_logging_disabled(),
                    ),
                };
                st.topology
                    .add_state_store(builder, &[this_join.as_str(), other_join.as_str()])?;
            }
            Ok(())
        })();
        st.record(stores);
        drop(st);
        KStream::new(self.builder.clone(), merge, Some(key_serde), None, false)
    }
}

/// A boxed window-store supplier, so that the store type can be chosen at run time.
struct BoxedWindowSupplier(Box<dyn streams_state::WindowBytesStoreSupplier>);

impl streams_state::WindowBytesStoreSupplier for BoxedWindowSupplier {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn persistent(&self) -> bool {
        self.0.persistent()
    }
    fn retention_period(&self) -> i64 {
        self.0.retention_period()
    }
    fn window_size(&self) -> i64 {
        self.0.window_size()
    }
    fn retain_duplicates(&self) -> bool {
        self.0.retain_duplicates()
    }
    fn get(
        &self,
        ctx: &streams_core::state::StoreContext,
    ) -> Result<Box<dyn streams_core::state::WindowBytesStore>> {
        self.0.get(ctx)
    }
}
