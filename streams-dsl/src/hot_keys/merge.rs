//! The merge stage of a two-phase aggregation: the table of partial aggregates, keyed by
//! salted key, regrouped by the original key through a repartition topic
//! ([`KTable::group_by_with`]), kept as the table of each key's current partials, one per
//! shard ([`KGroupedTable::aggregate_with`](crate::KGroupedTable::aggregate_with)), and
//! merged into one value per key on every update.
//!
//! Each partial-aggregate update arrives as a table change. The regrouped aggregation
//! removes the shard's old partial and puts its new one, so the store holds exactly the
//! latest partial of every shard, whatever the merge function; no subtraction of aggregates
//! is needed, which is what lets min, max and any user merge work. The merged value is
//! computed from the shards' partials in shard order each time one changes.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result, SerdeRef};

use super::partials::{Partials, PartialsSerde, Sharded, ShardedSerde};
use crate::ktable::{Change, GetterRef, KTable, MappedGetterSupplier, SendOldValues};
use crate::materialized::{Grouped, Materialized};

/// How the merge stage is set up: the serdes of the original key and of the partial
/// aggregate, the names it takes, and its store.
pub(crate) struct MergeSpec<K2, VA> {
    pub(crate) key_serde: Option<SerdeRef<K2>>,
    pub(crate) value_serde: Option<SerdeRef<VA>>,
    /// Names the regrouping (`<name>-repartition`), when the grouping was named.
    pub(crate) grouping: Option<String>,
    /// Names the regrouped aggregation (`<name>-merge`) and the merging node (`<name>`).
    pub(crate) processor: Option<String>,
    /// The store of the partials per original key; its serdes are set here.
    pub(crate) store: Materialized<K2, Partials<VA>>,
}

/// Kafka Streams' `KTableMapValues` shape over the partials of a key: forwards their merge,
/// and a delete when a key has none left.
struct MergePartials<M> {
    merge: Arc<M>,
    send_old: bool,
}

impl<K, VA, M> Processor<K, Change<Partials<VA>>, K, Change<VA>> for MergePartials<M>
where
    K: Clone + 'static,
    VA: Clone + 'static,
    M: Fn(&K, VA, VA) -> VA + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<Partials<VA>>>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let merge = &*self.merge;
        let new = value.new.and_then(|p| p.merged(&key, merge));
        let old = if self.send_old {
            value.old.and_then(|p| p.merged(&key, merge))
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

/// Adds the merge stage under `partials` (the partial aggregates keyed by `PK`): `split`
/// gives each partial's original key and shard, `merge` combines two partials of a key.
/// Returns the table of merged values.
pub(crate) fn merge_partials<PK, K2, VA, S, M>(
    partials: &KTable<PK, VA>,
    split: S,
    merge: M,
    spec: MergeSpec<K2, VA>,
) -> KTable<K2, VA>
where
    PK: Clone + 'static,
    K2: Clone + PartialEq + 'static,
    VA: Clone + 'static,
    S: Fn(&PK) -> (K2, Option<u32>) + Send + Sync + 'static,
    M: Fn(&K2, VA, VA) -> VA + Send + Sync + 'static,
{
    let MergeSpec {
        key_serde,
        value_serde,
        grouping,
        processor,
        mut store,
    } = spec;
    let regrouping = Grouped {
        name: grouping.map(|n| format!("{n}-merge")),
        key_serde: key_serde.clone(),
        value_serde: value_serde.clone().map(ShardedSerde::new_ref),
    };
    if store.key_serde.is_none() {
        store.key_serde = key_serde.clone();
    }
    store.value_serde = value_serde.clone().map(PartialsSerde::new_ref);
    let mut regrouped = partials.group_by_with(
        move |key: &PK, partial: VA| {
            let (key, shard) = split(key);
            (key, Sharded { shard, partial })
        },
        regrouping,
    );
    if let Some(n) = &processor {
        regrouped = regrouped.named(format!("{n}-merge"));
    }
    let mut per_key = regrouped.aggregate_with(
        Partials::default,
        |_: &K2, sharded: Sharded<VA>, partials: Partials<VA>| partials.with(sharded),
        |_: &K2, sharded: Sharded<VA>, partials: Partials<VA>| partials.without(sharded.shard),
        store,
    );
    if let Some(n) = processor {
        per_key = per_key.named(n);
    }

    let merge = Arc::new(merge);
    let send_old = SendOldValues::child_of(&per_key.send_old);
    let (flag, m) = (Arc::clone(&send_old), Arc::clone(&merge));
    let node = per_key.add_table_processor("KTABLE-MERGE-", move || MergePartials {
        merge: Arc::clone(&m),
        send_old: flag.enabled(),
    });
    let getter = per_key.getter.clone().map(|parent| {
        Arc::new(MappedGetterSupplier {
            parent,
            f: Arc::new(move |key: &K2, p: Partials<VA>| p.merged(key, &*merge)),
        }) as GetterRef<K2, VA>
    });
    let mut merged = KTable::new(per_key.builder.clone(), node, key_serde, value_serde, None);
    merged.getter = getter;
    merged.send_old = send_old;
    merged
}
