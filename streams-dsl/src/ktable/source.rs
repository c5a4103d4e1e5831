//! `StreamsBuilder::table`: a topic read as a table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::StoreBuilder;
use streams_core::{Consumed, Error, Record, Result};

use super::store::{TableStore, timestamped_kv_builder};
use super::{Change, KTable};
use crate::builder::{BuilderState, StreamsBuilder};
use crate::materialized::Materialized;

/// Kafka Streams' `KTableSource`: keeps the latest value per key and forwards each update
/// with the value it replaced.
struct KTableSource<K, V> {
    /// `None` while no operator needs the table's values: updates are then forwarded
    /// without a store and without old values, as Kafka Streams does.
    store: Option<TableStore<K, V>>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<Option<K>, Option<V>, K, Change<V>>
    for KTableSource<K, V>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(
        &mut self,
        record: Record<Option<K>, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let Some(key) = record.key else {
            tracing::warn!(
                node = ctx.node_name(),
                "skipping table record with a null key"
            );
            ctx.record_dropped();
            return Ok(());
        };
        let Some(store) = &mut self.store else {
            return ctx.forward(Record {
                key,
                value: Change::new(record.value, None),
                timestamp: record.timestamp,
                headers: record.headers,
            });
        };
        let old = store.get(&key)?;
        if let Some(o) = &old
            && record.timestamp < o.timestamp
        {
            tracing::warn!(
                node = ctx.node_name(),
                old = o.timestamp,
                new = record.timestamp,
                "out-of-order table update; applied anyway, as the latest offset wins"
            );
        }
        let change = Change::new(record.value, old.map(|o| o.value));
        store.put_and_forward(key, change, record.timestamp, record.headers, ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        match &mut self.store {
            Some(s) => s.flush(ctx),
            None => Ok(()),
        }
    }
}

impl StreamsBuilder {
    /// The records of `topic` as a table: the latest value per key, by offset.
    ///
    /// A record with a null value deletes its key; a record with a null key is dropped and
    /// counted (Kafka Streams' `KTableSource`). As in Kafka Streams, the table gets a store
    /// (named `<topic>-STATE-STORE-<index>`, logged to its changelog) only when something
    /// needs its values, such as a join; use [`table_with`](Self::table_with) with a named
    /// [`Materialized`] to always keep and query it.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("customers", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_stream()
    ///     .to("changes", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let customers = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let changes = driver.create_output_topic("changes", Serdes::string(), Serdes::option(Serdes::string()));
    /// customers.pipe_input("c1".to_string(), Some("gold".to_string()))?;
    /// customers.pipe_input("c1".to_string(), None)?;
    /// assert_eq!(
    ///     changes.read_key_values_to_list()?,
    ///     vec![("c1".to_string(), Some("gold".to_string())), ("c1".to_string(), None)]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn table<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
    ) -> KTable<K, V> {
        self.table_with(topic, consumed, Materialized::default())
    }

    /// Like [`table`](Self::table), with the store set up by `materialized`.
    pub fn table_with<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let state = self.state();
        let mut st = state.borrow_mut();
        let store = match &materialized.name {
            Some(n) => n.clone(),
            None => st.new_name(&format!("{topic}-STATE-STORE-")),
        };
        let key_serde = materialized
            .key_serde
            .clone()
            .or_else(|| consumed.key_serde().cloned());
        let value_serde = materialized
            .value_serde
            .clone()
            .or_else(|| consumed.value_serde().cloned());
        let source = st.name_or_generate(consumed.name(), "KSTREAM-SOURCE-");
        let table_source = match consumed.name() {
            Some(n) => {
                let _ = st.new_name("KTABLE-SOURCE-");
                format!("{n}-table-source")
            }
            None => st.new_name("KTABLE-SOURCE-"),
        };
        let (Some(ks), Some(vs)) = (key_serde.clone(), value_serde.clone()) else {
            st.fail(Error::Topology(format!(
                "table over '{topic}' needs a key serde and a value serde (from Consumed or Materialized)"
            )));
            drop(st);
            return KTable::new(state.clone(), table_source, key_serde, value_serde, None);
        };
        let lazy = Arc::new(LazyStore {
            builder: timestamped_kv_builder(&store, &materialized, ks, vs),
            processor: table_source.clone(),
            added: AtomicBool::new(false),
        });
        let flag = Arc::clone(&lazy);
        let store_name = store.clone();
        let r = st
            .topology
            .add_source(&source, &[topic], consumed.into_nullable())
            .and_then(|t| {
                t.add_processor(
                    &table_source,
                    move || KTableSource {
                        store: flag
                            .added
                            .load(Ordering::Relaxed)
                            .then(|| TableStore::<K, V>::new(store_name.clone())),
                    },
                    &[source.as_str()],
                )
            })
            .map(|_| ());
        st.record(r);
        if materialized.name.is_some() {
            lazy.materialize(&mut st);
        }
        drop(st);
        let mut table = KTable::new(
            state.clone(),
            table_source,
            key_serde,
            value_serde,
            Some(store),
        );
        table.lazy_store = Some(lazy);
        table
    }
}

/// A table source's store, added to the topology the first time something needs the table's
/// values; until then the source forwards updates without keeping them.
pub(crate) struct LazyStore {
    builder: Arc<dyn StoreBuilder>,
    processor: String,
    added: AtomicBool,
}

impl LazyStore {
    pub(crate) fn materialize(&self, st: &mut BuilderState) {
        if self.added.swap(true, Ordering::Relaxed) {
            return;
        }
        let r = st
            .topology
            .add_state_store(Arc::clone(&self.builder), &[self.processor.as_str()])
            .map(|_| ());
        st.record(r);
    }
}
