//! The steps of [`KafkaStreams::start_with`](super::KafkaStreams::start_with) that read the
//! config and the cluster: the error handlers, the topic plan with the creation of missing
//! internal topics, and what every thread is started with.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::config::{ErrorHandling, StreamsConfig};
use crate::context::TaskHandlers;
use crate::error::Result;
use crate::runtime::client_log::LogContext;
use crate::runtime::clients::KafkaClientConfigs;
use crate::runtime::kafka_errors::kafka_error;
use crate::runtime::topic_plan::{DeadLetterTopics, TopicPlan, plan_topics};
use crate::runtime::topics::{self, TopicCreator, TopicSpec};
use crate::topology::Topology;

/// How long start-up may wait for the cluster (metadata, topic creation).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The error handlers the config names.
pub(crate) fn task_handlers(config: &StreamsConfig) -> Result<TaskHandlers> {
    Ok(TaskHandlers {
        deserialization: config.deserialization_handling()?,
        processing: config.processing_handling()?,
        production: config.production_handling()?,
    })
}

/// Plans the application's topics against the cluster's, then creates the internal topics
/// that are missing and waits until the cluster's metadata shows them.
pub(crate) fn prepare_topics(
    topology: &Topology,
    clients: &KafkaClientConfigs,
    config: &StreamsConfig,
    application_id: &str,
    handlers: TaskHandlers,
    creator: &dyn TopicCreator,
) -> Result<TopicPlan> {
    let dead_letter = [
        handlers.deserialization,
        handlers.processing,
        handlers.production,
    ]
    .contains(&ErrorHandling::DeadLetter)
        || handlers.processing == ErrorHandling::Retry;
    let replication = config
        .get("replication.factor")
        .and_then(|v| v.trim().parse::<i32>().ok())
        .unwrap_or(-1);

    let probe: BaseConsumer<LogContext> = clients
        .admin
        .create_with_context(LogContext {
            client: format!("{application_id}-metadata"),
        })
        .map_err(|e| kafka_error("creating a metadata client", e))?;
    let existing = topics::cluster_partitions(probe.client(), STARTUP_TIMEOUT)?;
    let plan = plan_topics(
        topology,
        application_id,
        &existing,
        replication,
        DeadLetterTopics {
            sources: dead_letter,
            outputs: handlers.production == ErrorHandling::DeadLetter,
        },
    )?;
    let missing: Vec<TopicSpec> = plan
        .to_create
        .iter()
        .filter(|t| !existing.contains_key(&t.name))
        .cloned()
        .collect();
    if !missing.is_empty() {
        tracing::info!(topics = ?missing.iter().map(|t| &t.name).collect::<Vec<_>>(), "creating internal topics");
        creator.create_topics(&missing)?;
        let names: Vec<&str> = missing.iter().map(|t| t.name.as_str()).collect();
        topics::await_topics(probe.client(), &names, STARTUP_TIMEOUT)?;
    }
    Ok(plan)
}

/// How many stream threads the instance runs. A topology of global stores only has no
/// task to run, so no stream thread, as in Kafka Streams.
pub(crate) fn stream_thread_count(plan: &TopicPlan, config: &StreamsConfig) -> Result<usize> {
    if plan.subscribed.is_empty() && !plan.global.is_empty() {
        Ok(0)
    } else {
        config.num_stream_threads()
    }
}

/// What every thread of the instance is started with.
pub(crate) struct ThreadSettings {
    /// The application id, shared by the threads.
    pub(crate) application_id: Arc<str>,
    /// The error handlers.
    pub(crate) handlers: TaskHandlers,
    /// How long a poll waits when no record is buffered (`poll.ms`).
    pub(crate) poll_timeout: Duration,
    /// `buffered.records.per.partition`.
    pub(crate) buffered_per_partition: usize,
    /// Each stream thread's share of `cache.max.bytes.buffering`.
    pub(crate) cache_bytes: usize,
    /// The config, which every thread reads.
    pub(crate) config: Arc<StreamsConfig>,
}

impl ThreadSettings {
    /// The settings of `threads` stream threads (and the global thread) of `config`.
    pub(crate) fn new(
        config: &StreamsConfig,
        application_id: &str,
        handlers: TaskHandlers,
        threads: usize,
    ) -> Result<Self> {
        let cache_bytes = usize::try_from(config.cache_max_bytes()?).unwrap_or(usize::MAX);
        let poll_ms = config
            .get("poll.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(100);
        let buffered = config
            .get("buffered.records.per.partition")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1000);
        Ok(ThreadSettings {
            application_id: application_id.into(),
            handlers,
            poll_timeout: Duration::from_millis(poll_ms),
            buffered_per_partition: buffered,
            cache_bytes: cache_bytes / threads.max(1),
            config: Arc::new(config.clone()),
        })
    }
}
