//! `peek` and `foreach`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::KStream;
use crate::repartition::Partitioning;

/// Calls the action on each record, then forwards it when `forward` is set.
struct KStreamPeek<F> {
    action: Arc<F>,
    forward: bool,
}

impl<K, V, F> Processor<K, V, K, V> for KStreamPeek<F>
where
    K: Clone + 'static,
    V: Clone + 'static,
    F: Fn(&K, &V) + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        (self.action)(&record.key, &record.value);
        if self.forward {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Calls `action` on each record and passes the record on unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use streams_dsl::prelude::*;
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .peek(move |_, v| log.lock().unwrap().push(*v))
    ///     .to("out", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    /// input.pipe_input("k".to_string(), 7)?;
    /// assert_eq!(*seen.lock().unwrap(), vec![7]);
    /// assert_eq!(output.read_value()?, 7);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn peek<F>(&self, action: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let action = Arc::new(action);
        self.add(
            "KSTREAM-PEEK-",
            move || KStreamPeek {
                action: Arc::clone(&action),
                forward: true,
            },
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.partitioning,
        )
    }

    /// Calls `action` on each record; a terminal operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicI64, Ordering};
    /// use std::sync::Arc;
    /// use streams_dsl::prelude::*;
    ///
    /// let total = Arc::new(AtomicI64::new(0));
    /// let sum = Arc::clone(&total);
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .foreach(move |_, v| { sum.fetch_add(*v, Ordering::Relaxed); });
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::i64());
    /// input.pipe_key_value_list(vec![("a".to_string(), 2), ("b".to_string(), 3)])?;
    /// assert_eq!(total.load(Ordering::Relaxed), 5);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn foreach<F>(&self, action: F)
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let action = Arc::new(action);
        let _: KStream<K, V> = self.add(
            "KSTREAM-FOREACH-",
            move || KStreamPeek {
                action: Arc::clone(&action),
                forward: false,
            },
            None,
            None,
            Partitioning::ByKey,
        );
    }
}
