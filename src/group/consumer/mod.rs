//! KIP-848 consumer groups (the `consumer` group protocol): the broker assigns partitions, members
//! reconcile towards their target one heartbeat at a time. Lives beside the classic groups in the same
//! shard ([`super::shard::GroupShard`]); this module holds the data and plain request/reply types,
//! `assignor` the broker-side assignors, `reconcile` Kafka's `CurrentAssignmentBuilder`, `heartbeat` the
//! ConsumerGroupHeartbeat rules and `records` the `__consumer_offsets` records these groups persist.

pub mod assignor;
mod classic_member;
pub mod embedded;
mod heartbeat;
pub(crate) use heartbeat::compile;
mod migration;
#[cfg(test)]
mod migration_tests;
pub use migration::MigrationPolicy;
pub mod reconcile;
pub mod records;
mod replay;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::{GroupError, Protocol};

/// Partitions by topic id (the form of assignments on the wire and in records).
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// `group.consumer.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL_MS: i32 = 5_000;
/// `group.consumer.session.timeout.ms` default.
pub const SESSION_TIMEOUT_MS: i32 = 45_000;
/// Member epoch a member sends to leave the group.
pub const LEAVE_EPOCH: i32 = -1;
/// Member epoch a static member sends when it leaves but will come back (keeps its assignment).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// A topic as the assignors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Partition count.
    pub partitions: i32,
}

/// Where a member is in reconciling its assignment (Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Owns exactly its target at the member epoch.
    Stable,
    /// Must first give up partitions (it keeps its old epoch until it acknowledged the revocation).
    UnrevokedPartitions,
    /// Waits for partitions other members still own.
    UnreleasedPartitions,
}

impl MemberState {
    /// Kafka's name (ConsumerGroupDescribe does not show it; logs do).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Stable => "STABLE",
            MemberState::UnrevokedPartitions => "UNREVOKED_PARTITIONS",
            MemberState::UnreleasedPartitions => "UNRELEASED_PARTITIONS",
        }
    }
}

/// One member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    /// Member id (client-generated in v1, coordinator-generated in v0 joins without one).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// Rack of the client, if it told us.
    pub rack_id: Option<String>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// How long the member may take to revoke partitions before it is fenced.
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed topic regex (RE2/J syntax), if any.
    pub subscribed_topic_regex: Option<String>,
    /// Server assignor the member asked for, if any.
    pub server_assignor: Option<String>,
    /// Reconciliation state.
    pub state: MemberState,
    /// Current member epoch (`STATIC_LEAVE_EPOCH` while a static member is away).
    pub member_epoch: i32,
    /// The epoch before the last bump (a heartbeat with it is still accepted once, as Kafka does).
    pub previous_member_epoch: i32,
    /// Partitions the member owns or may own now.
    pub assigned: Assignment,
    /// Partitions the member must revoke.
    pub revoking: Assignment,
    /// Identifies the live session-timer entry (stale entries are ignored).
    pub session_timer_id: u64,
    /// Identifies the live revocation-timer entry (0: none).
    pub rebalance_timer_id: u64,
    /// Set while the member speaks the classic protocol (JoinGroup/SyncGroup/Heartbeat) inside this
    /// consumer group, as during an online migration (Kafka's `ClassicMemberMetadata`).
    pub classic: Option<ClassicMetadata>,
    /// A classic member told to rejoin must do so within its rebalance timeout (0: no timer).
    pub join_timer_id: u64,
    /// A classic member that joined must sync within its rebalance timeout (0: no timer).
    pub sync_timer_id: u64,
}

/// What a member using the classic protocol needs beyond a consumer-protocol member: its own session
/// timeout and the protocols (assignor names with their subscription bytes) it joined with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicMetadata {
    /// The session timeout of its JoinGroup.
    pub session_timeout_ms: i32,
    /// Its protocols in preference order (the first one names the protocol it is answered with).
    pub protocols: Vec<Protocol>,
}

