//! Application configuration: Kafka Streams' string keys with typed getters.
//!
//! Like rust-rdkafka's `ClientConfig`, a [`StreamsConfig`] is a map of string keys to string
//! values. Unlike it, every key is checked when the config is validated: an unknown key or
//! an invalid value is an error that names the key, so a typo fails at start-up instead of
//! being silently ignored. Keys prefixed with `consumer.`, `producer.` or `admin.` are passed
//! to the Kafka clients as they are.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// What happens to a record that fails: Kafka Streams' exception handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorHandling {
    /// Stop processing with the error (`LogAndFail...`). The default.
    #[default]
    Fail,
    /// Log the error, count the record as dropped and go on (`LogAndContinue...`).
    Continue,
    /// Send the original record to `<topic>.dead-letter` with headers saying why, then go on.
    DeadLetter,
}

impl ErrorHandling {
    fn parse(key: &str, v: &str) -> Result<Self> {
        let simple = v.rsplit('.').next().unwrap_or(v);
        match simple {
            "fail"
            | "LogAndFailExceptionHandler"
            | "LogAndFailProcessingExceptionHandler"
            | "DefaultProductionExceptionHandler" => Ok(ErrorHandling::Fail),
            "continue"
            | "LogAndContinueExceptionHandler"
            | "LogAndContinueProcessingExceptionHandler" => Ok(ErrorHandling::Continue),
            "dead-letter" | "dead_letter" => Ok(ErrorHandling::DeadLetter),
            _ => Err(Error::Config {
                key: key.to_owned(),
                reason: format!("'{v}' is not one of fail, continue, dead-letter"),
            }),
        }
    }
}

/// `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// Commit offsets after outputs are acknowledged; a crash may reprocess records.
    #[default]
    AtLeastOnce,
    /// Outputs, changelog writes and offsets commit atomically in one transaction.
    ExactlyOnceV2,
}

/// The keys this library understands, with their defaults.
const KNOWN: &[(&str, Option<&str>)] = &[
    ("application.id", None),
    ("bootstrap.servers", None),
    ("client.id", Some("")),
    ("num.stream.threads", Some("1")),
    ("commit.interval.ms", None),
    ("processing.guarantee", Some("at_least_once")),
    ("state.dir", None),
    ("statestore.cache.max.bytes", Some("10485760")),
    ("cache.max.bytes.buffering", None),
    ("default.deserialization.exception.handler", Some("fail")),
    ("deserialization.exception.handler", None),
    ("processing.exception.handler", Some("fail")),
    ("default.production.exception.handler", Some("fail")),
    ("production.exception.handler", None),
    ("replication.factor", Some("-1")),
    ("num.standby.replicas", Some("0")),
    ("topology.optimization", Some("none")),
    ("poll.ms", Some("100")),
    ("max.task.idle.ms", Some("0")),
    ("buffered.records.per.partition", Some("1000")),
    ("session.timeout.ms", Some("45000")),
    (OUTER_JOIN_EMIT_INTERVAL, Some("1000")),
    (WINDOWED_AGGREGATION_EMIT_INTERVAL, Some("1000")),
];

/// How often, in wall-clock milliseconds, a stream-stream left or outer join looks for
/// held-back non-matches to emit (Kafka Streams' internal
/// `__emit.interval.ms.kstreams.outer.join.spurious.results.fix__`; 1000, and 0 in the
/// test driver, as in Kafka's).
pub const OUTER_JOIN_EMIT_INTERVAL: &str =
    "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__";

/// How often, in wall-clock milliseconds, an emit-on-window-close aggregation looks for
/// closed windows (Kafka Streams' internal `__emit.interval.ms.kstreams.windowed.aggregation__`;
/// 1000, and 0 in the test driver, as in Kafka's).
pub const WINDOWED_AGGREGATION_EMIT_INTERVAL: &str =
    "__emit.interval.ms.kstreams.windowed.aggregation__";

