//! Retry topics: a record that fails on `<topic>` goes to `<topic>.retry-1`, then
//! `<topic>.retry-2` and so on, each read again after its delay, and finally to
//! `<topic>.dead-letter`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::Headers;
use crate::runtime::topics::{TopicRole, TopicSpec};

/// The header holding the attempt number of a record on a retry topic (1 on `.retry-1`).
pub const RETRY_ATTEMPT_HEADER: &str = "retry-attempt";
/// The header holding the wall-clock time (epoch milliseconds) before which a record on a
/// retry topic must not be processed again.
pub const RETRY_NOT_BEFORE_HEADER: &str = "retry-not-before";

/// Where a failed record goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryRoute {
    /// To a retry topic, to be processed again from `not_before` (epoch milliseconds).
    Retry {
        /// The retry topic.
        topic: String,
        /// The attempt number, 1 for `.retry-1`.
        attempt: u32,
        /// The earliest wall-clock time to process it again.
        not_before: i64,
    },
    /// To the dead-letter topic: every retry failed.
    DeadLetter {
        /// The dead-letter topic.
        topic: String,
    },
}

impl RetryRoute {
    /// The topic the record goes to.
    pub fn topic(&self) -> &str {
        match self {
            RetryRoute::Retry { topic, .. } | RetryRoute::DeadLetter { topic } => topic,
        }
    }
}

/// The retry chain of one topic, independent of any DSL: which topic a failed record goes
/// to next, with which headers, and when a retried record is due.
///
/// A consumer of `<topic>` that fails on a record sends it to [`next_route`](Self::next_route)
/// with [`route_headers`](Self::route_headers); a consumer of each retry topic waits until
/// [`remaining_delay`](Self::remaining_delay) is zero (pausing the partition rather than
/// blocking), processes the record again, and on failure routes it on the same way. The
/// topics must exist: create them with [`topic_specs`](Self::topic_specs) and a
/// [`TopicCreator`](crate::runtime::TopicCreator).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_core::Headers;
/// use streams_core::runtime::{RetryRoute, RetryTopics};
///
/// let retry = RetryTopics::new("orders", [Duration::from_secs(1), Duration::from_secs(10)]);
/// assert_eq!(retry.retry_topic(2), "orders.retry-2");
///
/// let first = retry.next_route("orders", 1_000)?;
/// assert_eq!(first, RetryRoute::Retry { topic: "orders.retry-1".into(), attempt: 1, not_before: 2_000 });
/// let headers = retry.route_headers(&first, &Headers::new(), "orders", 0, 42, "timeout", 1_000);
/// assert_eq!(RetryTopics::remaining_delay(&headers, 1_500), Duration::from_millis(500));
///
/// assert_eq!(retry.next_route("orders.retry-2", 5_000)?, RetryRoute::DeadLetter { topic: "orders.dead-letter".into() });
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryTopics {
    topic: String,
    delays: Vec<Duration>,
}

impl RetryTopics {
    /// The retry chain of `topic`, one retry topic per delay, in order.
    pub fn new(topic: impl Into<String>, delays: impl IntoIterator<Item = Duration>) -> Self {
        RetryTopics {
            topic: topic.into(),
            delays: delays.into_iter().collect(),
        }
    }

    /// The main topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The delays, one per retry topic.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// `<topic>.retry-<attempt>`.
    pub fn retry_topic(&self, attempt: u32) -> String {
        format!("{}.retry-{attempt}", self.topic)
    }

    /// `<topic>.dead-letter`.
    pub fn dead_letter_topic(&self) -> String {
        format!("{}.dead-letter", self.topic)
    }

    /// The retry topics in order, then the dead-letter topic.
    pub fn topics(&self) -> Vec<String> {
        (1..=self.attempts())
            .map(|a| self.retry_topic(a))
            .chain(std::iter::once(self.dead_letter_topic()))
            .collect()
    }

    fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The topics to create, each with `partitions` partitions (the main topic's count,
    /// so that records keep their partition).
    pub fn topic_specs(&self, partitions: i32, replication_factor: i32) -> Vec<TopicSpec> {
        self.topics()
            .into_iter()
            .map(|name| {
                let role = if name.ends_with(".dead-letter") {
                    TopicRole::DeadLetter
                } else {
                    TopicRole::Retry
                };
                TopicSpec {
                    name,
                    partitions,
                    replication_factor,
                    config: BTreeMap::new(),
                    role,
                }
            })
            .collect()
    }

    /// The attempt a record read from `topic` is on: 0 on the main topic, `n` on
    /// `.retry-n`; `None` for a topic outside the chain.
    pub fn attempt_of(&self, topic: &str) -> Option<u32> {
        if topic == self.topic {
            return Some(0);
        }
        let n: u32 = topic
            .strip_prefix(&self.topic)?
            .strip_prefix(".retry-")?
            .parse()
            .ok()?;
        (1..=self.attempts()).contains(&n).then_some(n)
    }

    /// Where a record that failed when read from `from` goes next, at wall-clock `now_ms`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTopic`] when `from` is not in the chain.
    pub fn next_route(&self, from: &str, now_ms: i64) -> Result<RetryRoute> {
        let Some(attempt) = self.attempt_of(from) else {
            return Err(Error::UnknownTopic(format!(
                "{from} (not in the retry chain of '{}')",
                self.topic
            )));
        };
        let next = attempt + 1;
        match self.delays.get(attempt as usize) {
            Some(delay) => Ok(RetryRoute::Retry {
                topic: self.retry_topic(next),
                attempt: next,
                not_before: now_ms
                    .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            }),
            None => Ok(RetryRoute::DeadLetter {
                topic: self.dead_letter_topic(),
            }),
        }
    }

    /// The headers of a record sent along `route`: its own headers, where it failed
    /// (`original-topic`, `original-partition`, `original-offset`, kept from the first
    /// failure), and either the retry headers or the dead-letter headers the runtime's
    /// dead-letter handler writes (`dead-letter-reason`, `failed-at`).
    #[allow(clippy::too_many_arguments)]
    pub fn route_headers(
        &self,
        route: &RetryRoute,
        original: &Headers,
        from: &str,
        partition: i32,
        offset: i64,
        reason: &str,
        now_ms: i64,
    ) -> Headers {
        let mut headers = original.clone();
        headers
            .remove(RETRY_ATTEMPT_HEADER)
            .remove(RETRY_NOT_BEFORE_HEADER);
        if original.last("original-topic").is_none() {
            headers
                .add("original-topic", Some(from.as_bytes().to_vec()))
                .add(
                    "original-partition",
                    Some(partition.to_string().into_bytes()),
                )
                .add("original-offset", Some(offset.to_string().into_bytes()));
        }
        match route {
            RetryRoute::Retry {
                attempt,
                not_before,
                ..
            } => {
                headers
                    .add(RETRY_ATTEMPT_HEADER, Some(attempt.to_string().into_bytes()))
                    .add(
                        RETRY_NOT_BEFORE_HEADER,
                        Some(not_before.to_string().into_bytes()),
                    )
                    .add("retry-reason", Some(reason.as_bytes().to_vec()));
            }
            RetryRoute::DeadLetter { .. } => {
                let failed_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                headers
                    .remove("dead-letter-reason")
                    .remove("failed-at")
                    .add("dead-letter-reason", Some(reason.as_bytes().to_vec()))
                    .add("failed-at", Some(failed_at.into_bytes()));
            }
        }
        headers
    }

    /// How long a record with `headers`, read from a retry topic, must still wait at
    /// `now_ms`; zero when due or when it carries no due time.
    pub fn remaining_delay(headers: &Headers, now_ms: i64) -> Duration {
        let due = headers
            .last(RETRY_NOT_BEFORE_HEADER)
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse::<i64>().ok());
        match due {
            Some(due) if due > now_ms => {
                Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0))
            }
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(h: &'a Headers, key: &str) -> Option<&'a str> {
        h.last(key)
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    #[test]
    fn a_record_walks_the_chain_to_the_dead_letter_topic() -> Result<()> {
        let retry = RetryTopics::new(
            "payments",
            [Duration::from_millis(100), Duration::from_secs(5)],
        );
        assert_eq!(
            retry.topics(),
            [
                "payments.retry-1",
                "payments.retry-2",
                "payments.dead-letter"
            ]
        );

        let mut headers = Headers::new().with("trace", b"t1".to_vec());
        let mut at = "payments".to_owned();
        let mut now = 10_000;
        let mut seen = Vec::new();
        loop {
            let route = retry.next_route(&at, now)?;
            headers = retry.route_headers(&route, &headers, &at, 3, 7, "boom", now);
            seen.push(route.topic().to_owned());
            match route {
                RetryRoute::Retry {
                    topic, not_before, ..
                } => {
                    assert!(RetryTopics::remaining_delay(&headers, now) > Duration::ZERO);
                    assert_eq!(
                        RetryTopics::remaining_delay(&headers, not_before),
                        Duration::ZERO
                    );
                    now = not_before;
                    at = topic;
                }
                RetryRoute::DeadLetter { .. } => break,
            }
        }
        assert_eq!(seen, retry.topics());
        assert_eq!(value(&headers, "original-topic"), Some("payments"));
        assert_eq!(value(&headers, "original-partition"), Some("3"));
        assert_eq!(value(&headers, "original-offset"), Some("7"));
        assert_eq!(value(&headers, "dead-letter-reason"), Some("boom"));
        assert_eq!(value(&headers, "trace"), Some("t1"));
        assert!(headers.last(RETRY_NOT_BEFORE_HEADER).is_none());
        assert_eq!(
            headers.iter().filter(|h| h.key == "original-topic").count(),
            1,
            "the first failure's origin is kept"
        );
        assert!(value(&headers, "failed-at").is_some_and(|v| v.ends_with('Z')));
        Ok(())
    }

    #[test]
    fn topics_outside_the_chain_and_no_delays() -> Result<()> {
        let retry = RetryTopics::new("a", []);
        assert_eq!(
            retry.next_route("a", 0)?,
            RetryRoute::DeadLetter {
                topic: "a.dead-letter".into()
            }
        );
        assert!(retry.next_route("b", 0).is_err());
        assert!(retry.next_route("a.retry-1", 0).is_err());
        assert_eq!(
            RetryTopics::new("a", [Duration::ZERO]).attempt_of("a.retry-1"),
            Some(1)
        );
        let specs = RetryTopics::new("a", [Duration::ZERO]).topic_specs(6, 1);
        assert_eq!(specs.len(), 2);
        assert!(specs.iter().all(|s| s.partitions == 6));
        assert_eq!(specs[1].role, TopicRole::DeadLetter);
        Ok(())
    }
}
