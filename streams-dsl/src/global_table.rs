//! `GlobalKTable`: a topic read in full by every application instance, as Kafka Streams'
//! `GlobalKTable`.

use std::marker::PhantomData;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::{KeyValueStore, StoreBuilder, ValueAndTimestamp};
use streams_core::{Consumed, Error, Record, Result, SerdeRef};
use streams_state::{Stores, TimestampedKeyValueStore};

use crate::builder::{Shared, StreamsBuilder};
use crate::materialized::{Materialized, StoreType, versioned_store_unsupported};

/// A table holding every partition of its topic in each application instance: streams join
/// it by any key they can compute, without co-partitioning.
///
/// Its store is a global store: one instance per application instance, filled from the
/// topic (which is its changelog) before any task processes a record and then kept up to
/// date by the global thread. Join it with
/// [`KStream::join_global`](crate::KStream::join_global) and
/// [`KStream::left_join_global`](crate::KStream::left_join_global).
pub struct GlobalKTable<K, V> {
    pub(crate) builder: Shared,
    pub(crate) store: String,
    /// The key serde, which tells the joins whether a mapped key is null.
    pub(crate) key_serde: Option<SerdeRef<K>>,
    _value: PhantomData<fn() -> V>,
}

impl<K, V> Clone for GlobalKTable<K, V> {
    fn clone(&self) -> Self {
        GlobalKTable {
            builder: self.builder.clone(),
            store: self.store.clone(),
            key_serde: self.key_serde.clone(),
            _value: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for GlobalKTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalKTable")
            .field("store", &self.store)
            .finish()
    }
}

impl<K, V> GlobalKTable<K, V> {
    /// The name of the table's store, generated (`<topic>-STATE-STORE-<index>`) unless
    /// given with [`Materialized::as_`]. As in Kafka Streams it is always queryable:
    /// `TopologyTestDriver::state_store::<TimestampedKeyValueStore<K, V>>(name)` reads it.
    pub fn queryable_store_name(&self) -> &str {
        &self.store
    }
}

/// Kafka Streams' `KTableSource` as the processor of a global store: keeps the latest value
/// per key, by offset. A null key is dropped and counted; a null value deletes the key.
/// Nothing is forwarded: a global store's processor has no children.
struct GlobalTableSource<K, V> {
    store_name: String,
    store: Option<std::rc::Rc<std::cell::RefCell<TimestampedKeyValueStore<K, V>>>>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<Option<K>, Option<V>, (), ()>
    for GlobalTableSource<K, V>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<()> {
        self.store = Some(ctx.state_store::<TimestampedKeyValueStore<K, V>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Option<K>, Option<V>>,
        ctx: &mut ProcessorContext<'_, (), ()>,
    ) -> Result<()> {
        let Some(key) = record.key else {
            tracing::warn!(
                node = ctx.node_name(),
                "skipping global table record with a null key"
            );
            ctx.record_dropped();
            return Ok(());
        };
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| Error::StoreNotAvailable(self.store_name.clone()))?;
        let mut store = store.borrow_mut();
        match record.value {
            Some(v) => store.put(&key, &ValueAndTimestamp::new(v, record.timestamp)),
            None => store.delete(&key).map(drop),
        }
    }
}

/// The store of a global table: timestamped key-value, RocksDB or in memory, never logged
/// (the topic is the changelog) nor cached.
fn global_store_builder<K: 'static, V: 'static>(
    name: &str,
    store_type: StoreType,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
) -> Arc<dyn StoreBuilder> {
    let builder = match store_type {
        // A versioned type never gets here: `global_table_with` refuses it, as Kafka Streams.
        StoreType::RocksDb | StoreType::Versioned { .. } => {
            Stores::timestamped_key_value_store_builder(
                Stores::persistent_timestamped_key_value_store(name),
                key_serde,
                value_serde,
            )
        }
        StoreType::InMemory => Stores::timestamped_key_value_store_builder(
            Stores::in_memory_key_value_store(name),
            key_serde,
            value_serde,
        ),
    };
    Arc::new(builder.with_caching_disabled().with_logging_disabled())
}

impl StreamsBuilder {
    /// Every partition of `topic` as a [`GlobalKTable`]: each application instance keeps the
    /// whole table in a global store.
    ///
    /// Kafka Streams' rules: the latest record per key wins (by offset); a record with a
    /// null value deletes its key; a record with a null key is dropped and counted. The
    /// store is timestamped key-value, in RocksDB, named `<topic>-STATE-STORE-<index>`; it
    /// has no changelog topic, since the topic itself is one. In the topology it is a
    /// sub-topology of its own (`Sub-topology: N for global store (will not generate
    /// tasks)`) with a source `KSTREAM-SOURCE-<index>` and a processor
    /// `KTABLE-SOURCE-<index>`; a name in `consumed` names them `<name>-source` and
    /// `<name>`. Records keep the timestamp they were written with (`consumed`'s timestamp
    /// extractor is not used) and the topic is always read from the beginning, as in Kafka
    /// Streams. The test driver applies a record piped into `topic` to the store at once;
    /// the Kafka runtime reads the topic up to its end before any task starts, then keeps
    /// reading it.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let products = builder.global_table("products", Consumed::with(Serdes::string(), Serdes::string()));
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .join_global(&products, |_order_id, product_id| product_id.clone(), |product, name| format!("{product}: {name}"))
    ///     .to("named-orders", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("Sub-topology: 0 for global store (will not generate tasks)"));
    ///
    /// let driver = TopologyTestDriver::new(topology, StreamsConfig::new())?;
    /// let p = driver.create_input_topic("products", Serdes::string(), Serdes::option(Serdes::string()));
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("named-orders", Serdes::string(), Serdes::string());
    /// p.pipe_input("p1".into(), Some("pen".into()))?;
    /// o.pipe_input("o1".into(), "p1".into())?;
    /// o.pipe_input("o2".into(), "p9".into())?; // no such product: no output
    /// assert_eq!(out.read_key_values_to_list()?, vec![("o1".to_string(), "p1: pen".to_string())]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn global_table<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
    ) -> GlobalKTable<K, V> {
        self.global_table_with(topic, consumed, Materialized::default())
    }

