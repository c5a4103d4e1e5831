//! What the runtime makes of rdkafka errors: one table of librdkafka error codes
//! ([`kind_of`]) that every decision reads (a send failure's class in the record collector,
//! whether a stream thread recovers, whether a call is worth retrying), and the helpers that
//! wrap or retry a failed call.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::{Error, Result};

/// Wraps a failed rdkafka call as [`Error::Kafka`], saying what was being done.
pub(crate) fn kafka_error(context: impl Into<String>, error: KafkaError) -> Error {
    Error::Kafka {
        context: context.into(),
        source: Box::new(error),
    }
}

/// What an rdkafka error code says happened. Each caller decides what a kind means for it
/// (see the record collector's `classify`, [`is_transient`] and the stream thread's
/// recovery), so the kinds are as fine as the callers' decisions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CodeKind {
    /// A newer producer with the same `transactional.id` took over, or this one's epoch or
    /// id is no longer valid.
    ProducerFenced,
    /// A newer transaction coordinator took over.
    CoordinatorFenced,
    /// The broker lost track of the producer's sequence numbers.
    SequenceBroken,
    /// A request or operation did not complete in time.
    TimedOut,
    /// A broker or coordinator is unreachable or busy (loading, moving, electing a leader,
    /// finishing a concurrent transaction).
    Unavailable,
    /// The group is rebalancing.
    Rebalancing,
    /// The member is no longer in the group (its poll interval or session ran out, or it
    /// was fenced by a newer generation).
    MembershipLost,
    /// A record was not delivered: it timed out in the producer's queue or was purged.
    Undelivered,
    /// The transaction coordinator refused the transaction's timeout.
    TransactionTimeout,
    /// A partition cannot take writes for now (no leader or replicas yet, too few in-sync
    /// replicas, a storage error, a producer id the broker forgot, a broker going away), or
    /// librdkafka asks for the request to be repeated.
    WriteUnavailable,
    /// Producing is refused while the open transaction must be aborted.
    AbortRequired,
    /// Neither skippable nor worth retrying: a missing authorization, a failed
    /// authentication, a client in a fatal or inconsistent state, an invalid topic, an
    /// unknown error.
    Fatal,
    /// Anything else: the request itself was refused.
    Refused,
}

/// The kind of error `code` reports.
pub(crate) fn kind_of(code: RDKafkaErrorCode) -> CodeKind {
    use RDKafkaErrorCode as C;
    match code {
        C::Fenced | C::ProducerFenced | C::InvalidProducerEpoch | C::InvalidProducerIdMapping => {
            CodeKind::ProducerFenced
        }
        C::TransactionCoordinatorFenced => CodeKind::CoordinatorFenced,
        C::OutOfOrderSequenceNumber => CodeKind::SequenceBroken,
        C::OperationTimedOut | C::TimedOutQueue | C::RequestTimedOut => CodeKind::TimedOut,
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::NetworkException
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::WaitingForCoordinator
        | C::ConcurrentTransactions => CodeKind::Unavailable,
        C::RebalanceInProgress => CodeKind::Rebalancing,
        C::PollExceeded | C::IllegalGeneration | C::UnknownMemberId => CodeKind::MembershipLost,
        C::MessageTimedOut | C::PurgeInflight | C::PurgeQueue => CodeKind::Undelivered,
        C::InvalidTransactionTimeout => CodeKind::TransactionTimeout,
        C::BrokerNotAvailable
        | C::ReplicaNotAvailable
        | C::UnknownTopicOrPartition
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::KafkaStorageError
        | C::UnknownProducerId
        | C::Retry
        | C::BrokerDestroy
        | C::DestroyBroker => CodeKind::WriteUnavailable,
        C::State => CodeKind::AbortRequired,
        C::Fatal
        | C::Inconsistent
        | C::InvalidTransactionalState
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::SSL
        | C::SecurityDisabled
        | C::InvalidTopic
        | C::OffsetMetadataTooLarge
        | C::Unknown => CodeKind::Fatal,
        _ => CodeKind::Refused,
    }
}

/// Whether an error is worth retrying: the broker is unreachable or busy, not a refusal.
pub(crate) fn is_transient(error: &KafkaError) -> bool {
    if let KafkaError::Transaction(e) = error {
        return e.is_retriable();
    }
    error.rdkafka_error_code().is_some_and(|code| {
        matches!(
            kind_of(code),
            CodeKind::TimedOut | CodeKind::Unavailable | CodeKind::Rebalancing
        )
    })
}

