//! `process` and `process_values`: user processors in the DSL.

use streams_core::SerdeRef;
use streams_core::processor::{FixedKey, FixedKeyProcessor, Processor};

use super::KStream;
use crate::repartition::Partitioning;

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Runs a user [`Processor`] on each record. `supplier` makes one processor per task;
    /// `stores` names the state stores it may look up.
    ///
    /// The processor may change keys, so the result is marked for repartitioning, and no
    /// serde carries over. The node is `KSTREAM-PROCESSOR-<n>`, or the name given with
    /// [`named`](Self::named), which, as in Kafka Streams, takes no index then.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// /// Numbers each record per task.
    /// struct Sequence(i64);
    /// impl Processor<String, String, String, i64> for Sequence {
    ///     fn process(&mut self, r: Record<String, String>, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
    ///         self.0 += 1;
    ///         ctx.forward(r.with_value(self.0))
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .process(|| Sequence(0), &[])
    ///     .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_value_list(vec!["a".to_string(), "b".to_string()]).ok();
    /// input.pipe_input("k".to_string(), "x".to_string())?;
    /// assert_eq!(output.read_values_to_list()?, vec![1]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn process<KO, VO, P, F>(&self, supplier: F, stores: &[&str]) -> KStream<KO, VO>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        P: Processor<K, V, KO, VO>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        self.add_user_processor(
            "KSTREAM-PROCESSOR-",
            supplier,
            None,
            Partitioning::KeyChanged,
            stores,
        )
    }

    /// Runs a user [`FixedKeyProcessor`] on each record, as Kafka Streams'
    /// `processValues`: the processor can change values, timestamps and headers but never
    /// keys, so the stream keeps its key serde and its partitioning, and a grouping or join
    /// downstream needs no repartitioning (unless one was already needed). `stores` names
    /// the state stores it may look up. The node is `KSTREAM-PROCESSVALUES-<n>`, or the
    /// name given with [`named`](Self::named).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// /// Keeps a running total per task and forwards it under the record's key.
    /// struct Total(i64);
    /// impl FixedKeyProcessor<String, i64, i64> for Total {
    ///     fn process(&mut self, r: FixedKeyRecord<String, i64>, ctx: &mut FixedKeyProcessorContext<'_, '_, String, i64>) -> Result<()> {
    ///         self.0 += r.value;
    ///         let total = self.0;
    ///         ctx.forward(r.with_value(total))
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// let totals = builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .process_values(|| Total(0), &[]);
    /// assert!(!totals.is_repartition_required());
    /// totals.to("out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_key_value_list([("a", 2), ("b", 3)].map(|(k, v)| (k.to_string(), v)))?;
    /// assert_eq!(output.read_key_values_to_list()?, vec![("a".to_string(), 2), ("b".to_string(), 5)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn process_values<VO, P, F>(&self, supplier: F, stores: &[&str]) -> KStream<K, VO>
    where
        VO: Clone + 'static,
        P: FixedKeyProcessor<K, V, VO>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        self.add_user_processor(
            "KSTREAM-PROCESSVALUES-",
            move || FixedKey(supplier()),
            self.key_serde.clone(),
            self.partitioning,
            stores,
        )
    }

    /// Adds a user processor connected to `stores`. Unlike the DSL's own operators, whose
    /// given names still take an index, a named user processor takes none, as Kafka
    /// Streams' `process(supplier, Named)`.
    fn add_user_processor<KO, VO, P, F>(
        &self,
        prefix: &str,
        supplier: F,
        key_serde: Option<SerdeRef<KO>>,
        partitioning: Partitioning,
        stores: &[&str],
    ) -> KStream<KO, VO>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        P: Processor<K, V, KO, VO>,
        F: Fn() -> P + Send + Sync + 'static,
    {
        let mut st = self.builder.borrow_mut();
        let name = match &self.next_name {
            Some(name) => name.clone(),
            None => st.new_name(prefix),
        };
        let r = st
            .topology
            .add_processor(&name, supplier, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
        if !stores.is_empty() {
            let r = st
                .topology
                .connect_processor_and_state_stores(&name, stores)
                .map(|_| ());
            st.record(r);
        }
        drop(st);
        KStream::new(self.builder.clone(), name, key_serde, None, partitioning)
    }
}