impl ConsumerMember {
    /// A member that just joined, with nothing assigned.
    pub fn new(member_id: String) -> Self {
        ConsumerMember {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            state: MemberState::Stable,
            member_epoch: 0,
            previous_member_epoch: -1,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
            session_timer_id: 0,
            rebalance_timer_id: 0,
            classic: None,
            join_timer_id: 0,
            sync_timer_id: 0,
        }
    }

    /// Whether the member speaks the classic protocol.
    pub fn uses_classic(&self) -> bool {
        self.classic.is_some()
    }

    /// Whether the member subscribes to `topic` (by name or regex).
    pub fn subscribes_to(&self, topic: &str, regex: Option<&regex::Regex>) -> bool {
        self.subscribed_topic_names.iter().any(|t| t == topic)
            || regex.is_some_and(|r| r.is_match(topic))
    }
}

/// A consumer group's state as ConsumerGroupDescribe and ListGroups name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The target assignment is behind the group epoch (never observable here: targets are computed at once).
    Assigning,
    /// Some member has not reached the target assignment epoch.
    Reconciling,
    /// Every member is at the target assignment.
    Stable,
    /// Unknown group.
    Dead,
}

impl ConsumerGroupState {
    /// Kafka's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
            ConsumerGroupState::Dead => "Dead",
        }
    }
}

/// One consumer group. Its maps are persistent (`imbl`): the copy taken before every write, which a
/// failed append restores, costs O(1).
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    /// Group id.
    pub group_id: String,
    /// Bumped by every change of membership, subscriptions or subscribed topics' metadata.
    pub group_epoch: i32,
    /// The group epoch the target assignment was computed for.
    pub assignment_epoch: i32,
    /// Members by id.
    pub members: imbl::OrdMap<String, ConsumerMember>,
    /// Static members: instance id → member id.
    pub static_members: imbl::HashMap<String, String>,
    /// The target assignment, per member.
    pub target: imbl::HashMap<String, Assignment>,
    /// Subscribed topics as last seen (a change bumps the group epoch): name → (id, partitions).
    pub subscription_metadata: BTreeMap<String, (Uuid, i32)>,
    /// Owner epoch of every partition some member owns or revokes (Kafka's `currentPartitionEpoch`).
    pub owners: imbl::HashMap<(Uuid, i32), i32>,
    /// The assignor used for the last target assignment.
    pub assignor: String,
}

impl ConsumerGroup {
    /// An empty group.
    pub fn new(group_id: String) -> Self {
        ConsumerGroup {
            group_id,
            ..Default::default()
        }
    }

    /// The group state Kafka would report.
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.state != MemberState::Stable || m.member_epoch != self.assignment_epoch)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// Kafka's `supportsClassicProtocols`: a classic member may join when its protocol type is
    /// `consumer` and one of its protocols is supported by every classic member already in the group.
    pub fn supports_classic_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if protocol_type != crate::group::classic::CONSUMER_PROTOCOL_TYPE || protocols.is_empty() {
            return false;
        }
        let classic: Vec<&ClassicMetadata> = self
            .members
            .values()
            .filter_map(|m| m.classic.as_ref())
            .collect();
        protocols.iter().any(|p| {
            classic
                .iter()
                .all(|c| c.protocols.iter().any(|q| q.name == p.name))
        })
    }

    /// Kafka's `allMembersUseClassicProtocolExcept`: `member_id` speaks the consumer protocol and every
    /// other member the classic one (the condition for a downgrade when it leaves).
    pub fn only_classic_members_besides(&self, member_id: &str) -> bool {
        self.members
            .get(member_id)
            .is_some_and(|m| !m.uses_classic())
            && self
                .members
                .values()
                .filter(|m| m.member_id != member_id)
                .all(ConsumerMember::uses_classic)
    }

    /// Kafka's `waitingOnUnreleasedPartition`: some partition of the member's target is still owned by
    /// another member.
    pub fn waiting_on_unreleased(&self, m: &ConsumerMember) -> bool {
        if m.state != MemberState::UnreleasedPartitions {
            return false;
        }
        let Some(target) = self.target.get(&m.member_id) else {
            return false;
        };
        target.iter().any(|(t, ps)| {
            ps.iter().any(|p| {
                !m.assigned.get(t).is_some_and(|a| a.contains(p))
                    && self.owners.contains_key(&(*t, *p))
            })
        })
    }

    /// Records `member`'s owned partitions (assigned and revoking) in `owners` (Kafka's
    /// `addPartitionEpochs`); `remove` takes them out (`removePartitionEpochs`).
    pub fn track_owned(&mut self, member: &ConsumerMember, remove: bool) {
        for (topic, parts) in member.assigned.iter().chain(member.revoking.iter()) {
            for p in parts {
                if remove {
                    self.owners.remove(&(*topic, *p));
                } else {
                    self.owners.insert((*topic, *p), member.member_epoch);
                }
            }
        }
    }
}

