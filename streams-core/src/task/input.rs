//! A task's input: queuing consumed records and the offsets to commit for them.

use std::rc::Rc;
use std::sync::Arc;

use super::{QueueRef, Task};
use crate::context::RawRecord;
use crate::error::{Error, Result};

impl Task {
    /// For each input partition, the offset to commit: one past the last record processed,
    /// or one past the last record skipped on arrival when no queued record is waiting.
    pub(crate) fn consumed_offsets(&self) -> Vec<(Arc<str>, i32, i64)> {
        self.queues
            .iter()
            .filter_map(|q| {
                let drained = q.source.borrow().head_timestamp(q.local).is_none();
                let skipped = q.skipped_next.filter(|_| drained);
                q.next_offset
                    .max(skipped)
                    .map(|o| (Arc::clone(&q.topic), q.partition, o))
            })
            .collect()
    }

    /// The queue of the task's partition of source topic `topic` (full name), for
    /// [`add_record_at`](Self::add_record_at): callers look it up once, not per record.
    pub(crate) fn queue_index(&self, topic: &str) -> Option<usize> {
        self.queue_by_topic.get(topic).copied()
    }

    /// Deserializes and queues one input record into the queue
    /// [`queue_index`](Self::queue_index) returned. Records that fail and are skipped by
    /// the handler are not queued.
    pub(crate) fn add_record_at(&mut self, queue: usize, raw: RawRecord<'_>) -> Result<()> {
        let id = self.id;
        let Some(q) = self.queues.get_mut(queue) else {
            return Err(Error::IllegalState(format!(
                "task {id} has no input queue {queue}"
            )));
        };
        let offset = raw.offset;
        let queued = q.source.borrow_mut().enqueue(q.local, raw, &mut self.ctx)?;
        if !queued {
            q.skipped_next = Some(offset + 1);
        }
        Ok(())
    }

    /// Deserializes and queues one record of any partition of a source topic: what the
    /// global task, which reads every partition of its topics, does. The partition's queue
    /// is made on its first record.
    pub(crate) fn add_record_of_partition(
        &mut self,
        topic: &str,
        partition: i32,
        raw: RawRecord<'_>,
    ) -> Result<()> {
        let q = match self
            .queues
            .iter()
            .position(|q| &*q.topic == topic && q.partition == partition)
        {
            Some(q) => q,
            None => {
                let Some(&any) = self.queue_by_topic.get(topic) else {
                    return Err(Error::UnknownTopic(topic.to_owned()));
                };
                let source = Rc::clone(&self.queues[any].source);
                let full = Arc::clone(&self.queues[any].topic);
                let local = source.borrow_mut().add_queue(Arc::clone(&full), partition);
                self.queues.push(QueueRef {
                    topic: full,
                    partition,
                    source,
                    local,
                    next_offset: None,
                    skipped_next: None,
                    retry: false,
                });
                self.queues.len() - 1
            }
        };
        let q = &self.queues[q];
        q.source.borrow_mut().enqueue(q.local, raw, &mut self.ctx)?;
        Ok(())
    }
}
