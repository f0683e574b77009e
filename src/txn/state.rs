//! The transaction state machine (Kafka's `TransactionState`): the states, their ids in
//! `__transaction_state`, and the table of valid previous states.

/// Where a transactional id's current transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction in progress (also right after InitProducerId).
    Empty,
    /// Partitions or offsets have been added; the transaction is open.
    Ongoing,
    /// EndTxn(commit) accepted; markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fencing InitProducerId; markers are being written.
    PrepareAbort,
    /// Commit markers written everywhere.
    CompleteCommit,
    /// Abort markers written everywhere.
    CompleteAbort,
    /// The transactional id expired and is being removed.
    Dead,
    /// An InitProducerId found an ongoing transaction: its epoch is bumped and it is aborted.
    PrepareEpochFence,
}

impl TxnState {
    /// The id Kafka stores in TransactionLogValue's `TransactionStatus`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state with Kafka id `id`.
    pub fn from_id(id: i8) -> Option<TxnState> {
        use TxnState::*;
        [
            Empty,
            Ongoing,
            PrepareCommit,
            PrepareAbort,
            CompleteCommit,
            CompleteAbort,
            Dead,
            PrepareEpochFence,
        ]
        .into_iter()
        .find(|s| s.id() == id)
    }

    /// Kafka's name of the state (ListTransactions, DescribeTransactions, `kafka-transactions.sh`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name`, matched exactly as Kafka's `TransactionState.fromName` does.
    pub fn from_name(name: &str) -> Option<TxnState> {
        (0..8)
            .filter_map(TxnState::from_id)
            .find(|s| s.name() == name)
    }

    /// The states a transaction may be in just before entering `self` (Kafka's `validPreviousStates`).
    pub fn valid_previous_states(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteCommit, CompleteAbort],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether a transaction in state `from` may move to `self`.
    pub fn can_follow(self, from: TxnState) -> bool {
        self.valid_previous_states().contains(&from)
    }

    /// No transaction is open or being completed: InitProducerId may bump the epoch, the id may expire.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TxnState::{self, *};

    #[test]
    fn ids_round_trip_and_table_matches_kafka() {
        for id in 0..8 {
            assert_eq!(TxnState::from_id(id).unwrap().id(), id);
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_name("PrepareCommit"), Some(PrepareCommit));
        assert_eq!(TxnState::from_name("ongoing"), None);
        assert!(PrepareCommit.can_follow(Ongoing));
        assert!(!PrepareCommit.can_follow(Empty));
        assert!(CompleteAbort.can_follow(PrepareAbort));
        assert!(!CompleteCommit.can_follow(PrepareAbort));
        assert!(Empty.can_follow(CompleteCommit));
        assert!(!Empty.can_follow(Ongoing));
    }
}