/// A ConsumerGroupHeartbeat, in plain types.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    /// Group id.
    pub group_id: String,
    /// Member id ("" on a v0 first join: the coordinator makes one).
    pub member_id: String,
    /// Member epoch: 0 join, -1 leave, -2 static leave, else the current epoch.
    pub member_epoch: i32,
    /// `group.instance.id`, null if unchanged.
    pub instance_id: Option<String>,
    /// Rack id, null if unchanged.
    pub rack_id: Option<String>,
    /// Rebalance timeout, -1 if unchanged.
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names, null if unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
    /// Subscribed topic regex (v1), null if unchanged.
    pub subscribed_topic_regex: Option<String>,
    /// Server assignor, null if unchanged.
    pub server_assignor: Option<String>,
    /// Owned partitions, null if unchanged.
    pub owned: Option<Vec<(Uuid, Vec<i32>)>>,
    /// Client id of the request header.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
}

/// A ConsumerGroupHeartbeat outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatResult {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// Why, for the client's log.
    pub error_message: Option<String>,
    /// The member id (the coordinator's if it made one).
    pub member_id: String,
    /// The member's epoch now.
    pub member_epoch: i32,
    /// When to heartbeat next.
    pub heartbeat_interval_ms: i32,
    /// The member's assignment, when it changed or the request was a full one.
    pub assignment: Option<Vec<(Uuid, Vec<i32>)>>,
}

impl HeartbeatResult {
    /// An error reply.
    pub fn error(error: GroupError, message: impl Into<String>) -> Self {
        HeartbeatResult {
            error: Some(error),
            error_message: Some(message.into()),
            ..Default::default()
        }
    }
}

/// A member as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Rack id.
    pub rack_id: Option<String>,
    /// Member epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed regex.
    pub subscribed_topic_regex: Option<String>,
    /// Current assignment (topic id, name, partitions).
    pub assignment: Vec<(Uuid, String, Vec<i32>)>,
    /// Target assignment.
    pub target_assignment: Vec<(Uuid, String, Vec<i32>)>,
}

/// A group as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// `None`, or GROUP_ID_NOT_FOUND for unknown (or classic) groups.
    pub error: Option<GroupError>,
    /// Error message.
    pub error_message: Option<String>,
    /// State name.
    pub state: ConsumerGroupState,
    /// Group epoch.
    pub group_epoch: i32,
    /// Target assignment epoch.
    pub assignment_epoch: i32,
    /// Assignor name.
    pub assignor_name: String,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// Sorted `(topic, partitions)` pairs of an assignment (the wire form).
pub fn to_wire(a: &Assignment) -> Vec<(Uuid, Vec<i32>)> {
    a.iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(t, p)| (*t, p.iter().copied().collect()))
        .collect()
}

/// An assignment from its wire form (duplicates collapse).
pub fn from_wire(w: &[(Uuid, Vec<i32>)]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in w {
        if !ps.is_empty() {
            a.entry(*t).or_default().extend(ps.iter().copied());
        }
    }
    a
}

