//! The transaction layer's typed error; handlers turn it into Kafka error codes in one place
//! (`handler::errors::txn_error_code`).

/// What went wrong (or what the client must do next) in a transaction-coordinator call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    /// An empty transactional id (Kafka: INVALID_REQUEST).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// `transaction.timeout.ms` is not positive or above `transaction.max.timeout.ms`.
    #[error("invalid transaction timeout")]
    InvalidTransactionTimeout,
    /// A newer producer instance with the same transactional id has been initialised.
    #[error("producer fenced")]
    ProducerFenced,
    /// The request's epoch is not the current one (KIP-588: on produce-side APIs).
    #[error("invalid producer epoch")]
    InvalidProducerEpoch,
    /// The producer id is not the one the transactional id has (or the id is unknown).
    #[error("invalid producer id mapping")]
    InvalidProducerIdMapping,
    /// The request does not fit the transaction's state (e.g. EndTxn with no open transaction).
    #[error("invalid transaction state")]
    InvalidTxnState,
    /// A transition of this transactional id is still in progress; the client retries.
    #[error("concurrent transactions")]
    ConcurrentTransactions,
    /// The coordinator shard is gone or restarting; the client looks it up again.
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// Another broker leads the transactional id's `__transaction_state` partition.
    #[error("not coordinator")]
    NotCoordinator,
    /// This broker was just elected and is loading the partition; the client retries.
    #[error("coordinator load in progress")]
    CoordinatorLoadInProgress,
    /// No producer id could be allocated.
    #[error("producer id allocation: {0}")]
    ProducerIds(String),
    /// Appending to or reading `__transaction_state` failed.
    #[error("transaction log: {0}")]
    Storage(String),
    /// A `__transaction_state` record could not be decoded.
    #[error("corrupt transaction record: {0}")]
    CorruptRecord(String),
}

impl From<crate::coordinator::CoordinatorError> for TxnError {
    fn from(e: crate::coordinator::CoordinatorError) -> Self {
        match e {
            crate::coordinator::CoordinatorError::Storage(s) => TxnError::Storage(s),
            crate::coordinator::CoordinatorError::NotCoordinator => TxnError::NotCoordinator,
            crate::coordinator::CoordinatorError::LoadInProgress => {
                TxnError::CoordinatorLoadInProgress
            }
            crate::coordinator::CoordinatorError::InvalidProducerEpoch => {
                TxnError::InvalidProducerEpoch
            }
            _ => TxnError::CoordinatorNotAvailable,
        }
    }
}
