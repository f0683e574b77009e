//! The one place where internal errors become Kafka error codes.

use kafka_protocol::ResponseError;

use crate::cluster::ClusterError;
use crate::group::GroupError;
use crate::log::LogError;
use crate::txn::TxnError;

/// Kafka's error code for a log-store error; unexpected failures are logged here, once.
pub fn log_error_code(e: &LogError) -> i16 {
    let err = match e {
        LogError::CorruptMessage(_) => ResponseError::CorruptMessage,
        LogError::InvalidRecord(_) => ResponseError::InvalidRecord,
        LogError::RecordErrors {
            timestamp: true, ..
        } => ResponseError::InvalidTimestamp,
        LogError::RecordErrors { .. } => ResponseError::InvalidRecord,
        LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::TransactionCoordinatorFenced { .. } => {
            ResponseError::TransactionCoordinatorFenced
        }
        LogError::UnknownProducerId(_) => ResponseError::UnknownProducerId,
        LogError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
        LogError::Deleted => ResponseError::UnknownTopicOrPartition,
        LogError::NotLeader => ResponseError::NotLeaderOrFollower,
        LogError::NotContiguous { .. } => ResponseError::CorruptMessage,
        LogError::Io(_) => {
            tracing::error!(error = %e, "log store i/o failure");
            ResponseError::KafkaStorageError
        }
        #[allow(unreachable_patterns)]
        _ => {
            tracing::error!(error = %e, "unexpected log store error");
            ResponseError::UnknownServerError
        }
    };
    err.code()
}

/// Kafka's error code for a metadata error.
pub fn cluster_error_code(e: &ClusterError) -> i16 {
    let err = match e {
        ClusterError::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
        ClusterError::InvalidTopic(_) => ResponseError::InvalidTopicException,
        ClusterError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
        ClusterError::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
        ClusterError::InvalidConfig(_) => ResponseError::InvalidConfig,
        ClusterError::InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
        ClusterError::TimedOut => ResponseError::RequestTimedOut,
        ClusterError::UnknownTopic => ResponseError::UnknownTopicOrPartition,
        ClusterError::UnknownTopicId => ResponseError::UnknownTopicId,
        ClusterError::Log(l) => return log_error_code(l),
        ClusterError::NoController(_) => ResponseError::RequestTimedOut,
        ClusterError::Io(_) | ClusterError::Quorum(_) | ClusterError::WrongCluster(_) => {
            tracing::error!(error = %e, "metadata failure");
            ResponseError::UnknownServerError
        }
        #[allow(unreachable_patterns)]
        _ => {
            tracing::error!(error = %e, "unexpected metadata error");
            ResponseError::UnknownServerError
        }
    };
    err.code()
}

/// The Kafka error code for a group-layer error. Internal failures are logged here and reported as a
/// retriable `COORDINATOR_NOT_AVAILABLE` (storage) or `UNKNOWN_SERVER_ERROR` (anything else).
pub fn group_error_code(error: &GroupError) -> i16 {
    let e = match error {
        GroupError::InvalidGroupId => ResponseError::InvalidGroupId,
        GroupError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        GroupError::NotCoordinator => ResponseError::NotCoordinator,
        GroupError::CoordinatorLoadInProgress => ResponseError::CoordinatorLoadInProgress,
        GroupError::UnknownMemberId => ResponseError::UnknownMemberId,
        GroupError::IllegalGeneration => ResponseError::IllegalGeneration,
        GroupError::RebalanceInProgress => ResponseError::RebalanceInProgress,
        GroupError::InconsistentGroupProtocol => ResponseError::InconsistentGroupProtocol,
        GroupError::MemberIdRequired => ResponseError::MemberIdRequired,
        GroupError::FencedInstanceId => ResponseError::FencedInstanceId,
        GroupError::InvalidSessionTimeout => ResponseError::InvalidSessionTimeout,
        GroupError::GroupMaxSizeReached => ResponseError::GroupMaxSizeReached,
        GroupError::UnknownTopicOrPartition => ResponseError::UnknownTopicOrPartition,
        GroupError::UnknownTopicId => ResponseError::UnknownTopicId,
        GroupError::OffsetMetadataTooLarge => ResponseError::OffsetMetadataTooLarge,
        GroupError::NonEmptyGroup => ResponseError::NonEmptyGroup,
        GroupError::GroupIdNotFound => ResponseError::GroupIdNotFound,
        GroupError::GroupSubscribedToTopic => ResponseError::GroupSubscribedToTopic,
        GroupError::UnstableOffsetCommit => ResponseError::UnstableOffsetCommit,
        GroupError::InvalidRequest => ResponseError::InvalidRequest,
        GroupError::FencedMemberEpoch => ResponseError::FencedMemberEpoch,
        GroupError::StaleMemberEpoch => ResponseError::StaleMemberEpoch,
        GroupError::UnreleasedInstanceId => ResponseError::UnreleasedInstanceId,
        GroupError::UnsupportedAssignor => ResponseError::UnsupportedAssignor,
        GroupError::InvalidRegularExpression => ResponseError::InvalidRegularExpression,
        GroupError::UnsupportedVersion => ResponseError::UnsupportedVersion,
        GroupError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch,
        GroupError::TransactionCoordinatorFenced => ResponseError::TransactionCoordinatorFenced,
        GroupError::Storage(msg) => {
            tracing::warn!(error = %msg, "group coordinator storage failure");
            ResponseError::CoordinatorNotAvailable
        }
        other => {
            tracing::error!(error = %other, "group coordinator internal failure");
            ResponseError::UnknownServerError
        }
    };
    e.code()
}

/// The Kafka error code for a transaction-coordinator error. Storage failures are retriable for the
/// client (`COORDINATOR_NOT_AVAILABLE`, as Kafka maps a failed `__transaction_state` append); anything
/// else unexpected is logged and reported as `UNKNOWN_SERVER_ERROR`.
pub fn txn_error_code(error: &TxnError) -> i16 {
    let e = match error {
        TxnError::InvalidRequest(_) => ResponseError::InvalidRequest,
        TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout,
        TxnError::ProducerFenced => ResponseError::ProducerFenced,
        TxnError::InvalidProducerEpoch => ResponseError::InvalidProducerEpoch,
        TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
        TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
        TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
        TxnError::CoordinatorNotAvailable => ResponseError::CoordinatorNotAvailable,
        TxnError::NotCoordinator => ResponseError::NotCoordinator,
        TxnError::CoordinatorLoadInProgress => ResponseError::CoordinatorLoadInProgress,
        TxnError::Storage(msg) => {
            tracing::warn!(error = %msg, "transaction coordinator storage failure");
            ResponseError::CoordinatorNotAvailable
        }
        other => {
            tracing::error!(error = %other, "transaction coordinator internal failure");
            ResponseError::UnknownServerError
        }
    };
    e.code()
}
