//! `to` and `to_dynamic`: sinks.

use streams_core::Produced;

use super::KStream;

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Writes the stream to `topic`.
    ///
    /// Serdes not given in `produced` are taken from the stream (those of its source, as
    /// long as no operator changed the types); a sink with neither fails
    /// [`StreamsBuilder::build`](crate::StreamsBuilder::build) with an error naming it.
    /// Records go to `murmur2(key) % partitions` unless `produced` has a partitioner.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .map_values(|v| v.len() as i64)
    ///     .to("out", Produced::inherit());
    /// let err = builder.build().unwrap_err().to_string();
    /// assert!(err.contains("KSTREAM-SINK-0000000002"), "{err}");
    /// ```
    pub fn to(&self, topic: &str, produced: Produced<K, V>) {
        let produced = produced.or_serdes(self.key_serde.clone(), self.value_serde.clone());
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(produced.name(), "KSTREAM-SINK-");
        let r = st
            .topology
            .add_sink(&name, topic, produced, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
    }

    /// Writes each record to the topic `extractor` names for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_dynamic(|k, _| format!("by-key-{k}"), Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// input.pipe_input("x".to_string(), "v".to_string())?;
    /// let out = driver.create_output_topic("by-key-x", Serdes::string(), Serdes::string());
    /// assert_eq!(out.read_value()?, "v");
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn to_dynamic<F>(&self, extractor: F, produced: Produced<K, V>)
    where
        F: Fn(&K, &V) -> String + Send + Sync + 'static,
    {
        let produced = produced.or_serdes(self.key_serde.clone(), self.value_serde.clone());
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(produced.name(), "KSTREAM-SINK-");
        let r = st
            .topology
            .add_sink_with_extractor(&name, extractor, produced, &[self.node.as_str()])
            .map(|_| ());
        st.record(r);
    }
}
