//! The classic group state machine: the five states and the table of valid previous states.

/// Where a classic group is in its rebalance cycle (Kafka's `ClassicGroupState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// Waiting for members to (re)join; JoinGroup replies are parked.
    PreparingRebalance,
    /// Join finished; waiting for the leader's SyncGroup with the assignment.
    CompletingRebalance,
    /// Assignment distributed; members heartbeat.
    Stable,
    /// Removed (deleted, expired or moved); never leaves this state.
    Dead,
}

impl GroupState {
    /// The states a group may be in just before entering `self`.
    pub fn valid_previous_states(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }

    /// Whether a group in state `from` may move to `self`.
    pub fn can_follow(self, from: GroupState) -> bool {
        self.valid_previous_states().contains(&from)
    }

    /// The name Kafka uses on the wire (DescribeGroups, ListGroups).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Parses a wire state name, case-insensitively (ListGroups v4+ `states_filter`).
    pub fn parse(name: &str) -> Option<GroupState> {
        [
            GroupState::Empty,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState::{self, *};

    #[test]
    fn transition_table_matches_kafka() {
        let all = [Empty, PreparingRebalance, CompletingRebalance, Stable, Dead];
        let allowed: Vec<(GroupState, GroupState)> = all
            .iter()
            .flat_map(|&to| all.iter().map(move |&from| (from, to)))
            .filter(|&(from, to)| to.can_follow(from))
            .collect();
        assert_eq!(allowed.len(), 1 + 3 + 1 + 1 + 5);
        assert!(PreparingRebalance.can_follow(Empty));
        assert!(!Stable.can_follow(PreparingRebalance));
        assert!(!Empty.can_follow(Stable));
        assert!(!CompletingRebalance.can_follow(Stable));
        assert_eq!(GroupState::parse("stable"), Some(Stable));
        assert_eq!(GroupState::parse("nope"), None);
    }
}
