//! The description of a topology, and its text: Kafka Streams' `TopologyDescription`.

use std::fmt;

/// One node of a described sub-topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDescription {
    /// The node's name.
    pub name: String,
    /// `Source`, `Processor` or `Sink`, with what it reads, uses or writes.
    pub kind: NodeDescriptionKind,
    /// Its parents, in Kafka Streams' order.
    pub predecessors: Vec<String>,
    /// Its children, in Kafka Streams' order.
    pub successors: Vec<String>,
}

/// What a described node is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeDescriptionKind {
    /// A source and its topics.
    Source {
        /// The topics, in the order Java's `HashSet` lists them.
        topics: Vec<String>,
    },
    /// A processor and its stores.
    Processor {
        /// The stores, in the order Java's `HashSet` lists them.
        stores: Vec<String>,
    },
    /// A sink writing to a fixed topic.
    Sink {
        /// The topic.
        topic: String,
    },
    /// A sink choosing topics per record.
    DynamicSink {
        /// A description of the extractor.
        extractor: String,
    },
}

/// A connected group of nodes; each becomes one task per input partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtopologyDescription {
    /// The sub-topology id, the first part of its task ids.
    pub id: u32,
    /// Its nodes, in Kafka Streams' order: larger sub-trees first, then by name.
    pub nodes: Vec<NodeDescription>,
}

/// The sub-topology of a global store: its source and the processor that updates it. It
/// creates no tasks; its id comes from the same sequence as the other sub-topologies'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalStoreDescription {
    /// The sub-topology id.
    pub id: u32,
    /// The source node reading the store's topic.
    pub source: NodeDescription,
    /// The processor that updates the store.
    pub processor: NodeDescription,
}

/// The description of a whole topology. `to_string()` gives Kafka Streams' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription {
    /// The sub-topologies that create tasks, by id.
    pub subtopologies: Vec<SubtopologyDescription>,
    /// The sub-topologies of global stores, by id.
    pub global_stores: Vec<GlobalStoreDescription>,
}

fn node_names(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl fmt::Display for NodeDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NodeDescriptionKind::Source { topics } => write!(
                f,
                "Source: {} (topics: [{}])\n      --> {}",
                self.name,
                topics.join(", "),
                node_names(&self.successors)
            ),
            NodeDescriptionKind::Processor { stores } => write!(
                f,
                "Processor: {} (stores: [{}])\n      --> {}\n      <-- {}",
                self.name,
                stores.join(", "),
                node_names(&self.successors),
                node_names(&self.predecessors)
            ),
            NodeDescriptionKind::Sink { topic } => write!(
                f,
                "Sink: {} (topic: {})\n      <-- {}",
                self.name,
                topic,
                node_names(&self.predecessors)
            ),
            NodeDescriptionKind::DynamicSink { extractor } => write!(
                f,
                "Sink: {} (extractor class: {})\n      <-- {}",
                self.name,
                extractor,
                node_names(&self.predecessors)
            ),
        }
    }
}

impl fmt::Display for SubtopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Sub-topology: {}", self.id)?;
        for n in &self.nodes {
            writeln!(f, "    {n}")?;
        }
        writeln!(f)
    }
}

impl fmt::Display for GlobalStoreDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Sub-topology: {} for global store (will not generate tasks)",
            self.id
        )?;
        writeln!(f, "    {}", self.source)?;
        writeln!(f, "    {}", self.processor)
    }
}

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Kafka Streams prints sub-topologies and global stores interleaved by id.
        f.write_str("Topologies:\n ")?;
        let mut subs = self.subtopologies.iter().peekable();
        let mut globals = self.global_stores.iter().peekable();
        loop {
            match (subs.peek(), globals.peek()) {
                (Some(s), Some(g)) if g.id < s.id => {
                    write!(f, "  {g}")?;
                    globals.next();
                }
                (Some(s), _) => {
                    write!(f, "  {s}")?;
                    subs.next();
                }
                (None, Some(g)) => {
                    write!(f, "  {g}")?;
                    globals.next();
                }
                (None, None) => return Ok(()),
            }
        }
    }
}
