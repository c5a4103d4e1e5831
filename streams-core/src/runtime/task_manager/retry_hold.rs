//! Records of retry topics wait until they are due, without holding anything else up.
//!
//! A record on `<topic>.retry-n` carries the wall-clock time from which it may be processed
//! again (`retry-due-at`). When the consumer hands the thread one that is not due yet, the
//! thread keeps it (and anything of that partition the consumer still hands out) in memory,
//! in order, and pauses the partition: librdkafka stops fetching it and drops what it had
//! prefetched, and resumes from the position after the last record it handed out, so the
//! records kept here are the partition's whole backlog between the two. Once the first
//! kept record is due, the kept records go to the task in order as they fall due; when
//! none is left, the partition resumes. The other partitions, and the thread, never wait:
//! the thread only shortens its poll so that it wakes up when the next kept record is due.
//!
//! Nothing here is committed: a kept record is not processed, so its task's committed
//! offset for the retry partition stays before it, and a crash or a rebalance reads it
//! again from there. The records of a partition whose task closes are dropped with it for
//! the same reason; the partition's next task pauses and resumes it while it restores,
//! which clears the pause.
//!
//! The delay is the same for every record of a retry topic and records are appended as
//! they fail, so due times grow along a partition: waiting for the first kept record holds
//! back no record that is due sooner.

use std::collections::{HashMap, VecDeque};

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{BorrowedMessage, Headers as _, Message, OwnedMessage};

use super::TaskManager;
use super::restoring::{pause, resume};
use crate::error::Result;
use crate::retry::RETRY_DUE_AT_HEADER;
use crate::runtime::clock::now_ms;
use crate::runtime::consumed::raw_record;
use crate::runtime::rebalance::{GroupContext, Tp};

/// The records kept for the retry partitions that wait, by partition.
#[derive(Default)]
pub(super) struct RetryHold {
    waiting: HashMap<Tp, VecDeque<(i64, OwnedMessage)>>,
}

impl RetryHold {
    /// When the first record kept, of any partition, is due (epoch milliseconds).
    pub(super) fn next_due(&self) -> Option<i64> {
        self.waiting
            .values()
            .filter_map(|q| q.front().map(|(due, _)| *due))
            .min()
    }

    /// Drops what is kept for `partitions`, whose task closed.
    pub(super) fn forget(&mut self, partitions: &[Tp]) {
        for tp in partitions {
            self.waiting.remove(tp);
        }
    }
}

impl TaskManager {
    /// Keeps `message`, of a retry topic, when it is not due yet or its partition already
    /// waits; returns whether it was kept.
    pub(super) fn hold_if_not_due(
        &mut self,
        consumer: &BaseConsumer<GroupContext>,
        message: &BorrowedMessage<'_>,
    ) -> bool {
        let tp: Tp = (message.topic().to_owned(), message.partition());
        if let Some(queue) = self.retry_hold.waiting.get_mut(&tp) {
            let due = due_of(message).unwrap_or(i64::MIN);
            queue.push_back((due, message.detach()));
            return true;
        }
        let Some(due) = due_of(message) else {
            return false;
        };
        if due <= now_ms() {
            return false;
        }
        tracing::debug!(topic = %tp.0, partition = tp.1, offset = message.offset(), due,
            "a retried record is not due yet; pausing its partition until it is");
        pause(consumer, std::slice::from_ref(&tp));
        self.retry_hold
            .waiting
            .insert(tp, VecDeque::from([(due, message.detach())]));
        true
    }

    /// Hands the kept records that are due to their tasks, in order, and resumes the
    /// partitions that have nothing kept any more.
    pub(super) fn release_due(&mut self, consumer: &BaseConsumer<GroupContext>) -> Result<()> {
        let now = now_ms();
        if self.retry_hold.next_due().is_none_or(|due| due > now) {
            return Ok(());
        }
        let ready: Vec<Tp> = self
            .retry_hold
            .waiting
            .iter()
            .filter(|(_, q)| q.front().is_some_and(|(due, _)| *due <= now))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in ready {
            let Some(mut queue) = self.retry_hold.waiting.remove(&tp) else {
                continue;
            };
            while queue.front().is_some_and(|(due, _)| *due <= now) {
                let Some((_, message)) = queue.pop_front() else {
                    break;
                };
                self.add_owned(&message)?;
            }
            if queue.is_empty() {
                resume(consumer, std::slice::from_ref(&tp));
            } else {
                self.retry_hold.waiting.insert(tp, queue);
            }
        }
        Ok(())
    }

    /// Adds a kept record to its task, as [`add_message`](Self::add_message) does.
    fn add_owned(&mut self, message: &OwnedMessage) -> Result<()> {
        let raw = raw_record(message);
        self.add_raw(message.topic(), message.partition(), raw)
            .map(|_| ())
    }
}

/// The `retry-due-at` header of a message, read without copying its headers.
fn due_of<M: Message>(message: &M) -> Option<i64> {
    let headers = message.headers()?;
    let mut due = None;
    for i in 0..headers.count() {
        let h = headers.get(i);
        if h.key == RETRY_DUE_AT_HEADER {
            due = h
                .value
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|s| s.parse::<i64>().ok());
        }
    }
    due
}
