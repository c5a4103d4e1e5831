//! Retry topics: a record whose processing fails on `<topic>` goes to `<topic>.retry-1`,
//! then `<topic>.retry-2` and so on, each read again after its delay, and finally to
//! `<topic>.dead-letter`.
//!
//! [`RetryTopics`] is the chain of one topic, usable on its own. Under the `retry`
//! processing handler (`processing.exception.handler=retry`, delays in `retry.delays.ms`)
//! the runtime runs the whole pattern: each source topic's retry topics become further
//! inputs of the same source node, created with the topic's partition count, so a retried
//! record comes back to the task of its partition and goes through the same processors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::Headers;

/// What a topic's dead-letter topic adds to its name: `<topic>.dead-letter`.
pub(crate) const DEAD_LETTER_SUFFIX: &str = ".dead-letter";

/// The header holding the attempt number of a record on a retry topic (1 on `.retry-1`).
pub const RETRY_ATTEMPT_HEADER: &str = "retry-attempt";
/// The header holding the wall-clock time (epoch milliseconds) before which a record on a
/// retry topic must not be processed again.
pub const RETRY_DUE_AT_HEADER: &str = "retry-due-at";

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
/// runtime does all of this under the `retry` processing handler (see the
/// [module docs](self)).
///
/// # Ordering
///
/// A retried record is processed after records of its key that came later: retrying
/// trades per-key order for not blocking the partition behind one failing record. It keeps
/// its timestamp, so a windowed aggregation may find it late (beyond the grace period)
/// when it comes back, and drop it as any late record.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streams_core::Headers;
/// use streams_core::retry::{RetryRoute, RetryTopics};
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
        format!("{}{DEAD_LETTER_SUFFIX}", self.topic)
    }

    /// The retry topics in order, then the dead-letter topic.
    pub fn topics(&self) -> Vec<String> {
        let mut topics = self.retry_topics();
        topics.push(self.dead_letter_topic());
        topics
    }

    /// The retry topics in order, one per delay.
    pub fn retry_topics(&self) -> Vec<String> {
        (1..=self.attempts()).map(|a| self.retry_topic(a)).collect()
    }

    fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
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
    /// failure), when (`failed-at`, RFC 3339), and either the retry headers
    /// ([`RETRY_ATTEMPT_HEADER`], [`RETRY_DUE_AT_HEADER`], `retry-reason`) or the
    /// dead-letter reason the runtime's dead-letter handler writes (`dead-letter-reason`).
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
        let failed_at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        headers
            .remove(RETRY_ATTEMPT_HEADER)
            .remove(RETRY_DUE_AT_HEADER)
            .remove("retry-reason")
            .remove("failed-at")
            .add("failed-at", Some(failed_at.into_bytes()));
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
                        RETRY_DUE_AT_HEADER,
                        Some(not_before.to_string().into_bytes()),
                    )
                    .add("retry-reason", Some(reason.as_bytes().to_vec()));
            }
            RetryRoute::DeadLetter { .. } => {
                headers
                    .remove("dead-letter-reason")
                    .add("dead-letter-reason", Some(reason.as_bytes().to_vec()));
            }
        }
        headers
    }

    /// How long a record with `headers`, read from a retry topic, must still wait at
    /// `now_ms`; zero when due or when it carries no due time.
    pub fn remaining_delay(headers: &Headers, now_ms: i64) -> Duration {
        match due_at(headers) {
            Some(due) if due > now_ms => {
                Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0))
            }
            _ => Duration::ZERO,
        }
    }
}

/// The wall-clock time (epoch milliseconds) from which a record read from a retry topic
/// may be processed again; `None` when its headers carry none.
pub(crate) fn due_at(headers: &Headers) -> Option<i64> {
    headers
        .last(RETRY_DUE_AT_HEADER)
        .and_then(|h| h.value.as_deref())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.parse::<i64>().ok())
}

/// The retry chains of a topology's source topics under the `retry` processing handler:
/// the delays, and the main topic of each retry topic (full names).
#[derive(Debug, Clone, Default)]
pub(crate) struct RetryChains {
    delays: Vec<Duration>,
    /// Retry topic -> main topic.
    main_of: HashMap<String, String>,
}

impl RetryChains {
    /// The chains of `main_topics`, one retry topic per delay each.
    pub(crate) fn new<'a>(
        delays: Vec<Duration>,
        main_topics: impl IntoIterator<Item = &'a str>,
    ) -> Arc<Self> {
        let mut main_of = HashMap::new();
        for main in main_topics {
            for t in RetryTopics::new(main, delays.iter().copied()).retry_topics() {
                main_of.insert(t, main.to_owned());
            }
        }
        Arc::new(RetryChains { delays, main_of })
    }

    /// The retry topics of `main`, in order.
    pub(crate) fn retry_topics_of(&self, main: &str) -> Vec<String> {
        RetryTopics::new(main, self.delays.iter().copied()).retry_topics()
    }

    /// Whether `topic` is a retry topic.
    pub(crate) fn is_retry_topic(&self, topic: &str) -> bool {
        self.main_of.contains_key(topic)
    }

    /// The main topic of `topic`: itself unless it is a retry topic.
    pub(crate) fn main_topic<'a>(&'a self, topic: &'a str) -> &'a str {
        self.main_of.get(topic).map_or(topic, String::as_str)
    }

    /// The chain a record read from `topic` is on.
    pub(crate) fn chain_of(&self, topic: &str) -> RetryTopics {
        RetryTopics::new(self.main_topic(topic), self.delays.iter().copied())
    }

    /// Every retry topic with its main topic.
    pub(crate) fn retry_topics(&self) -> impl Iterator<Item = (&str, &str)> {
        self.main_of.iter().map(|(r, m)| (r.as_str(), m.as_str()))
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
        assert!(headers.last(RETRY_DUE_AT_HEADER).is_none());
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
        Ok(())
    }

    #[test]
    fn chains_map_retry_topics_to_their_main_topic() {
        let chains = RetryChains::new(vec![Duration::ZERO, Duration::ZERO], ["a.b.c", "x"]);
        assert_eq!(chains.retry_topics_of("x"), ["x.retry-1", "x.retry-2"]);
        assert!(chains.is_retry_topic("a.b.c.retry-2"));
        assert!(!chains.is_retry_topic("a.b.c.retry-3"));
        assert!(!chains.is_retry_topic("a.b.c"));
        assert_eq!(chains.main_topic("x.retry-1"), "x");
        assert_eq!(chains.main_topic("other"), "other");
        assert_eq!(chains.chain_of("x.retry-2").topic(), "x");
        assert_eq!(chains.retry_topics().count(), 4);
    }
}
