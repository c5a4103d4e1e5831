//! Topologies: sources, processors and sinks wired into a graph, with stores attached.
//!
//! [`Topology`] is the low-level builder (Kafka Streams' Processor API `Topology`); the
//! typed DSL in `streams-dsl` writes into it. Every node is typed while it is added, and
//! the types of connected nodes are checked then. Each node becomes one trait object per
//! task; records then flow between nodes as plain typed values.

mod describe;
mod description;
mod node;
mod nodes;
mod output_topic;
mod retry_sources;
mod topic_names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

pub use description::{
    GlobalStoreDescription, NodeDescription, NodeDescriptionKind, SubtopologyDescription,
    TopologyDescription,
};
pub(crate) use node::{BuildContext, BuiltNode, NodeKind, NodeLifecycle, SinkTopic, SourceInput};
pub use output_topic::OutputTopic;

use node::{NodeDef, Types};

use crate::error::{Error, Result};
use crate::options::{Consumed, OffsetReset, Produced};
use crate::processor::Processor;
use crate::state::StoreBuilder;

/// What an internal topic is for, which decides its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalTopicKind {
    /// A repartition topic: `cleanup.policy=delete`, unlimited retention, purged as consumed.
    Repartition,
}

/// A topic the application creates and owns. Its full name is `<application.id>-<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    /// The name without the application id prefix.
    pub name: String,
    /// What it is for.
    pub kind: InternalTopicKind,
    /// Its partition count, when fixed by the topology rather than by its upstream.
    pub partitions: Option<i32>,
}

/// A processing graph: sources read topics, processors transform records, sinks write topics.
///
/// # Examples
///
/// Building a topology with the Processor API and describing it:
///
/// ```
/// use streams_core::processor::{Processor, ProcessorContext};
/// use streams_core::serde::Serdes;
/// use streams_core::{Consumed, Produced, Record, Result, Topology};
///
/// struct Upper;
/// impl Processor<String, String, String, String> for Upper {
///     fn process(&mut self, r: Record<String, String>, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
///         let v = r.value.to_uppercase();
///         ctx.forward(r.with_value(v))
///     }
/// }
///
/// let mut topology = Topology::new();
/// topology
///     .add_source("in", &["input"], Consumed::with(Serdes::string(), Serdes::string()))?
///     .add_processor("upper", || Upper, &["in"])?
///     .add_sink("out", "output", Produced::with(Serdes::string(), Serdes::string()), &["upper"])?;
/// assert_eq!(
///     topology.describe().to_string(),
///     "Topologies:\n   Sub-topology: 0\n    Source: in (topics: [input])\n      --> upper\n    \
///      Processor: upper (stores: [])\n      --> out\n      <-- in\n    Sink: out (topic: output)\n      <-- upper\n\n"
/// );
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Default)]
pub struct Topology {
    pub(crate) nodes: Vec<NodeDef>,
    by_name: HashMap<Arc<str>, usize>,
    pub(crate) internal_topics: BTreeMap<String, InternalTopic>,
    copartition_groups: Vec<BTreeSet<String>>,
    store_names: BTreeSet<String>,
    stores: BTreeMap<String, Arc<dyn StoreBuilder>>,
    /// Source topics given their own offset reset policy.
    offset_resets: BTreeMap<String, OffsetReset>,
    pub(crate) global_stores: Vec<GlobalStoreDef>,
    /// Output topics the application creates when missing, by name.
    output_topics: BTreeMap<String, OutputTopic>,
    /// The retry topics read under the `retry` processing handler (see
    /// [`retry_sources`]).
    retry: Option<Arc<crate::retry::RetryChains>>,
}

/// A global store: its source node, the processor that updates it, and its topic.
#[derive(Debug, Clone)]
pub(crate) struct GlobalStoreDef {
    pub(crate) source: usize,
    pub(crate) processor: usize,
    pub(crate) store: String,
    pub(crate) topic: String,
}

