//! The group member's side of a rebalance: the consumer context whose rebalance callback
//! assigns whole tasks (see [`TaskLayout`]) and applies the sources' own offset reset
//! policies, and the [`RebalanceListener`] it tells about the partitions that come and go.
//! The context also publishes the consumer lag from librdkafka's statistics and logs the
//! consumer's messages.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

use crate::error::Error;
use crate::options::OffsetReset;
use crate::runtime::assignment::TaskLayout;
use crate::runtime::client_log::{client_error, log_line};
use crate::runtime::metrics::consumer_lag;
use crate::runtime::shared::{Shared, ThreadState};

/// How long an assignment waits for the committed offsets of sources with their own reset
/// policy.
const RESET_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic-partition.
pub(crate) type Tp = (String, i32);

/// What a stream thread does when the group changes its assignment. The rebalance callbacks
/// librdkafka runs inside `poll` call it on the thread that polls.
pub(crate) trait RebalanceListener {
    /// `partitions` were assigned to this member.
    fn on_assigned(&mut self, partitions: &[Tp]);

    /// `partitions` are revoked: this member still owns them until this returns.
    fn on_revoked(&mut self, consumer: &BaseConsumer<GroupContext>, partitions: &[Tp]);

    /// `partitions` were lost: another member may own them already.
    fn on_lost(&mut self, partitions: &[Tp]);

    /// A callback failed with `error`, to be reported once `poll` returns.
    fn on_callback_error(&mut self, error: Error);
}

thread_local! {
    /// The listener of the stream thread running on this OS thread, for the rebalance
    /// callbacks librdkafka runs inside `poll` on this same thread.
    static LISTENER: RefCell<Option<Rc<RefCell<dyn RebalanceListener>>>> = const { RefCell::new(None) };
}

/// Makes `listener` the one the rebalance callbacks on this OS thread call.
pub(crate) fn set_listener(listener: Rc<RefCell<dyn RebalanceListener>>) {
    LISTENER.with(|slot| *slot.borrow_mut() = Some(listener));
}

/// Leaves the rebalance callbacks on this OS thread without a listener.
pub(crate) fn clear_listener() {
    LISTENER.with(|slot| slot.borrow_mut().take());
}

fn with_listener(f: impl FnOnce(&mut dyn RebalanceListener)) {
    let listener = LISTENER.with(|slot| slot.borrow().clone());
    if let Some(l) = listener {
        match l.try_borrow_mut() {
            Ok(mut l) => f(&mut *l),
            Err(_) => tracing::error!("rebalance callback while the task manager is busy"),
        }
    }
}

/// The group member's context: rebalance callbacks, statistics for consumer lag, logging.
pub(crate) struct GroupContext {
    client: String,
    index: usize,
    shared: Arc<Shared>,
    /// Source topics with their own offset reset policy.
    resets: BTreeMap<String, OffsetReset>,
    /// Which partitions make up each task.
    layout: TaskLayout,
}

impl GroupContext {
    /// The context of stream thread `index`'s consumer, named `client`.
    pub(crate) fn new(
        client: String,
        index: usize,
        shared: Arc<Shared>,
        resets: BTreeMap<String, OffsetReset>,
        layout: TaskLayout,
    ) -> Self {
        GroupContext {
            client,
            index,
            shared,
            resets,
            layout,
        }
    }

    /// Starts the newly assigned partitions of topics with their own reset policy, and no
    /// committed offset, at their beginning or end (Kafka Streams' per-source
    /// `AutoOffsetReset`). Partitions with a committed offset resume from it.
    fn apply_offset_resets(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let mut own = TopicPartitionList::new();
        for e in tpl.elements() {
            if self.resets.contains_key(e.topic()) {
                own.add_partition(e.topic(), e.partition());
            }
        }
        if own.count() == 0 {
            return;
        }
        let committed = match consumer.committed_offsets(own, RESET_LOOKUP_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                // Without the committed offsets the consumer's own policy applies.
                tracing::warn!(error = %e, "cannot read committed offsets; per-source offset reset not applied");
                return;
            }
        };
        for c in committed.elements() {
            if c.offset() != Offset::Invalid {
                continue;
            }
            let Some(reset) = self.resets.get(c.topic()) else {
                continue;
            };
            let start = match reset {
                OffsetReset::Earliest => Offset::Beginning,
                OffsetReset::Latest => Offset::End,
            };
            for mut e in tpl.elements_for_topic(c.topic()) {
                if e.partition() == c.partition()
                    && let Err(err) = e.set_offset(start)
                {
                    tracing::warn!(topic = c.topic(), partition = c.partition(), error = %err,
                        "cannot apply the source's offset reset");
                }
            }
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_line(&self.client, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.client, &error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        self.shared
            .publish_lag(self.index, consumer_lag(&statistics));
    }
}

impl ConsumerContext for GroupContext {
    /// librdkafka's rebalance callback, replaced to assign by task (see
    /// [`TaskLayout`]): the partitions the group assigned are widened to whole tasks
    /// before they are assigned, and a revocation gives up what this member actually
    /// reads. The protocol is eager, so a revocation always gives up everything.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let group = partitions_of(tpl);
                let mut mine = TopicPartitionList::new();
                for (topic, partition) in self.layout.expand(&group) {
                    mine.add_partition(&topic, partition);
                }
                let rebalance = Rebalance::Assign(&mine);
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.assign(&mine) {
                    tracing::error!(error = %e, "cannot assign the partitions of the assigned tasks");
                    with_listener(|l| {
                        l.on_callback_error(Error::TaskMigrated {
                            context: "assigning the partitions of the assigned tasks".into(),
                            source: Box::new(e),
                        });
                    });
                    return;
                }
                self.post_rebalance(consumer, &rebalance);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let current = consumer.assignment().unwrap_or_else(|_| tpl.clone());
                let rebalance = Rebalance::Revoke(&current);
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "cannot unassign the revoked partitions");
                }
                self.post_rebalance(consumer, &rebalance);
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                let rebalance = Rebalance::Error(KafkaError::Rebalance(code));
                self.pre_rebalance(consumer, &rebalance);
                if let Err(e) = consumer.unassign() {
                    tracing::warn!(error = %e, "cannot unassign after a failed rebalance");
                }
                self.post_rebalance(consumer, &rebalance);
            }
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance
            && !self.resets.is_empty()
        {
            self.apply_offset_resets(consumer, tpl);
        }
        if let Rebalance::Revoke(tpl) = rebalance {
            self.shared
                .set_thread_state(self.index, ThreadState::Rebalancing);
            let revoked = partitions_of(tpl);
            if consumer.assignment_lost() {
                // Another member may own these partitions already: nothing may be
                // committed for them (Kafka Streams' `handleLostAll`).
                tracing::warn!(partitions = ?revoked, "partitions lost");
                with_listener(|l| l.on_lost(&revoked));
            } else {
                tracing::info!(partitions = ?revoked, "partitions revoked");
                with_listener(|l| l.on_revoked(consumer, &revoked));
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.shared
                    .set_thread_state(self.index, ThreadState::Rebalancing);
                let assigned = partitions_of(tpl);
                tracing::info!(partitions = ?assigned, "partitions assigned");
                with_listener(|l| l.on_assigned(&assigned));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// The topic-partitions of `tpl`.
fn partitions_of(tpl: &TopicPartitionList) -> Vec<Tp> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}
