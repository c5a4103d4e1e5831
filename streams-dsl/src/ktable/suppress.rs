//! `suppress`: holding a table's updates back, as Kafka Streams'
//! `KTableSuppressProcessorSupplier` with its in-memory time-ordered buffer.
//!
//! The buffer is kept in memory, ordered by buffer time then serialized key, and written
//! through to a logged in-memory key-value store (`KTABLE-SUPPRESS-STATE-STORE-<n>`), from
//! which it is rebuilt when the task starts, so it survives restarts and moves.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use streams_core::processor::{Processor, ProcessorContext, PunctuationType, PunctuatorId};
use streams_core::serde::Serdes;
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore};
use streams_core::window::Windowed;
use streams_core::{Error, Headers, Record, Result, SerdeRef};
use streams_state::{Stores, TypedKeyValueStore};

use super::{Change, KTable};
use crate::windows::millis;

/// The suppression buffer's store, keyed and valued by bytes.
type BufferStore = Rc<RefCell<TypedKeyValueStore<Vec<u8>, Vec<u8>>>>;
/// What a suppression does when its buffer is over its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FullStrategy {
    EmitEarly,
    ShutDown,
}

/// The limits of a suppression buffer, as Kafka Streams' `Suppressed.BufferConfig`.
///
/// # Examples
///
/// ```
/// use streams_dsl::BufferConfig;
///
/// let eager = BufferConfig::max_records(1_000).with_max_bytes(1 << 20);
/// assert!(!eager.shuts_down_when_full());
/// assert!(BufferConfig::unbounded().shuts_down_when_full());
/// assert!(eager.shut_down_when_full().shuts_down_when_full());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferConfig {
    max_records: u64,
    max_bytes: u64,
    strategy: FullStrategy,
    logging: bool,
}

impl BufferConfig {
    /// No limit; it never fills (it shuts down if it ever does, which it cannot).
    pub fn unbounded() -> Self {
        BufferConfig {
            max_records: u64::MAX,
            max_bytes: u64::MAX,
            strategy: FullStrategy::ShutDown,
            logging: true,
        }
    }

    /// At most `n` records; when more arrive, the oldest are emitted early.
    pub fn max_records(n: u64) -> Self {
        BufferConfig {
            max_records: n,
            max_bytes: u64::MAX,
            strategy: FullStrategy::EmitEarly,
            logging: true,
        }
    }

    /// At most `n` bytes (keys, values and record metadata, as Kafka Streams estimates
    /// them); when more arrive, the oldest are emitted early.
    pub fn max_bytes(n: u64) -> Self {
        BufferConfig {
            max_records: u64::MAX,
            max_bytes: n,
            strategy: FullStrategy::EmitEarly,
            logging: true,
        }
    }

    /// Also limits the number of records.
    #[must_use]
    pub fn with_max_records(mut self, n: u64) -> Self {
        self.max_records = n;
        self
    }

    /// Also limits the bytes.
    #[must_use]
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// When full, emits the oldest records early (results are then not final).
    #[must_use]
    pub fn emit_early_when_full(mut self) -> Self {
        self.strategy = FullStrategy::EmitEarly;
        self
    }

    /// When full, fails the task (the processing error stops the application), so that
    /// only final results are ever emitted.
    #[must_use]
    pub fn shut_down_when_full(mut self) -> Self {
        self.strategy = FullStrategy::ShutDown;
        self
    }

    /// Keeps the buffer only in memory: it does not survive a restart.
    #[must_use]
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Whether a full buffer fails the task rather than emitting early.
    pub fn shuts_down_when_full(&self) -> bool {
        self.strategy == FullStrategy::ShutDown
    }
}

/// How a key's buffer time is found: the record's timestamp (`until_time_limit`) or the
/// window end of a windowed key (`until_window_closes`).
enum TimeDefinition<K> {
    Record,
    WindowEnd(fn(&K) -> i64),
}

impl<K> Clone for TimeDefinition<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for TimeDefinition<K> {}

impl<K> std::fmt::Debug for TimeDefinition<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeDefinition::Record => "Record",
            TimeDefinition::WindowEnd(_) => "WindowEnd",
        })
    }
}

fn window_end<K>(key: &Windowed<K>) -> i64 {
    key.window.end
}

