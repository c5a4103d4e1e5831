//! The Kafka cluster queries run on: the embedded one (librdkafka's in-process mock
//! cluster) or a real one.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::RDKafkaErrorCode;
use streams_dsl::prelude::KafkaStreams;

use crate::error::{Error, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Where topics live and queries run.
pub enum Cluster {
    /// An in-process cluster, gone when dropped.
    Embedded(MockCluster<'static, DefaultProducerContext>),
    /// A cluster at these bootstrap servers.
    Remote(String),
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cluster::Embedded(m) => write!(f, "Embedded({})", m.bootstrap_servers()),
            Cluster::Remote(b) => write!(f, "Remote({b})"),
        }
    }
}

impl Cluster {
    /// A new embedded cluster of one broker.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when librdkafka cannot create it.
    pub fn embedded() -> Result<Self> {
        MockCluster::new(1)
            .map(Cluster::Embedded)
            .map_err(|e| Error::kafka("starting the embedded cluster", e))
    }

    /// Its bootstrap servers.
    pub fn bootstrap_servers(&self) -> String {
        match self {
            Cluster::Embedded(m) => m.bootstrap_servers(),
            Cluster::Remote(b) => b.clone(),
        }
    }

    /// The partition count of `topic`, or `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the cluster does not answer.
    pub fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()
            .map_err(|e| Error::kafka("creating a metadata client", e))?;
        let md = consumer
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| Error::kafka("reading the cluster's topics", e))?;
        Ok(md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len() as i32))
    }

    /// The names of the cluster's topics.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the cluster does not answer.
    pub fn topics(&self) -> Result<Vec<String>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()
            .map_err(|e| Error::kafka("creating a metadata client", e))?;
        let md = consumer
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| Error::kafka("reading the cluster's topics", e))?;
        Ok(md.topics().iter().map(|t| t.name().to_owned()).collect())
    }

    /// Creates `topic` unless it exists.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when it cannot be created.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        if self.partitions(topic)?.is_some() {
            return Ok(());
        }
        match self {
            Cluster::Embedded(m) => match m.create_topic(topic, partitions, 1) {
                Ok(()) => {}
                Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAlreadyExists) => {}
                Err(e) => return Err(Error::kafka(format!("creating topic '{topic}'"), e)),
            },
            Cluster::Remote(b) => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", b)
                    .create()
                    .map_err(|e| Error::kafka("creating an admin client", e))?;
                let topics = [NewTopic::new(topic, partitions, TopicReplication::Fixed(1))];
                let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
                let results = futures::executor::block_on(admin.create_topics(&topics, &options))
                    .map_err(|e| Error::kafka(format!("creating topic '{topic}'"), e))?;
                for r in results {
                    if let Err((t, code)) = r
                        && code != RDKafkaErrorCode::TopicAlreadyExists
                    {
                        return Err(Error::Execution(format!("creating topic '{t}': {code}")));
                    }
                }
            }
        }
        let deadline = std::time::Instant::now() + TIMEOUT;
        while self.partitions(topic)?.is_none() {
            if std::time::Instant::now() > deadline {
                return Err(Error::Execution(format!(
                    "topic '{topic}' did not appear within {} s",
                    TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Starts `streams` here.
    ///
    /// # Errors
    ///
    /// [`Error::Streams`] when it cannot start.
    pub fn start(&self, streams: &mut KafkaStreams) -> Result<()> {
        match self {
            Cluster::Embedded(m) => streams.start_with(m),
            Cluster::Remote(_) => streams.start(),
        }
        .map_err(|e| Error::streams("starting the query", e))
    }
}
