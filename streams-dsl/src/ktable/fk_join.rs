//! KTable-KTable foreign-key joins: `join_on_foreign_key` and `left_join_on_foreign_key`
//! (Kafka Streams' `KTable.join(other, foreignKeyExtractor, joiner)`, KIP-213).
//!
//! The join is built from plain processors, stores and two internal topics, as in Kafka
//! Streams (`kstream/internals/foreignkeyjoin`):
//!
//! 1. the left table's updates go to `SubscriptionSend`, which writes subscriptions keyed by
//!    foreign key to `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic`
//!    (co-partitioned with the right table's source), each with an instruction, the left
//!    row's key and partition, and the murmur3 128-bit hash of the serialized left value;
//! 2. on the right side, `SubscriptionReceive` keeps them in the store
//!    `KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>`, keyed by `{foreign key length}{foreign
//!    key}{primary key}`, and `SubscriptionJoin` answers each with the right row;
//!    `ForeignTableJoin` answers every subscriber of a right row when it changes (a prefix
//!    scan of the store);
//! 3. the answers go to `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic`
//!    (co-partitioned with the left table's source), each to the partition its left row
//!    came from; `ResponseJoin` drops an answer whose hash is not the hash of the left
//!    row's current value and joins the others;
//! 4. the result table's source `KTABLE-FK-JOIN-OUTPUT-<n>` keeps the result in a store
//!    when it is materialized.

mod processors;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use streams_core::serde::Serdes;
use streams_core::topology::{InternalTopic, InternalTopicKind};
use streams_core::{Consumed, Error, Produced, Result, SerdeRef};
use streams_state::Stores;

use self::processors::{
    ForeignTableJoin, ResponseJoin, ResultSource, SubscriptionJoin, SubscriptionReceive,
    SubscriptionSend,
};
use self::wire::{PseudoTopics, Response, ResponseSerde, SubscriptionSerde};
use super::KTable;
use super::source::LazyStore;
use super::store::{TableStore, table_store_builder};
use crate::builder::BuilderState;
use crate::join_kind::JoinKind;
use crate::materialized::Materialized;

const SUBSCRIPTION_REGISTRATION: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-";
const SUBSCRIPTION_RESPONSE: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-";
const SUBSCRIPTION_PROCESSOR: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-";
const SUBSCRIPTION_STORE: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-";
const RESPONSE_RESOLVER: &str = "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-";
const OUTPUT: &str = "KTABLE-FK-JOIN-OUTPUT-";
const SINK: &str = "KTABLE-SINK-";
const SOURCE: &str = "KTABLE-SOURCE-";
/// Kafka Streams' suffix of the foreign-key join's internal topics.
const TOPIC_SUFFIX: &str = "-topic";

/// How a foreign-key join is named and which serdes it uses, as Kafka Streams'
/// `TableJoined` (without its custom partitioners).
///
/// A name `n` names every node, store and topic of the join: `n-subscription-registration-topic`,
/// `n-subscription-store`, `n-subscription-response-topic`, `n-result` and so on, as Kafka
/// Streams names them ([`KTable::named`] before the join names it the same way). The
/// serdes default to the tables' own: the left table's key and
/// value serdes (`key`, `value`), the right table's (`foreign_key`, `foreign_value`). Give
/// them here when a table does not know its serdes, such as the result of `map_values`.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
///
/// let joined: TableJoined<String, String, String, i64> =
///     TableJoined::as_("orders-by-customer").with_foreign_value_serde(Serdes::i64());
/// assert_eq!(joined.name(), Some("orders-by-customer"));
/// ```
pub struct TableJoined<K, V, KO, VO> {
    name: Option<String>,
    key_serde: Option<SerdeRef<K>>,
    value_serde: Option<SerdeRef<V>>,
    foreign_key_serde: Option<SerdeRef<KO>>,
    foreign_value_serde: Option<SerdeRef<VO>>,
}

impl<K, V, KO, VO> Default for TableJoined<K, V, KO, VO> {
    fn default() -> Self {
        TableJoined {
            name: None,
            key_serde: None,
            value_serde: None,
            foreign_key_serde: None,
            foreign_value_serde: None,
        }
    }
}

