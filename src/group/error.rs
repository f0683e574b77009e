//! The group layer's typed error; handlers turn it into Kafka error codes in one place
//! (`handler::group_common::error_code`).

/// What went wrong (or what the client must do next) in a group-coordinator call.
///
/// Most variants correspond one-to-one to a Kafka error code the client knows how to react to; the last
/// three are internal failures that the handlers report as `UNKNOWN_SERVER_ERROR` (storage) or as
/// `COORDINATOR_NOT_AVAILABLE` (coordinator gone) after logging them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The group id is empty (or otherwise unusable).
    #[error("invalid group id")]
    InvalidGroupId,
    /// The group is being deleted/moved, or the coordinator task is gone: the client should look again.
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// Another broker coordinates this group (it leads the group's `__consumer_offsets` partition).
    #[error("not coordinator")]
    NotCoordinator,
    /// This broker was just elected the group's coordinator and is loading its partition.
    #[error("coordinator load in progress")]
    CoordinatorLoadInProgress,
    /// The member id is not (or no longer) a member of the group.
    #[error("unknown member id")]
    UnknownMemberId,
    /// The generation in the request is not the group's current generation.
    #[error("illegal generation")]
    IllegalGeneration,
    /// A rebalance is under way: the member must rejoin.
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// Protocol type or protocols do not match what the group uses.
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// KIP-394: the first JoinGroup (v4+) gets a member id and must join again with it.
    #[error("member id required")]
    MemberIdRequired,
    /// A newer member with the same `group.instance.id` has replaced this one.
    #[error("fenced instance id")]
    FencedInstanceId,
    /// The session timeout is outside the broker's `group.{min,max}.session.timeout.ms`.
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// The group already has `group.max.size` members.
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// An offset commit names a topic partition that does not exist.
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// OffsetCommit/OffsetFetch v10 names a topic by an id no topic has (decided before the coordinator).
    #[error("unknown topic id")]
    UnknownTopicId,
    /// The commit's metadata string is longer than `offset.metadata.max.bytes`.
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// DeleteGroups (or offset deletion) on a group that still has members.
    #[error("group is not empty")]
    NonEmptyGroup,
    /// The group does not exist.
    #[error("group id not found")]
    GroupIdNotFound,
    /// OffsetDelete on a topic the group's members are subscribed to.
    #[error("group is subscribed to the topic")]
    GroupSubscribedToTopic,
    /// OffsetFetch with `require_stable`: a transaction holds offsets for the partition not committed yet.
    #[error("unstable offset commit")]
    UnstableOffsetCommit,
    /// A request field breaks the protocol's rules (KIP-848 heartbeat validation).
    #[error("invalid request")]
    InvalidRequest,
    /// The consumer-group member's epoch is fenced (ahead of or behind the coordinator's).
    #[error("fenced member epoch")]
    FencedMemberEpoch,
    /// An offset commit or fetch from a consumer-group member at an old epoch.
    #[error("stale member epoch")]
    StaleMemberEpoch,
    /// A static member's instance id is still held by a live member.
    #[error("unreleased instance id")]
    UnreleasedInstanceId,
    /// The requested server-side assignor is not offered.
    #[error("unsupported assignor")]
    UnsupportedAssignor,
    /// The subscription regex does not compile.
    #[error("invalid regular expression")]
    InvalidRegularExpression,
    /// A consumer-group member used an API version older than the protocol requires.
    #[error("unsupported version")]
    UnsupportedVersion,
    /// A transactional write or marker carries an older producer epoch than the partition has seen.
    #[error("invalid producer epoch")]
    InvalidProducerEpoch,
    /// A transaction marker from a coordinator older than the one the partition last heard from.
    #[error("transaction coordinator fenced")]
    TransactionCoordinatorFenced,
    /// Appending to or reading `__consumer_offsets` failed.
    #[error("offsets log: {0}")]
    Storage(String),
    /// A `__consumer_offsets` record could not be decoded.
    #[error("corrupt group record: {0}")]
    CorruptRecord(String),
}

impl From<crate::coordinator::CoordinatorError> for GroupError {
    fn from(e: crate::coordinator::CoordinatorError) -> Self {
        match e {
            crate::coordinator::CoordinatorError::Storage(s) => GroupError::Storage(s),
            crate::coordinator::CoordinatorError::NotCoordinator => GroupError::NotCoordinator,
            crate::coordinator::CoordinatorError::LoadInProgress => {
                GroupError::CoordinatorLoadInProgress
            }
            crate::coordinator::CoordinatorError::InvalidProducerEpoch => {
                GroupError::InvalidProducerEpoch
            }
            crate::coordinator::CoordinatorError::CoordinatorFenced => {
                GroupError::TransactionCoordinatorFenced
            }
            _ => GroupError::CoordinatorNotAvailable,
        }
    }
}
