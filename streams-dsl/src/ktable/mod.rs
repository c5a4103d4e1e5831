//! `KTable`: a changelog stream read as a table, one current value per key.
//!
//! Table nodes forward [`Change`]s: the new value and the old one, where `None` means the key
//! is absent (deleted). Operators on tables live one per file beside this one.

use streams_core::SerdeRef;
use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use crate::builder::Shared;
use crate::kstream::KStream;
use crate::repartition::Partitioning;

mod filter;
mod fk_join;
mod getter;
mod group_by;
mod join;
mod map_values;
mod source;
mod store;
mod suppress;

pub use fk_join::TableJoined;
pub(crate) use getter::{GetterRef, MappedGetterSupplier, ValueGetter};
pub(crate) use group_by::ChangedSerde;
pub use suppress::{BufferConfig, Suppressed};

/// An update of one table row: the value after it and the value before it, `None` where the
/// key is absent. A delete has `new: None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<V> {
    /// The value after the update.
    pub new: Option<V>,
    /// The value before the update.
    pub old: Option<V>,
    /// Whether `new` is now the table's latest value for the key. Only a table materialized
    /// in a versioned store forwards updates that are not: an out-of-order update (older
    /// than the key's latest version) is stored in its place in the history and forwarded
    /// with `is_latest: false`, which `to_stream` passes on and table-table joins and
    /// `group_by` ignore, as Kafka Streams' `Change.isLatest` (KIP-914).
    pub is_latest: bool,
}

impl<V> Change<V> {
    /// A change from `old` to `new` that is the key's latest value.
    pub fn new(new: Option<V>, old: Option<V>) -> Self {
        Change {
            new,
            old,
            is_latest: true,
        }
    }
}

/// Whether a table's processor must send old values downstream: set by downstream operators
/// that need them (Kafka Streams' `enableSendingOldValues`), and passed up to the parent.
#[derive(Debug, Default)]
pub(crate) struct SendOldValues {
    flag: std::sync::atomic::AtomicBool,
    parent: Option<std::sync::Arc<SendOldValues>>,
}

impl SendOldValues {
    pub(crate) fn child_of(
        parent: &std::sync::Arc<SendOldValues>,
    ) -> std::sync::Arc<SendOldValues> {
        std::sync::Arc::new(SendOldValues {
            flag: std::sync::atomic::AtomicBool::new(false),
            parent: Some(std::sync::Arc::clone(parent)),
        })
    }

    /// Turns sending old values on here and upstream.
    pub(crate) fn enable(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.enable();
        }
    }

    /// Read once per task, when its processors are made.
    pub(crate) fn enabled(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A table: for each key, its latest value. Updates flow downstream as [`Change`]s.
pub struct KTable<K, V> {
    pub(crate) builder: Shared,
    /// The node that forwards this table's `Record<K, Change<V>>`s.
    pub(crate) node: String,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    /// The store holding the table's current values, when it is materialized: lookups for
    /// joins and interactive queries read it.
    pub(crate) store: Option<String>,
    pub(crate) next_name: Option<String>,
    /// How joins look up this table's values; `None` when they cannot (a result that was
    /// neither materialized nor derived from a materialized table).
    pub(crate) getter: Option<GetterRef<K, V>>,
    pub(crate) send_old: std::sync::Arc<SendOldValues>,
    /// The source store this table's values come from, added to the topology when first
    /// needed.
    pub(crate) lazy_store: Option<std::sync::Arc<source::LazyStore>>,
    /// Whether the table's values come from a versioned store (its own, or its parent's
    /// for a table derived without a store), as Kafka Streams' `isOutputVersioned`.
    pub(crate) versioned: bool,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            builder: self.builder.clone(),
            node: self.node.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            store: self.store.clone(),
            next_name: self.next_name.clone(),
            getter: self.getter.clone(),
            send_old: self.send_old.clone(),
            lazy_store: self.lazy_store.clone(),
            versioned: self.versioned,
        }
    }
}

impl<K, V> std::fmt::Debug for KTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KTable")
            .field("node", &self.node)
            .field("store", &self.store)
            .finish()
    }
}

/// Forwards each change's new value as a stream record (`None` for a delete).
struct ToStream;

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Change<V>, K, Option<V>> for ToStream {
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Option<V>>,
    ) -> Result<()> {
        let new = record.value.new;
        ctx.forward(Record {
            key: record.key,
            value: new,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    pub(crate) fn new(
        builder: Shared,
        node: String,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
        store: Option<String>,
    ) -> Self {
        KTable {
            builder,
            node,
            key_serde,
            value_serde,
            next_name: None,
            getter: store.clone().map(|store| {
                std::sync::Arc::new(getter::StoreGetterSupplier { store }) as GetterRef<K, V>
            }),
            store,
            send_old: std::sync::Arc::default(),
            lazy_store: None,
            versioned: false,
        }
    }

    /// The value getter for joins, adding the source store to the topology if it is not
    /// there yet.
    pub(crate) fn value_getter(
        &self,
        st: &mut crate::builder::BuilderState,
    ) -> Option<GetterRef<K, V>> {
        if let Some(lazy) = &self.lazy_store {
            lazy.materialize(st);
        }
        self.getter.clone()
    }

    /// Adds a processor under this table's node, consuming the `named` hint.
    pub(crate) fn add_table_processor<KO, VO, P, F>(&self, prefix: &str, supplier: F) -> String
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        P: Processor<K, Change<V>, KO, VO>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(self.next_name.as_deref(), prefix);
        let r = st
            .topology
            .add_processor(&name, supplier, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
        name
    }

    /// Makes this table's processor send old values (and its parents').
    pub(crate) fn enable_sending_old_values(&self) {
        self.send_old.enable();
    }

    /// Names the processor node of the next operator applied to the returned handle.
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut t = self.clone();
        t.next_name = Some(name.into());
        t
    }

    /// The name of the node this table's updates come out of.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// The name of the store holding the table's values, when it is materialized.
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// The table's updates as a stream: each update's key, its new value (`None` for a
    /// delete) and its timestamp. The value serde becomes `Serdes::option` of the table's.
    pub fn to_stream(&self) -> KStream<K, Option<V>> {
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(self.next_name.as_deref(), "KTABLE-TOSTREAM-");
        let r = st
            .topology
            .add_processor::<K, Change<V>, K, Option<V>, _, _>(
                &name,
                || ToStream,
                &[self.node.as_str()],
            )
            .map(|_| ());
        st.record(r);
        drop(st);
        KStream::new(
            self.builder.clone(),
            name,
            self.key_serde.clone(),
            self.value_serde
                .clone()
                .map(streams_core::serde::Serdes::option),
            Partitioning::ByKey,
        )
    }
}
