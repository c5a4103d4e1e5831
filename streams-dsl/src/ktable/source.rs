//! `StreamsBuilder::table` and `KStream::to_table`: a topic or a stream read as a table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::StoreBuilder;
use streams_core::{Consumed, Error, Record, Result, SerdeRef};

use super::store::{TableStore, table_store_builder};
use super::{Change, KTable};
use crate::builder::{BuilderState, StreamsBuilder};
use crate::kgrouped::is_null;
use crate::kstream::KStream;
use crate::materialized::Materialized;
use crate::repartition::add_repartition;

/// How a table source reads an input record as a key and a value, either of which may be
/// Kafka's null.
trait TableInput<KI, VI, K, V>: 'static {
    fn split(&self, key: KI, value: VI) -> (Option<K>, Option<V>);
}

/// A topic read with nullable serdes: `None` is null.
struct FromTopic;

impl<K: 'static, V: 'static> TableInput<Option<K>, Option<V>, K, V> for FromTopic {
    fn split(&self, key: Option<K>, value: Option<V>) -> (Option<K>, Option<V>) {
        (key, value)
    }
}

/// A stream's records: null where the stream's serdes say so
/// ([`is_null`](streams_core::Serde::is_null)).
struct FromStream<K, V> {
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
}

impl<K: 'static, V: 'static> TableInput<K, V, K, V> for FromStream<K, V> {
    fn split(&self, key: K, value: V) -> (Option<K>, Option<V>) {
        let key = (!is_null(self.key_serde.as_ref(), &key)).then_some(key);
        let value = (!is_null(self.value_serde.as_ref(), &value)).then_some(value);
        (key, value)
    }
}

/// Kafka Streams' `KTableSource`: keeps the latest value per key and forwards each update
/// with the value it replaced.
struct KTableSource<K, V, I> {
    /// `None` while no operator needs the table's values: updates are then forwarded
    /// without a store and without old values, as Kafka Streams does.
    store: Option<TableStore<K, V>>,
    input: I,
}

