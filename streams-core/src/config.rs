//! Application configuration: Kafka Streams' string keys with typed getters.
//!
//! Like rust-rdkafka's `ClientConfig`, a [`StreamsConfig`] is a map of string keys to string
//! values. Unlike it, every key is checked when the config is validated: an unknown key or
//! an invalid value is an error that names the key, so a typo fails at start-up instead of
//! being silently ignored. Keys prefixed with `consumer.`, `producer.` or `admin.` are passed
//! to the Kafka clients as they are.
//!
//! Secrets (passwords, JAAS configs, private keys: see [`is_secret_key`]) never appear in an
//! error message or in `Debug` output: configs end up in logs and crash reports.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::memory::{MEMORY_BUDGET, MemoryBudget, StoreMemory};
use crate::rack::{CLIENT_TAG_PREFIX, RACK_AWARE_ASSIGNMENT_TAGS, RackAwareness};

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
    /// Processing errors only: send the original record to `<topic>.retry-1`, to be
    /// processed again once `retry.delays.ms`'s first delay has passed, then to
    /// `<topic>.retry-2` and so on, and after the last attempt to `<topic>.dead-letter`
    /// (see [`RetryTopics`](crate::retry::RetryTopics)).
    Retry,
}

impl ErrorHandling {
    fn parse(key: &str, v: &str) -> Result<Self> {
        let shown = shown_value(key, v);
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
            "retry" if key == "processing.exception.handler" => Ok(ErrorHandling::Retry),
            "retry" => Err(Error::Config {
                key: key.to_owned(),
                reason: "'retry' applies to processing.exception.handler only: a record that cannot be read or written fails the same way the next time; use dead-letter".into(),
            }),
            _ => Err(Error::Config {
                key: key.to_owned(),
                reason: format!("'{shown}' is not one of fail, continue, dead-letter, retry"),
            }),
        }
    }
}

/// How a joining instance warms up its future tasks: see [`StreamsConfig::warmup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmup {
    /// `acceptable.recovery.lag`: the changelog lag at which a warming task is caught up.
    pub acceptable_lag: u64,
    /// `max.warmup.replicas`: how many tasks restore at once.
    pub max_replicas: usize,
    /// `probing.rebalance.interval.ms`: the longest the warm-up holds the threads back.
    pub timeout: Duration,
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
    ("application.server", Some("")),
    ("num.stream.threads", Some("1")),
    ("commit.interval.ms", None),
    ("processing.guarantee", Some("at_least_once")),
    ("state.dir", None),
    ("statestore.cache.max.bytes", Some("10485760")),
    ("cache.max.bytes.buffering", None),
    ("default.deserialization.exception.handler", Some("fail")),
    ("deserialization.exception.handler", None),
    ("processing.exception.handler", Some("fail")),
    ("retry.delays.ms", Some("30000,300000")),
    ("topic.naming.convention", Some("none")),
    ("default.production.exception.handler", Some("fail")),
    ("production.exception.handler", None),
    ("replication.factor", Some("-1")),
    ("num.standby.replicas", Some("0")),
    ("acceptable.recovery.lag", Some("10000")),
    ("max.warmup.replicas", Some("2")),
    ("probing.rebalance.interval.ms", Some("600000")),
    (RACK_AWARE_ASSIGNMENT_TAGS, Some("")),
    ("topology.optimization", Some("none")),
    ("poll.ms", Some("100")),
    ("max.task.idle.ms", Some("0")),
    ("buffered.records.per.partition", Some("1000")),
    ("input.buffer.max.bytes", Some("536870912")),
    (MEMORY_BUDGET, None),
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

/// What a secret value reads as in error messages and `Debug` output.
pub(crate) const REDACTED: &str = "[redacted]";

/// The producer's `transaction.timeout.ms` under exactly-once unless
/// `producer.transaction.timeout.ms` overrides it: Kafka Streams' `DEFAULT_TRANSACTION_TIMEOUT`,
/// well below the broker's 60 s default so that a crashed member's open transaction stops
/// blocking `read_committed` consumers soon.
pub(crate) const EOS_TRANSACTION_TIMEOUT_MS: i64 = 10_000;

