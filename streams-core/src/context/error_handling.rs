//! What a task does with records that fail: the deserialization, processing and production
//! handlers, and the dead-letter and retry topics they may send the original bytes to.

use super::record::RawRecord;
use super::task_context::TaskContext;
use crate::config::ErrorHandling;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::retry::RetryRoute;
use crate::serde::Serde;

impl TaskContext {
    /// Under the dead-letter and retry processing handlers, keeps the bytes of the record
    /// about to be processed: its key and value serialized again with the source's serdes
    /// (the buffers are reused), its timestamp, offset and headers.
    pub(crate) fn capture_input<K: 'static, V: 'static>(
        &mut self,
        topic: &str,
        key_serde: &dyn Serde<K>,
        value_serde: &dyn Serde<V>,
        record: &Record<K, V>,
        offset: i64,
    ) {
        let Some(c) = self.processing_input.as_mut() else {
            return;
        };
        c.key.clear();
        c.value.clear();
        // A serde that cannot write what it read leaves the field null in the dead letter.
        c.key_null = !key_serde
            .serialize(topic, &record.key, &mut c.key)
            .unwrap_or(false);
        c.value_null = !value_serde
            .serialize(topic, &record.value, &mut c.value)
            .unwrap_or(false);
        c.timestamp = record.timestamp;
        c.offset = offset;
        c.headers.clone_from(&record.headers);
    }

    /// Applies the production handler to an output record that could not be serialized.
    pub(crate) fn handle_serialization_error(&mut self, error: Error) -> Result<()> {
        match self.handlers.production {
            ErrorHandling::Fail | ErrorHandling::Retry => Err(error),
            ErrorHandling::Continue | ErrorHandling::DeadLetter => {
                tracing::warn!(task = %self.task_id, error = %error, "skipping output record that could not be serialized");
                self.metrics.dropped += 1;
                Ok(())
            }
        }
    }

    /// Applies the deserialization handler to a record that could not be read.
    pub(crate) fn handle_deserialization_error(
        &mut self,
        topic: &str,
        partition: i32,
        raw: &RawRecord<'_>,
        error: Error,
    ) -> Result<()> {
        match self.handlers.deserialization {
            // The deserialization handler is never `retry` (the config refuses it).
            ErrorHandling::Fail | ErrorHandling::Retry => Err(error),
            ErrorHandling::Continue => {
                tracing::warn!(task = %self.task_id, topic, partition, offset = raw.offset, error = %error,
                    "skipping record that could not be deserialized");
                self.metrics.dropped += 1;
                Ok(())
            }
            ErrorHandling::DeadLetter => {
                let reason = error_chain(&error);
                self.dead_letter(topic, partition, raw, &reason)
            }
        }
    }

    /// Applies the processing handler to the record of `topic`-`partition` whose processing
    /// failed. The dead-letter and retry handlers send the input kept by
    /// [`capture_input`](Self::capture_input).
    pub(crate) fn handle_processing_error(
        &mut self,
        topic: &str,
        partition: i32,
        error: Error,
    ) -> Result<()> {
        match self.handlers.processing {
            ErrorHandling::Fail => Err(error),
            ErrorHandling::Continue => {
                tracing::warn!(task = %self.task_id, topic = %topic, partition, error = %error,
                    "skipping record whose processing failed");
                self.metrics.dropped += 1;
                Ok(())
            }
            handling @ (ErrorHandling::DeadLetter | ErrorHandling::Retry) => {
                let reason = error_chain(&error);
                let captured = self.processing_input.take().unwrap_or_default();
                let raw = RawRecord {
                    key: (!captured.key_null).then_some(captured.key.as_slice()),
                    value: (!captured.value_null).then_some(captured.value.as_slice()),
                    timestamp: captured.timestamp,
                    offset: captured.offset,
                    headers: captured.headers.clone(),
                };
                let sent = if handling == ErrorHandling::Retry {
                    self.retry(topic, partition, &raw, &reason)
                } else {
                    self.dead_letter(topic, partition, &raw, &reason)
                };
                // The buffers are kept for the next record.
                self.processing_input = Some(captured);
                sent
            }
        }
    }

