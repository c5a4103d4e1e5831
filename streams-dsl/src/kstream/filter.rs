//! `filter` and `filter_not`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use crate::keep::Keep;

/// Forwards the records `keep` keeps.
struct KStreamFilter<F> {
    predicate: Arc<F>,
    keep: Keep,
}

impl<K, V, F> Processor<K, V, K, V> for KStreamFilter<F>
where
    K: Clone + 'static,
    V: Clone + 'static,
    F: Fn(&K, &V) -> bool + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if self
            .keep
            .keeps((self.predicate)(&record.key, &record.value))
        {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Keeps the records for which `predicate` returns true.
    ///
    /// The predicate sees every record, null keys and values included (as `None` where the
    /// types are `Option`), as Kafka Streams' `KStreamFilter` does. Key and value serdes
    /// carry over.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .filter(|_, v| v % 2 == 0)
    ///     .to("out", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_key_value_list((1..=5).map(|i| ("k".to_string(), i)))?;
    /// assert_eq!(output.read_values_to_list()?, vec![2, 4]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn filter<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filter_impl(predicate, Keep::Matching)
    }

    /// Drops the records for which `predicate` returns true: the complement of [`filter`](Self::filter).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .filter_not(|_, v| v % 2 == 0)
    ///     .to("out", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_key_value_list((1..=5).map(|i| ("k".to_string(), i)))?;
    /// assert_eq!(output.read_values_to_list()?, vec![1, 3, 5]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn filter_not<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filter_impl(predicate, Keep::NonMatching)
    }

    fn filter_impl<F>(&self, predicate: F, keep: Keep) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        self.add(
            "KSTREAM-FILTER-",
            move || KStreamFilter {
                predicate: Arc::clone(&predicate),
                keep,
            },
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.partitioning,
        )
    }
}
