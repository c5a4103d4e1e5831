//! KTable-KTable `join`, `left_join` and `outer_join`.

use std::any::Any;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::ValueAndTimestamp;
use streams_core::{Error, Record, Result};

use super::getter::ValueGetterSupplier;
use super::{Change, GetterRef, KTable, ValueGetter};

/// Which of Kafka Streams' join processors a side runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `KTableKTableInnerJoin`, on either side of an inner join.
    Inner,
    /// `KTableKTableLeftJoin`, on the left side of a left join.
    Left,
    /// `KTableKTableRightJoin`, on the right side of a left join.
    Right,
    /// `KTableKTableOuterJoin`, on either side of an outer join.
    Outer,
}

type Joiner<A, B, R> = Arc<dyn Fn(Option<&A>, Option<&B>) -> Option<R> + Send + Sync>;

/// One side of a table-table join: on each update of its own table it looks up the other
/// table's current value and forwards the joined change, timestamped with the later of the
/// two sides.
struct TableJoinSide<K, VOwn, VOther, VR> {
    side: Side,
    joiner: Joiner<VOwn, VOther, VR>,
    other: GetterRef<K, VOther>,
    getter: Option<Box<dyn ValueGetter<K, VOther>>>,
}

impl<K, VOwn, VOther, VR> Processor<K, Change<VOwn>, K, Change<VR>>
    for TableJoinSide<K, VOwn, VOther, VR>
where
    K: Clone + 'static,
    VOwn: 'static,
    VOther: 'static,
    VR: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        self.getter = Some(self.other.getter(&|name| ctx.state_store_any(name))?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<VOwn>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        let Some(getter) = self.getter.as_mut() else {
            return Err(Error::IllegalState(
                "table join processed a record before init".into(),
            ));
        };
        // An out-of-order update of a versioned table changes its history, not the joined
        // row; Kafka Streams counts it as dropped (`useVersionedSemantics`).
        if !record.value.is_latest {
            ctx.record_dropped();
            return Ok(());
        }
        let other = getter.get(&record.key)?;
        let change = &record.value;
        let j = &self.joiner;
        let (new, old, timestamp) = match (self.side, other) {
            (Side::Inner | Side::Right, None) => return Ok(()),
            (Side::Left | Side::Outer, None) if change.new.is_none() && change.old.is_none() => {
                return Ok(());
            }
            (Side::Inner, Some(o)) => (
                change.new.as_ref().and_then(|n| j(Some(n), Some(&o.value))),
                change.old.as_ref().and_then(|n| j(Some(n), Some(&o.value))),
                record.timestamp.max(o.timestamp),
            ),
            (Side::Right, Some(o)) => (
                j(change.new.as_ref(), Some(&o.value)),
                j(change.old.as_ref(), Some(&o.value)),
                record.timestamp.max(o.timestamp),
            ),
            (Side::Left, o) => {
                let ts = o.as_ref().map_or(-1, |o| o.timestamp);
                let ov = o.as_ref().map(|o| &o.value);
                (
                    change.new.as_ref().and_then(|n| j(Some(n), ov)),
                    change.old.as_ref().and_then(|n| j(Some(n), ov)),
                    record.timestamp.max(ts),
                )
            }
            (Side::Outer, o) => {
                let ts = o
                    .as_ref()
                    .map_or(record.timestamp, |o| record.timestamp.max(o.timestamp));
                let ov = o.as_ref().map(|o| &o.value);
                (
                    if ov.is_some() || change.new.is_some() {
                        j(change.new.as_ref(), ov)
                    } else {
                        None
                    },
                    if ov.is_some() || change.old.is_some() {
                        j(change.old.as_ref(), ov)
                    } else {
                        None
                    },
                    ts,
                )
            }
        };
        ctx.forward(Record {
            key: record.key,
            value: Change::new(new, old),
            timestamp,
            headers: record.headers,
        })
    }
}

