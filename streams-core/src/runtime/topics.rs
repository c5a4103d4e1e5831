//! The topics an application creates ([`TopicSpec`], [`TopicCreator`]), what the cluster
//! has, and which topics are internal by their names. What to create is worked out by the
//! topic plan.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::mocking::MockCluster;

use crate::error::{Error, Result};
use crate::runtime::client_log::LogContext;
use crate::runtime::kafka_errors::{kafka_error, retry_transient};

/// What a topic the application creates is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TopicRole {
    /// A repartition topic, `<application.id>-<name>-repartition`.
    Repartition,
    /// A store's changelog, `<application.id>-<store>-changelog`.
    Changelog,
    /// A dead-letter topic, `<topic>.dead-letter`: of a source topic (records that cannot
    /// be read or processed) or of a sink topic (outputs the brokers refused).
    DeadLetter,
    /// A retry topic, `<topic>.retry-<n>`.
    Retry,
    /// An output topic the application declared
    /// ([`Topology::add_output_topic`](crate::Topology::add_output_topic)).
    Output,
}

/// A topic to create, with its partition count and topic configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// The full topic name.
    pub name: String,
    /// The number of partitions.
    pub partitions: i32,
    /// The replication factor; -1 leaves it to the broker's default.
    pub replication_factor: i32,
    /// Topic configuration (`cleanup.policy`, `retention.ms`, ...).
    pub config: BTreeMap<String, String>,
    /// What the topic is for.
    pub role: TopicRole,
}

/// Creates topics for the runtime: the admin API on a real cluster, the mock cluster's own
/// topic API on rdkafka's mock cluster (which has no CreateTopics).
pub trait TopicCreator {
    /// Creates the topics that do not exist yet; existing ones are left as they are.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when a topic cannot be created.
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()>;
}

impl<C: ClientContext> TopicCreator for MockCluster<'_, C> {
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        for t in topics {
            // The mock cluster keeps no topic configuration, so only the partition count
            // and replication matter here.
            let replication = t.replication_factor.max(1);
            match self.create_topic(&t.name, t.partitions, replication) {
                Ok(()) => {}
                Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAlreadyExists) => {}
                Err(e) => return Err(kafka_error(format!("creating topic '{}'", t.name), e)),
            }
        }
        Ok(())
    }
}

/// Creates topics with the admin API (CreateTopics), as Kafka Streams'
/// `InternalTopicManager` does.
pub struct AdminTopicCreator {
    admin: AdminClient<LogContext>,
    timeout: Duration,
}

impl std::fmt::Debug for AdminTopicCreator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTopicCreator")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AdminTopicCreator {
    /// An admin client with `config` (see
    /// [`KafkaClientConfigs::admin`](crate::runtime::KafkaClientConfigs::admin)).
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the client cannot be created.
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let client = config.get("client.id").unwrap_or("admin").to_owned();
        let admin = config
            .create_with_context(LogContext { client })
            .map_err(|e| kafka_error("creating the admin client", e))?;
        Ok(AdminTopicCreator {
            admin,
            timeout: Duration::from_secs(30),
        })
    }
}

impl TopicCreator for AdminTopicCreator {
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        if topics.is_empty() {
            return Ok(());
        }
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                let mut nt = NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(t.replication_factor),
                );
                for (k, v) in &t.config {
                    nt = nt.set(k, v);
                }
                nt
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = futures::executor::block_on(self.admin.create_topics(&new_topics, &options))
            .map_err(|e| kafka_error("creating internal topics", e))?;
        for r in results {
            match r {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(Error::Kafka {
                        context: format!("creating topic '{name}'"),
                        source: Box::new(rdkafka::error::KafkaError::AdminOp(code)),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The partition counts of every topic in the cluster, by name.
pub(crate) fn cluster_partitions<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<HashMap<String, i32>> {
    let metadata = retry_transient(timeout, "fetching cluster metadata", || {
        client.fetch_metadata(None, Duration::from_secs(5))
    })?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| {
            (
                t.name().to_owned(),
                i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
            )
        })
        .collect())
}

/// Waits until every topic of `wanted` shows in the cluster's metadata.
pub(crate) fn await_topics<C: ClientContext>(
    client: &Client<C>,
    wanted: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        let existing = cluster_partitions(client, timeout)?;
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|t| !existing.contains_key(*t))
            .collect();
        if missing.is_empty() {
            return Ok(existing);
        }
        if Instant::now() >= deadline {
            return Err(Error::IllegalState(format!(
                "topics {missing:?} did not appear in the cluster metadata within {timeout:?}"
            )));
        }
        // Metadata propagates from the controller to the brokers asynchronously.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `topic` is, by its name, one of the topics the application creates for its own
/// state and data flow: a changelog (`<application.id>-<store>-changelog`), a repartition
/// topic (`<application.id>-<name>-repartition`) or a foreign-key join's subscription or
/// response topic (`...-SUBSCRIPTION-REGISTRATION-...-topic`,
/// `...-subscription-response-topic`).
///
/// The record collector only knows topic names, and a record of these topics must never be
/// skipped by a handler: its loss would silently corrupt a store or a downstream task. A user
/// topic that happens to match is treated the same, which errs on the side of stopping.
pub(crate) fn is_internal_topic(topic: &str) -> bool {
    if topic.ends_with("-changelog") || topic.ends_with("-repartition") {
        return true;
    }
    let Some(stem) = topic.strip_suffix("-topic") else {
        return false;
    };
    // Generated names carry a node index between the marker and the suffix
    // (`KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic`), named ones do not.
    let stem = stem.to_ascii_lowercase();
    stem.contains("-subscription-registration") || stem.contains("-subscription-response")
}