impl<K, V, KO, VO> std::fmt::Debug for TableJoined<K, V, KO, VO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableJoined")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K, V, KO, VO> TableJoined<K, V, KO, VO> {
    /// Names the join (see the type's documentation).
    pub fn as_(name: impl Into<String>) -> Self {
        TableJoined {
            name: Some(name.into()),
            ..TableJoined::default()
        }
    }

    /// Also names the join.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The left table's key serde.
    #[must_use]
    pub fn with_key_serde(mut self, serde: SerdeRef<K>) -> Self {
        self.key_serde = Some(serde);
        self
    }

    /// The left table's value serde: the join hashes serialized left values.
    #[must_use]
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// The right table's key serde; the foreign key extractor's result is Kafka's null
    /// where it says so ([`Serde::is_null`](streams_core::Serde::is_null)).
    #[must_use]
    pub fn with_foreign_key_serde(mut self, serde: SerdeRef<KO>) -> Self {
        self.foreign_key_serde = Some(serde);
        self
    }

    /// The right table's value serde, for the response topic.
    #[must_use]
    pub fn with_foreign_value_serde(mut self, serde: SerdeRef<VO>) -> Self {
        self.foreign_value_serde = Some(serde);
        self
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Inner join with `other` on a foreign key: each row of this table joins the row of
    /// `other` whose key is `foreign_key(value)`, with the value `joiner` makes. The result
    /// has this table's keys.
    ///
    /// Kafka Streams 4.x rules (`KTable.join(other, foreignKeyExtractor, joiner)`):
    /// - an update of this table joins the right row its new value points to: the result
    ///   when the right row exists; when it does not, nothing for a new row or an unchanged
    ///   foreign key, and a delete when the foreign key changed (the old result is
    ///   retracted); the old foreign key is unsubscribed;
    /// - deleting a row of this table emits a delete, whether or not it was joined;
    /// - a foreign key that is Kafka's null (by the right table's key serde,
    ///   [`Serde::is_null`](streams_core::Serde::is_null)) joins nothing: the update is
    ///   dropped (and counted), and a row that had a foreign key is deleted from the result;
    /// - an update of `other` re-joins every row of this table that points to it; deleting
    ///   a right row deletes their results;
    /// - the result of a left update has the later of the two rows' timestamps (the left
    ///   update's alone when there is no right row); the result of a right update has the
    ///   right update's timestamp;
    /// - an answer that comes back after the left row changed again is dropped (the hash of
    ///   the left value it carries no longer matches), so results never go backwards;
    /// - a right value that serializes to no bytes (an empty string) reaches the join as no
    ///   value, as in Kafka Streams (its response serde reads an empty value as null).
    ///
    /// Both tables are materialized if they are not (their sources get stores), and both
    /// send old values. The serdes are the tables' own (see [`TableJoined`]); the result
    /// is not materialized unless something needs its values (use
    /// [`join_on_foreign_key_with`](Self::join_on_foreign_key_with) to name its store).
    /// Node, store and topic names are Kafka Streams' (`KTABLE-FK-JOIN-...`), so
    /// `describe()` matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// // order id -> customer id; customer id -> name
    /// let orders = builder.table("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// let customers = builder.table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// orders
    ///     .join_on_foreign_key(&customers, |customer: &String| customer.clone(), |c, name| format!("{c}: {name}"))
    ///     .to_stream()
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::option(Serdes::string()));
    /// let c = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("enriched", Serdes::string(), Serdes::option(Serdes::string()));
    /// o.pipe_input_at("o1".into(), Some("c1".into()), 10)?; // no customer yet: nothing
    /// c.pipe_input_at("c1".into(), Some("Ann".into()), 20)?;
    /// o.pipe_input_at("o1".into(), None, 30)?;
    /// let got: Vec<_> = out.read_records_to_list()?.into_iter().map(|r| (r.key, r.value, r.timestamp)).collect();
    /// assert_eq!(got, vec![("o1".into(), Some("c1: Ann".into()), 20), ("o1".into(), None, 30)]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join_on_foreign_key<KO, VO, VR, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
    ) -> KTable<K, VR>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V) -> KO + Send + Sync + 'static,
        J: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.join_on_foreign_key_with(
            other,
            foreign_key,
            joiner,
            TableJoined::default(),
            Materialized::default(),
        )
    }

    /// [`join_on_foreign_key`](Self::join_on_foreign_key) named and with serdes by
    /// `joined`, and the result's store set up by `materialized`: a named store is always
    /// kept (and queryable); its key serde defaults to this table's, its value serde must
    /// be given when the store is needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let orders = builder.table("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// let customers = builder.table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// let joined = orders.join_on_foreign_key_with(
    ///     &customers,
    ///     |customer: &String| customer.clone(),
    ///     |_, name: &String| name.len() as i64,
    ///     TableJoined::as_("order-customer"),
    ///     Materialized::as_("order-customer-store").with_value_serde(Serdes::i64()),
    /// );
    /// assert_eq!(joined.queryable_store_name(), Some("order-customer-store"));
    /// let text = builder.build()?.describe().to_string();
    /// assert!(text.contains("Processor: order-customer-result (stores: [order-customer-store])"));
    /// assert!(text.contains("Sink: order-customer-subscription-registration-sink (topic: order-customer-subscription-registration-topic)"));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join_on_foreign_key_with<KO, VO, VR, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
        joined: TableJoined<K, V, KO, VO>,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V) -> KO + Send + Sync + 'static,
        J: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let joiner = move |v: &V, vo: Option<&VO>| vo.map(|vo| joiner(v, vo));
        self.foreign_key_join(
            other,
            foreign_key,
            joiner,
            JoinKind::Inner,
            joined,
            materialized,
        )
    }

    /// Left join with `other` on a foreign key: every row of this table, joined with the
    /// row of `other` whose key is `foreign_key(value)`, or with `None` when there is no
    /// such row or the foreign key is Kafka's null.
    ///
    /// The rules of [`join_on_foreign_key`](Self::join_on_foreign_key) apply, except that
    /// every update of this table emits a result (`joiner(value, None)` when there is no
    /// right row, whether the foreign key is null, points nowhere or changed), deleting a
    /// right row emits `joiner(value, None)` for its subscribers, and deleting a left row
    /// emits a delete. As in Kafka Streams, a changed foreign key still unsubscribes the
    /// old one, and the left update's timestamp is used when there is no right row.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let orders = builder.table("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// let customers = builder.table("customers", Consumed::with(Serdes::string(), Serdes::string()));
    /// orders
    ///     .left_join_on_foreign_key(&customers, |customer: &String| customer.clone(), |c, name: Option<&String>| {
    ///         format!("{c}: {}", name.map_or("?", String::as_str))
    ///     })
    ///     .to_stream()
    ///     .to("enriched", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::option(Serdes::string()));
    /// let c = driver.create_input_topic("customers", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("enriched", Serdes::string(), Serdes::option(Serdes::string()));
    /// o.pipe_input_at("o1".into(), Some("c1".into()), 10)?;
    /// c.pipe_input_at("c1".into(), Some("Ann".into()), 20)?;
    /// c.pipe_input_at("c1".into(), None, 30)?;
    /// assert_eq!(
    ///     out.read_values_to_list()?,
    ///     vec![Some("c1: ?".to_string()), Some("c1: Ann".to_string()), Some("c1: ?".to_string())]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn left_join_on_foreign_key<KO, VO, VR, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
    ) -> KTable<K, VR>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V) -> KO + Send + Sync + 'static,
        J: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.left_join_on_foreign_key_with(
            other,
            foreign_key,
            joiner,
            TableJoined::default(),
            Materialized::default(),
        )
    }

    /// [`left_join_on_foreign_key`](Self::left_join_on_foreign_key) named and with serdes
    /// by `joined`, and the result's store set up by `materialized`, as
    /// [`join_on_foreign_key_with`](Self::join_on_foreign_key_with).
    pub fn left_join_on_foreign_key_with<KO, VO, VR, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
        joined: TableJoined<K, V, KO, VO>,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V) -> KO + Send + Sync + 'static,
        J: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner = move |v: &V, vo: Option<&VO>| Some(joiner(v, vo));
        self.foreign_key_join(
            other,
            foreign_key,
            joiner,
            JoinKind::Left,
            joined,
            materialized,
        )
    }

    /// Kafka Streams' `doJoinOnForeignKey`. `joiner` gives `None` for a delete.
    fn foreign_key_join<KO, VO, VR, F, J>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: F,
        joiner: J,
        kind: JoinKind,
        joined: TableJoined<K, V, KO, VO>,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        KO: Clone + 'static,
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V) -> KO + Send + Sync + 'static,
        J: Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync + 'static,
    {
        let name = joined.name.clone().or_else(|| self.next_name.clone());
        let mut st = self.builder.borrow_mut();
        // Both sides send old values and are materialized (Kafka Streams'
        // `enableSendingOldValues(true)`): the left side to unsubscribe the old foreign
        // key and to check answers against its current value, the right side to answer.
        let this_getter = self.value_getter(&mut st);
        let other_getter = other.value_getter(&mut st);
        self.enable_sending_old_values();
        other.enable_sending_old_values();
        let names = Names::new(&mut st, name.as_deref(), materialized.name.as_deref());
        let serdes = (
            joined.key_serde.or_else(|| self.key_serde.clone()),
            joined.value_serde.or_else(|| self.value_serde.clone()),
            joined.foreign_key_serde.or_else(|| other.key_serde.clone()),
            joined
                .foreign_value_serde
                .or_else(|| other.value_serde.clone()),
        );
        let (Some(ks), Some(vs), Some(kos), Some(vos)) = serdes else {
            st.fail(Error::Topology(format!(
                "the foreign-key join of '{}' with '{}' needs the key and value serdes of both \
                 tables: give them with TableJoined",
                self.node, other.node
            )));
            drop(st);
            return self.failed_join(names.result);
        };
        let (Some(this_getter), Some(other_getter)) = (this_getter, other_getter) else {
            st.fail(Error::Topology(format!(
                "cannot join '{}' with '{}' on a foreign key: both tables must be materialized \
                 or derived from materialized tables",
                self.node, other.node
            )));
            drop(st);
            return self.failed_join(names.result);
        };
        let result_key_serde = materialized.key_serde.clone().or(Some(ks.clone()));
        let result_value_serde = materialized.value_serde.clone();
        let lazy = Arc::new(LazyStore::new(
            match (&result_key_serde, &result_value_serde) {
                (Some(k), Some(v)) => {
                    table_store_builder(&names.result_store, &materialized, k.clone(), v.clone())
                        .map_err(|e| st.fail(e))
                        .ok()
                }
                _ => None,
            },
            names.result.clone(),
        ));
        let wiring = Wiring {
            names: &names,
            left_join: kind.joins_unmatched_left(),
            extractor: Arc::new(foreign_key),
            joiner: Arc::new(joiner),
            key_serde: ks,
            value_serde: vs,
            foreign_key_serde: kos,
            foreign_value_serde: vos,
            this_getter,
            other_getter,
            lazy: Arc::clone(&lazy),
        };
        let r = wiring.add(&mut st, self, other);
        st.record(r);
        if materialized.forces_store() {
            lazy.materialize(&mut st);
        }
        drop(st);
        let mut table = KTable::new(
            self.builder.clone(),
            names.result,
            result_key_serde,
            result_value_serde,
            Some(names.result_store),
        );
        table.lazy_store = Some(lazy);
        table
    }

    /// The table a join that failed to build returns; `build()` reports the failure.
    fn failed_join<VR: Clone + 'static>(&self, node: String) -> KTable<K, VR> {
        KTable::new(
            self.builder.clone(),
            node,
            self.key_serde.clone(),
            None,
            None,
        )
    }
}

