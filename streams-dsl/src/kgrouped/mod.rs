//! Grouped streams and their aggregations: [`KGroupedStream`] (count, reduce, aggregate),
//! and its windowed forms [`TimeWindowedKStream`], [`SlidingWindowedKStream`] and
//! [`SessionWindowedKStream`]; regrouped tables: [`KGroupedTable`].
//!
//! Every aggregation keeps its results in a state store (timestamped key-value, window or
//! session store), forwards its updates as a [`KTable`](crate::KTable), and follows Kafka
//! Streams' rules exactly:
//!
//! - the output timestamp of an update is the largest record timestamp folded into it;
//! - with caching off, each input record forwards one update per window it changed; with
//!   caching on, updates of one key are merged until the cache flushes (at commit or when it
//!   evicts);
//! - a grouping repartitions through `<application.id>-<name>-repartition` when an
//!   upstream operator may have changed the key, partitioned by murmur2 of the new key.

mod aggregate;
mod cogroup;
mod cogroup_windowed;
mod flushed;
mod fold;
mod folding;
mod session;
mod shape;
mod sliding;
mod table;
mod time_windowed;
mod windowed;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

pub use cogroup::CogroupedKStream;
pub use cogroup_windowed::{SessionWindowedCogroupedKStream, TimeWindowedCogroupedKStream};
use shape::WindowShape;
pub use table::KGroupedTable;
pub use windowed::{
    FixedWindows, SessionWindowedKStream, SlidingWindowedKStream, TimeWindowedKStream,
    WindowedKStream,
};

use streams_core::state::StoreBuilder;
use streams_core::{Error, Result, SerdeRef};
use streams_state::{Stores, WindowReads};

use crate::builder::{BuilderState, Shared};
use crate::ktable::KTable;
use crate::materialized::{Materialized, StoreType, versioned_store_unsupported};
use crate::repartition::{Partitioning, add_repartition};
use crate::windows::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};

pub(crate) use fold::{AggregateFold, CountFold, Fold, ReduceFold};
use shape::{FoldParts, Shape, ShapeKey, WindowKind};

/// A stream grouped by key, ready for an aggregation, as Kafka Streams' `KGroupedStream`.
///
/// Made by [`KStream::group_by_key`](crate::KStream::group_by_key) or
/// [`KStream::group_by`](crate::KStream::group_by).
pub struct KGroupedStream<K, V> {
    pub(crate) builder: Shared,
    pub(crate) node: String,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) partitioning: Partitioning,
    pub(crate) name: Option<String>,
    pub(crate) next_name: Option<String>,
    /// The source of the repartition topic once made, reused by later aggregations of a
    /// named grouping, as Kafka Streams does.
    pub(crate) repartition_source: Rc<RefCell<Option<String>>>,
}

impl<K, V> Clone for KGroupedStream<K, V> {
    fn clone(&self) -> Self {
        KGroupedStream {
            builder: self.builder.clone(),
            node: self.node.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            partitioning: self.partitioning,
            name: self.name.clone(),
            next_name: self.next_name.clone(),
            repartition_source: self.repartition_source.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for KGroupedStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KGroupedStream")
            .field("node", &self.node)
            .field(
                "repartition_required",
                &self.partitioning.requires_repartition(),
            )
            .field("name", &self.name)
            .finish()
    }
}

/// Where a materialized store's name comes from.
pub(crate) enum StoreName<'a> {
    /// `Materialized::as_(name)` or a generated one.
    Materialized(Option<&'a str>),
}

/// Which index of the builder's counter a generated store name takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GeneratedStoreName {
    /// The next one.
    Next,
    /// The one after: Kafka Streams' `count(Materialized)` takes an index it leaves unused.
    SkipOne,
}

/// The names and parent of one aggregation node, decided before it is added.
pub(crate) struct AggregateNames {
    pub(crate) store: String,
    pub(crate) processor: String,
    pub(crate) parent: String,
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedStream<K, V> {
    /// Names the processor node of the next aggregation, instead of a generated name such
    /// as `KSTREAM-AGGREGATE-0000000002`.
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut g = self.clone();
        g.next_name = Some(name.into());
        g
    }

    /// Whether the aggregations of this grouping go through a repartition topic.
    pub fn is_repartition_required(&self) -> bool {
        self.partitioning.requires_repartition()
    }

