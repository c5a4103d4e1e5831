//! The processors of the foreign-key join, one per Kafka Streams supplier in
//! `kstream/internals/foreignkeyjoin`, and the result table's source.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::state::{KeyValueStore, ReadOnlyKeyValueStore, ValueAndTimestamp};
use streams_core::{Error, Record, Result, SerdeRef};
use streams_state::TimestampedKeyValueStore;

use super::super::store::TableStore;
use super::super::{Change, GetterRef, ValueGetter};
use super::wire::{
    CombinedKey, Hash, Instruction, PseudoTopics, Response, Subscription, value_hash, write_prefix,
};

/// The subscription store: subscriptions by `{foreign key length}{foreign key}{primary key}`.
pub(super) type SubscriptionStore<K> = TimestampedKeyValueStore<Vec<u8>, Subscription<K>>;

fn not_initialized(what: &str) -> Error {
    Error::IllegalState(format!("{what} processed a record before init"))
}

/// The partition of the record being processed, which responses are sent back to.
fn current_partition<K, V>(ctx: &ProcessorContext<'_, K, V>) -> i32 {
    ctx.record_metadata()
        .map_or(ctx.task_id().partition, |m| m.partition)
}

/// Kafka Streams' `SubscriptionSendProcessorSupplier`: turns each update of the left table
/// into subscriptions keyed by foreign key, with instructions for the right side.
pub(super) struct SubscriptionSend<V, KO, F> {
    pub(super) extractor: Arc<F>,
    pub(super) foreign_key_serde: SerdeRef<KO>,
    pub(super) value_serde: SerdeRef<V>,
    pub(super) left_join: bool,
    pub(super) topics: Arc<PseudoTopics>,
    pub(super) old_buf: Vec<u8>,
    pub(super) new_buf: Vec<u8>,
}

impl<V, KO, F> SubscriptionSend<V, KO, F>
where
    V: 'static,
    KO: 'static,
    F: Fn(&V) -> KO,
{
    /// The foreign key of `value`, `None` when the extractor gives Kafka's null.
    fn foreign_key(&self, value: Option<&V>) -> Option<KO> {
        let fk = (self.extractor)(value?);
        (!self.foreign_key_serde.is_null(&fk)).then_some(fk)
    }

    /// Whether the serialized foreign keys differ (Kafka Streams compares bytes).
    fn foreign_key_changed(&mut self, new: Option<&KO>, old: &KO) -> Result<bool> {
        let topic = self.topics.foreign_key();
        self.old_buf.clear();
        let old_present = self
            .foreign_key_serde
            .serialize(topic, old, &mut self.old_buf)?;
        self.new_buf.clear();
        let new_present = match new {
            Some(k) => self
                .foreign_key_serde
                .serialize(topic, k, &mut self.new_buf)?,
            None => false,
        };
        Ok(old_present != new_present || (old_present && self.old_buf != self.new_buf))
    }
}

/// One left update's subscriptions, sharing the update's key, timestamp, headers and hash.
struct Sender<'r, K> {
    key: &'r K,
    timestamp: i64,
    headers: &'r streams_core::Headers,
    hash: Option<Hash>,
    partition: i32,
}

impl<K: Clone + 'static> Sender<'_, K> {
    fn send<KO: Clone + 'static>(
        &self,
        foreign_key: Option<KO>,
        instruction: Instruction,
        ctx: &mut ProcessorContext<'_, Option<KO>, Subscription<K>>,
    ) -> Result<()> {
        ctx.forward(Record {
            key: foreign_key,
            value: Subscription::new(self.hash, instruction, self.key.clone(), self.partition),
            timestamp: self.timestamp,
            headers: self.headers.clone(),
        })
    }
}

impl<K, V, KO, F> Processor<K, Change<V>, Option<KO>, Subscription<K>>
    for SubscriptionSend<V, KO, F>