/// The names of the join's nodes, store and topics, taken in Kafka Streams' order: a
/// generated name burns one index each, and a given name `n` still burns them and becomes
/// `n-<suffix>` (Kafka Streams' `NamedInternal.suffixWithOrElseGet`).
struct Names {
    subscription_topic: String,
    send: String,
    subscription_sink: String,
    subscription_source: String,
    subscription_store: String,
    receive: String,
    subscription_join: String,
    foreign_join: String,
    response_topic: String,
    response_sink: String,
    response_source: String,
    resolver: String,
    result: String,
    result_store: String,
}

impl Names {
    fn new(st: &mut BuilderState, name: Option<&str>, store: Option<&str>) -> Self {
        let mut n = |suffix: &str, prefix: &str| {
            let generated = st.new_name(prefix);
            name.map_or(generated, |n| format!("{n}{suffix}"))
        };
        let subscription_topic = format!(
            "{}{TOPIC_SUFFIX}",
            n("-subscription-registration", SUBSCRIPTION_REGISTRATION)
        );
        let send = n(
            "-subscription-registration-processor",
            SUBSCRIPTION_REGISTRATION,
        );
        let subscription_sink = n("-subscription-registration-sink", SINK);
        let subscription_source = n("-subscription-registration-source", SOURCE);
        let subscription_store = n("-subscription-store", SUBSCRIPTION_STORE);
        let receive = n("-subscription-receive", SUBSCRIPTION_PROCESSOR);
        let subscription_join = n("-subscription-join-foreign", SUBSCRIPTION_PROCESSOR);
        let foreign_join = n("-foreign-join-subscription", SUBSCRIPTION_PROCESSOR);
        let response_topic = format!(
            "{}{TOPIC_SUFFIX}",
            n("-subscription-response", SUBSCRIPTION_RESPONSE)
        );
        let response_sink = n("-subscription-response-sink", SINK);
        let response_source = n("-subscription-response-source", SOURCE);
        let resolver = n("-subscription-response-resolver", RESPONSE_RESOLVER);
        let result = n("-result", OUTPUT);
        // Kafka Streams' `MaterializedInternal`: an unnamed store takes a generated name.
        let result_store = match store {
            Some(s) => s.to_owned(),
            None => st.new_name(&format!("{OUTPUT}STATE-STORE-")),
        };
        Names {
            subscription_topic,
            send,
            subscription_sink,
            subscription_source,
            subscription_store,
            receive,
            subscription_join,
            foreign_join,
            response_topic,
            response_sink,
            response_source,
            resolver,
            result,
            result_store,
        }
    }
}

