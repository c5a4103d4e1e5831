//! What a failed send means for a stream thread's tasks, by the error's code and the
//! record's topic, as Kafka Streams' `RecordCollectorImpl.recordSendError` decides.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::retry::DEAD_LETTER_SUFFIX;
use crate::runtime::kafka_errors::{CodeKind, kind_of};
use crate::runtime::topics::is_internal_topic;

/// What a failed send means for the tasks, from the mildest to the most severe (the order
/// decides which failure is reported when several happened since the last check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SendFailure {
    /// The brokers refused an output record for good (too large, invalid): the production
    /// handler decides, as Kafka Streams hands only non-retriable errors to it.
    Handled,
    /// Nothing is known to be wrong with the record: the brokers did not take it within
    /// `delivery.timeout.ms` (timeouts, leader changes, brokers down) or it was purged.
    /// The tasks are corrupted ([`Error::TaskCorrupted`](crate::Error::TaskCorrupted)): their work since the last commit
    /// is processed again.
    Retriable,
    /// The producer was fenced by a newer one with the same `transactional.id`, or its
    /// epoch or id is no longer valid: the tasks have moved ([`Error::TaskMigrated`](crate::Error::TaskMigrated)).
    Fenced,
    /// Neither skippable nor worth retrying: a refused record of an internal or dead-letter
    /// topic, a missing authorization, a producer in a fatal state ([`Error::Kafka`](crate::Error::Kafka)).
    Fatal,
}

/// What the topic of a failed record is, as far as failures go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    /// A sink topic of the topology: its records may be skipped or dead-lettered by the
    /// production handler.
    Output,
    /// A changelog or repartition topic (see [`is_internal_topic`]): losing a record would
    /// corrupt a store or a downstream task, so no handler may skip it.
    Internal,
    /// A dead-letter topic: its record is the last trace of one that could not be written,
    /// so it may not be skipped either.
    DeadLetter,
}

impl Destination {
    /// The destination of a record sent to `topic`, by the topic's name.
    pub(crate) fn of(topic: &str) -> Self {
        if topic.ends_with(DEAD_LETTER_SUFFIX) {
            Destination::DeadLetter
        } else if is_internal_topic(topic) {
            Destination::Internal
        } else {
            Destination::Output
        }
    }
}

/// Classifies a send failure with error `code` of a record bound for `destination`, as
/// Kafka Streams' `RecordCollectorImpl.recordSendError` does: fencing migrates the tasks,
/// retriable errors corrupt them, security and producer-state errors are fatal, and the
/// rest is the production handler's to decide, for outputs only.
pub(crate) fn classify(code: RDKafkaErrorCode, destination: Destination) -> SendFailure {
    let class = match kind_of(code) {
        CodeKind::ProducerFenced | CodeKind::CoordinatorFenced | CodeKind::SequenceBroken => {
            SendFailure::Fenced
        }
        CodeKind::TimedOut
        | CodeKind::Unavailable
        | CodeKind::Undelivered
        | CodeKind::WriteUnavailable
        | CodeKind::AbortRequired => SendFailure::Retriable,
        CodeKind::Fatal => SendFailure::Fatal,
        CodeKind::Rebalancing
        | CodeKind::MembershipLost
        | CodeKind::TransactionTimeout
        | CodeKind::Refused => SendFailure::Handled,
    };
    if class == SendFailure::Handled && destination != Destination::Output {
        SendFailure::Fatal
    } else {
        class
    }
}

/// Whether the brokers (or the producer's own `message.max.bytes`) refused a record for its
/// size.
pub(crate) fn is_size_error(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge
    )
}