where
    K: Clone + 'static,
    V: 'static,
    KO: Clone + 'static,
    F: Fn(&V) -> KO + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Option<KO>, Subscription<K>>) -> Result<()> {
        self.topics.init(ctx.application_id());
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, Option<KO>, Subscription<K>>,
    ) -> Result<()> {
        let change = &record.value;
        // An out-of-order update of a versioned table changes its history, not the joined
        // rows; Kafka Streams counts it as dropped (`useVersionedSemantics`).
        if !change.is_latest {
            ctx.record_dropped();
            return Ok(());
        }
        if change.old.is_none() && change.new.is_none() {
            // Deleting a row the table did not have: nothing was subscribed.
            return Ok(());
        }
        let hash = match &change.new {
            Some(v) => Some(value_hash(
                &self.value_serde,
                self.topics.value_hash(),
                v,
                &mut self.new_buf,
            )?),
            None => None,
        };
        let sender = Sender {
            key: &record.key,
            timestamp: record.timestamp,
            headers: &record.headers,
            hash,
            partition: current_partition(ctx),
        };
        let old_fk = self.foreign_key(change.old.as_ref());
        if self.left_join {
            let new_fk = self.foreign_key(change.new.as_ref());
            if let Some(old) = &old_fk
                && self.foreign_key_changed(new_fk.as_ref(), old)?
            {
                sender.send(old_fk, Instruction::DeleteKeyNoPropagate, ctx)?;
            }
            // Every update (a delete or a null foreign key included) gets a response, so
            // that the left join always emits: a null foreign key is sent with a null key.
            return sender.send(new_fk, Instruction::PropagateNullIfNoFkValAvailable, ctx);
        }
        match &change.new {
            Some(_) => match self.foreign_key(change.new.as_ref()) {
                None => {
                    tracing::warn!(
                        node = ctx.node_name(),
                        "skipping record due to null foreign key"
                    );
                    ctx.record_dropped();
                    if old_fk.is_some() {
                        sender.send(old_fk, Instruction::DeleteKeyAndPropagate, ctx)?;
                    }
                    Ok(())
                }
                Some(new_fk) => match &old_fk {
                    Some(old) if self.foreign_key_changed(Some(&new_fk), old)? => {
                        sender.send(old_fk, Instruction::DeleteKeyNoPropagate, ctx)?;
                        sender.send(
                            Some(new_fk),
                            Instruction::PropagateNullIfNoFkValAvailable,
                            ctx,
                        )
                    }
                    _ => sender.send(
                        Some(new_fk),
                        Instruction::PropagateOnlyIfFkValAvailable,
                        ctx,
                    ),
                },
            },
            None if old_fk.is_some() => {
                sender.send(old_fk, Instruction::DeleteKeyAndPropagate, ctx)
            }
            None => Ok(()),
        }
    }
}

/// Kafka Streams' `SubscriptionReceiveProcessorSupplier`: keeps the subscriptions in the
/// subscription store and passes them on with their foreign key and primary key.
pub(super) struct SubscriptionReceive<K, KO> {
    pub(super) store_name: String,
    pub(super) store: Option<Rc<RefCell<SubscriptionStore<K>>>>,
    pub(super) foreign_key_serde: SerdeRef<KO>,
    pub(super) primary_key_serde: SerdeRef<K>,
    pub(super) topics: Arc<PseudoTopics>,
    pub(super) buf: Vec<u8>,
}

impl<K, KO>
    Processor<Option<KO>, Subscription<K>, CombinedKey<KO, K>, ValueAndTimestamp<Subscription<K>>>
    for SubscriptionReceive<K, KO>