/// `KTableKTableJoinMerger`: both sides' results become one table.
struct JoinMerger;

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Change<V>, K, Change<V>> for JoinMerger {
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        ctx.forward(record)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Inner join with another table on the key: a row exists where both tables have one,
    /// with the value `joiner` makes.
    ///
    /// Kafka Streams' rules: an update on either side emits the joined value when the other
    /// side has the key, and nothing when it has not; deleting a row that was joined emits a
    /// delete. The output timestamp is the later of the two sides'. Both tables must be
    /// co-partitioned and materialized, or derived from materialized tables; a join's result
    /// is, so it can be joined again (a lookup of it joins its parents' current values).
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let names = builder.table("names", Consumed::with(Serdes::string(), Serdes::string()));
    /// let tiers = builder.table("tiers", Consumed::with(Serdes::string(), Serdes::string()));
    /// names
    ///     .join(&tiers, |name, tier| format!("{name} ({tier})"))
    ///     .to_stream()
    ///     .to("profiles", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let n = driver.create_input_topic("names", Serdes::string(), Serdes::option(Serdes::string()));
    /// let t = driver.create_input_topic("tiers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("profiles", Serdes::string(), Serdes::option(Serdes::string()));
    /// n.pipe_input_at("c1".into(), Some("Ann".into()), 10)?;
    /// t.pipe_input_at("c1".into(), Some("gold".into()), 20)?;
    /// n.pipe_input_at("c1".into(), None, 30)?;
    /// let got: Vec<_> = out.read_records_to_list()?.into_iter().map(|r| (r.value, r.timestamp)).collect();
    /// assert_eq!(got, vec![(Some("Ann (gold)".to_string()), 20), (None, 30)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let joiner = Arc::new(move |a: Option<&V>, b: Option<&VO>| match (a, b) {
            (Some(a), Some(b)) => Some(joiner(a, b)),
            _ => None,
        });
        self.table_join(other, joiner, Side::Inner, Side::Inner)
    }

    /// Left join: every row of this table, joined with the other's row where there is one
    /// (`None` otherwise). An update of the other table re-emits the joined rows it affects;
    /// deleting the other side's row emits `joiner(v, None)`.
    pub fn left_join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.enable_sending_old_values();
        let joiner = Arc::new(move |a: Option<&V>, b: Option<&VO>| a.map(|a| joiner(a, b)));
        self.table_join(other, joiner, Side::Left, Side::Right)
    }

    /// Outer join: a row wherever either table has one, with `None` for the missing side.
    /// A row deleted on both sides is deleted.
    pub fn outer_join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.enable_sending_old_values();
        other.enable_sending_old_values();
        let joiner = Arc::new(move |a: Option<&V>, b: Option<&VO>| Some(joiner(a, b)));
        self.table_join(other, joiner, Side::Outer, Side::Outer)
    }

    fn table_join<VO, VR>(
        &self,
        other: &KTable<K, VO>,
        joiner: Joiner<V, VO, VR>,
        this_side: Side,
        other_side: Side,
    ) -> KTable<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
    {
        let mut st = self.builder.borrow_mut();
        let (Some(this_getter), Some(other_getter)) =
            (self.value_getter(&mut st), other.value_getter(&mut st))
        else {
            st.fail(Error::Topology(format!(
                "cannot join '{}' with '{}': both tables must be materialized or derived from materialized tables",
                self.node, other.node
            )));
            drop(st);
            return KTable::new(
                self.builder.clone(),
                self.node.clone(),
                self.key_serde.clone(),
                None,
                None,
            );
        };
        let merge = st.name_or_generate(self.next_name.as_deref(), "KTABLE-MERGE-");
        let this_name = match &self.next_name {
            Some(n) => {
                let _ = st.new_name("KTABLE-JOINTHIS-");
                format!("{n}-join-this")
            }
            None => st.new_name("KTABLE-JOINTHIS-"),
        };
        let other_name = match &self.next_name {
            Some(n) => {
                let _ = st.new_name("KTABLE-JOINOTHER-");
                format!("{n}-join-other")
            }
            None => st.new_name("KTABLE-JOINOTHER-"),
        };
        let this_stores = this_getter.stores();
        let other_stores = other_getter.stores();
        let j = Arc::clone(&joiner);
        let flipped: Joiner<VO, V, VR> = Arc::new(move |own: Option<&VO>, o: Option<&V>| j(o, own));
        let other_sources = st.topology.upstream_source_topics(&other.node);
        let this_sources = st.topology.upstream_source_topics(&self.node);
        let r = (|| -> Result<()> {
            let t = &mut st.topology;
            let og = Arc::clone(&other_getter);
            let jt = Arc::clone(&joiner);
            t.add_processor(
                &this_name,
                move || TableJoinSide {
                    side: this_side,
                    joiner: Arc::clone(&jt),
                    other: Arc::clone(&og),
                    getter: None,
                },
                &[self.node.as_str()],
            )?;
            let tg = Arc::clone(&this_getter);
            t.add_processor(
                &other_name,
                move || TableJoinSide {
                    side: other_side,
                    joiner: Arc::clone(&flipped),
                    other: Arc::clone(&tg),
                    getter: None,
                },
                &[other.node.as_str()],
            )?;
            t.add_processor::<K, Change<VR>, K, Change<VR>, _, _>(
                &merge,
                || JoinMerger,
                &[this_name.as_str(), other_name.as_str()],
            )?;
            let os: Vec<&str> = other_stores.iter().map(String::as_str).collect();
            let ts: Vec<&str> = this_stores.iter().map(String::as_str).collect();
            t.connect_processor_and_state_stores(&this_name, &os)?;
            t.connect_processor_and_state_stores(&other_name, &ts)?;
            let group: Vec<&str> = this_sources
                .iter()
                .chain(other_sources.iter())
                .map(String::as_str)
                .collect();
            t.add_copartition_group(&group);
            Ok(())
        })();
        st.record(r);
        drop(st);
        let mut joined = KTable::new(
            self.builder.clone(),
            merge,
            self.key_serde.clone(),
            None,
            None,
        );
        // The result can be looked up, and so joined again, as Kafka Streams'
        // `KTableKTableJoinValueGetter` (and its left and outer kin) joins the parents'
        // current values.
        joined.getter = Some(Arc::new(JoinGetterSupplier {
            this: this_getter,
            other: other_getter,
            joiner,
        }));
        joined
    }
}