    /// Decides the store and processor names (in Kafka Streams' order: store, then
    /// processor, then the repartition nodes) and adds the repartition topic when needed.
    /// `generated` places a generated store name in the builder's counter.
    pub(crate) fn prepare(
        &self,
        store: StoreName<'_>,
        prefix: &str,
        generated: GeneratedStoreName,
    ) -> AggregateNames {
        let mut st = self.builder.borrow_mut();
        let StoreName::Materialized(given) = store;
        if generated == GeneratedStoreName::SkipOne && given.is_none() {
            st.new_name(&format!("{prefix}STATE-STORE-"));
        }
        let store = match given {
            Some(n) => n.to_owned(),
            None => st.new_name(&format!("{prefix}STATE-STORE-")),
        };
        let processor = st.name_or_generate(self.next_name.as_deref(), prefix);
        drop(st);
        let parent = if self.partitioning.requires_repartition() {
            let prefix = self.name.clone().unwrap_or_else(|| store.clone());
            self.repartition(&prefix)
        } else {
            self.node.clone()
        };
        AggregateNames {
            store,
            processor,
            parent,
        }
    }

    /// Adds the repartition topic, its pass-through filter, sink and source, and returns
    /// the source's name.
    fn repartition(&self, prefix: &str) -> String {
        if self.name.is_some()
            && let Some(existing) = self.repartition_source.borrow().clone()
        {
            return existing;
        }
        let source = add_repartition(
            &self.builder,
            &self.node,
            prefix,
            self.key_serde.clone(),
            self.value_serde.clone(),
        );
        *self.repartition_source.borrow_mut() = Some(source.clone());
        source
    }

    /// Adds the aggregation of shape `shape` named after `prefix`, folding the values with
    /// `fold` into the store set up by `materialized`, whose value serde defaults to
    /// `default_value_serde`; returns the resulting table.
    pub(crate) fn aggregate_shaped<S, VA, F>(
        &self,
        shape: S,
        prefix: &str,
        fold: F,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<SerdeRef<VA>>,
        generated: GeneratedStoreName,
    ) -> KTable<ShapeKey<S, K>, VA>
    where
        S: Shape,
        VA: Clone + 'static,
        F: Fold<K, V, VA>,
    {
        let names = self.prepare(
            StoreName::Materialized(materialized.name.as_deref()),
            prefix,
            generated,
        );
        let key_serde = first_some(materialized.key_serde.clone(), self.key_serde.clone());
        let value_serde = first_some(materialized.value_serde.clone(), default_value_serde);
        let store = shape.store(
            &names.store,
            &materialized,
            key_serde.clone(),
            value_serde.clone(),
            &names.processor,
        );
        let table = KTable::new(
            self.builder.clone(),
            names.processor.clone(),
            key_serde.map(|k| shape.table_key_serde(k)),
            value_serde,
            Some(names.store.clone()),
        );
        let parts = FoldParts {
            store_name: names.store.as_str().into(),
            fold: Arc::new(fold),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            send_old: Arc::clone(&table.send_old),
        };
        let mut st = self.builder.borrow_mut();
        if let Some(grace) = shape.grace_ms() {
            st.tables
                .window_grace
                .insert(names.processor.clone(), grace);
        }
        let r = shape.add_processor(&mut st.topology, &names.processor, &names.parent, parts);
        st.record(r);
        add_store(&mut st, store, &[names.processor.as_str()]);
        drop(st);
        table
    }

    /// Windows the grouped stream for a windowed aggregation: [`TimeWindows`] give a
    /// [`TimeWindowedKStream`], [`SlidingWindows`] a [`SlidingWindowedKStream`] and
    /// [`SessionWindows`] a [`SessionWindowedKStream`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
    ///     .count()
    ///     .to_stream()
    ///     .to("per-minute", Produced::with(Serdes::time_windowed(Serdes::string(), 60_000), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("per-minute", Serdes::time_windowed(Serdes::string(), 60_000), Serdes::option(Serdes::i64()));
    /// clicks.pipe_record(TestRecord::new("u".to_string(), "home".to_string(), 59_999))?;
    /// clicks.pipe_record(TestRecord::new("u".to_string(), "cart".to_string(), 60_000))?;
    /// let got: Vec<_> = out.read_key_values_to_list()?.into_iter().map(|(k, v)| (k.window.start, v)).collect();
    /// assert_eq!(got, vec![(0, Some(1)), (60_000, Some(1))]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn windowed_by<W: Windows>(&self, windows: W) -> WindowedKStream<K, V, W> {
        WindowedKStream::new(self.clone(), windows)
    }
}

