//! The one place where internal errors become Kafka error codes.

use kafka_protocol::ResponseError;

use crate::cluster::ClusterError;
use crate::log::LogError;

/// Kafka's error code for a log-store error; unexpected failures are logged here, once.
pub fn log_error_code(e: &LogError) -> i16 {
    let err = match e {
        LogError::CorruptMessage(_) => ResponseError::CorruptMessage,
        LogError::InvalidRecord(_) => ResponseError::InvalidRecord,
        LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
        LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        LogError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        LogError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        LogError::UnknownProducerId(_) => ResponseError::UnknownProducerId,
        LogError::Deleted => ResponseError::UnknownTopicOrPartition,
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
        ClusterError::UnknownTopic => ResponseError::UnknownTopicOrPartition,
        ClusterError::UnknownTopicId => ResponseError::UnknownTopicId,
        ClusterError::Log(l) => return log_error_code(l),
        ClusterError::Io(_) => {
            tracing::error!(error = %e, "metadata i/o failure");
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

/// Error code 0.
pub const NONE: i16 = 0;
