//! `process`: a user processor in the DSL.

use streams_core::processor::Processor;

use super::KStream;
use crate::repartition::Partitioning;

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Runs a user [`Processor`] on each record. `supplier` makes one processor per task;
    /// `stores` names the state stores it may look up.
    ///
    /// The processor may change keys, so the result is marked for repartitioning, and no
    /// serde carries over.
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
        let out: KStream<KO, VO> = self.add(
            "KSTREAM-PROCESSOR-",
            supplier,
            None,
            None,
            Partitioning::KeyChanged,
        );
        if !stores.is_empty() {
            let mut st = self.builder.borrow_mut();
            let r = st
                .topology
                .connect_processor_and_state_stores(&out.node, stores)
                .map(|_| ());
            st.record(r);
        }
        out
    }
}
