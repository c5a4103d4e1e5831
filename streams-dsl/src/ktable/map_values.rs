//! `KTable::map_values`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::{Change, KTable, MappedGetterSupplier, SendOldValues};

/// Kafka Streams' `KTableMapValues`: maps present values; a delete stays a delete.
struct KTableMapValues<F> {
    mapper: Arc<F>,
    send_old: bool,
}

impl<K, V, VR, F> Processor<K, Change<V>, K, Change<VR>> for KTableMapValues<F>
where
    K: Clone + 'static,
    VR: Clone + 'static,
    F: Fn(&K, V) -> VR + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let new = value.new.map(|v| (self.mapper)(&key, v));
        let old = if self.send_old {
            value.old.map(|v| (self.mapper)(&key, v))
        } else {
            None
        };
        ctx.forward(Record {
            value: Change {
                new,
                old,
                is_latest: value.is_latest,
            },
            key,
            timestamp,
            headers,
        })
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Maps each row's value; deletes pass through as deletes and the mapper never sees them.
    /// The key serde carries over; the value serde does not.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("names", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .map_values(|_, v| v.len() as i64)
    ///     .to_stream()
    ///     .to("lengths", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let names = driver.create_input_topic("names", Serdes::string(), Serdes::option(Serdes::string()));
    /// let lengths = driver.create_output_topic("lengths", Serdes::string(), Serdes::option(Serdes::i64()));
    /// names.pipe_input("k".to_string(), Some("four".to_string()))?;
    /// names.pipe_input("k".to_string(), None)?;
    /// assert_eq!(lengths.read_values_to_list()?, vec![Some(4), None]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn map_values<VR, F>(&self, mapper: F) -> KTable<K, VR>
    where
        VR: Clone + 'static,
        F: Fn(&K, V) -> VR + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        let send_old = SendOldValues::child_of(&self.send_old);
        let flag = Arc::clone(&send_old);
        let m = Arc::clone(&mapper);
        let name = self.add_table_processor("KTABLE-MAPVALUES-", move || KTableMapValues {
            mapper: Arc::clone(&m),
            send_old: flag.enabled(),
        });
        let getter = self.getter.clone().map(|parent| {
            Arc::new(MappedGetterSupplier {
                parent,
                f: Arc::new(move |k: &K, v: V| Some(mapper(k, v))),
            }) as super::GetterRef<K, VR>
        });
        let mut t = KTable::new(
            self.builder.clone(),
            name,
            self.key_serde.clone(),
            None,
            None,
        );
        t.getter = getter;
        t.send_old = send_old;
        t.lazy_store = self.lazy_store.clone();
        t.versioned = self.versioned;
        t
    }
}
