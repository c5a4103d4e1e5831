//! `flat_map` and `flat_map_values`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use crate::repartition::Partitioning;

/// Forwards every record the function returns for one input, in order, each with the
/// input's timestamp and headers.
struct KStreamFlatMap<F> {
    f: Arc<F>,
}

impl<K, V, KR, VR, I, F> Processor<K, V, KR, VR> for KStreamFlatMap<F>
where
    KR: Clone + 'static,
    VR: Clone + 'static,
    I: IntoIterator<Item = (KR, VR)>,
    F: Fn(K, V) -> I + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, KR, VR>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        for (k, v) in (self.f)(key, value) {
            ctx.forward(Record {
                key: k,
                value: v,
                timestamp,
                headers: headers.clone(),
            })?;
        }
        Ok(())
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Replaces each record with zero or more records, as `mapper` returns them, each with
    /// the input's timestamp and headers. The result is marked for repartitioning.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .flat_map(|_, v| v.split(',').map(|w| (w.to_string(), w.len() as i64)).collect::<Vec<_>>())
    ///     .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_input("k".to_string(), "a,bb".to_string())?;
    /// assert_eq!(output.read_key_values_to_list()?, vec![("a".to_string(), 1), ("bb".to_string(), 2)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn flat_map<KR, VR, I, F>(&self, mapper: F) -> KStream<KR, VR>
    where
        KR: Clone + 'static,
        VR: Clone + 'static,
        I: IntoIterator<Item = (KR, VR)> + 'static,
        F: Fn(K, V) -> I + Send + Sync + 'static,
    {
        let f = Arc::new(mapper);
        self.add(
            "KSTREAM-FLATMAP-",
            move || KStreamFlatMap { f: Arc::clone(&f) },
            None,
            None,
            Partitioning::KeyChanged,
        )
    }

    /// Replaces each record's value with zero or more values, each forwarded under the same
    /// key, timestamp and headers. The key serde carries over.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .flat_map_values(|v| v.split(' ').map(str::to_string).collect::<Vec<_>>())
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_input("k".to_string(), "to be".to_string())?;
    /// assert_eq!(output.read_values_to_list()?, vec!["to", "be"]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn flat_map_values<VR, I, F>(&self, mapper: F) -> KStream<K, VR>
    where
        VR: Clone + 'static,
        I: IntoIterator<Item = VR> + 'static,
        F: Fn(V) -> I + Send + Sync + 'static,
    {
        let f = Arc::new(move |k: K, v: V| {
            let values = mapper(v);
            values.into_iter().map(move |vr| (k.clone(), vr))
        });
        self.add(
            "KSTREAM-FLATMAPVALUES-",
            move || KStreamFlatMap { f: Arc::clone(&f) },
            self.key_serde.clone(),
            None,
            self.partitioning,
        )
    }
}