impl Topology {
    /// An empty topology.
    pub fn new() -> Self {
        Topology::default()
    }

    /// The source topics read with their own [`OffsetReset`] policy
    /// ([`Consumed::with_offset_reset`]), instead of the consumer's `auto.offset.reset`.
    pub fn offset_resets(&self) -> &BTreeMap<String, OffsetReset> {
        &self.offset_resets
    }

    fn check_new_name(&self, name: &str) -> Result<()> {
        crate::names::validate(name).map_err(Error::Topology)?;
        if self.by_name.contains_key(name) {
            return Err(Error::Topology(format!(
                "a node named '{name}' already exists"
            )));
        }
        Ok(())
    }

    fn parent_indices(&self, node: &str, parents: &[&str], input: Types) -> Result<Vec<usize>> {
        if parents.is_empty() {
            return Err(Error::Topology(format!(
                "node '{node}' needs at least one parent"
            )));
        }
        let mut out = Vec::with_capacity(parents.len());
        for p in parents {
            let Some(&i) = self.by_name.get(*p) else {
                return Err(Error::Topology(format!(
                    "parent '{p}' of node '{node}' does not exist; add parents before children"
                )));
            };
            let parent = &self.nodes[i];
            match parent.output {
                None => {
                    return Err(Error::Topology(format!(
                        "sink '{p}' cannot be the parent of '{node}'"
                    )));
                }
                Some(out_types) if !out_types.same(&input) => {
                    return Err(Error::Topology(format!(
                        "node '{node}' takes {input} but its parent '{p}' forwards {out_types}"
                    )));
                }
                Some(_) => {}
            }
            out.push(i);
        }
        Ok(out)
    }

    fn push(&mut self, def: NodeDef) -> usize {
        let idx = self.nodes.len();
        for &p in &def.parents {
            self.nodes[p].children.push(idx);
        }
        self.by_name.insert(Arc::clone(&def.name), idx);
        self.nodes.push(def);
        idx
    }