where
    K: Clone + 'static,
    KO: Clone + 'static,
{
    fn init(
        &mut self,
        ctx: &mut ProcessorContext<'_, CombinedKey<KO, K>, ValueAndTimestamp<Subscription<K>>>,
    ) -> Result<()> {
        self.topics.init(ctx.application_id());
        self.store = Some(ctx.state_store::<SubscriptionStore<K>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Option<KO>, Subscription<K>>,
        ctx: &mut ProcessorContext<'_, CombinedKey<KO, K>, ValueAndTimestamp<Subscription<K>>>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let key = key.filter(|k| !self.foreign_key_serde.is_null(k));
        let subscription = ValueAndTimestamp::new(value, timestamp);
        let instruction = subscription.value.instruction;
        match &key {
            None if instruction != Instruction::PropagateNullIfNoFkValAvailable => {
                tracing::warn!(
                    node = ctx.node_name(),
                    "skipping record due to null foreign key"
                );
                ctx.record_dropped();
                return Ok(());
            }
            // A left join's null foreign key: answered (with no value), never stored.
            None => {}
            Some(fk) => {
                write_prefix(
                    &mut self.buf,
                    &self.foreign_key_serde,
                    self.topics.foreign_key(),
                    fk,
                )?;
                self.primary_key_serde.serialize(
                    self.topics.primary_key(),
                    &subscription.value.primary_key,
                    &mut self.buf,
                )?;
                let store = self
                    .store
                    .as_ref()
                    .ok_or_else(|| not_initialized("foreign-key join subscription receiver"))?;
                let mut store = store.borrow_mut();
                if instruction.unsubscribes() {
                    store.delete(&self.buf)?;
                } else {
                    store.put(&self.buf, &subscription)?;
                }
            }
        }
        ctx.forward(Record {
            key: CombinedKey {
                foreign_key: key,
                primary_key: subscription.value.primary_key.clone(),
            },
            value: subscription,
            timestamp,
            headers,
        })
    }
}

/// Kafka Streams' `SubscriptionJoinProcessorSupplier`: answers a subscription with the
/// right table's current value for its foreign key, as its instruction says.
pub(super) struct SubscriptionJoin<KO, VO> {
    pub(super) foreign: GetterRef<KO, VO>,
    pub(super) getter: Option<Box<dyn ValueGetter<KO, VO>>>,
}

impl<K, KO, VO> Processor<CombinedKey<KO, K>, ValueAndTimestamp<Subscription<K>>, K, Response<VO>>
    for SubscriptionJoin<KO, VO>
where
    K: Clone + 'static,
    KO: 'static,
    VO: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Response<VO>>) -> Result<()> {
        self.getter = Some(self.foreign.getter(&|name| ctx.state_store_any(name))?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<CombinedKey<KO, K>, ValueAndTimestamp<Subscription<K>>>,
        ctx: &mut ProcessorContext<'_, K, Response<VO>>,
    ) -> Result<()> {
        let getter = self
            .getter
            .as_mut()
            .ok_or_else(|| not_initialized("foreign-key join subscription join"))?;
        let Record {
            key,
            value: subscription,
            headers,
            ..
        } = record;
        let foreign = match &key.foreign_key {
            Some(fk) => getter.get(fk)?,
            None => None,
        };
        let timestamp = foreign.as_ref().map_or(subscription.timestamp, |f| {
            subscription.timestamp.max(f.timestamp)
        });
        let sub = subscription.value;
        let foreign_value = match sub.instruction {
            Instruction::DeleteKeyNoPropagate => return Ok(()),
            Instruction::DeleteKeyAndPropagate => None,
            Instruction::PropagateNullIfNoFkValAvailable => foreign.map(|f| f.value),
            Instruction::PropagateOnlyIfFkValAvailable => match foreign {
                Some(f) => Some(f.value),
                None => return Ok(()),
            },
        };
        ctx.forward(Record {
            key: key.primary_key,
            value: Response {
                hash: sub.hash,
                foreign_value,
                primary_partition: sub.primary_partition,
            },
            timestamp,
            headers,
        })
    }
}

/// Kafka Streams' `ForeignTableJoinProcessorSupplier`: an update of the right table answers
/// every subscription to its key, found by a prefix scan of the subscription store, with
/// the new value (`None` for a delete) and the update's timestamp.
pub(super) struct ForeignTableJoin<K, KO> {
    pub(super) store_name: String,
    pub(super) store: Option<Rc<RefCell<SubscriptionStore<K>>>>,
    pub(super) foreign_key_serde: SerdeRef<KO>,
    pub(super) topics: Arc<PseudoTopics>,
    pub(super) buf: Vec<u8>,
}