/// Looks a key up in both parents of a table-table join and joins what it finds, with the
/// later of the two timestamps; the joiner's `None` (an inner join missing a side, a left
/// join missing its left) means the key is not in the result.
struct JoinGetterSupplier<K, V, VO, VR> {
    this: GetterRef<K, V>,
    other: GetterRef<K, VO>,
    joiner: Joiner<V, VO, VR>,
}

struct JoinGetter<K, V, VO, VR> {
    this: Box<dyn ValueGetter<K, V>>,
    other: Box<dyn ValueGetter<K, VO>>,
    joiner: Joiner<V, VO, VR>,
}

impl<K, V, VO, VR> ValueGetter<K, VR> for JoinGetter<K, V, VO, VR> {
    fn get(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<VR>>> {
        let a = self.this.get(key)?;
        let b = self.other.get(key)?;
        let ts = a
            .as_ref()
            .map(|v| v.timestamp)
            .max(b.as_ref().map(|v| v.timestamp));
        let (Some(ts), Some(v)) = (
            ts,
            (self.joiner)(a.as_ref().map(|v| &v.value), b.as_ref().map(|v| &v.value)),
        ) else {
            return Ok(None);
        };
        Ok(Some(ValueAndTimestamp::new(v, ts)))
    }
}

impl<K, V, VO, VR> ValueGetterSupplier<K, VR> for JoinGetterSupplier<K, V, VO, VR>
where
    K: 'static,
    V: 'static,
    VO: 'static,
    VR: 'static,
{
    fn stores(&self) -> Vec<String> {
        let mut stores = self.this.stores();
        stores.extend(self.other.stores());
        stores.sort();
        stores.dedup();
        stores
    }

    fn getter(
        &self,
        lookup: &dyn Fn(&str) -> Result<Rc<dyn Any>>,
    ) -> Result<Box<dyn ValueGetter<K, VR>>> {
        Ok(Box::new(JoinGetter {
            this: self.this.getter(lookup)?,
            other: self.other.getter(lookup)?,
            joiner: Arc::clone(&self.joiner),
        }))
    }
}
