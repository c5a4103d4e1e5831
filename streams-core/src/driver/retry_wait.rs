//! Retried records in the driver wait for the wall clock, as the runtime makes them wait
//! (see the driver's module docs).

use super::{DriverInner, Output};
use crate::context::RawRecord;
use crate::error::Result;
use crate::retry::due_at;

/// A record written to a retry topic, waiting until it is due.
pub(super) struct Waiting {
    due: i64,
    offset: i64,
    record: Output,
}

impl DriverInner {
    /// Keeps a copy of `record`, written at `offset`, when it went to a retry topic and is
    /// not due at the driver's wall clock; returns whether it was kept.
    pub(super) fn wait_if_retried(&mut self, record: &Output, offset: i64) -> bool {
        let Some(chains) = self.topology.retry_chains() else {
            return false;
        };
        let is_retry = chains.is_retry_topic(self.collector.borrow().topics.name(record.topic));
        let due = due_at(&record.headers).filter(|&due| is_retry && due > self.wall_clock);
        let Some(due) = due else {
            return false;
        };
        self.retry_waiting.push(Waiting {
            due,
            offset,
            record: record.clone(),
        });
        true
    }

    /// Queues the waiting records that are due at the wall clock, in the order written.
    pub(super) fn release_due_retries(&mut self) -> Result<()> {
        let now = self.wall_clock;
        let (due, waiting): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.retry_waiting)
            .into_iter()
            .partition(|w| w.due <= now);
        self.retry_waiting = waiting;
        for w in due {
            let r = w.record;
            let raw = RawRecord {
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                timestamp: r.timestamp,
                offset: w.offset,
                headers: r.headers.clone(),
            };
            self.enqueue(r.topic, r.partition, raw)?;
        }
        Ok(())
    }
}