/// Fragments of key names whose values are secret, in the spirit of Kafka's
/// `ConfigDef.Type.PASSWORD` (`ssl.key.password`, `ssl.keystore.password`,
/// `ssl.truststore.password`, `sasl.jaas.config`, `sasl.oauthbearer.client.secret`, ...) and
/// librdkafka's sensitive properties (`sasl.password`, `sasl.oauthbearer.config`, ...).
/// Matching fragments rather than a closed list keeps new secret keys (and Schema Registry's
/// `basic.auth.user.info`) covered.
const SECRET_KEY_FRAGMENTS: &[&str] = &["password", "passphrase", "secret", "jaas", "user.info"];

/// Secret keys whose names contain none of [`SECRET_KEY_FRAGMENTS`]: private keys and
/// certificates given inline (Kafka's `PASSWORD`-typed `ssl.keystore.key`,
/// `ssl.keystore.certificate.chain`, `ssl.truststore.certificates`), and librdkafka's
/// `sasl.oauthbearer.config`, which holds client credentials.
const SECRET_KEY_SUFFIXES: &[&str] = &[
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.certificates",
    "sasl.oauthbearer.config",
];

/// Whether the value of `key` is a secret that must not be shown: the one place that decides
/// it. Client prefixes (`producer.`, `main.consumer.`, ...) do not matter, and case is
/// ignored. Inline PEM values (`ssl.key.pem`, `ssl.ca.pem`, ...) count as secret, as
/// librdkafka treats them.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_FRAGMENTS.iter().any(|f| key.contains(f))
        || SECRET_KEY_SUFFIXES.iter().any(|s| key.ends_with(s))
        || key.ends_with(".pem")
}

/// `value` as an error message may show it: [`REDACTED`] when `key` is secret.
pub(crate) fn shown_value<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) { REDACTED } else { value }
}

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
///
/// `Debug` shows every key but redacts secret values:
///
/// ```
/// use streams_core::StreamsConfig;
///
/// let config = StreamsConfig::new().set("producer.sasl.password", "hunter2");
/// assert!(!format!("{config:?}").contains("hunter2"));
/// ```
#[derive(Clone, Default)]
pub struct StreamsConfig {
    values: BTreeMap<String, String>,
}

