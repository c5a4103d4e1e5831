//! `merge`.

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Error, Record, Result};

use super::KStream;

/// Forwards every record unchanged; the node of a merge, and of a branch.
pub(crate) struct PassThrough;

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for PassThrough {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        ctx.forward(record)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Merges this stream with `other` into one stream with the records of both.
    ///
    /// Records of each input keep their relative order; between the two there is no order
    /// beyond the task's timestamp-based choice of the next record. Serdes do not carry over
    /// (either input's could be wrong for the other), and the result needs repartitioning
    /// when either input does.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let a = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    /// let b = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
    /// a.merge(&b).to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let ia = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    /// let ib = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// ia.pipe_input("1".to_string(), "from a".to_string())?;
    /// ib.pipe_input("2".to_string(), "from b".to_string())?;
    /// assert_eq!(out.read_values_to_list()?, vec!["from a", "from b"]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        if !std::rc::Rc::ptr_eq(&self.builder, &other.builder) {
            self.builder.borrow_mut().fail(Error::Topology(format!(
                "cannot merge '{}' with '{}': the streams come from different builders",
                self.node, other.node
            )));
        }
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(self.next_name.as_deref(), "KSTREAM-MERGE-");
        let r = st
            .topology
            .add_processor::<K, V, K, V, _, _>(
                &name,
                || PassThrough,
                &[self.node.as_str(), other.node.as_str()],
            )
            .map(|_| ());
        st.record(r);
        drop(st);
        KStream::new(
            self.builder.clone(),
            name,
            None,
            None,
            self.partitioning.merged(other.partitioning),
        )
    }
}