/// How a table's updates are held back, as Kafka Streams' `Suppressed`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_dsl::{BufferConfig, Suppressed};
///
/// let s: Suppressed<String> = Suppressed::until_time_limit(Duration::from_secs(60), BufferConfig::max_records(10_000))
///     .with_name("rate-limit");
/// assert_eq!(s.name(), Some("rate-limit"));
/// ```
pub struct Suppressed<K> {
    time: TimeDefinition<K>,
    duration: Option<i64>,
    buffer: BufferConfig,
    name: Option<String>,
    wall_clock_flush: Option<Duration>,
    safe_to_drop_tombstones: bool,
    _key: std::marker::PhantomData<fn(K)>,
}

impl<K> std::fmt::Debug for Suppressed<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suppressed")
            .field("time", &self.time)
            .field("duration", &self.duration)
            .field("buffer", &self.buffer)
            .field("name", &self.name)
            .field("wall_clock_flush", &self.wall_clock_flush)
            .finish()
    }
}

impl<K> Suppressed<Windowed<K>> {
    /// Holds each window's updates until the window closes (stream time ≥ window end +
    /// the grace period of the windowed aggregation upstream), then emits its final result
    /// once, with the timestamp of its last update. Tombstones of closed windows are dropped.
    ///
    /// The buffer must shut down when full (emitting early would emit results that are not
    /// final); [`KTable::suppress`] fails the build otherwise.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        Suppressed {
            time: TimeDefinition::WindowEnd(window_end::<K>),
            duration: None,
            buffer,
            name: None,
            wall_clock_flush: None,
            safe_to_drop_tombstones: true,
            _key: std::marker::PhantomData,
        }
    }
}

impl<K> Suppressed<K> {
    /// Holds each key's updates until stream time reaches the first held update's record
    /// timestamp plus `limit`, then emits the latest update.
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        Suppressed {
            time: TimeDefinition::Record,
            duration: Some(millis(limit)),
            buffer,
            name: None,
            wall_clock_flush: None,
            safe_to_drop_tombstones: false,
            _key: std::marker::PhantomData,
        }
    }

    /// Names the suppression node; its store is `<name>-store`.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Also flushes by wall-clock time, which Kafka Streams cannot: every `interval` of
    /// wall-clock time, if the task's stream time has not advanced for a whole interval,
    /// stream time is taken to have advanced by the wall-clock time that passed since it
    /// last did, and what that releases is emitted. So the final results of a partition
    /// that stops receiving records still come out.
    ///
    /// Use it where event time follows wall-clock time. A record that arrives for a window
    /// already released this way (but still within grace by stream time) produces a second
    /// result for that window.
    #[must_use]
    pub fn with_wall_clock_flush(mut self, interval: Duration) -> Self {
        self.wall_clock_flush = Some(interval);
        self
    }
}

/// One buffered update.
struct Buffered<K, V> {
    key: K,
    change: Change<V>,
    timestamp: i64,
    headers: Headers,
    size: u64,
}

