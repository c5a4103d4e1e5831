//! `map`, `map_values`, `map_values_with_key` and `select_key`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use crate::repartition::Partitioning;

/// Applies a function to the whole record; which parts it may change is decided by the
/// operator that builds it.
struct KStreamMap<F> {
    f: Arc<F>,
}

impl<K, V, KR, VR, F> Processor<K, V, KR, VR> for KStreamMap<F>
where
    KR: Clone + 'static,
    VR: Clone + 'static,
    F: Fn(Record<K, V>) -> Record<KR, VR> + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, KR, VR>,
    ) -> Result<()> {
        ctx.forward((self.f)(record))
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    fn map_record<KR, VR, F>(
        &self,
        prefix: &str,
        f: F,
        key_serde: Option<streams_core::SerdeRef<KR>>,
        value_serde: Option<streams_core::SerdeRef<VR>>,
        partitioning: Partitioning,
    ) -> KStream<KR, VR>
    where
        KR: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(Record<K, V>) -> Record<KR, VR> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.add(
            prefix,
            move || KStreamMap { f: Arc::clone(&f) },
            key_serde,
            value_serde,
            partitioning,
        )
    }

    /// Replaces each record's key and value with the pair `mapper` returns; timestamp and
    /// headers carry over.
    ///
    /// The key may change, so the result is marked for repartitioning (a later grouping or
    /// join repartitions), and neither serde carries over.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let swapped = builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .map(|k, v| (v, k));
    /// assert!(swapped.is_repartition_required());
    /// swapped.to("out", Produced::with(Serdes::i64(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let output = driver.create_output_topic("out", Serdes::i64(), Serdes::string());
    /// input.pipe_input("a".to_string(), 1)?;
    /// assert_eq!(output.read_key_value()?, (1, "a".to_string()));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn map<KR, VR, F>(&self, mapper: F) -> KStream<KR, VR>
    where
        KR: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(K, V) -> (KR, VR) + Send + Sync + 'static,
    {
        self.map_record(
            "KSTREAM-MAP-",
            move |r: Record<K, V>| {
                let (k, v) = mapper(r.key, r.value);
                Record {
                    key: k,
                    value: v,
                    timestamp: r.timestamp,
                    headers: r.headers,
                }
            },
            None,
            None,
            Partitioning::KeyChanged,
        )
    }

    /// Replaces each record's value with what `mapper` returns; the key, timestamp and
    /// headers carry over, and so does the key serde.
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
    ///     .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_input("k".to_string(), "four".to_string())?;
    /// assert_eq!(output.read_value()?, 4);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn map_values<VR, F>(&self, mapper: F) -> KStream<K, VR>
    where
        VR: Clone + 'static,
        F: Fn(V) -> VR + Send + Sync + 'static,
    {
        self.map_record(
            "KSTREAM-MAPVALUES-",
            move |r: Record<K, V>| Record {
                value: mapper(r.value),
                key: r.key,
                timestamp: r.timestamp,
                headers: r.headers,
            },
            self.key_serde.clone(),
            None,
            self.partitioning,
        )
    }

    /// Like [`map_values`](Self::map_values), with read access to the key.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .map_values_with_key(|k, v| format!("{k}={v}"))
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_input("a".to_string(), "1".to_string())?;
    /// assert_eq!(output.read_value()?, "a=1");
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn map_values_with_key<VR, F>(&self, mapper: F) -> KStream<K, VR>
    where
        VR: Clone + 'static,
        F: Fn(&K, V) -> VR + Send + Sync + 'static,
    {
        self.map_record(
            "KSTREAM-MAPVALUES-",
            move |r: Record<K, V>| Record {
                value: mapper(&r.key, r.value),
                key: r.key,
                timestamp: r.timestamp,
                headers: r.headers,
            },
            self.key_serde.clone(),
            None,
            self.partitioning,
        )
    }

    /// Sets each record's key to what `selector` returns; the value, timestamp and headers
    /// carry over, and so does the value serde. The result is marked for repartitioning.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::option(Serdes::string()), Serdes::string()))
    ///     .select_key(|_, v| v.chars().next().unwrap_or('?').to_string())
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::option(Serdes::string()), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_value("apple".to_string())?;
    /// assert_eq!(output.read_key_value()?, ("a".to_string(), "apple".to_string()));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn select_key<KR, F>(&self, selector: F) -> KStream<KR, V>
    where
        KR: Clone + 'static,
        F: Fn(&K, &V) -> KR + Send + Sync + 'static,
    {
        self.map_record(
            "KSTREAM-KEY-SELECT-",
            move |r: Record<K, V>| Record {
                key: selector(&r.key, &r.value),
                value: r.value,
                timestamp: r.timestamp,
                headers: r.headers,
            },
            None,
            self.value_serde.clone(),
            Partitioning::KeyChanged,
        )
    }
}