    /// Adds a source node reading `topics` with the serdes and extractor in `consumed`.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] for a duplicate or invalid name, no topics, or missing serdes.
    pub fn add_source<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        name: &str,
        topics: &[&str],
        consumed: Consumed<K, V>,
    ) -> Result<&mut Self> {
        self.add_source_node(name, topics, consumed, false)
    }

    fn add_source_node<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        name: &str,
        topics: &[&str],
        consumed: Consumed<K, V>,
        raw_timestamps: bool,
    ) -> Result<&mut Self> {
        self.check_new_name(name)?;
        if topics.is_empty() {
            return Err(Error::Topology(format!("source '{name}' has no topics")));
        }
        for t in topics {
            crate::names::validate(t)
                .map_err(|e| Error::Topology(format!("source '{name}': topic {e}")))?;
            if let Some(other) = self.nodes.iter().find(|n| match &n.kind {
                NodeKind::Source { topics } => topics.iter().any(|x| x == t),
                _ => false,
            }) {
                return Err(Error::Topology(format!(
                    "topic '{t}' is already read by source '{}'",
                    other.name
                )));
            }
        }
        let (Some(key_serde), Some(value_serde)) = (consumed.key_serde, consumed.value_serde)
        else {
            return Err(Error::Topology(format!(
                "source '{name}' needs a key serde and a value serde"
            )));
        };
        if let Some(reset) = consumed.offset_reset {
            for t in topics {
                self.offset_resets.insert((*t).to_owned(), reset);
            }
        }
        let factory = nodes::SourceFactory::<K, V> {
            key_serde,
            value_serde,
            extractor: consumed.extractor,
            raw_timestamps,
        };
        self.push(NodeDef {
            name: name.into(),
            kind: NodeKind::Source {
                topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            },
            parents: Vec::new(),
            children: Vec::new(),
            stores: Vec::new(),
            factory: Box::new(factory),
            output: Some(Types::of::<K, V>()),
        });
        Ok(self)
    }

    /// Adds a processor node. `supplier` is called once per task to make the processor.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] for a duplicate or invalid name, an unknown parent, or a parent
    /// that forwards other types than the processor takes.
    pub fn add_processor<KIn, VIn, KOut, VOut, P, F>(
        &mut self,
        name: &str,
        supplier: F,
        parents: &[&str],
    ) -> Result<&mut Self>
    where
        KIn: 'static,
        VIn: 'static,
        KOut: Clone + 'static,
        VOut: Clone + 'static,
        P: Processor<KIn, VIn, KOut, VOut>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        self.check_new_name(name)?;
        let input = Types::of::<KIn, VIn>();
        let parents = self.parent_indices(name, parents, input)?;
        let factory = nodes::ProcessorFactory::<F, KIn, VIn, KOut, VOut>::new(supplier);
        self.push(NodeDef {
            name: name.into(),
            kind: NodeKind::Processor,
            parents,
            children: Vec::new(),
            stores: Vec::new(),
            factory: Box::new(factory),
            output: Some(Types::of::<KOut, VOut>()),
        });
        Ok(self)
    }

    /// Adds a sink node writing to `topic`.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] for a duplicate or invalid name or topic, an unknown parent, a type
    /// mismatch, or missing serdes.
    pub fn add_sink<K: 'static, V: 'static>(
        &mut self,
        name: &str,
        topic: &str,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> Result<&mut Self> {
        crate::names::validate(topic)
            .map_err(|e| Error::Topology(format!("sink '{name}': topic {e}")))?;
        self.add_sink_node(
            name,
            SinkTopic::Fixed(topic.to_owned()),
            None,
            produced,
            parents,
        )
    }

    /// Adds a sink node that chooses each record's topic with `extractor`.
    ///
    /// # Errors
    ///
    /// As [`add_sink`](Topology::add_sink).
    pub fn add_sink_with_extractor<K: 'static, V: 'static, F>(
        &mut self,
        name: &str,
        extractor: F,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> Result<&mut Self>
    where
        F: Fn(&K, &V) -> String + Send + Sync + 'static,
    {
        let desc = std::any::type_name::<F>().to_string();
        self.add_sink_node(
            name,
            SinkTopic::Extractor(desc),
            Some(Arc::new(extractor)),
            produced,
            parents,
        )
    }

    fn add_sink_node<K: 'static, V: 'static>(
        &mut self,
        name: &str,
        topic: SinkTopic,
        extractor: Option<Arc<nodes::TopicExtractor<K, V>>>,
        produced: Produced<K, V>,
        parents: &[&str],
    ) -> Result<&mut Self> {
        self.check_new_name(name)?;
        let input = Types::of::<K, V>();
        let parents = self.parent_indices(name, parents, input)?;
        let (Some(key_serde), Some(value_serde)) = (produced.key_serde, produced.value_serde)
        else {
            return Err(Error::Topology(format!(
                "sink '{name}' needs a key serde and a value serde: pass them with Produced::with(...)"
            )));
        };
        let fixed = match &topic {
            SinkTopic::Fixed(t) => Some(t.clone()),
            SinkTopic::Extractor(_) => None,
        };
        let factory = nodes::SinkFactory::<K, V> {
            topic: fixed,
            extractor,
            key_serde,
            value_serde,
            partitioner: produced.partitioner,
        };
        self.push(NodeDef {
            name: name.into(),
            kind: NodeKind::Sink { topic },
            parents,
            children: Vec::new(),
            stores: Vec::new(),
            factory: Box::new(factory),
            output: None,
        });
        Ok(self)
    }

    /// Connects a processor to state stores, so it can look them up by name.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] when the processor does not exist or is not a processor.
    pub fn connect_processor_and_state_stores(
        &mut self,
        processor: &str,
        stores: &[&str],
    ) -> Result<&mut Self> {
        let Some(&i) = self.by_name.get(processor) else {
            return Err(Error::Topology(format!(
                "processor '{processor}' does not exist"
            )));
        };
        if !matches!(self.nodes[i].kind, NodeKind::Processor) {
            return Err(Error::Topology(format!(
                "'{processor}' is not a processor; only processors have stores"
            )));
        }
        for s in stores {
            if self.global_stores.iter().any(|g| g.store == *s) {
                return Err(Error::Topology(format!(
                    "global store '{s}' cannot be connected to processor '{processor}': every processor reads global stores without being connected to them"
                )));
            }
        }
        for s in stores {
            if !self.nodes[i].stores.iter().any(|x| x == s) {
                self.nodes[i].stores.push((*s).to_owned());
            }
            self.store_names.insert((*s).to_owned());
        }
        Ok(self)
    }

    /// Adds a state store and connects it to the given processors (which may be none yet:
    /// connect more later with
    /// [`connect_processor_and_state_stores`](Topology::connect_processor_and_state_stores)).
    /// Every task of the sub-topology that uses it gets its own instance.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] for a duplicate store name or an unknown processor.
    pub fn add_state_store(
        &mut self,
        builder: Arc<dyn StoreBuilder>,
        processors: &[&str],
    ) -> Result<&mut Self> {
        let name = builder.name().to_owned();
        crate::names::validate(&name).map_err(|e| Error::Topology(format!("store {e}")))?;
        if self.stores.contains_key(&name) {
            return Err(Error::Topology(format!(
                "a store named '{name}' already exists"
            )));
        }
        self.stores.insert(name.clone(), builder);
        self.store_names.insert(name.clone());
        for p in processors {
            self.connect_processor_and_state_stores(p, &[name.as_str()])?;
        }
        Ok(self)
    }

    /// Adds a global store, as Kafka Streams' `Topology.addGlobalStore`: a source node
    /// named `source_name` reading every partition of `topic`, and a processor named
    /// `processor_name` (made by `supplier`) that keeps the store up to date from it.
    ///
    /// The pair forms a sub-topology of its own that creates no tasks: one instance of the
    /// store per application instance is filled by the global thread (by the test driver,
    /// as each record is piped), before any task processes a record and then as records
    /// arrive. Every processor of every task can read the store by name with
    /// [`ProcessorContext::state_store`](crate::processor::ProcessorContext::state_store)
    /// without being connected to it; only the global processor may write it. The topic is
    /// the store's changelog, so the builder must have logging disabled. As in Kafka
    /// Streams, the global processor sees each record with the timestamp it was written
    /// with: `consumed`'s timestamp extractor is not used.
    ///
    /// # Errors
    ///
    /// [`Error::Topology`] for an invalid or duplicate node or store name, a store with
    /// logging enabled, or a topic another source already reads.
    pub fn add_global_store<K, V, P, F>(
        &mut self,
        builder: Arc<dyn StoreBuilder>,
        source_name: &str,
        consumed: Consumed<K, V>,
        topic: &str,
        processor_name: &str,
        supplier: F,
    ) -> Result<&mut Self>
    where
        K: Clone + 'static,
        V: Clone + 'static,
        P: Processor<K, V, (), ()>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        let store = builder.name().to_owned();
        crate::names::validate(&store).map_err(|e| Error::Topology(format!("store {e}")))?;
        if builder.logging_enabled() {
            return Err(Error::Topology(format!(
                "global store '{store}' must have logging disabled: its source topic '{topic}' is its changelog"
            )));
        }
        if self.stores.contains_key(&store) {
            return Err(Error::Topology(format!(
                "a store named '{store}' already exists"
            )));
        }
        self.check_new_name(processor_name)?;
        if source_name == processor_name {
            return Err(Error::Topology(format!(
                "the source and the processor of global store '{store}' are both named '{source_name}'"
            )));
        }
        self.add_source_node(source_name, &[topic], consumed, true)?;
        self.add_processor(processor_name, supplier, &[source_name])?;
        let source = self.by_name[source_name];
        let processor = self.by_name[processor_name];
        self.nodes[processor].stores.push(store.clone());
        self.stores.insert(store.clone(), builder);
        self.store_names.insert(store.clone());
        self.global_stores.push(GlobalStoreDef {
            source,
            processor,
            store,
            topic: topic.to_owned(),
        });
        Ok(self)
    }

    /// The topics global stores are read from.
    pub fn global_topics(&self) -> Vec<String> {
        self.global_stores.iter().map(|g| g.topic.clone()).collect()
    }

    /// The names of the global stores.
    pub fn global_store_names(&self) -> Vec<String> {
        self.global_stores.iter().map(|g| g.store.clone()).collect()
    }

    /// The builders of the global stores, each with its source topic.
    pub(crate) fn global_store_builders(&self) -> Vec<(Arc<dyn StoreBuilder>, String)> {
        self.global_stores
            .iter()
            .filter_map(|g| Some((self.stores.get(&g.store)?.clone(), g.topic.clone())))
            .collect()
    }

    /// Whether a sub-topology (an index into [`subtopologies`](Self::subtopologies)) is
    /// the one of a global store.
    pub(crate) fn is_global_group(&self, group: &[usize]) -> bool {
        group
            .iter()
            .any(|&i| self.global_stores.iter().any(|g| g.source == i))
    }

    /// The ids of the sub-topologies of global stores.
    pub(crate) fn global_subtopology_ids(&self) -> Vec<usize> {
        self.subtopologies()
            .iter()
            .enumerate()
            .filter(|(_, g)| self.is_global_group(g))
            .map(|(i, _)| i)
            .collect()
    }

    /// The builder of a store, by name.
    pub fn store_builder(&self, name: &str) -> Option<&Arc<dyn StoreBuilder>> {
        self.stores.get(name)
    }

    /// The builders of the stores connected to the given nodes, each once, by name.
    pub(crate) fn store_builders_of(&self, nodes: &[usize]) -> Result<Vec<Arc<dyn StoreBuilder>>> {
        let mut names = BTreeSet::new();
        for &i in nodes {
            names.extend(
                self.nodes[i]
                    .stores
                    .iter()
                    .filter(|s| !self.global_stores.iter().any(|g| &g.store == *s))
                    .cloned(),
            );
        }
        names
            .into_iter()
            .map(|n| {
                self.stores.get(&n).cloned().ok_or_else(|| {
                    Error::Topology(format!(
                        "store '{n}' is connected to a processor but was never added"
                    ))
                })
            })
            .collect()
    }

    /// The changelog topics of the logged stores (full names), with their topic configs.
    pub fn changelog_topics(
        &self,
        application_id: &str,
    ) -> Vec<(String, BTreeMap<String, String>)> {
        self.stores
            .values()
            .filter(|b| b.logging_enabled())
            .map(|b| {
                (
                    crate::state::changelog_topic_name(application_id, b.name()),
                    b.changelog_config(),
                )
            })
            .collect()
    }

    /// The index of the sub-topology each store belongs to.
    pub fn store_subtopologies(&self) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for (sub, group) in self.subtopologies().iter().enumerate() {
            for &i in group {
                for s in &self.nodes[i].stores {
                    out.insert(s.clone(), sub as u32);
                }
            }
        }
        out
    }

    /// Declares `name` an internal topic: the application creates it and prefixes it with
    /// `<application.id>-`. Sources and sinks refer to it by the unprefixed name.
    pub fn add_internal_topic(&mut self, topic: InternalTopic) -> &mut Self {
        self.internal_topics.insert(topic.name.clone(), topic);
        self
    }

    /// Declares an output topic that [`KafkaStreams::start`](crate::runtime::KafkaStreams::start)
    /// creates, with its partitions, replication and configuration, when it does not exist.
    /// A second declaration of the same name replaces the first.
    pub fn add_output_topic(&mut self, topic: OutputTopic) -> &mut Self {
        self.output_topics.insert(topic.name.clone(), topic);
        self
    }

    /// The declared output topics.
    pub fn output_topics(&self) -> impl Iterator<Item = &OutputTopic> {
        self.output_topics.values()
    }

    /// Requires the given source topics to have equal partition counts (the two sides of a
    /// join, for example); the application refuses to start otherwise.
    pub fn add_copartition_group(&mut self, topics: &[&str]) -> &mut Self {
        self.copartition_groups
            .push(topics.iter().map(|t| (*t).to_owned()).collect());
        self
    }

    /// The groups of co-partitioned topics.
    pub fn copartition_groups(&self) -> &[BTreeSet<String>] {
        &self.copartition_groups
    }

    /// The internal topics, by unprefixed name.
    pub fn internal_topics(&self) -> impl Iterator<Item = &InternalTopic> {
        self.internal_topics.values()
    }

    /// The full name of a topic as the application with `application_id` uses it.
    pub fn resolve_topic(&self, application_id: &str, topic: &str) -> String {
        if self.internal_topics.contains_key(topic) {
            format!("{application_id}-{topic}")
        } else {
            topic.to_owned()
        }
    }

    /// The topics of the source nodes upstream of `node` (unprefixed), in node order.
    pub fn upstream_source_topics(&self, node: &str) -> Vec<String> {
        let Some(&start) = self.by_name.get(node) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![start];
        let mut sources = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if let NodeKind::Source { topics } = &self.nodes[i].kind {
                sources.push((i, topics.clone()));
            }
            stack.extend(self.nodes[i].parents.iter().copied());
        }
        sources.sort_by_key(|(i, _)| *i);
        sources.into_iter().flat_map(|(_, t)| t).collect()
    }

    /// Whether a node of that name exists.
    pub fn has_node(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The sub-topologies: groups of nodes connected by edges or by shared stores, numbered in
    /// the order their first node was added, as Kafka Streams numbers them.
    pub(crate) fn subtopologies(&self) -> Vec<Vec<usize>> {
        let n = self.nodes.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let union = |p: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (find(p, a), find(p, b));
            if ra != rb {
                let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
                p[hi] = lo;
            }
        };
        for (i, node) in self.nodes.iter().enumerate() {
            for &c in &node.children {
                union(&mut parent, i, c);
            }
        }
        let mut by_store: HashMap<&str, usize> = HashMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for s in &node.stores {
                if let Some(&j) = by_store.get(s.as_str()) {
                    union(&mut parent, i, j);
                } else {
                    by_store.insert(s, i);
                }
            }
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut root_to_group: HashMap<usize, usize> = HashMap::new();
        for i in 0..n {
            let r = find(&mut parent, i);
            let g = *root_to_group.entry(r).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        groups
    }

    /// The source topics of each sub-topology, by sub-topology id (unprefixed names). The
    /// sub-topologies of global stores have none here: they create no tasks, and their
    /// topics are [`global_topics`](Self::global_topics).
    pub fn source_topics_by_subtopology(&self) -> Vec<Vec<String>> {
        self.subtopologies()
            .iter()
            .map(|g| {
                if self.is_global_group(g) {
                    return Vec::new();
                }
                g.iter()
                    .flat_map(|&i| match &self.nodes[i].kind {
                        NodeKind::Source { topics } => topics.clone(),
                        _ => Vec::new(),
                    })
                    .collect()
            })
            .collect()
    }

    /// All source topics of the sub-topologies that create tasks (unprefixed names).
    pub fn source_topics(&self) -> Vec<String> {
        self.source_topics_by_subtopology()
            .into_iter()
            .flatten()
            .collect()
    }

    /// All topics written by fixed-topic sinks (unprefixed names).
    pub fn sink_topics(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Sink {
                    topic: SinkTopic::Fixed(t),
                } => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The names of the stores connected to any processor.
    pub fn store_names(&self) -> impl Iterator<Item = &str> {
        self.store_names.iter().map(String::as_str)
    }
}