/// A window specification that [`KGroupedStream::windowed_by`] and
/// [`CogroupedKStream::windowed_by`] accept, and the windowed cogroups it makes. Only this
/// crate's windows implement it: [`TimeWindows`], [`SlidingWindows`] and
/// [`SessionWindows`].
pub trait Windows {
    /// The windowed cogroup for a cogroup of `K` aggregating into `VA`.
    type Cogrouped<K: Clone + 'static, VA: Clone + 'static>;

    /// How a windowed stream aggregates over these windows, emitting by `emit`.
    #[doc(hidden)]
    fn shape(&self, emit: EmitStrategy) -> WindowShape;

    /// Windows `cogrouped`.
    fn window_cogroup<K: Clone + 'static, VA: Clone + 'static>(
        self,
        cogrouped: CogroupedKStream<K, VA>,
    ) -> Self::Cogrouped<K, VA>;
}

impl Windows for TimeWindows {
    type Cogrouped<K: Clone + 'static, VA: Clone + 'static> = TimeWindowedCogroupedKStream<K, VA>;

    fn shape(&self, emit: EmitStrategy) -> WindowShape {
        WindowShape(WindowKind::Time(time_windowed::TimeShape {
            windows: *self,
            emit,
        }))
    }

    fn window_cogroup<K: Clone + 'static, VA: Clone + 'static>(
        self,
        cogrouped: CogroupedKStream<K, VA>,
    ) -> TimeWindowedCogroupedKStream<K, VA> {
        TimeWindowedCogroupedKStream::new(cogrouped, self.shape(EmitStrategy::on_window_update()))
    }
}

impl Windows for SlidingWindows {
    type Cogrouped<K: Clone + 'static, VA: Clone + 'static> = TimeWindowedCogroupedKStream<K, VA>;

    fn shape(&self, emit: EmitStrategy) -> WindowShape {
        WindowShape(WindowKind::Sliding(sliding::SlidingShape {
            windows: *self,
            emit,
        }))
    }

    fn window_cogroup<K: Clone + 'static, VA: Clone + 'static>(
        self,
        cogrouped: CogroupedKStream<K, VA>,
    ) -> TimeWindowedCogroupedKStream<K, VA> {
        TimeWindowedCogroupedKStream::new(cogrouped, self.shape(EmitStrategy::on_window_update()))
    }
}

impl Windows for SessionWindows {
    type Cogrouped<K: Clone + 'static, VA: Clone + 'static> =
        SessionWindowedCogroupedKStream<K, VA>;

    fn shape(&self, emit: EmitStrategy) -> WindowShape {
        WindowShape(WindowKind::Session(session::SessionShape {
            windows: *self,
            emit,
        }))
    }

    fn window_cogroup<K: Clone + 'static, VA: Clone + 'static>(
        self,
        cogrouped: CogroupedKStream<K, VA>,
    ) -> SessionWindowedCogroupedKStream<K, VA> {
        SessionWindowedCogroupedKStream::new(
            cogrouped,
            self.shape(EmitStrategy::on_window_update()),
        )
    }
}

/// Adds an aggregation's store, connected to `processors`, or records why it could not be
/// made.
pub(crate) fn add_store(
    st: &mut BuilderState,
    store: Result<Arc<dyn StoreBuilder>>,
    processors: &[&str],
) {
    match store {
        Ok(b) => {
            let r = st.topology.add_state_store(b, processors).map(|_| ());
            st.record(r);
        }
        Err(e) => st.fail(e),
    }
}

/// The error for an aggregation whose store serdes are unknown.
pub(crate) fn missing_serde(node: &str, what: &str) -> Error {
    Error::Topology(format!(
        "aggregation '{node}' needs a {what} serde for its store: give it with Grouped::with(...) or Materialized::with(...)"
    ))
}