/// Kafka Streams configuration.
///
/// # Examples
///
/// ```
/// use streams_core::StreamsConfig;
///
/// let config = StreamsConfig::new()
///     .set("application.id", "hourly-revenue")
///     .set("bootstrap.servers", "localhost:9092")
///     .set("commit.interval.ms", "1000");
/// assert_eq!(config.application_id()?, "hourly-revenue");
/// assert_eq!(config.commit_interval()?.as_millis(), 1000);
///
/// let typo = StreamsConfig::new().set("application.id", "a").set("comit.interval.ms", "5");
/// assert!(typo.validate().is_err());
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamsConfig {
    values: BTreeMap<String, String>,
}

impl StreamsConfig {
    /// An empty config: every key has its default.
    pub fn new() -> Self {
        StreamsConfig::default()
    }

    /// Sets a key, returning the config for chaining.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Sets a key in place.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Whether `key` was set, rather than left to its default.
    pub fn is_set(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The raw value of a key, or its default.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .or_else(|| KNOWN.iter().find(|(k, _)| *k == key).and_then(|(_, d)| *d))
    }

    /// All explicitly set keys and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The keys with the given prefix (such as `consumer.`), with the prefix removed.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.values
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|k| (k, v.as_str())))
    }

    /// Checks every key and value.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first unknown key or invalid value.
    pub fn validate(&self) -> Result<()> {
        for key in self.values.keys() {
            let passthrough = [
                "consumer.",
                "producer.",
                "admin.",
                "main.consumer.",
                "restore.consumer.",
                "global.consumer.",
            ]
            .iter()
            .any(|p| key.starts_with(p));
            if !passthrough && !KNOWN.iter().any(|(k, _)| k == key) {
                let hint = KNOWN
                    .iter()
                    .map(|(k, _)| *k)
                    .min_by_key(|k| edit_distance(k, key))
                    .filter(|k| edit_distance(k, key) <= 3)
                    .map(|k| format!("; did you mean '{k}'?"))
                    .unwrap_or_default();
                return Err(Error::Config {
                    key: key.clone(),
                    reason: format!("unknown configuration key{hint}"),
                });
            }
        }
        self.application_id()?;
        self.num_stream_threads()?;
        self.commit_interval()?;
        self.processing_guarantee()?;
        self.cache_max_bytes()?;
        self.deserialization_handling()?;
        self.processing_handling()?;
        self.production_handling()?;
        self.i64_value("replication.factor")?;
        // A task processes whatever its partitions have buffered; it never waits for an
        // empty partition, which is Kafka Streams' -1 and close to its default 0.
        if let Some(ms) = self.i64_value("max.task.idle.ms")?
            && ms > 0
        {
            return Err(Error::Config {
                key: "max.task.idle.ms".into(),
                reason: format!(
                    "{ms} is not supported: tasks never wait for empty partitions (0 or -1)"
                ),
            });
        }
        if let Some(n) = self.i64_value("num.standby.replicas")?
            && n != 0
        {
            return Err(Error::Config {
                key: "num.standby.replicas".into(),
                reason: format!(
                    "{n} is not supported: there are no standby tasks; state moves through the changelog"
                ),
            });
        }
        self.outer_join_emit_interval_ms()?;
        self.windowed_aggregation_emit_interval_ms()?;
        self.i64_value("poll.ms")?;
        self.i64_value("session.timeout.ms")?;
        self.i64_value("buffered.records.per.partition")?;
        match self.get("topology.optimization") {
            Some("none") | None => {}
            Some(v) => {
                return Err(Error::Config {
                    key: "topology.optimization".into(),
                    reason: format!("'{v}' is not supported; only 'none' is"),
                });
            }
        }
        Ok(())
    }

    fn required(&self, key: &str) -> Result<&str> {
        match self.get(key) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(Error::Config {
                key: key.to_owned(),
                reason: "is required".into(),
            }),
        }
    }

    fn i64_value(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| Error::Config {
                    key: key.to_owned(),
                    reason: format!("'{v}' is not an integer"),
                })
            })
            .transpose()
    }

    /// `application.id`: the consumer group id and the prefix of internal topics.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when missing or not a valid topic-name part.
    pub fn application_id(&self) -> Result<&str> {
        let id = self.required("application.id")?;
        crate::options::Named::validate(id).map_err(|reason| Error::Config {
            key: "application.id".into(),
            reason,
        })?;
        Ok(id)
    }

    /// `bootstrap.servers`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when missing.
    pub fn bootstrap_servers(&self) -> Result<&str> {
        self.required("bootstrap.servers")
    }

    /// `num.stream.threads`, at least 1.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when not a positive integer.
    pub fn num_stream_threads(&self) -> Result<usize> {
        match self.i64_value("num.stream.threads")? {
            Some(n) if n >= 1 => Ok(n as usize),
            other => Err(Error::Config {
                key: "num.stream.threads".into(),
                reason: format!("must be at least 1, got {other:?}"),
            }),
        }
    }

    /// `processing.guarantee`: `at_least_once` or `exactly_once_v2`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for other values.
    pub fn processing_guarantee(&self) -> Result<ProcessingGuarantee> {
        match self.get("processing.guarantee") {
            Some("at_least_once") | None => Ok(ProcessingGuarantee::AtLeastOnce),
            Some("exactly_once_v2") => Ok(ProcessingGuarantee::ExactlyOnceV2),
            Some(v) => Err(Error::Config {
                key: "processing.guarantee".into(),
                reason: format!("'{v}' is not one of at_least_once, exactly_once_v2"),
            }),
        }
    }

    /// [`OUTER_JOIN_EMIT_INTERVAL`] in milliseconds.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn outer_join_emit_interval_ms(&self) -> Result<i64> {
        self.non_negative(OUTER_JOIN_EMIT_INTERVAL)
    }

    /// [`WINDOWED_AGGREGATION_EMIT_INTERVAL`] in milliseconds.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn windowed_aggregation_emit_interval_ms(&self) -> Result<i64> {
        self.non_negative(WINDOWED_AGGREGATION_EMIT_INTERVAL)
    }

    fn non_negative(&self, key: &str) -> Result<i64> {
        let ms = self.i64_value(key)?.unwrap_or(0);
        if ms < 0 {
            return Err(Error::Config {
                key: key.into(),
                reason: "must not be negative".into(),
            });
        }
        Ok(ms)
    }

    /// `commit.interval.ms`: 30 s under at-least-once, 100 ms under exactly-once, unless set.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn commit_interval(&self) -> Result<Duration> {
        let default = match self.processing_guarantee()? {
            ProcessingGuarantee::AtLeastOnce => 30_000,
            ProcessingGuarantee::ExactlyOnceV2 => 100,
        };
        let ms = self.i64_value("commit.interval.ms")?.unwrap_or(default);
        if ms < 0 {
            return Err(Error::Config {
                key: "commit.interval.ms".into(),
                reason: "must not be negative".into(),
            });
        }
        Ok(Duration::from_millis(ms as u64))
    }

    /// `state.dir`, by default `<temp dir>/kafka-streams`.
    pub fn state_dir(&self) -> PathBuf {
        self.get("state.dir")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("kafka-streams"))
    }

    /// `statestore.cache.max.bytes` (or the older `cache.max.bytes.buffering`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn cache_max_bytes(&self) -> Result<u64> {
        let v = match self.values.get("statestore.cache.max.bytes") {
            Some(_) => self.i64_value("statestore.cache.max.bytes")?,
            None => match self.i64_value("cache.max.bytes.buffering")? {
                Some(v) => Some(v),
                None => self.i64_value("statestore.cache.max.bytes")?,
            },
        };
        match v {
            Some(n) if n >= 0 => Ok(n as u64),
            _ => Err(Error::Config {
                key: "statestore.cache.max.bytes".into(),
                reason: "must be a non-negative integer".into(),
            }),
        }
    }

    fn handling(&self, keys: &[&str]) -> Result<ErrorHandling> {
        for k in keys {
            if let Some(v) = self.values.get(*k) {
                return ErrorHandling::parse(k, v);
            }
        }
        Ok(ErrorHandling::Fail)
    }

    /// What to do with a record that cannot be deserialized
    /// (`default.deserialization.exception.handler`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unknown handler.
    pub fn deserialization_handling(&self) -> Result<ErrorHandling> {
        self.handling(&[
            "deserialization.exception.handler",
            "default.deserialization.exception.handler",
        ])
    }

    /// What to do when a processor fails on a record (`processing.exception.handler`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unknown handler.
    pub fn processing_handling(&self) -> Result<ErrorHandling> {
        self.handling(&["processing.exception.handler"])
    }

    /// What to do when an output record cannot be serialized or sent
    /// (`default.production.exception.handler`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unknown handler.
    pub fn production_handling(&self) -> Result<ErrorHandling> {
        self.handling(&[
            "production.exception.handler",
            "default.production.exception.handler",
        ])
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_with_a_hint() {
        let c = StreamsConfig::new()
            .set("application.id", "app")
            .set("commit.intervall.ms", "10");
        let err = c
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("commit.intervall.ms"), "{err}");
        assert!(err.contains("did you mean 'commit.interval.ms'"), "{err}");
    }

    #[test]
    fn invalid_values_are_errors() {
        let base = StreamsConfig::new().set("application.id", "app");
        assert!(
            base.clone()
                .set("processing.guarantee", "exactly_once")
                .validate()
                .is_err()
        );
        assert!(
            base.clone()
                .set("num.stream.threads", "0")
                .validate()
                .is_err()
        );
        assert!(
            base.clone()
                .set("commit.interval.ms", "soon")
                .validate()
                .is_err()
        );
        assert!(
            base.clone()
                .set("statestore.cache.max.bytes", "-1")
                .validate()
                .is_err()
        );
        assert!(
            base.clone()
                .set("processing.exception.handler", "retry")
                .validate()
                .is_err()
        );
        assert!(
            StreamsConfig::new().validate().is_err(),
            "application.id is required"
        );
        // Settings this runtime cannot honour are refused rather than ignored.
        for (key, value) in [
            ("num.standby.replicas", "1"),
            ("max.task.idle.ms", "100"),
            (OUTER_JOIN_EMIT_INTERVAL, "-1"),
        ] {
            let err = base.clone().set(key, value).validate().err();
            assert!(
                err.as_ref().is_some_and(|e| e.to_string().contains(key)),
                "{key}={value}: {err:?}"
            );
        }
        assert!(
            base.clone()
                .set("max.task.idle.ms", "-1")
                .validate()
                .is_ok()
        );
        assert!(
            base.clone()
                .set("consumer.fetch.min.bytes", "1")
                .validate()
                .is_ok()
        );
        assert!(base.validate().is_ok());
    }

    #[test]
    fn defaults_follow_kafka_streams() {
        let c = StreamsConfig::new().set("application.id", "app");
        assert_eq!(
            c.commit_interval().ok(),
            Some(Duration::from_millis(30_000))
        );
        let eos = c.clone().set("processing.guarantee", "exactly_once_v2");
        assert_eq!(eos.commit_interval().ok(), Some(Duration::from_millis(100)));
        assert_eq!(c.cache_max_bytes().ok(), Some(10 * 1024 * 1024));
        assert_eq!(
            c.clone()
                .set(
                    "default.deserialization.exception.handler",
                    "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler"
                )
                .deserialization_handling()
                .ok(),
            Some(ErrorHandling::Continue)
        );
    }
}