    /// Like [`global_table`](Self::global_table), with the store's name, serdes and type
    /// from `materialized` ([`StoreType::InMemory`] keeps it in memory: a restart then reads
    /// the topic from the beginning). Caching and logging settings do not apply to global
    /// stores.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let rates = builder.global_table_with(
    ///     "rates",
    ///     Consumed::with(Serdes::string(), Serdes::i64()),
    ///     Materialized::as_("rates-store").with_store_type(StoreType::InMemory),
    /// );
    /// assert_eq!(rates.queryable_store_name(), "rates-store");
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// driver
    ///     .create_input_topic("rates", Serdes::string(), Serdes::option(Serdes::i64()))
    ///     .pipe_input_at("eur".into(), Some(108), 42)?;
    /// let store = driver.state_store::<TimestampedKeyValueStore<String, i64>>("rates-store")?;
    /// assert_eq!(store.borrow().get(&"eur".to_string())?, Some(ValueAndTimestamp::new(108, 42)));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn global_table_with<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V> {
        let state = self.state();
        let mut st = state.borrow_mut();
        // Kafka Streams names the store first, then the source, then the processor.
        let store = match &materialized.name {
            Some(n) => n.clone(),
            None => st.new_name(&format!("{topic}-STATE-STORE-")),
        };
        let (source, processor) = match consumed.name() {
            Some(n) => {
                let _ = st.new_name("KSTREAM-SOURCE-");
                let _ = st.new_name("KTABLE-SOURCE-");
                (format!("{n}-source"), n.to_owned())
            }
            None => (
                st.new_name("KSTREAM-SOURCE-"),
                st.new_name("KTABLE-SOURCE-"),
            ),
        };
        let key_serde = materialized
            .key_serde
            .clone()
            .or_else(|| consumed.key_serde().cloned());
        let value_serde = materialized
            .value_serde
            .clone()
            .or_else(|| consumed.value_serde().cloned());
        if materialized.store_type.is_versioned() {
            st.fail(versioned_store_unsupported(&store, "a global table"));
        }
        let (Some(ks), Some(vs)) = (key_serde, value_serde) else {
            st.fail(Error::Topology(format!(
                "global table over '{topic}' needs a key serde and a value serde (from Consumed or Materialized)"
            )));
            drop(st);
            return GlobalKTable {
                builder: state.clone(),
                store,
                key_serde: None,
                _value: PhantomData,
            };
        };
        let builder = global_store_builder(
            &store,
            materialized.store_type,
            Arc::clone(&ks),
            Arc::clone(&vs),
        );
        let store_name = store.clone();
        let r = st
            .topology
            .add_global_store(
                builder,
                &source,
                consumed.into_nullable(),
                topic,
                &processor,
                move || GlobalTableSource::<K, V> {
                    store_name: store_name.clone(),
                    store: None,
                },
            )
            .map(|_| ());
        st.record(r);
        drop(st);
        GlobalKTable {
            builder: state.clone(),
            store,
            key_serde: Some(ks),
            _value: PhantomData,
        }
    }
}
