//! Which failures a stream thread recovers from, as Kafka Streams tells a
//! `TaskMigratedException` or `TaskCorruptedException` (and the timeouts of KIP-572) from a
//! fatal error.
//!
//! A recoverable failure closes the thread's tasks without committing, aborts the open
//! transaction, and starts the thread's clients anew: the consumer rejoins the group and
//! resumes from the committed offsets, and under exactly-once the new producer fences the
//! old one and the stores restore from their changelogs. Nothing that was not committed is
//! lost: it is processed again. Everything else (authorization, a missing source topic, a
//! handler that says fail, a store error) stops the instance with [`State::Error`].
//!
//! [`State::Error`]: super::State::Error

use std::time::Duration;

use rdkafka::error::KafkaError;

use crate::error::Error;
use crate::runtime::kafka_errors::{CodeKind, kind_of};

/// The first pause before a thread starts again after a recoverable failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether the thread can go on after `error` by closing its tasks dirty and rejoining.
pub(crate) fn is_recoverable(error: &Error) -> bool {
    match error {
        Error::TaskMigrated { .. } | Error::TaskCorrupted { .. } => true,
        Error::Kafka { source, .. } => source
            .downcast_ref::<KafkaError>()
            .is_some_and(is_recoverable_kafka),
        _ => false,
    }
}

fn is_recoverable_kafka(error: &KafkaError) -> bool {
    if let KafkaError::Transaction(e) = error {
        // A fenced producer is fatal for that producer only: a new one with the same
        // transactional id takes over, as Kafka Streams does on `ProducerFencedException`.
        return e.is_retriable()
            || e.txn_requires_abort()
            || matches!(
                kind_of(e.code()),
                CodeKind::ProducerFenced | CodeKind::TimedOut
            );
    }
    error.rdkafka_error_code().is_some_and(|code| {
        matches!(
            kind_of(code),
            CodeKind::TimedOut
                | CodeKind::Unavailable
                | CodeKind::Rebalancing
                | CodeKind::MembershipLost
                | CodeKind::ProducerFenced
                | CodeKind::CoordinatorFenced
                | CodeKind::Undelivered
                | CodeKind::TransactionTimeout
        )
    })
}