impl<K, KO, VO> Processor<KO, Change<VO>, K, Response<VO>> for ForeignTableJoin<K, KO>
where
    K: Clone + 'static,
    KO: 'static,
    VO: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Response<VO>>) -> Result<()> {
        self.topics.init(ctx.application_id());
        self.store = Some(ctx.state_store::<SubscriptionStore<K>>(&self.store_name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<KO, Change<VO>>,
        ctx: &mut ProcessorContext<'_, K, Response<VO>>,
    ) -> Result<()> {
        if self.foreign_key_serde.is_null(&record.key) {
            tracing::warn!(node = ctx.node_name(), "skipping record due to null key");
            ctx.record_dropped();
            return Ok(());
        }
        if !record.value.is_latest {
            ctx.record_dropped();
            return Ok(());
        }
        write_prefix(
            &mut self.buf,
            &self.foreign_key_serde,
            self.topics.foreign_key(),
            &record.key,
        )?;
        let store = Rc::clone(
            self.store
                .as_ref()
                .ok_or_else(|| not_initialized("foreign-key join right-table join"))?,
        );
        let store = store.borrow();
        for entry in store.prefix_scan(&self.buf)? {
            let (_, subscription) = entry?;
            let sub = subscription.value;
            ctx.forward(Record {
                key: sub.primary_key,
                value: Response {
                    hash: sub.hash,
                    foreign_value: record.value.new.clone(),
                    primary_partition: sub.primary_partition,
                },
                timestamp: record.timestamp,
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// Kafka Streams' `ResponseJoinProcessorSupplier`: drops a response whose hash is not the
/// hash of the left row's current value (the row changed since it subscribed), and joins
/// the others. `joiner` gives `None` for "emit a delete".
pub(super) struct ResponseJoin<K, V, J> {
    pub(super) left: GetterRef<K, V>,
    pub(super) getter: Option<Box<dyn ValueGetter<K, V>>>,
    pub(super) value_serde: SerdeRef<V>,
    pub(super) topics: Arc<PseudoTopics>,
    pub(super) joiner: Arc<J>,
    pub(super) buf: Vec<u8>,
}

impl<K, V, VO, VR, J> Processor<K, Response<VO>, K, Option<VR>> for ResponseJoin<K, V, J>
where
    K: Clone + 'static,
    V: 'static,
    VO: 'static,
    VR: Clone + 'static,
    J: Fn(&V, Option<&VO>) -> Option<VR> + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Option<VR>>) -> Result<()> {
        self.topics.init(ctx.application_id());
        self.getter = Some(self.left.getter(&|name| ctx.state_store_any(name))?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Response<VO>>,
        ctx: &mut ProcessorContext<'_, K, Option<VR>>,
    ) -> Result<()> {
        let getter = self
            .getter
            .as_mut()
            .ok_or_else(|| not_initialized("foreign-key join response join"))?;
        let current = getter.get(&record.key)?;
        let current_hash = match &current {
            Some(c) => Some(value_hash(
                &self.value_serde,
                self.topics.value_hash(),
                &c.value,
                &mut self.buf,
            )?),
            None => None,
        };
        if current_hash != record.value.hash {
            tracing::trace!(
                node = ctx.node_name(),
                "dropping foreign-key join response due to hash mismatch"
            );
            ctx.record_dropped();
            return Ok(());
        }
        let result =
            current.and_then(|c| (self.joiner)(&c.value, record.value.foreign_value.as_ref()));
        ctx.forward(Record {
            key: record.key,
            value: result,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// The result table's source (Kafka Streams' `KTableSource` under the join): keeps the
/// result in its store when it has one, and forwards each result as a change; `None` is a
/// delete.
pub(super) struct ResultSource<K, VR> {
    pub(super) store: Option<TableStore<K, VR>>,
}

impl<K, VR> Processor<K, Option<VR>, K, Change<VR>> for ResultSource<K, VR>
where
    K: Clone + 'static,
    VR: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        match &mut self.store {
            Some(s) => s.init(ctx),
            None => Ok(()),
        }
    }

    fn process(
        &mut self,
        record: Record<K, Option<VR>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let Some(store) = &mut self.store else {
            return ctx.forward(Record {
                key,
                value: Change::new(value, None),
                timestamp,
                headers,
            });
        };
        let old = store.get(&key)?.map(|o| o.value);
        store.put_and_forward(key, Change::new(value, old), timestamp, headers, ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        match &mut self.store {
            Some(s) => s.flush(ctx),
            None => Ok(()),
        }
    }
}
