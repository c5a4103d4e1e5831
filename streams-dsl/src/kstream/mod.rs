//! `KStream`: an unbounded stream of key-value records.
//!
//! Each operator lives in its own file with the processor that implements it. Operators
//! take closures that stay generic while the topology is built; each node then holds its
//! closure behind one `Arc`, so processing a record is a direct, typed call.

mod branch;
mod filter;
mod flat_map;
mod group_by;
mod join_global;
mod join_stream;
mod join_table;
mod map;
pub(crate) mod merge;
mod peek;
mod process;
mod repartitioned;
mod to;

pub use branch::{Branched, BranchedKStream};
pub use join_stream::StreamJoined;
pub use repartitioned::Repartitioned;

use streams_core::SerdeRef;
use streams_core::processor::Processor;

use crate::builder::Shared;
use crate::repartition::Partitioning;

/// A stream of records with keys of type `K` and values of type `V`.
///
/// Kafka's null is part of the types: use `Option<T>` (with `Serdes::option`) for keys or
/// values that may be null, and closures see exactly what Kafka Streams' lambdas would,
/// `None` included.
pub struct KStream<K, V> {
    pub(crate) builder: Shared,
    pub(crate) node: String,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) partitioning: Partitioning,
    pub(crate) next_name: Option<String>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            builder: self.builder.clone(),
            node: self.node.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            partitioning: self.partitioning,
            next_name: self.next_name.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for KStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KStream")
            .field("node", &self.node)
            .field(
                "repartition_required",
                &self.partitioning.requires_repartition(),
            )
            .finish()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    pub(crate) fn new(
        builder: Shared,
        node: String,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
        partitioning: Partitioning,
    ) -> Self {
        KStream {
            builder,
            node,
            key_serde,
            value_serde,
            partitioning,
            next_name: None,
        }
    }

    /// Names the processor node of the next operator applied to the returned handle, instead
    /// of a generated name such as `KSTREAM-FILTER-0000000001`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .named("non-empty")
    ///     .filter(|_, v| !v.is_empty());
    /// assert!(builder.build()?.describe().to_string().contains("Processor: non-empty (stores: [])"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    #[must_use]
    pub fn named(&self, name: impl Into<String>) -> Self {
        let mut s = self.clone();
        s.next_name = Some(name.into());
        s
    }

    /// The name of the node this stream comes out of.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// Whether an upstream operator may have changed the key, so that a grouping or join
    /// downstream must repartition.
    pub fn is_repartition_required(&self) -> bool {
        self.partitioning.requires_repartition()
    }

    /// Adds a processor under this stream's node and returns its stream.
    pub(crate) fn add<KO, VO, P, F>(
        &self,
        prefix: &str,
        supplier: F,
        key_serde: Option<SerdeRef<KO>>,
        value_serde: Option<SerdeRef<VO>>,
        partitioning: Partitioning,
    ) -> KStream<KO, VO>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        P: Processor<K, V, KO, VO>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(self.next_name.as_deref(), prefix);
        let r = st
            .topology
            .add_processor(&name, supplier, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
        drop(st);
        KStream::new(
            self.builder.clone(),
            name,
            key_serde,
            value_serde,
            partitioning,
        )
    }
}
