//! The Kafka runtime: [`KafkaStreams`] runs a [`Topology`](crate::Topology) against a Kafka
//! cluster.
//!
//! An instance joins the consumer group named by `application.id` with
//! `num.stream.threads` stream threads. Each thread is a plain OS thread with its own group
//! member (consumer), producer and restore consumer; it creates one task per assigned
//! partition of each sub-topology (`<sub>_<partition>`), restores the tasks' stores from
//! their changelogs, then loops: poll a batch, hand records to tasks, process them in
//! timestamp order, run punctuators, and commit every `commit.interval.ms`.
//!
//! # Global stores
//!
//! A topology with global stores (global tables) also gets a global thread: one consumer
//! without a group, assigned every partition of the global stores' topics.
//! [`KafkaStreams::start`] opens the stores in `<state.dir>/<application.id>/global`, has the global thread read
//! the topics up to their end offsets, and only then starts the stream threads, so no task
//! processes a record before the global stores are complete (as Kafka Streams'
//! `GlobalStreamThread`). The global thread then keeps applying records as they arrive,
//! flushing the stores and writing `global/.checkpoint` every `commit.interval.ms`; a
//! restart resumes persistent stores from there. Every task reads the stores concurrently
//! through read-only views.
//!
//! # Commit
//!
//! - **at_least_once:** caches and stores are flushed, the producer is flushed and every
//!   record acknowledged, checkpoints are written, then the consumer offsets are committed.
//! - **exactly_once_v2:** one transactional producer per thread; outputs, changelog writes
//!   and the consumed offsets commit in one transaction, consumers read committed data only,
//!   and checkpoints are not trusted after a crash.
//!
//! # Interactive queries
//!
//! [`KafkaStreams::handle`] gives a cloneable [`StreamsHandle`] that runs queries on the
//! stores of this instance's tasks (on the threads that own them, through their caches;
//! never on a task that is still restoring) and, with `application.server` set, tells which
//! instance holds a key, from the consumer group's own description (see
//! [`StreamsHandle`]'s routing notes and the `discovery` module for the design and its
//! staleness bounds).
//!
//! # Topics
//!
//! At start the instance checks that the source topics exist and that co-partitioned
//! topics have equal partition counts, then creates the missing internal topics (repartition
//! topics with `cleanup.policy=delete`, changelogs with `compact` or `compact,delete`, and
//! `<topic>.dead-letter` topics when a handler dead-letters) through a [`TopicCreator`]:
//! the admin API by default, or rdkafka's
//! [`MockCluster`](rdkafka::mocking::MockCluster) in tests.
//!
//! # Example
//!
//! ```no_run
//! use streams_core::runtime::KafkaStreams;
//! use streams_core::serde::Serdes;
//! use streams_core::{Consumed, Produced, StreamsConfig, Topology};
//!
//! let mut topology = Topology::new();
//! topology
//!     .add_source("in", &["orders"], Consumed::with(Serdes::string(), Serdes::string()))?
//!     .add_sink("out", "orders-copy", Produced::with(Serdes::string(), Serdes::string()), &["in"])?;
//! let config = StreamsConfig::new()
//!     .set("application.id", "copier")
//!     .set("bootstrap.servers", "localhost:9092");
//! let mut streams = KafkaStreams::new(topology, config)?;
//! streams.run_until_signal()?;
//! # Ok::<(), streams_core::Error>(())
//! ```

mod assignment;
mod client_log;
mod clients;
mod clock;
mod collector;
mod consumed;
mod deliveries;
mod discovery;
mod global;
mod handle;
mod kafka_errors;
mod metadata;
mod metrics;
mod process_id;
mod query;
mod rebalance;
mod recovery;
mod restore;
mod send_failure;
mod shared;
mod signal;
mod standby;
mod startup;
mod state;
mod streams;
mod task_manager;
mod thread;
mod topic_plan;
mod topics;

pub use clients::KafkaClientConfigs;
pub use handle::StreamsHandle;
pub use metadata::{KeyQueryMetadata, StreamsMetadata};
pub use metrics::StreamsMetrics;
pub use state::{State, StateListener};
pub use streams::KafkaStreams;
pub use topics::{AdminTopicCreator, TopicCreator, TopicRole, TopicSpec};
