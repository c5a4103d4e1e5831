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

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::Error;
use crate::runtime::collector::is_transient;

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
                e.code(),
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::InvalidProducerIdMapping
                    | RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::OperationTimedOut
                    | RDKafkaErrorCode::TimedOutQueue
                    | RDKafkaErrorCode::RequestTimedOut
            );
    }
    if is_transient(error) {
        return true;
    }
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::PollExceeded
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::InvalidProducerIdMapping
                | RDKafkaErrorCode::Fenced
                | RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::PurgeInflight
                | RDKafkaErrorCode::PurgeQueue
                | RDKafkaErrorCode::InvalidTransactionTimeout
                | RDKafkaErrorCode::TransactionCoordinatorFenced
        )
    )
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
    use crate::runtime::kafka_error;

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

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