/// A timestamped key-value store builder for an aggregation, as Kafka Streams'
/// `KeyValueStoreMaterializer`.
pub(crate) fn key_value_store<K: 'static, VA: 'static>(
    name: &str,
    materialized: &Materialized<K, VA>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<VA>>,
    node: &str,
) -> Result<Arc<dyn StoreBuilder>> {
    let key_serde = key_serde.ok_or_else(|| missing_serde(node, "key"))?;
    let value_serde = value_serde.ok_or_else(|| missing_serde(node, "value"))?;
    macro_rules! finish {
        ($b:expr) => {{
            let mut b = $b;
            b = if materialized.logging {
                b.with_logging_enabled(materialized.logging_config.clone())
            } else {
                b.with_logging_disabled()
            };
            if materialized.caching {
                b = b.with_caching_enabled();
            }
            Arc::new(b) as Arc<dyn StoreBuilder>
        }};
    }
    Ok(match materialized.store_type {
        StoreType::RocksDb => finish!(Stores::timestamped_key_value_store_builder(
            Stores::persistent_timestamped_key_value_store(name),
            key_serde,
            value_serde
        )),
        StoreType::InMemory => finish!(Stores::timestamped_key_value_store_builder(
            Stores::in_memory_key_value_store(name),
            key_serde,
            value_serde
        )),
        StoreType::Versioned { .. } => {
            return Err(versioned_store_unsupported(node, "an aggregation"));
        }
    })
}

/// A timestamped window store builder, as Kafka Streams' `WindowStoreMaterializer`,
/// retaining windows for `minimum_retention_ms` unless `materialized` asks for longer (see
/// [`retention`]). An emit-on-close aggregation (by `emit`) gets no cache and reads its RocksDB store as
/// `on_close_reads` tells: Kafka Streams' time-ordered stores (the in-memory store has no
/// such variant, in Kafka Streams either).
#[allow(clippy::too_many_arguments)]
pub(crate) fn window_store<K: 'static, VA: 'static>(
    name: &str,
    materialized: &Materialized<K, VA>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<VA>>,
    node: &str,
    minimum_retention_ms: i64,
    window_size_ms: i64,
    emit: EmitStrategy,
    on_close_reads: WindowReads,
) -> Result<Arc<dyn StoreBuilder>> {
    let retention_ms = retention(materialized, minimum_retention_ms, node)?;
    let key_serde = key_serde.ok_or_else(|| missing_serde(node, "key"))?;
    let value_serde = value_serde.ok_or_else(|| missing_serde(node, "value"))?;
    let on_close = emit.is_on_window_close();
    let caching = materialized.caching && !on_close;
    let reads = if on_close {
        on_close_reads
    } else {
        WindowReads::KeyOrdered
    };
    let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
    let (retention, size) = (ms(retention_ms), ms(window_size_ms));
    macro_rules! finish {
        ($b:expr) => {{
            let mut b = $b;
            b = if materialized.logging {
                b.with_logging_enabled(materialized.logging_config.clone())
            } else {
                b.with_logging_disabled()
            };
            if caching {
                b = b.with_caching_enabled();
            }
            Arc::new(b) as Arc<dyn StoreBuilder>
        }};
    }
    Ok(match materialized.store_type {
        StoreType::RocksDb => finish!(Stores::timestamped_window_store_builder(
            Stores::persistent_window_store(name, retention, size, false)?.with_reads(reads),
            key_serde,
            value_serde
        )),
        StoreType::InMemory => finish!(Stores::timestamped_window_store_builder(
            Stores::in_memory_window_store(name, retention, size, false)?,
            key_serde,
            value_serde
        )),
        StoreType::Versioned { .. } => {
            return Err(versioned_store_unsupported(node, "a windowed aggregation"));
        }
    })
}

/// The retention of a window store: the one given, at least `minimum`.
pub(crate) fn retention<K, V>(
    materialized: &Materialized<K, V>,
    minimum: i64,
    node: &str,
) -> Result<i64> {
    match materialized.retention {
        None => Ok(minimum),
        Some(r) => {
            let r = crate::windows::millis(r);
            if r < minimum {
                Err(Error::Topology(format!(
                    "the retention period of the store of '{node}' ({r} ms) must be at least {minimum} ms"
                )))
            } else {
                Ok(r)
            }
        }
    }
}

/// Whether `value` is Kafka's null according to `serde` (never, without a serde).
pub(crate) fn is_null<T: 'static>(serde: Option<&SerdeRef<T>>, value: &T) -> bool {
    serde.is_some_and(|s| s.is_null(value))
}

/// The serdes an aggregation output's table has, when known.
pub(crate) fn first_some<T>(a: Option<SerdeRef<T>>, b: Option<SerdeRef<T>>) -> Option<SerdeRef<T>> {
    a.or(b)
}
