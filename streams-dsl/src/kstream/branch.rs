//! `split` / `branch`: routing records to the first matching branch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use super::merge::PassThrough;

type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// The branches of a split as the topology holds them: predicates with their child node
/// names, and the default branch's child, if any. Filled while the branches are declared,
/// read once per task when its processor is made.
struct Routes<K, V> {
    branches: Vec<(Predicate<K, V>, String)>,
    default: Option<String>,
}

/// Sends each record to the child of the first branch whose predicate matches, else to the
/// default branch, else nowhere (Kafka Streams' `KStreamBranch`).
struct KStreamBranch<K, V> {
    branches: Vec<(Predicate<K, V>, String)>,
    default: Option<String>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for KStreamBranch<K, V> {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        for (predicate, child) in &self.branches {
            if predicate(&record.key, &record.value) {
                return ctx.forward_to(child, record);
            }
        }
        match &self.default {
            Some(child) => ctx.forward_to(child, record),
            None => Ok(()),
        }
    }
}

/// What a branch does with its stream: pass it on (returned) or consume it (`None`).
type Chain<K, V> = Box<dyn FnOnce(KStream<K, V>) -> Option<KStream<K, V>>>;

/// How one branch of a split is named and what is done with it.
pub struct Branched<K, V> {
    name: Option<String>,
    chain: Option<Chain<K, V>>,
}

impl<K, V> Default for Branched<K, V> {
    fn default() -> Self {
        Branched {
            name: None,
            chain: None,
        }
    }
}

impl<K, V> std::fmt::Debug for Branched<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branched")
            .field("name", &self.name)
            .finish()
    }
}

impl<K: 'static, V: 'static> Branched<K, V> {
    /// A branch named `<split name><name>`; its stream is returned under that name.
    pub fn as_(name: impl Into<String>) -> Self {
        Branched {
            name: Some(name.into()),
            chain: None,
        }
    }

    /// A branch whose stream is handed to `consumer` (to attach a sink, say) and not returned.
    pub fn with_consumer(consumer: impl FnOnce(KStream<K, V>) + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |s| {
                consumer(s);
                None
            })),
        }
    }

    /// A branch whose stream is transformed by `function`; the result is returned.
    pub fn with_function(function: impl FnOnce(KStream<K, V>) -> KStream<K, V> + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |s| Some(function(s)))),
        }
    }

    /// Also names the branch.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// The result of [`KStream::split`]: declare branches in order, then end with
/// [`default_branch`](Self::default_branch) or [`no_default_branch`](Self::no_default_branch).
pub struct BranchedKStream<K, V> {
    source: KStream<K, V>,
    splitter: String,
    routes: Arc<Mutex<Routes<K, V>>>,
    outputs: BTreeMap<String, KStream<K, V>>,
}

impl<K, V> std::fmt::Debug for BranchedKStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchedKStream")
            .field("splitter", &self.splitter)
            .finish()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Splits the stream into branches: each record goes to the first branch whose
    /// predicate matches, or to the default branch, or is dropped when there is none.
    ///
    /// Branch streams are named `<split name><branch name>`, where an unnamed split is
    /// `KSTREAM-BRANCH-<index>` and an unnamed branch is numbered from 1 in declaration
    /// order, with the default branch `0`, as in Kafka Streams. Name the split with
    /// [`named`](KStream::named).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let branches = builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .named("by-size-")
    ///     .split()
    ///     .branch(|_, v| *v >= 100, Branched::as_("large"))
    ///     .branch(|_, v| *v >= 10, Branched::as_("medium"))
    ///     .default_branch(Branched::as_("small"));
    /// branches["by-size-large"].to("large", Produced::inherit());
    /// branches["by-size-small"].to("small", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let large = driver.create_output_topic("large", Serdes::string(), Serdes::i64());
    /// let small = driver.create_output_topic("small", Serdes::string(), Serdes::i64());
    /// input.pipe_key_value_list([500, 50, 5, 100].map(|v| ("k".to_string(), v)))?;
    /// assert_eq!(large.read_values_to_list()?, vec![500, 100]);
    /// assert_eq!(small.read_values_to_list()?, vec![5]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn split(&self) -> BranchedKStream<K, V> {
        let routes: Arc<Mutex<Routes<K, V>>> = Arc::new(Mutex::new(Routes {
            branches: Vec::new(),
            default: None,
        }));
        let shared = Arc::clone(&routes);
        let supplier = move || {
            let r = shared.lock().unwrap_or_else(PoisonError::into_inner);
            KStreamBranch {
                branches: r.branches.clone(),
                default: r.default.clone(),
            }
        };
        let mut st = self.builder.borrow_mut();
        let splitter = st.name_or_generate(self.next_name.as_deref(), "KSTREAM-BRANCH-");
        let r = st
            .topology
            .add_processor(&splitter, supplier, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
        drop(st);
        let mut source = self.clone();
        source.next_name = None;
        BranchedKStream {
            source,
            splitter,
            routes,
            outputs: BTreeMap::new(),
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> BranchedKStream<K, V> {
    /// Adds a branch for the records `predicate` matches (and no earlier branch did).
    #[must_use]
    pub fn branch<F>(mut self, predicate: F, branched: Branched<K, V>) -> Self
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let index = self.lock().branches.len() + 1;
        let child = self.create_branch(branched, index);
        self.lock().branches.push((Arc::new(predicate), child));
        self
    }

    /// Adds the branch for every record no other branch matched, and returns the branches.
    pub fn default_branch(mut self, branched: Branched<K, V>) -> BTreeMap<String, KStream<K, V>> {
        let child = self.create_branch(branched, 0);
        self.lock().default = Some(child);
        self.outputs
    }

    /// Returns the branches; records no branch matched are dropped.
    pub fn no_default_branch(self) -> BTreeMap<String, KStream<K, V>> {
        self.outputs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes<K, V>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn create_branch(&mut self, branched: Branched<K, V>, index: usize) -> String {
        let child = match &branched.name {
            Some(n) => format!("{}{n}", self.splitter),
            None => format!("{}{index}", self.splitter),
        };
        let mut st = self.source.builder.borrow_mut();
        // Kafka Streams burns an index for every branch child.
        let _ = st.new_name(&child);
        let r = st
            .topology
            .add_processor::<K, V, K, V, _, _>(&child, || PassThrough, &[self.splitter.as_str()])
            .map(|_| ());
        st.record(r);
        drop(st);
        let stream = KStream::new(
            self.source.builder.clone(),
            child.clone(),
            self.source.key_serde.clone(),
            self.source.value_serde.clone(),
            self.source.partitioning,
        );
        match branched.chain {
            Some(chain) => {
                if let Some(s) = chain(stream) {
                    self.outputs.insert(child.clone(), s);
                }
            }
            None => {
                self.outputs.insert(child.clone(), stream);
            }
        }
        child
    }
}