/// Runs `op` until it succeeds, fails for good, or `timeout` passes, backing off
/// exponentially (100 ms up to 2 s) between transient failures.
pub(crate) fn retry_transient<T>(
    timeout: Duration,
    what: &str,
    mut op: impl FnMut() -> std::result::Result<T, KafkaError>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Duration::from_millis(100);
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if is_transient(&e) && Instant::now() + backoff < deadline => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "{what} failed; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(kafka_error(what, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    /// Every code with a kind of its own, as the record collector and the stream thread's
    /// recovery read them.
    const TABLE: &[(CodeKind, &[RDKafkaErrorCode])] = &[
        (
            CodeKind::ProducerFenced,
            &[
                C::Fenced,
                C::ProducerFenced,
                C::InvalidProducerEpoch,
                C::InvalidProducerIdMapping,
            ],
        ),
        (
            CodeKind::CoordinatorFenced,
            &[C::TransactionCoordinatorFenced],
        ),
        (CodeKind::SequenceBroken, &[C::OutOfOrderSequenceNumber]),
        (
            CodeKind::TimedOut,
            &[C::OperationTimedOut, C::TimedOutQueue, C::RequestTimedOut],
        ),
        (
            CodeKind::Unavailable,
            &[
                C::BrokerTransportFailure,
                C::AllBrokersDown,
                C::Resolve,
                C::NetworkException,
                C::CoordinatorLoadInProgress,
                C::CoordinatorNotAvailable,
                C::NotCoordinator,
                C::LeaderNotAvailable,
                C::NotLeaderForPartition,
                C::WaitingForCoordinator,
                C::ConcurrentTransactions,
            ],
        ),
        (CodeKind::Rebalancing, &[C::RebalanceInProgress]),
        (
            CodeKind::MembershipLost,
            &[C::PollExceeded, C::IllegalGeneration, C::UnknownMemberId],
        ),
        (
            CodeKind::Undelivered,
            &[C::MessageTimedOut, C::PurgeInflight, C::PurgeQueue],
        ),
        (
            CodeKind::TransactionTimeout,
            &[C::InvalidTransactionTimeout],
        ),
        (
            CodeKind::WriteUnavailable,
            &[
                C::BrokerNotAvailable,
                C::ReplicaNotAvailable,
                C::UnknownTopicOrPartition,
                C::FencedLeaderEpoch,
                C::UnknownLeaderEpoch,
                C::NotEnoughReplicas,
                C::NotEnoughReplicasAfterAppend,
                C::KafkaStorageError,
                C::UnknownProducerId,
                C::Retry,
                C::BrokerDestroy,
                C::DestroyBroker,
            ],
        ),
        (CodeKind::AbortRequired, &[C::State]),
        (
            CodeKind::Fatal,
            &[
                C::Fatal,
                C::Inconsistent,
                C::InvalidTransactionalState,
                C::TopicAuthorizationFailed,
                C::ClusterAuthorizationFailed,
                C::GroupAuthorizationFailed,
                C::TransactionalIdAuthorizationFailed,
                C::SaslAuthenticationFailed,
                C::Authentication,
                C::SSL,
                C::SecurityDisabled,
                C::InvalidTopic,
                C::OffsetMetadataTooLarge,
                C::Unknown,
            ],
        ),
        (
            CodeKind::Refused,
            &[
                C::MessageSizeTooLarge,
                C::MessageBatchTooLarge,
                C::InvalidRecord,
                C::InvalidTimestamp,
                C::UnknownPartition,
                C::InvalidConfig,
                C::TopicAlreadyExists,
            ],
        ),
    ];

    #[test]
    fn every_code_has_its_kind() {
        for (kind, codes) in TABLE {
            for code in *codes {
                assert_eq!(kind_of(*code), *kind, "{code:?}");
            }
        }
    }

    #[test]
    fn only_timeouts_unavailable_brokers_and_rebalances_are_transient() {
        for (kind, codes) in TABLE {
            let transient = matches!(
                kind,
                CodeKind::TimedOut | CodeKind::Unavailable | CodeKind::Rebalancing
            );
            for code in *codes {
                let error = KafkaError::MessageConsumption(*code);
                assert_eq!(is_transient(&error), transient, "{code:?}");
            }
        }
        assert!(!is_transient(&KafkaError::Canceled));
    }
}
