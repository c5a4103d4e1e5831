//! What tells the stream aggregations apart: the store an aggregation keeps, the key of
//! its table, and the processor that folds records into it. A grouped stream and each of
//! its windowed forms is a [`Shape`]; `count`, `reduce`, `aggregate` and `cogroup` are
//! written once over it.

use std::sync::Arc;

use streams_core::state::StoreBuilder;
use streams_core::topology::Topology;
use streams_core::window::Windowed;
use streams_core::{Result, SerdeRef};

use super::session::SessionShape;
use super::sliding::SlidingShape;
use super::time_windowed::TimeShape;
use super::{Fold, GeneratedStoreName};
use crate::ktable::SendOldValues;
use crate::materialized::Materialized;

/// What an aggregation processor is made of, whatever its shape.
pub(crate) struct FoldParts<K, V, F> {
    /// The store the processor folds into.
    pub(crate) store_name: Arc<str>,
    pub(crate) fold: Arc<F>,
    /// The grouping's serdes, which say which keys and values are Kafka's null.
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    /// The resulting table's switch, read when a task makes its processor.
    pub(crate) send_old: Arc<SendOldValues>,
}

/// One kind of stream aggregation: plain, time-windowed, sliding or session.
pub(crate) trait Shape: Copy + 'static {
    /// The key of the resulting table: `K`, or `Windowed<K>`.
    type Key<K: Clone + 'static>: Clone + 'static;

    /// The grace period a suppression downstream waits for, for windowed shapes.
    fn grace_ms(&self) -> Option<i64>;

    /// The store builder, named `name`, for the aggregation node `node`.
    fn store<K: 'static, VA: 'static>(
        &self,
        name: &str,
        materialized: &Materialized<K, VA>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<VA>>,
        node: &str,
    ) -> Result<Arc<dyn StoreBuilder>>;

    /// The serde of the table's keys, from the grouping's key serde.
    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>)
    -> SerdeRef<Self::Key<K>>;

    /// Adds the processor `node` under `parent`, folding with `parts` (the store is
    /// connected by the caller).
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
        F: Fold<K, V, VA>;

    /// The shape as a value, for the members of a cogrouped stream, whose input types
    /// differ from each other.
    fn erased(self) -> AnyShape;
}

/// The key of a shape's table.
pub(crate) type ShapeKey<S, K> = <S as Shape>::Key<K>;

/// The plain aggregation: one aggregate per key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyValueShape;

/// Any [`Shape`], as a value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnyShape {
    KeyValue(KeyValueShape),
    Windowed(WindowShape),
}

impl AnyShape {
    /// [`Shape::add_processor`] of the shape this is.
    pub(crate) fn add_processor<K, V, VA, F>(
        self,
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
        match self {
            AnyShape::KeyValue(s) => s.add_processor(topology, node, parent, parts),
            AnyShape::Windowed(s) => s.add_processor(topology, node, parent, parts),
        }
    }
}

/// The shape of a windowed aggregation, whichever its windows: what
/// [`Windows::shape`](super::Windows::shape) gives. Public in name only, so that the public
/// [`Windows`](super::Windows) trait can hand it over; its field keeps it opaque.
#[derive(Debug, Clone, Copy)]
pub struct WindowShape(pub(crate) WindowKind);

/// The windowed shapes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WindowKind {
    Time(TimeShape),
    Sliding(SlidingShape),
    Session(SessionShape),
}

impl WindowShape {
    /// The generated store name `count_with` takes: Kafka Streams' `count(Materialized)`
    /// leaves a name index unused for time and session windows, not for sliding ones.
    pub(crate) fn count_with_store_name(&self) -> GeneratedStoreName {
        match self.0 {
            WindowKind::Sliding(_) => GeneratedStoreName::Next,
            WindowKind::Time(_) | WindowKind::Session(_) => GeneratedStoreName::SkipOne,
        }
    }
}

impl Shape for WindowShape {
    type Key<K: Clone + 'static> = Windowed<K>;

    fn grace_ms(&self) -> Option<i64> {
        match self.0 {
            WindowKind::Time(s) => s.grace_ms(),
            WindowKind::Sliding(s) => s.grace_ms(),
            WindowKind::Session(s) => s.grace_ms(),
        }
    }

    fn store<K: 'static, VA: 'static>(
        &self,
        name: &str,
        materialized: &Materialized<K, VA>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<VA>>,
        node: &str,
    ) -> Result<Arc<dyn StoreBuilder>> {
        match self.0 {
            WindowKind::Time(s) => s.store(name, materialized, key_serde, value_serde, node),
            WindowKind::Sliding(s) => s.store(name, materialized, key_serde, value_serde, node),
            WindowKind::Session(s) => s.store(name, materialized, key_serde, value_serde, node),
        }
    }

    fn table_key_serde<K: Clone + 'static>(&self, key_serde: SerdeRef<K>) -> SerdeRef<Windowed<K>> {
        match self.0 {
            WindowKind::Time(s) => s.table_key_serde(key_serde),
            WindowKind::Sliding(s) => s.table_key_serde(key_serde),
            WindowKind::Session(s) => s.table_key_serde(key_serde),
        }
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
        match self.0 {
            WindowKind::Time(s) => s.add_processor(topology, node, parent, parts),
            WindowKind::Sliding(s) => s.add_processor(topology, node, parent, parts),
            WindowKind::Session(s) => s.add_processor(topology, node, parent, parts),
        }
    }

    fn erased(self) -> AnyShape {
        AnyShape::Windowed(self)
    }
}