/// Everything the join's nodes are made of.
struct Wiring<'n, K, V, KO, VO, F, J> {
    names: &'n Names,
    left_join: bool,
    extractor: Arc<F>,
    joiner: Arc<J>,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    foreign_key_serde: SerdeRef<KO>,
    foreign_value_serde: SerdeRef<VO>,
    this_getter: super::GetterRef<K, V>,
    other_getter: super::GetterRef<KO, VO>,
    lazy: Arc<LazyStore>,
}

impl<K, V, KO, VO, F, J> Wiring<'_, K, V, KO, VO, F, J>
where
    K: Clone + 'static,
    V: Clone + 'static,
    KO: Clone + 'static,
    VO: Clone + 'static,
    F: Fn(&V) -> KO + Send + Sync + 'static,
{
    /// Adds the nodes in the order Kafka Streams writes them, so that `describe()` matches.
    fn add<VR>(
        self,
        st: &mut BuilderState,
        this: &KTable<K, V>,
        other: &KTable<KO, VO>,
    ) -> Result<()>
    where
        VR: Clone + 'static,
        J: Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync + 'static,
    {
        let n = self.names;
        let this_sources = st.topology.upstream_source_topics(&this.node);
        let other_sources = st.topology.upstream_source_topics(&other.node);
        let topics = PseudoTopics::new(n.subscription_topic.clone());
        let subscription_serde = Arc::new(SubscriptionSerde {
            primary_key: self.key_serde.clone(),
            topics: Arc::clone(&topics),
        });
        let response_serde = Arc::new(ResponseSerde {
            foreign_value: self.foreign_value_serde.clone(),
        });
        let subscription_key_serde = Serdes::option(self.foreign_key_serde.clone());
        let t = &mut st.topology;

        // Left side: subscriptions out.
        t.add_internal_topic(InternalTopic {
            name: n.subscription_topic.clone(),
            kind: InternalTopicKind::Repartition,
            partitions: None,
        });
        let (extractor, fk, vs, tp) = (
            Arc::clone(&self.extractor),
            self.foreign_key_serde.clone(),
            self.value_serde.clone(),
            Arc::clone(&topics),
        );
        let left_join = self.left_join;
        t.add_processor::<K, super::Change<V>, Option<KO>, _, _, _>(
            &n.send,
            move || SubscriptionSend {
                extractor: Arc::clone(&extractor),
                foreign_key_serde: fk.clone(),
                value_serde: vs.clone(),
                left_join,
                topics: Arc::clone(&tp),
                old_buf: Vec::new(),
                new_buf: Vec::new(),
            },
            &[this.node.as_str()],
        )?;
        t.add_sink(
            &n.subscription_sink,
            &n.subscription_topic,
            Produced::with(subscription_key_serde.clone(), subscription_serde.clone()),
            &[n.send.as_str()],
        )?;

        // Right side: subscriptions in, answers out.
        t.add_source(
            &n.subscription_source,
            &[n.subscription_topic.as_str()],
            Consumed::with(subscription_key_serde, subscription_serde.clone()),
        )?;
        let (store, fk, pk, tp) = (
            n.subscription_store.clone(),
            self.foreign_key_serde.clone(),
            self.key_serde.clone(),
            Arc::clone(&topics),
        );
        t.add_processor::<Option<KO>, _, _, _, _, _>(
            &n.receive,
            move || SubscriptionReceive {
                store_name: store.clone(),
                store: None,
                foreign_key_serde: fk.clone(),
                primary_key_serde: pk.clone(),
                topics: Arc::clone(&tp),
                buf: Vec::new(),
            },
            &[n.subscription_source.as_str()],
        )?;
        let og = Arc::clone(&self.other_getter);
        t.add_processor::<_, _, K, Response<VO>, _, _>(
            &n.subscription_join,
            move || SubscriptionJoin {
                foreign: Arc::clone(&og),
                getter: None,
            },
            &[n.receive.as_str()],
        )?;
        let other_stores = self.other_getter.stores();
        let os: Vec<&str> = other_stores.iter().map(String::as_str).collect();
        t.connect_processor_and_state_stores(&n.subscription_join, &os)?;
        let (store, fk, tp) = (
            n.subscription_store.clone(),
            self.foreign_key_serde.clone(),
            Arc::clone(&topics),
        );
        t.add_processor::<KO, super::Change<VO>, K, Response<VO>, _, _>(
            &n.foreign_join,
            move || ForeignTableJoin {
                store_name: store.clone(),
                store: None,
                foreign_key_serde: fk.clone(),
                topics: Arc::clone(&tp),
                buf: Vec::new(),
            },
            &[other.node.as_str()],
        )?;
        let store = Stores::timestamped_key_value_store_builder(
            Stores::persistent_timestamped_key_value_store(n.subscription_store.as_str()),
            Serdes::bytes(),
            subscription_serde as SerdeRef<_>,
        )
        .with_caching_disabled()
        .with_logging_enabled(BTreeMap::new());
        t.add_state_store(
            Arc::new(store),
            &[n.receive.as_str(), n.foreign_join.as_str()],
        )?;
        let mut group: Vec<&str> = other_sources.iter().map(String::as_str).collect();
        group.push(&n.subscription_topic);
        t.add_copartition_group(&group);

        t.add_internal_topic(InternalTopic {
            name: n.response_topic.clone(),
            kind: InternalTopicKind::Repartition,
            partitions: None,
        });
        // Each answer goes back to the partition of the left row that subscribed.
        t.add_sink(
            &n.response_sink,
            &n.response_topic,
            Produced::with(
                self.key_serde.clone(),
                response_serde.clone() as SerdeRef<_>,
            )
            .with_partitioner(|_: &str, _: &K, r: &Response<VO>, _: i32| r.primary_partition),
            &[n.subscription_join.as_str(), n.foreign_join.as_str()],
        )?;

        // Left side: answers in, results out.
        t.add_source(
            &n.response_source,
            &[n.response_topic.as_str()],
            Consumed::with(self.key_serde.clone(), response_serde as SerdeRef<_>),
        )?;
        let (tg, vs, tp, joiner) = (
            Arc::clone(&self.this_getter),
            self.value_serde.clone(),
            Arc::clone(&topics),
            Arc::clone(&self.joiner),
        );
        t.add_processor::<K, Response<VO>, K, Option<VR>, _, _>(
            &n.resolver,
            move || ResponseJoin {
                left: Arc::clone(&tg),
                getter: None,
                value_serde: vs.clone(),
                topics: Arc::clone(&tp),
                joiner: Arc::clone(&joiner),
                buf: Vec::new(),
            },
            &[n.response_source.as_str()],
        )?;
        let this_stores = self.this_getter.stores();
        let ts: Vec<&str> = this_stores.iter().map(String::as_str).collect();
        t.connect_processor_and_state_stores(&n.resolver, &ts)?;
        let (lazy, result_store) = (Arc::clone(&self.lazy), n.result_store.clone());
        t.add_processor::<K, Option<VR>, K, super::Change<VR>, _, _>(
            &n.result,
            move || ResultSource {
                store: lazy
                    .is_added()
                    .then(|| TableStore::new(result_store.clone())),
            },
            &[n.resolver.as_str()],
        )?;
        let mut group: Vec<&str> = this_sources.iter().map(String::as_str).collect();
        group.push(&n.response_topic);
        t.add_copartition_group(&group);
        Ok(())
    }
}