impl fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: BTreeMap<&str, &str> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), shown_value(k, v)))
            .collect();
        f.debug_struct("StreamsConfig")
            .field("values", &values)
            .finish()
    }
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
                CLIENT_TAG_PREFIX,
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
        self.application_server()?;
        self.commit_interval()?;
        self.processing_guarantee()?;
        self.cache_max_bytes()?;
        self.deserialization_handling()?;
        self.processing_handling()?;
        self.production_handling()?;
        self.retry_delays()?;
        self.topic_naming_checked()?;
        self.i64_value("replication.factor")?;
        self.max_task_idle()?;
        self.num_standby_replicas()?;
        self.warmup()?;
        self.rack_awareness()?;
        self.outer_join_emit_interval_ms()?;
        self.windowed_aggregation_emit_interval_ms()?;
        self.i64_value("poll.ms")?;
        self.i64_value("session.timeout.ms")?;
        self.buffered_records_per_partition()?;
        self.input_buffer_max_bytes()?;
        self.memory_budget()?;
        self.check_transaction_timeout()?;
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
                    reason: format!("'{}' is not an integer", shown_value(key, v)),
                })
            })
            .transpose()
    }

    /// `text` with the value of every secret key replaced by [`REDACTED`], for messages that
    /// quote what a lower layer (librdkafka) says about a value.
    pub(crate) fn redact_secrets(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self
            .values
            .iter()
            .filter(|(k, v)| is_secret_key(k) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        // Longest first: a secret that contains another must not be left half-replaced.
        secrets.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut text = text.to_owned();
        for secret in secrets {
            text = text.replace(secret, REDACTED);
        }
        text
    }

    /// Under exactly-once a transaction stays open for a whole commit interval; if the
    /// producer's `transaction.timeout.ms` is not longer, the broker aborts every transaction
    /// before it commits and the application never makes progress (Kafka Streams'
    /// `verifyEOSTransactionTimeoutCompatibility`). Stricter than Java, which accepts an
    /// interval equal to the timeout: a commit takes time of its own, so equal still times out.
    fn check_transaction_timeout(&self) -> Result<()> {
        if self.processing_guarantee()? != ProcessingGuarantee::ExactlyOnceV2 {
            return Ok(());
        }
        let key = "producer.transaction.timeout.ms";
        let timeout = self.i64_value(key)?.unwrap_or(EOS_TRANSACTION_TIMEOUT_MS);
        let commit = i64::try_from(self.commit_interval()?.as_millis()).unwrap_or(i64::MAX);
        if commit >= timeout {
            let source = if self.is_set(key) {
                key.to_owned()
            } else {
                format!("the exactly_once_v2 default; set {key} to change it")
            };
            return Err(Error::Config {
                key: "commit.interval.ms".into(),
                reason: format!(
                    "{commit} ms is not below the producer's transaction.timeout.ms of {timeout} ms \
                     ({source}): under exactly_once_v2 a transaction stays open for a whole \
                     commit interval, so the broker would abort it before every commit; lower \
                     commit.interval.ms or raise {key}"
                ),
            });
        }
        Ok(())
    }

    /// `application.id`: the consumer group id and the prefix of internal topics.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when missing or not a valid topic-name part.
    pub fn application_id(&self) -> Result<&str> {
        let id = self.required("application.id")?;
        crate::names::validate(id).map_err(|reason| Error::Config {
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

    /// `application.server`: the `host:port` where this instance answers interactive
    /// queries, which the other instances learn through the consumer group (see
    /// [`StreamsHandle::query_metadata_for_key`](crate::StreamsHandle::query_metadata_for_key));
    /// `None` when unset or empty.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when it is not `host:port`.
    pub fn application_server(&self) -> Result<Option<crate::HostInfo>> {
        match self.get("application.server") {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some),
        }
    }

    /// `num.standby.replicas`: how many other instances keep a warm copy of each stateful
    /// task's stores, following its changelogs, so that a task moving after a failure
    /// restores only their tail (see the runtime's standby documentation). 0 (the
    /// default) keeps none.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative value.
    pub fn num_standby_replicas(&self) -> Result<usize> {
        let key = "num.standby.replicas";
        match self.i64_value(key)? {
            None => Ok(0),
            Some(n) => usize::try_from(n).map_err(|_| Error::Config {
                key: key.into(),
                reason: format!("{n} is negative: the number of standby replicas is 0 or more"),
            }),
        }
    }

    /// How an instance joining running ones warms up the tasks it will get (see the runtime's
    /// standby documentation), from Kafka Streams' high-availability settings:
    /// `acceptable.recovery.lag` (10,000 records by default), the changelog lag at which a
    /// warming task counts as caught up; `max.warmup.replicas` (2), how many tasks restore
    /// at once during the warm-up, the others waiting for a slot (tasks caught up keep
    /// following their changelogs); `probing.rebalance.interval.ms` (10 minutes, at least
    /// one), how long the warm-up may hold the instance's threads back before they join
    /// the group anyway. In Kafka Streams the last is the interval of the probing rebalances
    /// that move a task once its warm-up has caught up; here the warm-up happens before the
    /// instance joins, and this bounds it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative lag, fewer than 1 warm-up replica, or an interval
    /// below 60,000 ms, as Kafka Streams refuses them.
    pub fn warmup(&self) -> Result<Warmup> {
        let count = |key: &str, min: i64| -> Result<i64> {
            let n = self.i64_value(key)?.unwrap_or(min);
            if n < min {
                return Err(Error::Config {
                    key: key.into(),
                    reason: format!("{n} is below the minimum of {min}"),
                });
            }
            Ok(n)
        };
        let lag = count("acceptable.recovery.lag", 0)?;
        let replicas = count("max.warmup.replicas", 1)?;
        let interval = count("probing.rebalance.interval.ms", 60_000)?;
        Ok(Warmup {
            acceptable_lag: u64::try_from(lag).unwrap_or(0),
            max_replicas: usize::try_from(replicas).unwrap_or(usize::MAX),
            timeout: Duration::from_millis(u64::try_from(interval).unwrap_or(u64::MAX)),
        })
    }

    /// Rack awareness: this instance's tags (`client.tag.<key>=<value>`, at most five,
    /// keys of up to 20 characters, values of up to 30) and `rack.aware.assignment.tags`,
    /// the comma-separated tag keys over which each task's standbys are spread, as Kafka
    /// Streams' client-tag-aware standby assignor spreads them (see the runtime's standby
    /// documentation). Every instance of an application should list the same keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_core::StreamsConfig;
    ///
    /// let config = StreamsConfig::new()
    ///     .set("client.tag.zone", "eu-west-1a")
    ///     .set("rack.aware.assignment.tags", "zone");
    /// let rack = config.rack_awareness().unwrap();
    /// assert_eq!(rack.client_tags["zone"], "eu-west-1a");
    /// assert_eq!(rack.assignment_tags, ["zone"]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for more than five tags, an empty or too long key or value, or an
    /// assignment tag this instance has no `client.tag.` value for, as Kafka Streams
    /// refuses them.
    pub fn rack_awareness(&self) -> Result<RackAwareness> {
        let client_tags = self
            .with_prefix(CLIENT_TAG_PREFIX)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let assignment_tags = RackAwareness::parse_assignment_tags(
            self.get(RACK_AWARE_ASSIGNMENT_TAGS).unwrap_or(""),
        );
        RackAwareness::new(client_tags, assignment_tags)
    }

    /// `max.task.idle.ms` when positive: how long a task with several input partitions
    /// waits for an empty, caught-up partition before processing the others (see the
    /// runtime's task docs). 0 (the default) and -1 never wait: a task processes whatever its
    /// partitions have buffered, which is Kafka Streams' -1 and close to its 0 (which waits
    /// only for partitions whose lag is not known to be zero).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a value below -1.
    pub fn max_task_idle(&self) -> Result<Option<Duration>> {
        match self.i64_value("max.task.idle.ms")? {
            None | Some(-1 | 0) => Ok(None),
            Some(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms as u64))),
            Some(ms) => Err(Error::Config {
                key: "max.task.idle.ms".into(),
                reason: format!("{ms} is below -1"),
            }),
        }
    }

    /// `retry.delays.ms`: under the `retry` processing handler, the delay before each
    /// attempt, one retry topic per delay, comma-separated milliseconds (the default
    /// `30000,300000` is 30 s, then 5 min).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty list or a value that is not a non-negative integer.
    pub fn retry_delays(&self) -> Result<Vec<Duration>> {
        let raw = self.get("retry.delays.ms").unwrap_or("30000,300000");
        let bad = |reason: String| Error::Config {
            key: "retry.delays.ms".into(),
            reason,
        };
        let delays = raw
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        bad(format!(
                            "'{}' is not a delay in milliseconds (expected e.g. 30000,300000)",
                            part.trim()
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if delays.is_empty() {
            return Err(bad("at least one delay is needed".into()));
        }
        Ok(delays)
    }

    /// Whether `topic.naming.convention` asks for topic names to be checked:
    /// `domain.entity.event` has `KafkaStreams::new` and the test driver refuse a topology
    /// naming a topic that does not read `[<domain>.]<entity>.<event>` in lower case;
    /// `none`, the default, checks nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for another value.
    pub fn topic_naming_checked(&self) -> Result<bool> {
        match self.get("topic.naming.convention").map(str::trim) {
            None | Some("none") => Ok(false),
            Some("domain.entity.event") => Ok(true),
            Some(other) => Err(Error::Config {
                key: "topic.naming.convention".into(),
                reason: format!("'{other}' is not one of none, domain.entity.event"),
            }),
        }
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

    /// `input.buffer.max.bytes` (Kafka Streams 4.x): the most bytes of polled records a
    /// stream thread buffers across all its tasks before it pauses their partitions, so that
    /// slow processing or a stalled task cannot make the consumer fetch without bound. 512 MiB
    /// by default, or each thread's share of `memory.budget.bytes` when that is set.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn input_buffer_max_bytes(&self) -> Result<u64> {
        if let Some(budget) = self.memory_budget()? {
            return Ok(budget.input_buffer_bytes_per_thread());
        }
        self.non_negative_count("input.buffer.max.bytes")
    }

    /// `memory.budget.bytes`: one bound for the instance's caches, buffers, stores and
    /// client queues, split as [`MemoryBudget`] says. Unset by default, and each part is
    /// then sized by its own setting.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a value that is not a number of bytes, one below 32 MiB, or
    /// when a setting the budget decides is also set.
    pub fn memory_budget(&self) -> Result<Option<MemoryBudget>> {
        let Some(raw) = self.get(MEMORY_BUDGET) else {
            return Ok(None);
        };
        let total = raw.trim().parse::<u64>().map_err(|_| Error::Config {
            key: MEMORY_BUDGET.into(),
            reason: format!("'{raw}' is not a number of bytes"),
        })?;
        if let Some(key) = self.values.keys().find(|k| MemoryBudget::decides(k)) {
            return Err(Error::Config {
                key: key.clone(),
                reason: format!("{MEMORY_BUDGET} decides this setting; set one or the other"),
            });
        }
        MemoryBudget::new(total, self.num_stream_threads()?).map(Some)
    }

    /// The RocksDB share of the memory budget, which every store of the instance draws on;
    /// `None` without a budget.
    pub(crate) fn store_memory(&self) -> Result<Option<StoreMemory>> {
        Ok(self.memory_budget()?.map(|b| b.store_memory()))
    }

    /// `buffered.records.per.partition`: the most records a task buffers per input partition
    /// before that partition is paused. 1000 by default.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn buffered_records_per_partition(&self) -> Result<usize> {
        let n = self.non_negative_count("buffered.records.per.partition")?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn non_negative_count(&self, key: &str) -> Result<u64> {
        match self.i64_value(key)? {
            Some(n) => u64::try_from(n).map_err(|_| Error::Config {
                key: key.to_owned(),
                reason: format!("must be a non-negative integer, got {n}"),
            }),
            None => Ok(0),
        }
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

    /// `statestore.cache.max.bytes` (or the older `cache.max.bytes.buffering`), or the
    /// record caches' share of `memory.budget.bytes` when that is set.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a negative or non-numeric value.
    pub fn cache_max_bytes(&self) -> Result<u64> {
        if let Some(budget) = self.memory_budget()? {
            return Ok(budget.record_cache_bytes());
        }
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

    /// Why `config` is refused, or "" when it is valid.
    fn refusal(config: &StreamsConfig) -> String {
        config
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

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
                .is_ok()
        );
        assert!(
            base.clone()
                .set("default.deserialization.exception.handler", "retry")
                .validate()
                .is_err_and(|e| e.to_string().contains("processing.exception.handler only"))
        );
        for bad in ["", "30000,soon", "-5"] {
            assert!(
                base.clone().set("retry.delays.ms", bad).validate().is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            base.clone()
                .set("retry.delays.ms", " 10, 2000 ")
                .retry_delays()
                .ok(),
            Some(vec![Duration::from_millis(10), Duration::from_secs(2)])
        );
        assert!(
            StreamsConfig::new().validate().is_err(),
            "application.id is required"
        );
        // Settings this runtime cannot honour are refused rather than ignored.
        for (key, value) in [
            ("num.standby.replicas", "-1"),
            ("max.task.idle.ms", "-2"),
            (OUTER_JOIN_EMIT_INTERVAL, "-1"),
        ] {
            let err = base.clone().set(key, value).validate().err();
            assert!(
                err.as_ref().is_some_and(|e| e.to_string().contains(key)),
                "{key}={value}: {err:?}"
            );
        }
        assert_eq!(
            base.clone()
                .set("num.standby.replicas", "2")
                .num_standby_replicas()
                .ok(),
            Some(2)
        );
        for ms in ["-1", "0", "100"] {
            assert!(base.clone().set("max.task.idle.ms", ms).validate().is_ok());
        }
        assert_eq!(
            base.clone()
                .set("max.task.idle.ms", "100")
                .max_task_idle()
                .ok(),
            Some(Some(Duration::from_millis(100)))
        );
        assert_eq!(base.max_task_idle().ok(), Some(None));
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

    /// Every secret key of the brief's list, bare and under each client prefix.
    const SECRET_KEYS: &[&str] = &[
        "sasl.jaas.config",
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "ssl.key.pem",
        "ssl.keystore.key",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "basic.auth.user.info",
    ];
    const CLIENT_PREFIXES: &[&str] = &[
        "",
        "producer.",
        "consumer.",
        "main.consumer.",
        "restore.consumer.",
        "global.consumer.",
        "admin.",
    ];

    #[test]
    fn secret_keys_are_recognised_under_every_prefix() {
        for key in SECRET_KEYS {
            for prefix in CLIENT_PREFIXES {
                assert!(is_secret_key(&format!("{prefix}{key}")), "{prefix}{key}");
            }
        }
        assert!(is_secret_key("SASL.PASSWORD"));
        for plain in [
            "bootstrap.servers",
            "sasl.username",
            "sasl.mechanism",
            "ssl.key.location",
            "consumer.fetch.min.bytes",
            "application.id",
        ] {
            assert!(!is_secret_key(plain), "{plain}");
        }
    }

    #[test]
    fn debug_and_errors_redact_secrets() {
        let mut c = StreamsConfig::new().set("application.id", "app");
        for key in SECRET_KEYS {
            for prefix in CLIENT_PREFIXES {
                c.insert(format!("{prefix}{key}"), format!("hunter2-{prefix}{key}"));
            }
        }
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("producer.sasl.password"), "{debug}");
        assert!(debug.contains(REDACTED), "{debug}");
        assert!(
            debug.contains("\"app\""),
            "other values stay visible: {debug}"
        );

        let said = c.redact_secrets(
            "Invalid value \"hunter2-producer.sasl.password\" for configuration property",
        );
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains(REDACTED), "{said}");
        // A secret quoted inside a longer one is not left half-visible.
        let nested = StreamsConfig::new()
            .set("sasl.password", "abc")
            .set("ssl.key.password", "xxabcxx");
        assert_eq!(nested.redact_secrets("[xxabcxx]"), format!("[{REDACTED}]"));

        // Typed getters quote rejected values, unless the key is secret.
        assert!(
            ErrorHandling::parse("sasl.jaas.config", "hunter2")
                .err()
                .is_some_and(|e| !e.to_string().contains("hunter2"))
        );
        assert!(
            ErrorHandling::parse("production.exception.handler", "retry")
                .err()
                .is_some_and(|e| e.to_string().contains("retry"))
        );
        let bad = StreamsConfig::new().set("sasl.password", "hunter2");
        let err = bad.i64_value("sasl.password").err().map(|e| e.to_string());
        assert!(
            err.as_ref()
                .is_some_and(|e| !e.contains("hunter2") && e.contains(REDACTED)),
            "{err:?}"
        );
    }

    #[test]
    fn exactly_once_commit_interval_must_be_below_the_transaction_timeout() {
        let eos = StreamsConfig::new()
            .set("application.id", "app")
            .set("processing.guarantee", "exactly_once_v2");
        // Kafka Streams' default under exactly-once: 100 ms, well below 10 s.
        assert_eq!(eos.commit_interval().ok(), Some(Duration::from_millis(100)));
        assert!(eos.validate().is_ok());
        assert!(
            eos.clone()
                .set("commit.interval.ms", "9999")
                .validate()
                .is_ok()
        );
        for commit in ["10000", "30000"] {
            let err = eos
                .clone()
                .set("commit.interval.ms", commit)
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("commit.interval.ms"), "{err}");
            assert!(err.contains("producer.transaction.timeout.ms"), "{err}");
            assert!(err.contains("10000 ms"), "{err}");
        }
        let raised = eos
            .clone()
            .set("commit.interval.ms", "30000")
            .set("producer.transaction.timeout.ms", "60000");
        assert!(raised.validate().is_ok());
        let lowered = eos.clone().set("producer.transaction.timeout.ms", "100");
        assert!(lowered.validate().is_err(), "100 ms is not below 100 ms");
        let garbage = eos.clone().set("producer.transaction.timeout.ms", "soon");
        let err = garbage
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("producer.transaction.timeout.ms"), "{err}");
        // At-least-once has no transaction to time out.
        let alo = StreamsConfig::new()
            .set("application.id", "app")
            .set("commit.interval.ms", "30000")
            .set("producer.transaction.timeout.ms", "100");
        assert!(alo.validate().is_ok());
    }

    #[test]
    fn input_buffers_are_bounded_by_non_negative_integers() {
        let base = StreamsConfig::new().set("application.id", "app");
        assert_eq!(base.input_buffer_max_bytes().ok(), Some(512 * 1024 * 1024));
        assert_eq!(base.buffered_records_per_partition().ok(), Some(1000));
        let set = base
            .clone()
            .set("input.buffer.max.bytes", "1048576")
            .set("buffered.records.per.partition", "5");
        assert!(set.validate().is_ok());
        assert_eq!(set.input_buffer_max_bytes().ok(), Some(1_048_576));
        assert_eq!(set.buffered_records_per_partition().ok(), Some(5));
        for key in ["input.buffer.max.bytes", "buffered.records.per.partition"] {
            for value in ["-1", "lots", "1.5", ""] {
                let err = refusal(&base.clone().set(key, value));
                assert!(err.contains(key), "{key}={value}: {err}");
            }
        }
    }

    #[test]
    fn a_memory_budget_sizes_the_caches_and_buffers_and_refuses_what_it_decides() {
        let base = StreamsConfig::new()
            .set("application.id", "app")
            .set("num.stream.threads", "2");
        assert_eq!(base.memory_budget().ok(), Some(None));
        let budgeted = base.clone().set(MEMORY_BUDGET, "268435456");
        assert!(budgeted.validate().is_ok());
        assert_eq!(budgeted.cache_max_bytes().ok(), Some(32 << 20));
        assert_eq!(budgeted.input_buffer_max_bytes().ok(), Some(16 << 20));

        let typo = base.clone().set(MEMORY_BUDGET, "256MiB").validate();
        let err = typo.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains(MEMORY_BUDGET) && err.contains("'256MiB'"),
            "{err}"
        );
        let both = budgeted
            .clone()
            .set("main.consumer.queued.max.messages.kbytes", "1024")
            .validate();
        let err = both.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("main.consumer.queued.max.messages.kbytes") && err.contains(MEMORY_BUDGET),
            "{err}"
        );
        let misspelt = base.set("memory.budget.byte", "268435456").validate();
        let err = misspelt.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("did you mean 'memory.budget.bytes'"), "{err}");
    }

    #[test]
    fn warm_up_settings_default_as_kafka_streams_and_refuse_what_it_refuses() {
        let base = StreamsConfig::new().set("application.id", "app");
        assert_eq!(
            base.warmup().ok(),
            Some(Warmup {
                acceptable_lag: 10_000,
                max_replicas: 2,
                timeout: Duration::from_secs(600),
            })
        );
        let set = base
            .clone()
            .set("acceptable.recovery.lag", "0")
            .set("max.warmup.replicas", "5")
            .set("probing.rebalance.interval.ms", "60000");
        assert_eq!(
            set.warmup().ok(),
            Some(Warmup {
                acceptable_lag: 0,
                max_replicas: 5,
                timeout: Duration::from_secs(60),
            })
        );
        for (key, value) in [
            ("acceptable.recovery.lag", "-1"),
            ("max.warmup.replicas", "0"),
            ("probing.rebalance.interval.ms", "59999"),
            ("max.warmup.replicas", "two"),
        ] {
            let err = refusal(&base.clone().set(key, value));
            assert!(err.contains(key), "{key}={value}: {err}");
        }
    }

    #[test]
    fn client_tags_are_accepted_and_checked_as_kafka_streams_checks_them() {
        let base = StreamsConfig::new().set("application.id", "app");
        let tagged = base
            .clone()
            .set("client.tag.zone", "eu-west-1a")
            .set("client.tag.cluster", "k8s-2")
            .set("rack.aware.assignment.tags", "zone,cluster");
        assert!(tagged.validate().is_ok());
        let rack = tagged.rack_awareness().ok();
        assert_eq!(
            rack.map(|r| r.assignment_tags),
            Some(vec!["zone".to_owned(), "cluster".to_owned()])
        );
        assert_eq!(base.rack_awareness().ok(), Some(RackAwareness::default()));
        let err = refusal(&base.clone().set("rack.aware.assignment.tags", "zone"));
        assert!(err.contains("client.tag.zone"), "{err}");
        let err = refusal(&base.clone().set("client.tag.zone", "z".repeat(31)));
        assert!(err.contains("client.tag.zone"), "{err}");
        let err = refusal(&base.set("rack.aware.assignment.tag", "zone"));
        assert!(
            err.contains("did you mean 'rack.aware.assignment.tags'"),
            "{err}"
        );
    }
}