/// The suppression processor.
struct KTableSuppress<K, V> {
    store_name: Arc<str>,
    time: TimeDefinition<K>,
    duration: i64,
    max_records: u64,
    max_bytes: u64,
    strategy: FullStrategy,
    safe_to_drop_tombstones: bool,
    wall_clock_flush: Option<Duration>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    store: Option<BufferStore>,
    sorted: BTreeMap<(i64, Vec<u8>), Buffered<K, V>>,
    index: HashMap<Vec<u8>, i64>,
    bytes: u64,
    observed: i64,
    /// Wall-clock time when stream time last advanced (for the wall-clock flush).
    advanced_at: i64,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

/// Serialized entry: buffer time, record timestamp, new value, old value (each as a
/// presence byte, a 4-byte length and the bytes).
fn encode_entry(
    time: i64,
    timestamp: i64,
    new: Option<&[u8]>,
    old: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    for part in [new, old] {
        match part {
            None => out.push(0),
            Some(b) => {
                out.push(1);
                out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
}

type DecodedEntry<'a> = (i64, i64, Option<&'a [u8]>, Option<&'a [u8]>);

fn decode_entry(bytes: &[u8]) -> Option<DecodedEntry<'_>> {
    let (time, rest) = bytes.split_first_chunk::<8>()?;
    let (ts, mut rest) = rest.split_first_chunk::<8>()?;
    let mut parts = [None, None];
    for part in &mut parts {
        let (&flag, r) = rest.split_first()?;
        rest = r;
        if flag == 1 {
            let (len, r) = rest.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
            if r.len() < len {
                return None;
            }
            *part = Some(&r[..len]);
            rest = &r[len..];
        }
    }
    Some((
        i64::from_be_bytes(*time),
        i64::from_be_bytes(*ts),
        parts[0],
        parts[1],
    ))
}

impl<K: Clone + 'static, V: Clone + 'static> KTableSuppress<K, V> {
    fn store(&self) -> Result<BufferStore> {
        self.store
            .clone()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.to_string()))
    }

    fn serialize_value(&mut self, v: &Option<V>, topic: &str) -> Result<Option<Vec<u8>>> {
        match v {
            None => Ok(None),
            Some(v) => {
                self.value_buf.clear();
                if self.value_serde.serialize(topic, v, &mut self.value_buf)? {
                    Ok(Some(self.value_buf.clone()))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Kafka Streams' estimate of a buffered record's size: buffer time, key, values and
    /// the record context (timestamp, offset, partition, topic, headers).
    fn estimate(
        key: &[u8],
        new: Option<&[u8]>,
        old: Option<&[u8]>,
        headers: &Headers,
        topic: &str,
    ) -> u64 {
        let mut size = 8 + key.len() + new.map_or(0, <[u8]>::len) + old.map_or(0, <[u8]>::len);
        size += 8 + 8 + 4 + topic.len();
        for h in headers.iter() {
            size += h.key.len() + h.value.as_ref().map_or(0, Vec::len);
        }
        u64::try_from(size).unwrap_or(u64::MAX)
    }

    fn buffer(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let topic = ctx
            .record_metadata()
            .map(|m| m.topic.to_string())
            .unwrap_or_default();
        let time = match self.time {
            TimeDefinition::Record => record.timestamp,
            TimeDefinition::WindowEnd(end_of) => end_of(&record.key),
        };
        self.key_buf.clear();
        if !self
            .key_serde
            .serialize(&self.store_name, &record.key, &mut self.key_buf)?
        {
            return Err(Error::Processing {
                node: ctx.node_name().to_owned(),
                source: "a suppressed table's key cannot be null".into(),
            });
        }
        let key_bytes = self.key_buf.clone();
        let new = self.serialize_value(&record.value.new, &self.store_name.clone())?;
        let old = self.serialize_value(&record.value.old, &self.store_name.clone())?;
        // Non-resetting: an update of a buffered key keeps its place (and buffer time).
        let time = self.index.get(&key_bytes).copied().unwrap_or(time);
        let size = Self::estimate(
            &key_bytes,
            new.as_deref(),
            old.as_deref(),
            &record.headers,
            &topic,
        );
        let mut entry_bytes = Vec::new();
        encode_entry(
            time,
            record.timestamp,
            new.as_deref(),
            old.as_deref(),
            &mut entry_bytes,
        );
        self.store()?.borrow_mut().put(&key_bytes, &entry_bytes)?;
        let entry = Buffered {
            key: record.key,
            change: record.value,
            timestamp: record.timestamp,
            headers: record.headers,
            size,
        };
        self.index.insert(key_bytes.clone(), time);
        if let Some(prev) = self.sorted.insert((time, key_bytes), entry) {
            self.bytes -= prev.size;
        }
        self.bytes += size;
        Ok(())
    }

    fn over_capacity(&self) -> bool {
        u64::try_from(self.sorted.len()).unwrap_or(u64::MAX) > self.max_records
            || self.bytes > self.max_bytes
    }

    /// Emits the oldest buffered update.
    fn evict_first(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let Some(((_, key_bytes), entry)) = self.sorted.pop_first() else {
            return Ok(());
        };
        self.index.remove(&key_bytes);
        self.bytes -= entry.size;
        self.store()?.borrow_mut().delete(&key_bytes)?;
        if entry.change.new.is_some() || !self.safe_to_drop_tombstones {
            ctx.forward(Record {
                key: entry.key,
                value: entry.change,
                timestamp: entry.timestamp,
                headers: entry.headers,
            })?;
        }
        Ok(())
    }

    fn enforce(
        &mut self,
        stream_time: i64,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let expiry = stream_time.saturating_sub(self.duration);
        while self
            .sorted
            .first_key_value()
            .is_some_and(|((t, _), _)| *t <= expiry)
        {
            self.evict_first(ctx)?;
        }
        if self.over_capacity() {
            match self.strategy {
                FullStrategy::EmitEarly => {
                    while self.over_capacity() {
                        self.evict_first(ctx)?;
                    }
                }
                FullStrategy::ShutDown => {
                    return Err(Error::Processing {
                        node: ctx.node_name().to_owned(),
                        source: format!(
                            "{} buffer exceeded its max capacity. Currently [{}/{}] records and [{}/{}] bytes.",
                            ctx.node_name(),
                            self.sorted.len(),
                            self.max_records,
                            self.bytes,
                            self.max_bytes
                        )
                        .into(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Change<V>, K, Change<V>>
    for KTableSuppress<K, V>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let store = ctx.state_store::<TypedKeyValueStore<Vec<u8>, Vec<u8>>>(&self.store_name)?;
        {
            let s = store.borrow();
            for item in s.all()? {
                let (key_bytes, value) = item?;
                let Some((time, ts, new, old)) = decode_entry(&value) else {
                    continue;
                };
                let topic = &*self.store_name;
                let key = self.key_serde.deserialize(topic, Some(&key_bytes))?;
                let new_v = new
                    .map(|b| self.value_serde.deserialize(topic, Some(b)))
                    .transpose()?;
                let old_v = old
                    .map(|b| self.value_serde.deserialize(topic, Some(b)))
                    .transpose()?;
                let size = Self::estimate(&key_bytes, new, old, &Headers::new(), "");
                self.bytes += size;
                self.index.insert(key_bytes.clone(), time);
                self.observed = self.observed.max(ts);
                self.sorted.insert(
                    (time, key_bytes),
                    Buffered {
                        key,
                        change: Change::new(new_v, old_v),
                        timestamp: ts,
                        headers: Headers::new(),
                        size,
                    },
                );
            }
        }
        self.store = Some(store);
        if let Some(interval) = self.wall_clock_flush {
            ctx.schedule(interval, PunctuationType::WallClockTime)?;
        }
        self.advanced_at = ctx.wall_clock_time();
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        if record.timestamp > self.observed {
            self.observed = record.timestamp;
            self.advanced_at = ctx.wall_clock_time();
        }
        self.buffer(record, ctx)?;
        self.enforce(self.observed, ctx)
    }

    fn punctuate(
        &mut self,
        _id: PunctuatorId,
        now: i64,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let Some(interval) = self.wall_clock_flush else {
            return Ok(());
        };
        let idle = now - self.advanced_at;
        if self.observed < 0 || idle < millis(interval) {
            return Ok(());
        }
        let effective = self.observed.saturating_add(idle);
        self.enforce(effective, ctx)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Holds this table's updates back as `suppressed` says, as Kafka Streams'
    /// `KTable.suppress`: with [`Suppressed::until_window_closes`], one final result per
    /// window once stream time reaches its end plus grace; with
    /// [`Suppressed::until_time_limit`], the latest update of each key once the limit has
    /// passed since its first held update. Stream time is the largest timestamp the
    /// suppression has seen in its task, so a partition that receives no more records
    /// emits nothing more, unless [`Suppressed::with_wall_clock_flush`] is set. A buffer
    /// over its limits emits its oldest records early or fails the task, as its
    /// [`BufferConfig`] says.
    ///
    /// The upstream table forwards old values from then on. The key and value serdes of the
    /// table are needed (for the buffer's store); the build fails without them.
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
    ///     .windowed_by(TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(1)))
    ///     .count()
    ///     .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
    ///     .to_stream()
    ///     .to("final", Produced::with(Serdes::time_windowed(Serdes::string(), 10_000), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("final", Serdes::time_windowed(Serdes::string(), 10_000), Serdes::option(Serdes::i64()));
    /// for ts in [1_000, 2_000, 10_999] {
    ///     input.pipe_record(TestRecord::new("k".to_string(), "v".to_string(), ts))?;
    /// }
    /// assert!(out.is_empty()); // window [0, 10 000) closes at 11 000
    /// input.pipe_record(TestRecord::new("k".to_string(), "v".to_string(), 11_000))?;
    /// let r = out.read_record()?;
    /// assert_eq!((r.key.window.start, r.value, r.timestamp), (0, Some(2), 2_000));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn suppress(&self, suppressed: Suppressed<K>) -> KTable<K, V> {
        let mut st = self.builder.borrow_mut();
        if self.versioned {
            st.fail(Error::Topology(format!(
                "'{}': suppress() is only supported for tables that are not versioned",
                self.node
            )));
        }
        let name = match &suppressed.name {
            Some(n) => n.clone(),
            None => st.new_name("KTABLE-SUPPRESS-"),
        };
        let store_name = match &suppressed.name {
            Some(n) => format!("{n}-store"),
            None => st.new_name("KTABLE-SUPPRESS-STATE-STORE-"),
        };
        self.enable_sending_old_values();
        let duration = match (suppressed.time, suppressed.duration) {
            (_, Some(d)) => Ok(d),
            (TimeDefinition::WindowEnd(_), None) => window_grace(&st, &self.node),
            (TimeDefinition::Record, None) => Ok(0),
        };
        let setup = duration.and_then(|d| {
            if matches!(suppressed.time, TimeDefinition::WindowEnd(_))
                && !suppressed.buffer.shuts_down_when_full()
            {
                return Err(Error::Topology(format!(
                    "suppress '{name}': until_window_closes needs a buffer that shuts down when full"
                )));
            }
            let key_serde = self.key_serde.clone().ok_or_else(|| {
                Error::Topology(format!("suppress '{name}' needs the table's key serde"))
            })?;
            let value_serde = self.value_serde.clone().ok_or_else(|| {
                Error::Topology(format!("suppress '{name}' needs the table's value serde"))
            })?;
            Ok((d, key_serde, value_serde))
        });
        let (duration, key_serde, value_serde) = match setup {
            Ok(s) => s,
            Err(e) => {
                st.fail(e);
                drop(st);
                return KTable::new(
                    self.builder.clone(),
                    name,
                    self.key_serde.clone(),
                    self.value_serde.clone(),
                    None,
                );
            }
        };
        let store_arc: Arc<str> = store_name.as_str().into();
        let cfg = suppressed.buffer.clone();
        let (time, wall, safe) = (
            suppressed.time,
            suppressed.wall_clock_flush,
            suppressed.safe_to_drop_tombstones,
        );
        let (ks, vs) = (key_serde, value_serde);
        let r = st
            .topology
            .add_processor(
                &name,
                move || KTableSuppress {
                    store_name: Arc::clone(&store_arc),
                    time,
                    duration,
                    max_records: cfg.max_records,
                    max_bytes: cfg.max_bytes,
                    strategy: cfg.strategy,
                    safe_to_drop_tombstones: safe,
                    wall_clock_flush: wall,
                    key_serde: ks.clone(),
                    value_serde: vs.clone(),
                    store: None,
                    sorted: BTreeMap::new(),
                    index: HashMap::new(),
                    bytes: 0,
                    observed: -1,
                    advanced_at: 0,
                    key_buf: Vec::new(),
                    value_buf: Vec::new(),
                },
                &[self.node.as_str()],
            )
            .map(|_| ());
        st.record(r);
        let mut b = Stores::key_value_store_builder(
            Stores::in_memory_key_value_store(store_name.clone()),
            Serdes::bytes(),
            Serdes::bytes(),
        );
        b = if suppressed.buffer.logging {
            b.with_logging_enabled(Default::default())
        } else {
            b.with_logging_disabled()
        };
        let r = st
            .topology
            .add_state_store(Arc::new(b), &[name.as_str()])
            .map(|_| ());
        st.record(r);
        drop(st);
        KTable::new(
            self.builder.clone(),
            name,
            self.key_serde.clone(),
            self.value_serde.clone(),
            None,
        )
    }
}

/// The grace period of the windowed aggregation upstream of `node`: the smallest among
/// them when several paths lead to one, as Kafka Streams' `GraphGraceSearchUtil`.
fn window_grace(st: &crate::builder::BuilderState, node: &str) -> Result<i64> {
    if let Some(g) = st.tables.window_grace.get(node) {
        return Ok(*g);
    }
    let description = st.topology.describe();
    let parents: HashMap<&str, &[String]> = description
        .subtopologies
        .iter()
        .flat_map(|s| s.nodes.iter())
        .map(|n| (n.name.as_str(), n.predecessors.as_slice()))
        .collect();
    let mut stack = vec![node.to_owned()];
    let mut seen = std::collections::HashSet::new();
    let mut grace: Option<i64> = None;
    while let Some(n) = stack.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(g) = st.tables.window_grace.get(&n) {
            grace = Some(grace.map_or(*g, |x| x.min(*g)));
            continue;
        }
        if let Some(ps) = parents.get(n.as_str()) {
            stack.extend(ps.iter().cloned());
        }
    }
    grace.ok_or_else(|| {
        Error::Topology(format!(
            "until_window_closes is only defined for windowed computations; '{node}' has no windowed aggregation upstream"
        ))
    })
}