impl GroupDescription {
    /// The answer for a group that is not a consumer group here.
    pub fn not_found(group_id: &str, error: GroupError, message: Option<String>) -> Self {
        GroupDescription {
            group_id: group_id.to_string(),
            error: Some(error),
            error_message: message,
            state: ConsumerGroupState::Dead,
            group_epoch: -1,
            assignment_epoch: -1,
            assignor_name: String::new(),
            members: Vec::new(),
        }
    }
}

/// An assignment with topic names for ConsumerGroupDescribe (unknown topic ids are left out).
fn describe_assignment(
    a: &Assignment,
    topics: &dyn super::TopicLookup,
) -> Vec<(Uuid, String, Vec<i32>)> {
    a.iter()
        .filter_map(|(id, ps)| Some((*id, topics.topic_name(*id)?, ps.iter().copied().collect())))
        .collect()
}

impl super::shard::GroupShard {
    /// ConsumerGroupDescribe of one group (Kafka: GROUP_ID_NOT_FOUND when it is not a consumer group).
    pub(crate) fn consumer_describe(
        &self,
        group_id: &str,
        topics: &dyn super::TopicLookup,
    ) -> GroupDescription {
        let Some(g) = self.offsets.consumer.get(group_id) else {
            let msg = if self.groups.contains_key(group_id) {
                format!("Group {group_id} is not a consumer group.")
            } else {
                format!("Group {group_id} not found.")
            };
            return GroupDescription::not_found(group_id, GroupError::GroupIdNotFound, Some(msg));
        };
        let empty = Assignment::new();
        GroupDescription {
            group_id: group_id.to_string(),
            error: None,
            error_message: None,
            state: g.state(),
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor_name: if g.assignor.is_empty() {
                assignor::ASSIGNORS[0].to_string()
            } else {
                g.assignor.clone()
            },
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.member_epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed_topic_names.clone(),
                    subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                    assignment: describe_assignment(&m.assigned, topics),
                    target_assignment: describe_assignment(
                        g.target.get(&m.member_id).unwrap_or(&empty),
                        topics,
                    ),
                })
                .collect(),
        }
    }
}

impl ConsumerGroup {
    /// Kafka's `ConsumerGroup.validateOffsetCommit` (and `validateOffsetFetch`): a request without a
    /// member epoch may commit only to an empty group; otherwise the member must exist and send its
    /// current epoch (STALE_MEMBER_EPOCH if not).
    pub fn validate_offset_commit(&self, member_id: &str, member_epoch: i32) -> Option<GroupError> {
        if member_epoch < 0 && self.members.is_empty() {
            return None;
        }
        match self.members.get(member_id) {
            None => Some(GroupError::UnknownMemberId),
            // A classic member's generation is its member epoch; it understands ILLEGAL_GENERATION.
            Some(m) if m.member_epoch != member_epoch && m.uses_classic() => {
                Some(GroupError::IllegalGeneration)
            }
            Some(m) if m.member_epoch != member_epoch => Some(GroupError::StaleMemberEpoch),
            Some(_) => None,
        }
    }
}

impl super::shard::GroupShard {
    /// This shard's consumer groups and their state names (ListGroups).
    pub(crate) fn list_consumer_groups(&self) -> Vec<(String, &'static str)> {
        self.offsets
            .consumer
            .values()
            .map(|g| (g.group_id.clone(), g.state().as_str()))
            .collect()
    }
}

impl ConsumerGroup {
    /// Kafka's `validateOffsetFetch`: the member must exist and send its current epoch.
    pub fn validate_offset_fetch(&self, member_id: &str, member_epoch: i32) -> Option<GroupError> {
        match self.members.get(member_id) {
            None => Some(GroupError::UnknownMemberId),
            Some(m) if m.member_epoch != member_epoch => Some(GroupError::StaleMemberEpoch),
            Some(_) => None,
        }
    }
}

impl super::shard::GroupShard {
    /// The consumer group `group_id`, if it is one.
    pub(crate) fn consumer_group(&self, group_id: &str) -> Option<&ConsumerGroup> {
        self.offsets.consumer.get(group_id)
    }
}
