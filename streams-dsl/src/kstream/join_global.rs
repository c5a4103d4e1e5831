//! KStream-GlobalKTable `join_global` and `left_join_global`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::ReadOnlyKeyValueStore;
use streams_core::{Error, Record, Result, SerdeRef};
use streams_state::TimestampedKeyValueStore;

use super::KStream;
use crate::global_table::GlobalKTable;
use crate::join_kind::JoinKind;

/// Kafka Streams' `KStreamKTableJoinProcessor` over a global store (`KStreamGlobalKTableJoin`):
/// each stream record maps itself to a key of the global table and looks it up; only
/// stream records trigger output.
struct KStreamGlobalKTableJoin<K, V, GK, GV, KM, F> {
    key_mapper: Arc<KM>,
    joiner: Arc<F>,
    left: bool,
    store_name: String,
    store: Option<Rc<RefCell<TimestampedKeyValueStore<GK, GV>>>>,
    global_key_serde: Option<SerdeRef<GK>>,
    value_serde: Option<SerdeRef<V>>,
    _key: std::marker::PhantomData<fn(K)>,
}

impl<K, V, GK, GV, VR, KM, F> Processor<K, V, K, VR>
    for KStreamGlobalKTableJoin<K, V, GK, GV, KM, F>
where
    K: Clone + 'static,
    V: 'static,
    GK: 'static,
    GV: 'static,
    VR: Clone + 'static,
    KM: Fn(&K, &V) -> GK + 'static,
    F: Fn(V, Option<&GV>) -> Option<VR> + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.store = Some(ctx.state_store::<TimestampedKeyValueStore<GK, GV>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        // As Kafka Streams 4.x (`maybeDropRecord`): the key mapper sees every record, null
        // values included; a null value is dropped, and so is a null mapped key, except
        // that a left join emits its record joined with nothing.
        let mapped = (self.key_mapper)(&record.key, &record.value);
        let null_key = self
            .global_key_serde
            .as_ref()
            .is_some_and(|s| s.is_null(&mapped));
        let null_value = self
            .value_serde
            .as_ref()
            .is_some_and(|s| s.is_null(&record.value));
        if null_value || (null_key && !self.left) {
            ctx.record_dropped();
            return Ok(());
        }
        let found = if null_key {
            None
        } else {
            let store = self.store.as_ref().ok_or_else(|| {
                Error::IllegalState(
                    "stream-global table join processed a record before init".into(),
                )
            })?;
            store.borrow().get(&mapped)?
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
    /// Joins each stream record with the global table's current value for the key
    /// `key_mapper(key, value)` computes.
    ///
    /// Kafka Streams 4.x rules (`KStreamKTableJoinProcessor` over a global table): only
    /// stream records trigger output, table updates never do; the output has the stream
    /// record's key (null included), timestamp and headers; a record whose mapped key is
    /// absent from the table produces nothing. A record with a null value (by the stream's
    /// value serde) is dropped and counted, and so is one whose mapped key is null (by the
    /// table's key serde); the key mapper still sees both. The stream's own key may be null
    /// and may have been changed upstream: a global table is complete in every instance,
    /// so there is no co-partitioning and no repartitioning. The processor is named
    /// `KSTREAM-LEFTJOIN-<index>`, as Kafka Streams names both global joins.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let customers = builder.global_table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
    ///     // order id -> "customer:amount"; join on the customer
    ///     .join_global(
    ///         &customers,
    ///         |_id, order| order.split(':').next().unwrap_or_default().to_string(),
    ///         |order, name| format!("{order} by {name}"),
    ///     )
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let c = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("enriched", Serdes::string(), Serdes::string());
    /// o.pipe_input("o1".into(), "c1:5".into())?; // no customer yet: nothing
    /// c.pipe_input("c1".into(), Some("Ann".into()))?; // table updates emit nothing
    /// o.pipe_input_at("o2".into(), "c1:7".into(), 99)?;
    /// let r = out.read_record()?;
    /// assert_eq!((r.key.as_str(), r.value.as_str(), r.timestamp), ("o2", "c1:7 by Ann", 99));
    /// assert!(out.is_empty());
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join_global<GK, GV, VR, KM, F>(
        &self,
        global: &GlobalKTable<GK, GV>,
        key_mapper: KM,
        joiner: F,
    ) -> KStream<K, VR>
    where
        GK: Clone + 'static,
        GV: Clone + 'static,
        VR: Clone + 'static,
        KM: Fn(&K, &V) -> GK + Send + Sync + 'static,
        F: Fn(V, &GV) -> VR + Send + Sync + 'static,
    {
        self.global_join(
            global,
            JoinKind::Inner,
            key_mapper,
            move |v, g: Option<&GV>| g.map(|g| joiner(v, g)),
        )
    }

    /// Like [`join_global`](Self::join_global), but a record whose mapped key is absent
    /// from the table, or null, still produces `joiner(value, None)`. Records with a null
    /// value are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let names = builder.global_table("names", Consumed::with(Serdes::option(Serdes::string()), Serdes::string()));
    /// builder
    ///     .stream("events", Consumed::with(Serdes::string(), Serdes::string()))
    ///     // an empty value maps to a null key: joined with nothing
    ///     .left_join_global(
    ///         &names,
    ///         |_k, v| (!v.is_empty()).then(|| v.clone()),
    ///         |v, name| format!("{v}={}", name.map_or("?", String::as_str)),
    ///     )
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let n = driver.create_input_topic("names", Serdes::string(), Serdes::option(Serdes::string()));
    /// let e = driver.create_input_topic("events", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// n.pipe_input("a".into(), Some("Ann".into()))?;
    /// e.pipe_input("1".into(), "a".into())?;
    /// e.pipe_input("2".into(), "b".into())?;
    /// e.pipe_input("3".into(), "".into())?;
    /// assert_eq!(
    ///     out.read_values_to_list()?,
    ///     vec!["a=Ann".to_string(), "b=?".to_string(), "=?".to_string()]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn left_join_global<GK, GV, VR, KM, F>(
        &self,
        global: &GlobalKTable<GK, GV>,
        key_mapper: KM,
        joiner: F,
    ) -> KStream<K, VR>
    where
        GK: Clone + 'static,
        GV: Clone + 'static,
        VR: Clone + 'static,
        KM: Fn(&K, &V) -> GK + Send + Sync + 'static,
        F: Fn(V, Option<&GV>) -> VR + Send + Sync + 'static,
    {
        self.global_join(global, JoinKind::Left, key_mapper, move |v, g| {
            Some(joiner(v, g))
        })
    }

    fn global_join<GK, GV, VR, KM, F>(
        &self,
        global: &GlobalKTable<GK, GV>,
        kind: JoinKind,
        key_mapper: KM,
        joiner: F,
    ) -> KStream<K, VR>
    where
        GK: Clone + 'static,
        GV: Clone + 'static,
        VR: Clone + 'static,
        KM: Fn(&K, &V) -> GK + Send + Sync + 'static,
        F: Fn(V, Option<&GV>) -> Option<VR> + Send + Sync + 'static,
    {
        if !Rc::ptr_eq(&self.builder, &global.builder) {
            self.builder.borrow_mut().fail(Error::Topology(format!(
                "cannot join '{}' with global table '{}' of another StreamsBuilder",
                self.node, global.store
            )));
        }
        let key_mapper = Arc::new(key_mapper);
        let joiner = Arc::new(joiner);
        let left = kind.joins_unmatched_left();
        let store_name = global.store.clone();
        let global_key_serde = global.key_serde.clone();
        let value_serde = self.value_serde.clone();
        self.add(
            "KSTREAM-LEFTJOIN-",
            move || KStreamGlobalKTableJoin {
                key_mapper: Arc::clone(&key_mapper),
                joiner: Arc::clone(&joiner),
                left,
                store_name: store_name.clone(),
                store: None,
                global_key_serde: global_key_serde.clone(),
                value_serde: value_serde.clone(),
                _key: std::marker::PhantomData,
            },
            self.key_serde.clone(),
            None,
            self.partitioning,
        )
    }
}
