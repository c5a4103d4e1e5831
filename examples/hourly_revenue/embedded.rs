//! The embedded Kafka cluster: librdkafka's in-process mock cluster, without the three
//! seconds a new consumer group waits for more members before its first assignment.
//!
//! A broker delays a new group's first rebalance by `group.initial.rebalance.delay.ms`
//! (3 s by default, and in the mock cluster), so that members starting together join one
//! rebalance. The example's application is the group's only member, and that wait was half
//! of its run. rust-rdkafka does not expose the mock cluster's setting, so it is set through
//! librdkafka's C API.

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer};

/// A mock cluster of one broker, owned by a client of its own.
pub(crate) struct Embedded {
    owner: BaseProducer<DefaultProducerContext>,
}

impl Embedded {
    /// Starts the cluster, with no initial rebalance delay.
    pub(crate) fn start() -> KafkaResult<Self> {
        let owner: BaseProducer<DefaultProducerContext> = ClientConfig::new()
            .set("test.mock.num.brokers", "1")
            .create()?;
        let rk = owner.client().native_ptr();
        // SAFETY: `rk` is a live client handle, borrowed for the call;
        // `rd_kafka_handle_mock_cluster` returns the mock cluster that client owns (or
        // null), which lives as long as the client, and setting the group delay has no
        // other precondition.
        unsafe {
            let cluster = rdkafka_sys::rd_kafka_handle_mock_cluster(rk);
            if cluster.is_null() {
                return Err(KafkaError::ClientCreation(
                    "the client made no mock cluster".into(),
                ));
            }
            rdkafka_sys::rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);
        }
        Ok(Embedded { owner })
    }

    /// The cluster, to create topics and read its bootstrap servers.
    pub(crate) fn cluster(&self) -> KafkaResult<MockCluster<'_, impl ClientContext>> {
        self.owner
            .client()
            .mock_cluster()
            .ok_or_else(|| KafkaError::ClientCreation("the mock cluster is gone".into()))
    }
}
