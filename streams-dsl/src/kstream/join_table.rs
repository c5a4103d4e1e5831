//! KStream-KTable `join_table` and `left_join_table`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Error, Record, Result, SerdeRef};

use super::KStream;
use crate::join_kind::JoinKind;
use crate::ktable::{GetterRef, KTable, ValueGetter};
use crate::materialized::Joined;
use crate::repartition::{NullKeys, Partitioning, add_repartition_with};

/// Kafka Streams' `KStreamKTableJoinProcessor`: each stream record looks the table up by
/// key (as of its timestamp when the table is versioned); only stream records trigger
/// output.
struct KStreamKTableJoin<K, V, VT, F> {
    joiner: Arc<F>,
    left: bool,
    table: GetterRef<K, VT>,
    getter: Option<Box<dyn ValueGetter<K, VT>>>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
}

impl<K, V, VT, VR, F> Processor<K, V, K, VR> for KStreamKTableJoin<K, V, VT, F>
where
    K: Clone + 'static,
    V: 'static,
    VT: 'static,
    VR: Clone + 'static,
    F: Fn(V, Option<&VT>) -> Option<VR> + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.getter = Some(self.table.getter(&|name| ctx.state_store_any(name))?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        let null_key = self
            .key_serde
            .as_ref()
            .is_some_and(|s| s.is_null(&record.key));
        let null_value = self
            .value_serde
            .as_ref()
            .is_some_and(|s| s.is_null(&record.value));
        // A null value never joins; a null key joins nothing, but a left join still emits
        // its record (Kafka Streams' `maybeDropRecord`).
        if null_value || (null_key && !self.left) {
            ctx.record_dropped();
            return Ok(());
        }
        let Some(getter) = self.getter.as_mut() else {
            return Err(Error::IllegalState(
                "stream-table join processed a record before init".into(),
            ));
        };
        let found = if null_key {
            None
        } else if getter.is_versioned() {
            getter.get_as_of(&record.key, record.timestamp)?
        } else {
            getter.get(&record.key)?
        };
        if found.is_none() && !self.left {
            return Ok(());
        }
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        if let Some(out) = (self.joiner)(value, found.as_ref().map(|f| &f.value)) {
            ctx.forward(Record {
                key,
                value: out,
                timestamp,
                headers,
            })?;
        }
        Ok(())
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Joins each stream record with the table's current value for its key.
    ///
    /// Kafka Streams' rules: only stream records trigger output, table updates never do; the
    /// output has the stream record's key, timestamp and headers; a record whose key is
    /// absent from the table produces nothing; a record with a null key or value (by the
    /// stream's serdes) is dropped and counted. Stream and table must be co-partitioned: the
    /// application refuses to start otherwise, naming both topics and their partition counts.
    /// After an operator that may have changed the key (`map`, `select_key`, `flat_map`), the
    /// stream is first repartitioned through `<name>-repartition` (the join's
    /// [`named`](Self::named) name, else the key-changing node's), created with the table's
    /// partition count, as Kafka Streams' `repartitionForJoin`.
    ///
    /// When the table is versioned (materialized with
    /// [`StoreType::Versioned`](crate::StoreType::Versioned), or derived without a store
    /// from such a table), each stream record joins the table value that was valid at the
    /// record's timestamp, not the latest one (KIP-914): a late stream record joins the value
    /// of its time, and an out-of-order table update is seen by the stream records of its
    /// time. A stream record older than the table's observed stream time minus the history
    /// retention finds only a latest value at or before its timestamp, as Kafka Streams'
    /// versioned store answers.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let customers = builder.table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .join_table(&customers, |total, name| format!("{name}: {total}"))
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let c = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let out = driver.create_output_topic("enriched", Serdes::string(), Serdes::string());
    /// o.pipe_input("c1".into(), 5)?; // no customer yet: nothing
    /// c.pipe_input("c1".into(), Some("Ann".into()))?; // table updates emit nothing
    /// o.pipe_input_at("c1".into(), 7, 99)?;
    /// let r = out.read_record()?;
    /// assert_eq!((r.value.as_str(), r.timestamp), ("Ann: 7", 99));
    /// assert!(out.is_empty());
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join_table<VT, VR, F>(&self, table: &KTable<K, VT>, joiner: F) -> KStream<K, VR>
    where
        VT: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(V, &VT) -> VR + Send + Sync + 'static,
    {
        self.join_table_with(table, joiner, Joined::default())
    }

    /// [`join_table`](Self::join_table) with the serdes and name of `joined`, which a
    /// repartition in front of the join needs when an upstream operator changed the key's
    /// type (the stream then knows no key serde).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let customers = builder.table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
    ///     // "customer:amount" values, re-keyed by customer
    ///     .select_key(|_, v: &String| v.split(':').next().unwrap_or_default().to_string())
    ///     .join_table_with(&customers, |order, name| format!("{name} {order}"),
    ///         Joined::with(Serdes::string(), Serdes::string()))
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("KSTREAM-KEY-SELECT-0000000004-repartition"));
    /// let driver = TopologyTestDriver::new(topology, StreamsConfig::new())?;
    /// let c = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("enriched", Serdes::string(), Serdes::string());
    /// c.pipe_input("c1".into(), Some("Ann".into()))?;
    /// o.pipe_input("order-1".into(), "c1:30".into())?;
    /// assert_eq!(out.read_key_value()?, ("c1".to_string(), "Ann c1:30".to_string()));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join_table_with<VT, VR, F>(
        &self,
        table: &KTable<K, VT>,
        joiner: F,
        joined: Joined<K, V>,
    ) -> KStream<K, VR>
    where
        VT: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(V, &VT) -> VR + Send + Sync + 'static,
    {
        self.stream_table_join(
            table,
            "KSTREAM-JOIN-",
            JoinKind::Inner,
            joined,
            move |v, t: Option<&VT>| t.map(|t| joiner(v, t)),
        )
    }

    /// Like [`join_table`](Self::join_table), but a record whose key is absent from the table
    /// (or is null) still produces `joiner(value, None)`; with a versioned table, also one
    /// whose key had no value (or a tombstone) at the record's timestamp.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let tiers = builder.table_with(
    ///     "tiers",
    ///     Consumed::with(Serdes::string(), Serdes::string()),
    ///     Materialized::as_("tiers").with_store_type(StoreType::Versioned { history_retention: Duration::from_secs(60) }),
    /// );
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .left_join_table(&tiers, |total, tier| format!("{total} {}", tier.map_or("none", String::as_str)))
    ///     .to("priced", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let t = driver.create_input_topic("tiers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let out = driver.create_output_topic("priced", Serdes::string(), Serdes::string());
    /// t.pipe_input_at("c1".into(), Some("gold".into()), 2_000)?;
    /// t.pipe_input_at("c1".into(), Some("silver".into()), 1_000)?; // out of order
    /// o.pipe_input_at("c1".into(), 5, 2_500)?; // joins the value at 2500
    /// o.pipe_input_at("c1".into(), 6, 1_500)?; // a late order joins the value at 1500
    /// o.pipe_input_at("c1".into(), 7, 500)?; // before any version
    /// assert_eq!(out.read_values_to_list()?, vec!["5 gold", "6 silver", "7 none"]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn left_join_table<VT, VR, F>(&self, table: &KTable<K, VT>, joiner: F) -> KStream<K, VR>
    where
        VT: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(V, Option<&VT>) -> VR + Send + Sync + 'static,
    {
        self.left_join_table_with(table, joiner, Joined::default())
    }

    /// [`left_join_table`](Self::left_join_table) with the serdes and name of `joined`; see
    /// [`join_table_with`](Self::join_table_with).
    pub fn left_join_table_with<VT, VR, F>(
        &self,
        table: &KTable<K, VT>,
        joiner: F,
        joined: Joined<K, V>,
    ) -> KStream<K, VR>
    where
        VT: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(V, Option<&VT>) -> VR + Send + Sync + 'static,
    {
        self.stream_table_join(
            table,
            "KSTREAM-LEFTJOIN-",
            JoinKind::Left,
            joined,
            move |v, t| Some(joiner(v, t)),
        )
    }

    fn stream_table_join<VT, VR, F>(
        &self,
        table: &KTable<K, VT>,
        prefix_name: &str,
        kind: JoinKind,
        joined: Joined<K, V>,
        joiner: F,
    ) -> KStream<K, VR>
    where
        VT: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(V, Option<&VT>) -> Option<VR> + Send + Sync + 'static,
    {
        let name = joined.name.clone().or_else(|| self.next_name.clone());
        if self.partitioning.requires_repartition() {
            // Kafka Streams' `repartitionForJoin`: the topic is named after the join (when
            // named) or after the node that changed the key, and passes every record on; the
            // join processor drops what it cannot join.
            let prefix = name.clone().unwrap_or_else(|| self.node.clone());
            let key_serde = joined.key_serde.clone().or_else(|| self.key_serde.clone());
            let value_serde = joined
                .value_serde
                .clone()
                .or_else(|| self.value_serde.clone());
            let source = add_repartition_with(
                &self.builder,
                &self.node,
                &prefix,
                key_serde.clone(),
                value_serde.clone(),
                NullKeys::Keep,
            );
            let mut repartitioned = KStream::new(
                self.builder.clone(),
                source,
                key_serde,
                value_serde,
                Partitioning::ByKey,
            );
            repartitioned.next_name = name;
            return repartitioned.stream_table_join(
                table,
                prefix_name,
                kind,
                Joined::default(),
                joiner,
            );
        }
        let getter = table.value_getter(&mut self.builder.borrow_mut());
        let Some(getter) = getter else {
            self.builder.borrow_mut().fail(Error::Topology(format!(
                "cannot join '{}' with table '{}': the table must be materialized or derived from a materialized table",
                self.node, table.node
            )));
            return KStream::new(
                self.builder.clone(),
                self.node.clone(),
                None,
                None,
                self.partitioning,
            );
        };
        let stores = getter.stores();
        let joiner = Arc::new(joiner);
        let left = kind.joins_unmatched_left();
        let key_serde = self.key_serde.clone();
        let value_serde = self.value_serde.clone();
        let this = match name {
            Some(n) => self.named(n),
            None => self.clone(),
        };
        let out: KStream<K, VR> = this.add(
            prefix_name,
            move || KStreamKTableJoin {
                joiner: Arc::clone(&joiner),
                left,
                table: Arc::clone(&getter),
                getter: None,
                key_serde: key_serde.clone(),
                value_serde: value_serde.clone(),
            },
            self.key_serde.clone(),
            None,
            Partitioning::ByKey,
        );
        let mut st = self.builder.borrow_mut();
        let names: Vec<&str> = stores.iter().map(String::as_str).collect();
        let r = st
            .topology
            .connect_processor_and_state_stores(&out.node, &names)
            .map(|_| ());
        st.record(r);
        let mut group = st.topology.upstream_source_topics(&self.node);
        group.extend(st.topology.upstream_source_topics(&table.node));
        let group: Vec<&str> = group.iter().map(String::as_str).collect();
        st.topology.add_copartition_group(&group);
        drop(st);
        out
    }
}