    /// Sends the original bytes of a record whose processing failed along its retry chain:
    /// to the next retry topic, due after that topic's delay, or after the last attempt to
    /// the dead-letter topic (see [`RetryTopics`](crate::retry::RetryTopics)). The record
    /// keeps its partition number, so it comes back to this task. Times are the task's wall
    /// clock, which the runtime sets at the start of each processing round.
    fn retry(
        &mut self,
        topic: &str,
        partition: i32,
        raw: &RawRecord<'_>,
        reason: &str,
    ) -> Result<()> {
        let Some(chains) = self.retry.clone() else {
            return self.dead_letter(topic, partition, raw, reason);
        };
        let chain = chains.chain_of(topic);
        let now = self.wall_clock;
        let route = chain.next_route(topic, now)?;
        let headers = chain.route_headers(
            &route,
            &raw.headers,
            topic,
            partition,
            raw.offset,
            reason,
            now,
        );
        let target = route.topic();
        let to_partition = self.same_partition_in(target, partition)?;
        match &route {
            RetryRoute::Retry { attempt, .. } => {
                tracing::info!(task = %self.task_id, topic, partition, offset = raw.offset, reason, attempt,
                    "processing failed; sending the record to retry topic {target}");
                self.metrics.retried += 1;
            }
            RetryRoute::DeadLetter { .. } => {
                tracing::warn!(task = %self.task_id, topic, partition, offset = raw.offset, reason,
                    "processing failed on the last retry; sending the record to dead-letter topic {target}");
                self.metrics.dead_lettered += 1;
            }
        }
        self.send(
            target,
            Some(to_partition),
            raw.key,
            raw.value,
            raw.timestamp,
            &headers,
        )
    }

    /// Sends the original bytes of a failed record to `<topic>.dead-letter`, on the same
    /// partition number where that topic has it, with headers saying what failed and when.
    pub(crate) fn dead_letter(
        &mut self,
        topic: &str,
        partition: i32,
        raw: &RawRecord<'_>,
        reason: &str,
    ) -> Result<()> {
        // A record of a retry topic dead-letters with its topic's records, and keeps the
        // origin its first failure recorded.
        let (main, from_retry) = match &self.retry {
            Some(c) if c.is_retry_topic(topic) => (c.main_topic(topic).to_owned(), true),
            _ => (topic.to_owned(), false),
        };
        let dlq = format!("{main}.dead-letter");
        let failed_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(self.wall_clock)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut headers = raw.headers.clone();
        headers.add("dead-letter-reason", Some(reason.as_bytes().to_vec()));
        if !(from_retry && raw.headers.last("original-topic").is_some()) {
            headers
                .add("original-topic", Some(topic.as_bytes().to_vec()))
                .add(
                    "original-partition",
                    Some(partition.to_string().into_bytes()),
                )
                .add("original-offset", Some(raw.offset.to_string().into_bytes()));
        }
        headers.add("failed-at", Some(failed_at.into_bytes()));
        let target = self.same_partition_in(&dlq, partition)?;
        tracing::warn!(task = %self.task_id, topic, partition, offset = raw.offset, reason,
            "sending record to dead-letter topic {dlq}");
        self.send(
            &dlq,
            Some(target),
            raw.key,
            raw.value,
            raw.timestamp,
            &headers,
        )?;
        self.metrics.dead_lettered += 1;
        Ok(())
    }

    /// The partition of `topic` numbered as `partition`, where it has one, else
    /// `partition` modulo its count: a failed record keeps its partition number.
    fn same_partition_in(&mut self, topic: &str, partition: i32) -> Result<i32> {
        let n = self.partition_count(topic)?;
        Ok(if partition < n {
            partition
        } else {
            partition % n.max(1)
        })
    }
}

/// The error and its causes, joined, for a dead-letter header.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut s = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