/// The code of a failed call's error; [`Unknown`](RDKafkaErrorCode::Unknown) without one.
pub(crate) fn code_of(error: &KafkaError) -> RDKafkaErrorCode {
    error
        .rdkafka_error_code()
        .unwrap_or(RDKafkaErrorCode::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;
    use SendFailure::{Fatal, Fenced, Handled, Retriable};

    #[test]
    fn retriable_failures_corrupt_the_tasks_whatever_the_topic() {
        for code in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::NotLeaderForPartition,
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::PurgeInflight,
        ] {
            for topic in ["out", "app-counts-changelog", "out.dead-letter"] {
                assert_eq!(
                    classify(code, Destination::of(topic)),
                    SendFailure::Retriable,
                    "{code:?} on {topic}"
                );
            }
        }
    }

    #[test]
    fn refusals_go_to_the_handler_for_outputs_only() {
        for code in [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::MessageBatchTooLarge,
            RDKafkaErrorCode::InvalidRecord,
            RDKafkaErrorCode::InvalidTimestamp,
            RDKafkaErrorCode::UnknownPartition,
        ] {
            assert_eq!(
                classify(code, Destination::of("out")),
                SendFailure::Handled,
                "{code:?}"
            );
            for topic in [
                "app-counts-changelog",
                "app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition",
                "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
                "orders.dead-letter",
            ] {
                assert_eq!(
                    classify(code, Destination::of(topic)),
                    SendFailure::Fatal,
                    "{code:?} on {topic}"
                );
            }
        }
    }

    #[test]
    fn fencing_migrates_and_security_errors_are_fatal() {
        for code in [
            RDKafkaErrorCode::ProducerFenced,
            RDKafkaErrorCode::Fenced,
            RDKafkaErrorCode::InvalidProducerEpoch,
            RDKafkaErrorCode::InvalidProducerIdMapping,
        ] {
            assert_eq!(
                classify(code, Destination::Output),
                SendFailure::Fenced,
                "{code:?}"
            );
        }
        for code in [
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::Fatal,
            RDKafkaErrorCode::InvalidTopic,
        ] {
            assert_eq!(
                classify(code, Destination::Output),
                SendFailure::Fatal,
                "{code:?}"
            );
        }
        assert!(SendFailure::Fatal > SendFailure::Fenced);
        assert!(SendFailure::Fenced > SendFailure::Retriable);
        assert!(SendFailure::Retriable > SendFailure::Handled);
    }

    /// The codes a stream thread's recovery reads as well, with the class of a send failing
    /// with each: of an output record, and of an internal or dead-letter topic's record.
    const SHARED_CODES: &[(RDKafkaErrorCode, SendFailure, SendFailure)] = &[
        (C::Fenced, Fenced, Fenced),
        (C::ProducerFenced, Fenced, Fenced),
        (C::InvalidProducerEpoch, Fenced, Fenced),
        (C::InvalidProducerIdMapping, Fenced, Fenced),
        (C::TransactionCoordinatorFenced, Fenced, Fenced),
        (C::OutOfOrderSequenceNumber, Fenced, Fenced),
        (C::OperationTimedOut, Retriable, Retriable),
        (C::TimedOutQueue, Retriable, Retriable),
        (C::RequestTimedOut, Retriable, Retriable),
        (C::MessageTimedOut, Retriable, Retriable),
        (C::PurgeInflight, Retriable, Retriable),
        (C::PurgeQueue, Retriable, Retriable),
        (C::BrokerTransportFailure, Retriable, Retriable),
        (C::AllBrokersDown, Retriable, Retriable),
        (C::Resolve, Retriable, Retriable),
        (C::NetworkException, Retriable, Retriable),
        (C::CoordinatorLoadInProgress, Retriable, Retriable),
        (C::CoordinatorNotAvailable, Retriable, Retriable),
        (C::NotCoordinator, Retriable, Retriable),
        (C::LeaderNotAvailable, Retriable, Retriable),
        (C::NotLeaderForPartition, Retriable, Retriable),
        (C::WaitingForCoordinator, Retriable, Retriable),
        (C::ConcurrentTransactions, Retriable, Retriable),
        (C::BrokerNotAvailable, Retriable, Retriable),
        (C::ReplicaNotAvailable, Retriable, Retriable),
        (C::UnknownTopicOrPartition, Retriable, Retriable),
        (C::FencedLeaderEpoch, Retriable, Retriable),
        (C::UnknownLeaderEpoch, Retriable, Retriable),
        (C::NotEnoughReplicas, Retriable, Retriable),
        (C::NotEnoughReplicasAfterAppend, Retriable, Retriable),
        (C::KafkaStorageError, Retriable, Retriable),
        (C::UnknownProducerId, Retriable, Retriable),
        (C::Retry, Retriable, Retriable),
        (C::BrokerDestroy, Retriable, Retriable),
        (C::DestroyBroker, Retriable, Retriable),
        (C::State, Retriable, Retriable),
        (C::RebalanceInProgress, Handled, Fatal),
        (C::PollExceeded, Handled, Fatal),
        (C::IllegalGeneration, Handled, Fatal),
        (C::UnknownMemberId, Handled, Fatal),
        (C::InvalidTransactionTimeout, Handled, Fatal),
        (C::Fatal, Fatal, Fatal),
        (C::Inconsistent, Fatal, Fatal),
        (C::InvalidTransactionalState, Fatal, Fatal),
        (C::TopicAuthorizationFailed, Fatal, Fatal),
        (C::ClusterAuthorizationFailed, Fatal, Fatal),
        (C::GroupAuthorizationFailed, Fatal, Fatal),
        (C::TransactionalIdAuthorizationFailed, Fatal, Fatal),
        (C::SaslAuthenticationFailed, Fatal, Fatal),
        (C::Authentication, Fatal, Fatal),
        (C::SSL, Fatal, Fatal),
        (C::SecurityDisabled, Fatal, Fatal),
        (C::InvalidTopic, Fatal, Fatal),
        (C::OffsetMetadataTooLarge, Fatal, Fatal),
        (C::Unknown, Fatal, Fatal),
    ];

    #[test]
    fn class_of_every_code_the_recovery_reads() {
        for &(code, output, other) in SHARED_CODES {
            assert_eq!(classify(code, Destination::Output), output, "{code:?}");
            for destination in [Destination::Internal, Destination::DeadLetter] {
                assert_eq!(classify(code, destination), other, "{code:?}");
            }
        }
    }
}
