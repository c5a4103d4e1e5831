//! `StreamsBuilder`: the entry point of the DSL.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::state::StoreBuilder;
use streams_core::{Consumed, Error, Result, Topology};

use crate::kstream::KStream;
use crate::repartition::Partitioning;
use crate::table_registry::TableRegistry;

/// What every stream handle of one builder shares.
pub(crate) struct BuilderState {
    pub(crate) topology: Topology,
    index: u64,
    error: Option<Error>,
    /// What aggregations and suppressions need to know about table nodes.
    pub(crate) tables: TableRegistry,
}

pub(crate) type Shared = Rc<RefCell<BuilderState>>;

impl BuilderState {
    /// The next generated name, `<prefix><10-digit index>`, as Kafka Streams' `newProcessorName`.
    pub(crate) fn new_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}{:010}", self.index);
        self.index += 1;
        name
    }

    /// The user's name if given, else a generated one. Kafka Streams burns an index either
    /// way, so that naming one operator does not rename the others.
    pub(crate) fn name_or_generate(&mut self, given: Option<&str>, prefix: &str) -> String {
        let generated = self.new_name(prefix);
        given.map_or(generated, str::to_owned)
    }

    /// Keeps the first error; `build()` reports it.
    pub(crate) fn record<T>(&mut self, r: Result<T>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    pub(crate) fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

/// Builds a topology with the DSL.
///
/// Stream handles are cheap to clone and may be used for several downstream operators.
/// Mistakes such as a missing serde are reported by [`build`](StreamsBuilder::build), with
/// the node they concern, so the operator chain itself stays free of `?`.
#[derive(Clone)]
pub struct StreamsBuilder {
    state: Shared,
}

impl Default for StreamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for StreamsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsBuilder").finish_non_exhaustive()
    }
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StreamsBuilder {
            state: Rc::new(RefCell::new(BuilderState {
                topology: Topology::new(),
                index: 0,
                error: None,
                tables: TableRegistry::default(),
            })),
        }
    }

    /// A stream of the records of `topic`.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let orders = builder.stream("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// # let _ = orders;
    /// assert!(builder.build()?.describe().to_string().contains("Source: KSTREAM-SOURCE-0000000000 (topics: [orders])"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn stream<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        self.stream_from(&[topic], consumed)
    }

    /// A stream of the records of several topics, read by one source node.
    pub fn stream_from<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topics: &[&str],
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let mut st = self.state.borrow_mut();
        let name = st.name_or_generate(consumed.name(), "KSTREAM-SOURCE-");
        let key_serde = consumed.key_serde().cloned();
        let value_serde = consumed.value_serde().cloned();
        let r = st.topology.add_source(&name, topics, consumed).map(|_| ());
        st.record(r);
        drop(st);
        KStream::new(
            self.state.clone(),
            name,
            key_serde,
            value_serde,
            Partitioning::ByKey,
        )
    }

    /// Adds a state store for [`KStream::process`] processors to use, as Kafka Streams'
    /// `StreamsBuilder.addStateStore`: a processor reaches it by naming it in `process`'s
    /// store list, then through `ProcessorContext::state_store`. Logged stores get a
    /// `<application.id>-<store>-changelog` topic and are restored from it.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) fails for a name already used by another store.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    /// use streams_dsl::state::TypedKeyValueStore;
    ///
    /// /// Numbers each key's records, across restarts.
    /// struct PerKeySequence;
    /// impl Processor<String, String, String, i64> for PerKeySequence {
    ///     fn process(&mut self, r: Record<String, String>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
    ///         let store = ctx.state_store::<TypedKeyValueStore<String, i64>>("sequences")?;
    ///         let next = store.borrow().get(&r.key)?.unwrap_or(0) + 1;
    ///         store.borrow_mut().put(&r.key, &next)?;
    ///         ctx.forward(r.with_value(next))
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// builder.add_state_store(Stores::key_value_store_builder(
    ///     Stores::persistent_key_value_store("sequences"),
    ///     Serdes::string(),
    ///     Serdes::i64(),
    /// ));
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .process(|| PerKeySequence, &["sequences"])
    ///     .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// for key in ["a", "b", "a"] {
    ///     input.pipe_input(key.to_string(), "x".to_string())?;
    /// }
    /// assert_eq!(output.read_values_to_list()?, vec![1, 1, 2]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn add_state_store(&self, store: impl StoreBuilder + 'static) -> &Self {
        let mut st = self.state.borrow_mut();
        let r = st
            .topology
            .add_state_store(Arc::new(store), &[])
            .map(|_| ());
        st.record(r);
        drop(st);
        self
    }

    /// Declares an output topic the application creates, with its partitions, replication
    /// and configuration (retention, compaction), when it does not exist at start; see
    /// [`OutputTopic`](streams_core::topology::OutputTopic).
    pub fn add_output_topic(&self, topic: streams_core::topology::OutputTopic) -> &Self {
        self.state.borrow_mut().topology.add_output_topic(topic);
        self
    }

    pub(crate) fn state(&self) -> &Shared {
        &self.state
    }

    /// The topology built so far.
    ///
    /// # Errors
    ///
    /// The first mistake made while building, such as a sink without serdes, an invalid or
    /// duplicate name, or an operator applied to a stream of another builder.
    pub fn build(self) -> Result<Topology> {
        let state = Rc::try_unwrap(self.state)
            .map(RefCell::into_inner)
            .map_err(|rc| {
                // Stream handles still alive: take the topology out of the shared state.
                let mut st = rc.borrow_mut();
                let topology = std::mem::take(&mut st.topology);
                BuilderState {
                    topology,
                    index: st.index,
                    error: st.error.take(),
                    tables: std::mem::take(&mut st.tables),
                }
            });
        let state = match state {
            Ok(s) | Err(s) => s,
        };
        match state.error {
            Some(e) => Err(e),
            None => Ok(state.topology),
        }
    }
}