/// The pause before attempt `attempt` (1 for the first retry): doubling from
/// [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`].
pub(crate) fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(8);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::kafka_errors::kafka_error;
    use rdkafka::error::RDKafkaErrorCode;

    #[test]
    fn group_and_producer_losses_are_recoverable_and_refusals_are_not() {
        for code in [
            RDKafkaErrorCode::PollExceeded,
            RDKafkaErrorCode::IllegalGeneration,
            RDKafkaErrorCode::UnknownMemberId,
            RDKafkaErrorCode::RebalanceInProgress,
            RDKafkaErrorCode::ProducerFenced,
            RDKafkaErrorCode::OperationTimedOut,
            RDKafkaErrorCode::MessageTimedOut,
        ] {
            let e = kafka_error("polling", KafkaError::MessageConsumption(code));
            assert!(is_recoverable(&e), "{code:?} should be recoverable");
        }
        for code in [
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::GroupAuthorizationFailed,
            RDKafkaErrorCode::UnknownTopicOrPartition,
            RDKafkaErrorCode::InvalidConfig,
        ] {
            let e = kafka_error("polling", KafkaError::MessageConsumption(code));
            assert!(!is_recoverable(&e), "{code:?} should be fatal");
        }
        assert!(!is_recoverable(&Error::IllegalState("store".into())));
        assert!(is_recoverable(&Error::TaskCorrupted {
            context: "delivery".into(),
            source: "timed out".into(),
        }));
    }

    /// The codes the record collector classifies as well, with whether a stream thread
    /// recovers from a call failing with each.
    const SHARED_CODES: &[(RDKafkaErrorCode, bool)] = &[
        (RDKafkaErrorCode::Fenced, true),
        (RDKafkaErrorCode::ProducerFenced, true),
        (RDKafkaErrorCode::InvalidProducerEpoch, true),
        (RDKafkaErrorCode::InvalidProducerIdMapping, true),
        (RDKafkaErrorCode::TransactionCoordinatorFenced, true),
        (RDKafkaErrorCode::OutOfOrderSequenceNumber, false),
        (RDKafkaErrorCode::OperationTimedOut, true),
        (RDKafkaErrorCode::TimedOutQueue, true),
        (RDKafkaErrorCode::RequestTimedOut, true),
        (RDKafkaErrorCode::MessageTimedOut, true),
        (RDKafkaErrorCode::PurgeInflight, true),
        (RDKafkaErrorCode::PurgeQueue, true),
        (RDKafkaErrorCode::BrokerTransportFailure, true),
        (RDKafkaErrorCode::AllBrokersDown, true),
        (RDKafkaErrorCode::Resolve, true),
        (RDKafkaErrorCode::NetworkException, true),
        (RDKafkaErrorCode::CoordinatorLoadInProgress, true),
        (RDKafkaErrorCode::CoordinatorNotAvailable, true),
        (RDKafkaErrorCode::NotCoordinator, true),
        (RDKafkaErrorCode::LeaderNotAvailable, true),
        (RDKafkaErrorCode::NotLeaderForPartition, true),
        (RDKafkaErrorCode::WaitingForCoordinator, true),
        (RDKafkaErrorCode::ConcurrentTransactions, true),
        (RDKafkaErrorCode::RebalanceInProgress, true),
        (RDKafkaErrorCode::PollExceeded, true),
        (RDKafkaErrorCode::IllegalGeneration, true),
        (RDKafkaErrorCode::UnknownMemberId, true),
        (RDKafkaErrorCode::InvalidTransactionTimeout, true),
        (RDKafkaErrorCode::BrokerNotAvailable, false),
        (RDKafkaErrorCode::ReplicaNotAvailable, false),
        (RDKafkaErrorCode::UnknownTopicOrPartition, false),
        (RDKafkaErrorCode::FencedLeaderEpoch, false),
        (RDKafkaErrorCode::UnknownLeaderEpoch, false),
        (RDKafkaErrorCode::NotEnoughReplicas, false),
        (RDKafkaErrorCode::NotEnoughReplicasAfterAppend, false),
        (RDKafkaErrorCode::KafkaStorageError, false),
        (RDKafkaErrorCode::UnknownProducerId, false),
        (RDKafkaErrorCode::Retry, false),
        (RDKafkaErrorCode::BrokerDestroy, false),
        (RDKafkaErrorCode::DestroyBroker, false),
        (RDKafkaErrorCode::State, false),
        (RDKafkaErrorCode::Fatal, false),
        (RDKafkaErrorCode::Inconsistent, false),
        (RDKafkaErrorCode::InvalidTransactionalState, false),
        (RDKafkaErrorCode::TopicAuthorizationFailed, false),
        (RDKafkaErrorCode::ClusterAuthorizationFailed, false),
        (RDKafkaErrorCode::GroupAuthorizationFailed, false),
        (RDKafkaErrorCode::TransactionalIdAuthorizationFailed, false),
        (RDKafkaErrorCode::SaslAuthenticationFailed, false),
        (RDKafkaErrorCode::Authentication, false),
        (RDKafkaErrorCode::SSL, false),
        (RDKafkaErrorCode::SecurityDisabled, false),
        (RDKafkaErrorCode::InvalidTopic, false),
        (RDKafkaErrorCode::OffsetMetadataTooLarge, false),
        (RDKafkaErrorCode::Unknown, false),
        (RDKafkaErrorCode::MessageSizeTooLarge, false),
        (RDKafkaErrorCode::InvalidRecord, false),
    ];

    #[test]
    fn recoverability_of_every_code_the_collector_classifies() {
        for &(code, recoverable) in SHARED_CODES {
            for error in [
                KafkaError::MessageConsumption(code),
                KafkaError::ConsumerCommit(code),
                KafkaError::Flush(code),
            ] {
                let e = kafka_error("calling", error);
                assert_eq!(is_recoverable(&e), recoverable, "{code:?}");
            }
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