impl<K, V, KI, VI, I> Processor<KI, VI, K, Change<V>> for KTableSource<K, V, I>
where
    K: Clone + 'static,
    V: Clone + 'static,
    KI: 'static,
    VI: 'static,
    I: TableInput<KI, VI, K, V>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(
        &mut self,
        record: Record<KI, VI>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let (key, value) = self.input.split(record.key, record.value);
        let Some(key) = key else {
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
                value: Change::new(value, None),
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
                "out-of-order table update: a versioned store keeps it in the key's history, \
                 any other store takes it as the latest value"
            );
        }
        let change = Change::new(value, old.map(|o| o.value));
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
    ///
    /// With [`StoreType::Versioned`](crate::StoreType::Versioned) the table keeps every
    /// version of each key for the history retention (Kafka Streams' versioned tables,
    /// KIP-914), always materialized and never cached. Its updates follow the versioned
    /// store: an update older than the table's observed stream time minus the history
    /// retention is dropped (and counted) without being stored or forwarded; an update older
    /// than the key's latest version is stored in the key's history and forwarded as not the
    /// latest ([`Change::is_latest`](crate::Change::is_latest) `false`, with the
    /// latest value as the old value), so `to_stream` emits it while table-table joins and
    /// `group_by` ignore it, as Kafka Streams' `KTableSource` does. Stream-table joins
    /// look the table up as of each stream record's timestamp.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table_with(
    ///         "prices",
    ///         Consumed::with(Serdes::string(), Serdes::i64()),
    ///         Materialized::as_("prices-store")
    ///             .with_store_type(StoreType::Versioned { history_retention: Duration::from_millis(100) }),
    ///     )
    ///     .to_stream()
    ///     .to("price-changes", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let prices = driver.create_input_topic("prices", Serdes::string(), Serdes::option(Serdes::i64()));
    /// let out = driver.create_output_topic("price-changes", Serdes::string(), Serdes::option(Serdes::i64()));
    /// prices.pipe_input_at("apple".into(), Some(3), 1_000)?;
    /// prices.pipe_input_at("apple".into(), Some(2), 950)?; // out of order: stored and forwarded
    /// prices.pipe_input_at("apple".into(), Some(1), 800)?; // older than 1000 - 100: dropped
    /// assert_eq!(out.read_values_to_list()?, vec![Some(3), Some(2)]);
    /// let store = driver.state_store::<VersionedKeyValueStore<String, i64>>("prices-store")?;
    /// assert_eq!(store.borrow().get(&"apple".into())?, Some(VersionedRecord::new(3, 1_000, None)));
    /// assert_eq!(store.borrow().get_as_of(&"apple".into(), 990)?, Some(VersionedRecord::new(2, 950, Some(1_000))));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
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
            builder: table_store_builder(&store, &materialized, ks, vs)
                .map_err(|e| st.fail(e))
                .ok(),
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
                        input: FromTopic,
                    },
                    &[source.as_str()],
                )
            })
            .map(|_| ());
        st.record(r);
        if materialized.forces_store() {
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
        table.versioned = materialized.store_type.is_versioned();
        table
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// The stream read as a table, as Kafka Streams' `KStream.toTable()`: each record is
    /// the latest value of its key.
    ///
    /// A record whose value is null (by the stream's value serde,
    /// [`is_null`](streams_core::Serde::is_null)) deletes its key; a record whose key is null
    /// is dropped and counted (Kafka Streams' `KTableSource`). When an upstream operator may
    /// have changed the key, the records first go through the repartition topic
    /// `<application.id>-KSTREAM-TOTABLE-<n>-repartition` (records with a null key are
    /// dropped before it). As for [`StreamsBuilder::table`], the table gets a store
    /// (`KSTREAM-TOTABLE-STATE-STORE-<n>`) only when something needs its values; name it
    /// with [`to_table_with`](Self::to_table_with) to always keep and query it. Without a
    /// store a null value is forwarded as a delete even for a key the table never had.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("status", Consumed::with(Serdes::string(), Serdes::option(Serdes::string())))
    ///     .to_table()
    ///     .to_stream()
    ///     .to("latest", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let input = driver.create_input_topic("status", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("latest", Serdes::string(), Serdes::option(Serdes::option(Serdes::string())));
    /// input.pipe_input("job-1".to_string(), Some("running".to_string()))?;
    /// input.pipe_input("job-1".to_string(), None)?; // a null value deletes the key
    /// assert_eq!(
    ///     out.read_key_values_to_list()?,
    ///     vec![("job-1".to_string(), Some(Some("running".to_string()))), ("job-1".to_string(), None)]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn to_table(&self) -> KTable<K, V> {
        self.to_table_with(Materialized::default())
    }

    /// [`to_table`](Self::to_table) with the store set up by `materialized`; a named store is
    /// always kept (and queryable), and its serdes default to the stream's. A
    /// [`StoreType::Versioned`](crate::StoreType::Versioned) store makes a versioned table,
    /// with the rules of [`StreamsBuilder::table_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let table = builder
    ///     .stream("status", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_table_with(Materialized::as_("status-store"));
    /// assert_eq!(table.queryable_store_name(), Some("status-store"));
    /// assert!(builder.build()?.describe().to_string().contains("Processor: KSTREAM-TOTABLE-0000000001 (stores: [status-store])"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn to_table_with(&self, materialized: Materialized<K, V>) -> KTable<K, V> {
        let mut st = self.builder.borrow_mut();
        let name = st.name_or_generate(self.next_name.as_deref(), "KSTREAM-TOTABLE-");
        let store = match &materialized.name {
            Some(n) => n.clone(),
            None => st.new_name("KSTREAM-TOTABLE-STATE-STORE-"),
        };
        drop(st);
        let key_serde = materialized
            .key_serde
            .clone()
            .or_else(|| self.key_serde.clone());
        let value_serde = materialized
            .value_serde
            .clone()
            .or_else(|| self.value_serde.clone());
        let parent = if self.partitioning.requires_repartition() {
            add_repartition(
                &self.builder,
                &self.node,
                &name,
                key_serde.clone(),
                value_serde.clone(),
            )
        } else {
            self.node.clone()
        };
        let builder = match (key_serde.clone(), value_serde.clone()) {
            (Some(ks), Some(vs)) => table_store_builder(&store, &materialized, ks, vs)
                .map_err(|e| self.builder.borrow_mut().fail(e))
                .ok(),
            _ => None,
        };
        let lazy = Arc::new(LazyStore {
            builder,
            processor: name.clone(),
            added: AtomicBool::new(false),
        });
        let flag = Arc::clone(&lazy);
        let store_name = store.clone();
        let input = (key_serde.clone(), value_serde.clone());
        let mut st = self.builder.borrow_mut();
        let r = st
            .topology
            .add_processor::<K, V, K, Change<V>, _, _>(
                &name,
                move || KTableSource {
                    store: flag
                        .added
                        .load(Ordering::Relaxed)
                        .then(|| TableStore::<K, V>::new(store_name.clone())),
                    input: FromStream {
                        key_serde: input.0.clone(),
                        value_serde: input.1.clone(),
                    },
                },
                &[parent.as_str()],
            )
            .map(|_| ());
        st.record(r);
        if materialized.forces_store() {
            lazy.materialize(&mut st);
        }
        drop(st);
        let mut table = KTable::new(
            self.builder.clone(),
            name,
            key_serde,
            value_serde,
            Some(store),
        );
        table.lazy_store = Some(lazy);
        table.versioned = materialized.store_type.is_versioned();
        table
    }
}

/// A table source's store, added to the topology the first time something needs the table's
/// values; until then the source forwards updates without keeping them.
pub(crate) struct LazyStore {
    /// `None` when the serdes are unknown: materializing then fails the build.
    builder: Option<Arc<dyn StoreBuilder>>,
    processor: String,
    added: AtomicBool,
}

impl LazyStore {
    /// The store `builder` makes for `processor`, not added yet.
    pub(crate) fn new(builder: Option<Arc<dyn StoreBuilder>>, processor: String) -> Self {
        LazyStore {
            builder,
            processor,
            added: AtomicBool::new(false),
        }
    }

    /// Whether the store was added: read once per task, when its processors are made.
    pub(crate) fn is_added(&self) -> bool {
        self.added.load(Ordering::Relaxed)
    }

    pub(crate) fn materialize(&self, st: &mut BuilderState) {
        if self.added.swap(true, Ordering::Relaxed) {
            return;
        }
        let Some(builder) = &self.builder else {
            st.fail(Error::Topology(format!(
                "the table of '{}' needs a store, which needs a key serde and a value serde: \
                 give them with Materialized::with(...)",
                self.processor
            )));
            return;
        };
        let r = st
            .topology
            .add_state_store(Arc::clone(builder), &[self.processor.as_str()])
            .map(|_| ());
        st.record(r);
    }
}
