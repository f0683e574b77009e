//! One classic group's data: members, protocol bookkeeping and parked replies (committed offsets are
//! the shard's replayed state).
//! Pure data and small invariant-keeping helpers; the rules that drive it live in `shard.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::state::GroupState;
use super::{JoinGroupResult, JoinedMember, Protocol, SyncGroupResult};

/// The protocol type whose member metadata Weir parses to learn subscribed topics.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// One member of a classic group.
#[derive(Debug)]
pub struct Member {
    /// Coordinator-assigned id (`client_id-uuid`).
    pub member_id: String,
    /// `group.instance.id` for static members.
    pub group_instance_id: Option<String>,
    /// Client id from the request header (DescribeGroups).
    pub client_id: String,
    /// Client address (DescribeGroups).
    pub client_host: String,
    /// How long the coordinator waits for this member to rejoin during a rebalance.
    pub rebalance_timeout_ms: i32,
    /// How long the member may go without a heartbeat.
    pub session_timeout_ms: i32,
    /// Protocol type the member joined with (the first member's fixes the group's).
    pub protocol_type: String,
    /// Protocols the member supports, in preference order, with its metadata for each.
    pub protocols: Vec<Protocol>,
    /// The assignment the leader gave it in the current generation.
    pub assignment: Bytes,
    /// A parked JoinGroup reply, answered when the rebalance completes.
    pub awaiting_join: Option<oneshot::Sender<JoinGroupResult>>,
    /// A parked SyncGroup reply, answered when the leader's assignment is stored.
    pub awaiting_sync: Option<oneshot::Sender<SyncGroupResult>>,
    /// Joined during the current rebalance without a previous generation: expires on the new-member
    /// join timeout instead of being kept alive by its parked join.
    pub is_new: bool,
    /// When the member expires unless it heartbeats (or is kept alive by a parked join/sync).
    pub heartbeat_deadline: Instant,
    /// Identifies the one live heartbeat timer entry for this member; stale entries are ignored.
    pub heartbeat_timer_id: u64,
    /// When that timer entry fires; a deadline earlier than this needs a new entry.
    pub heartbeat_timer_at: Instant,
}

impl Member {
    /// The metadata for `protocol`, empty if the member does not support it.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// Same protocols, same order, same metadata (a rejoin with no change).
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// The member's first-preference protocol among `candidates` (Kafka's `vote`).
    pub fn vote(&self, candidates: &HashSet<&str>) -> Option<String> {
        self.protocols
            .iter()
            .find(|p| candidates.contains(p.name.as_str()))
            .map(|p| p.name.clone())
    }

    /// Whether the member counts as alive right now (Kafka's `hasSatisfiedHeartbeat`).
    pub fn keeps_alive(&self, now: Instant) -> bool {
        if self.is_new {
            return self.heartbeat_deadline > now;
        }
        self.awaiting_join.is_some()
            || self.awaiting_sync.is_some()
            || self.heartbeat_deadline > now
    }
}

/// A committed offset as cached by the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The committed offset.
    pub offset: i64,
    /// Leader epoch given by the client, -1 if none.
    pub leader_epoch: i32,
    /// Metadata string, exactly as committed.
    pub metadata: String,
    /// Commit time, ms since the epoch (retention base for standalone/stable groups).
    pub commit_timestamp_ms: i64,
    /// Explicit expiry from OffsetCommit v2–4 `retention_time_ms`.
    pub expire_timestamp_ms: Option<i64>,
    /// Place of its record among the partition's offset records (`OffsetsState::replayed`).
    pub record: u64,
}

/// The pending rebalance timer of a group in PreparingRebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinTimer {
    /// Kafka's `InitialDelayedJoin`: the first rebalance of an empty group waits `delay_ms`, extended
    /// while members keep arriving, until `remaining_ms` is used up.
    Initial {
        /// Matches the timer entry; a mismatch means the timer was superseded.
        id: u64,
        /// This timer's delay (the next extension's remaining time subtracts it).
        delay_ms: i64,
        /// The configured `group.initial.rebalance.delay.ms`.
        configured_delay_ms: i64,
        /// Rebalance time still available for further extensions.
        remaining_ms: i64,
    },
    /// Kafka's `DelayedJoin`: completes when everyone has joined or at the rebalance timeout.
    Regular {
        /// Matches the timer entry.
        id: u64,
    },
}

/// One classic consumer group.
#[derive(Debug)]
pub struct ClassicGroup {
    /// The group id.
    pub group_id: String,
    /// Current state; change it only through `transition_to`.
    pub state: GroupState,
    /// When the group entered `state`, ms since the epoch (offset retention of empty groups).
    pub state_timestamp_ms: i64,
    /// Generation id, incremented at every completed join phase.
    pub generation_id: i32,
    /// Protocol type of the first member (all members must match); `None` for offsets-only groups.
    pub protocol_type: Option<String>,
    /// The protocol selected for the current generation.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader_id: Option<String>,
    /// Members by id (ordered, so leader re-election and responses are deterministic).
    pub members: BTreeMap<String, Member>,
    /// Static members: instance id → current member id.
    pub static_members: HashMap<String, String>,
    /// Members given an id by MEMBER_ID_REQUIRED that have not rejoined yet, with their timer id.
    pub pending_members: HashMap<String, u64>,
    /// Members that have not yet sent SyncGroup in this generation.
    pub pending_sync: HashSet<String>,
    /// For each protocol name, how many members support it.
    pub supported_protocols: HashMap<String, usize>,
    /// Members with a parked JoinGroup reply.
    pub num_awaiting_join: usize,
    /// A member joined while the initial delayed join was running (lets the delay extend).
    pub new_member_added: bool,
    /// The rebalance timer while in PreparingRebalance.
    pub join_timer: Option<JoinTimer>,
    /// The pending-sync timer id while waiting for SyncGroups.
    pub sync_timer: Option<u64>,
    /// Topics the members subscribe to (consumer protocol only; `None` = unknown).
    pub subscribed_topics: Option<HashSet<String>>,
}

impl ClassicGroup {
    /// A new group in state Empty.
    pub fn new(group_id: String, now_ms: i64) -> Self {
        ClassicGroup {
            group_id,
            state: GroupState::Empty,
            state_timestamp_ms: now_ms,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            supported_protocols: HashMap::new(),
            num_awaiting_join: 0,
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            subscribed_topics: None,
        }
    }

    /// Moves to `to`, checking the transition table.
    pub fn transition_to(&mut self, to: GroupState, now_ms: i64) {
        debug_assert!(
            to.can_follow(self.state),
            "group {}: invalid transition {:?} -> {:?}",
            self.group_id,
            self.state,
            to
        );
        self.state = to;
        self.state_timestamp_ms = now_ms;
    }

    /// Whether the group is in `state`.
    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    /// Whether `member_id` is the leader.
    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The leader id or "" (the wire's "no leader").
    pub fn leader_or_empty(&self) -> String {
        self.leader_id.clone().unwrap_or_default()
    }

    /// Kafka's `isStaticMemberFenced`: the instance id is known but bound to a different member id.
    pub fn is_static_member_fenced(
        &self,
        group_instance_id: Option<&str>,
        member_id: &str,
    ) -> bool {
        group_instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|current| current != member_id)
    }

    /// Whether a new member with `protocol_type`/`protocols` may join (Kafka's `supportsProtocols`).
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.is(GroupState::Empty) {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|p| {
                    self.supported_protocols.get(&p.name).copied().unwrap_or(0)
                        == self.members.len()
                })
        }
    }

    fn count_protocols(&mut self, protocols: &[Protocol], add: bool) {
        for p in protocols {
            let n = self.supported_protocols.entry(p.name.clone()).or_insert(0);
            if add {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        self.supported_protocols.retain(|_, n| *n > 0);
    }

    /// Adds a member (Kafka's `add`): the first member fixes the protocol type and becomes leader.
    pub fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        self.count_protocols(&member.protocols, true);
        if member.awaiting_join.is_some() {
            self.num_awaiting_join += 1;
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.pending_members.remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (Kafka's `remove`), re-electing a leader if needed. Returns the member so the
    /// caller can answer its parked replies.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        self.count_protocols(&member.protocols.clone(), false);
        if member.awaiting_join.is_some() {
            self.num_awaiting_join -= 1;
        }
        if let Some(instance) = &member.group_instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        self.pending_sync.remove(member_id);
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        Some(member)
    }

    /// Replaces a member's protocols and timeouts and (optionally) parks a join reply (Kafka's
    /// `updateMember`). A join reply already parked is superseded and answered with REBALANCE_IN_PROGRESS
    /// so no request is left hanging.
    pub fn update_member(
        &mut self,
        member_id: &str,
        protocols: Vec<Protocol>,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        reply: Option<oneshot::Sender<JoinGroupResult>>,
    ) {
        let old = match self.members.get(member_id) {
            Some(m) => m.protocols.clone(),
            None => return,
        };
        self.count_protocols(&old, false);
        self.count_protocols(&protocols, true);
        let Some(member) = self.members.get_mut(member_id) else {
            return; // found above
        };
        member.protocols = protocols;
        member.rebalance_timeout_ms = rebalance_timeout_ms;
        member.session_timeout_ms = session_timeout_ms;
        let was_awaiting = member.awaiting_join.is_some();
        if let Some(previous) = member.awaiting_join.take() {
            let _ = previous.send(JoinGroupResult::error(
                member_id.to_string(),
                super::GroupError::RebalanceInProgress,
            ));
        }
        member.awaiting_join = reply;
        match (was_awaiting, member.awaiting_join.is_some()) {
            (false, true) => self.num_awaiting_join += 1,
            (true, false) => self.num_awaiting_join -= 1,
            _ => {}
        }
    }

    /// Answers a member's parked join, if any.
    pub fn complete_join(&mut self, member_id: &str, result: JoinGroupResult) {
        if let Some(m) = self.members.get_mut(member_id) {
            if let Some(tx) = m.awaiting_join.take() {
                self.num_awaiting_join -= 1;
                let _ = tx.send(result);
            }
        }
    }

    /// Answers a member's parked sync, if any.
    pub fn complete_sync(&mut self, member_id: &str, result: SyncGroupResult) {
        if let Some(tx) = self
            .members
            .get_mut(member_id)
            .and_then(|m| m.awaiting_sync.take())
        {
            let _ = tx.send(result);
        }
    }

    /// All members have rejoined and nobody is pending (Kafka's `hasAllMembersJoined`).
    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join && self.pending_members.is_empty()
    }

    /// The largest rebalance timeout among members (how long a rebalance may take).
    pub fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// Picks the protocol every member supports, by member vote (Kafka's `selectProtocol`). Ties go to
    /// the candidate named first by the earliest-sorted member, so the choice is deterministic.
    pub fn select_protocol(&self) -> Option<String> {
        let n = self.members.len();
        let candidates: HashSet<&str> = self
            .supported_protocols
            .iter()
            .filter(|(_, &count)| count == n)
            .map(|(name, _)| name.as_str())
            .collect();
        let mut votes: Vec<(String, usize)> = Vec::new();
        for m in self.members.values() {
            if let Some(v) = m.vote(&candidates) {
                match votes.iter_mut().find(|(name, _)| *name == v) {
                    Some((_, c)) => *c += 1,
                    None => votes.push((v, 1)),
                }
            }
        }
        let best = votes.iter().map(|(_, c)| *c).max()?;
        votes.into_iter().find(|(_, c)| *c == best).map(|(v, _)| v)
    }

    /// Kafka's `maybeElectNewJoinedLeader`: keep the leader if it rejoined, else pick a member that did.
    /// Returns whether the group has a joined leader.
    pub fn elect_joined_leader(&mut self) -> bool {
        let leader_joined = self
            .leader_id
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if leader_joined {
            return true;
        }
        match self
            .members
            .values()
            .find(|m| m.awaiting_join.is_some())
            .map(|m| m.member_id.clone())
        {
            Some(id) => {
                self.leader_id = Some(id);
                true
            }
            None => {
                self.leader_id = self.members.keys().next().cloned();
                false
            }
        }
    }

    /// The members' metadata for the selected protocol, as the leader receives it.
    pub fn current_member_metadata(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(&protocol),
            })
            .collect()
    }

    /// Recomputes `subscribed_topics` from the consumer-protocol metadata of the selected protocol.
    pub fn compute_subscribed_topics(&mut self) {
        self.subscribed_topics = match (&self.protocol_type, &self.protocol_name) {
            (Some(t), Some(p)) if t == CONSUMER_PROTOCOL_TYPE => {
                let mut all = HashSet::new();
                let mut ok = true;
                for m in self.members.values() {
                    match parse_subscription_topics(&m.metadata(p)) {
                        Some(topics) => all.extend(topics),
                        None => ok = false,
                    }
                }
                ok.then_some(all)
            }
            (Some(t), None) if t == CONSUMER_PROTOCOL_TYPE && self.members.is_empty() => {
                Some(HashSet::new())
            }
            _ => None,
        };
    }

    /// Whether members consume `topic` (OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC).
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.subscribed_topics
            .as_ref()
            .is_some_and(|t| t.contains(topic))
    }

    /// A group with no members, no offsets (`has_offsets`: kept by the shard) and nothing persisted can
    /// be forgotten.
    pub fn is_disposable(&self, has_offsets: bool) -> bool {
        self.is(GroupState::Empty)
            && self.members.is_empty()
            && self.pending_members.is_empty()
            && !has_offsets
            && self.generation_id == 0
    }
}

/// Reads the topic list from a ConsumerProtocolSubscription (any version: int16 version, then an array of
/// strings; flexible v>=? encodings are not used by the classic consumer protocol's v0–v3).
pub fn parse_subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut buf = metadata;
    let take = |buf: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        if buf.len() < n {
            return None;
        }
        let (h, t) = buf.split_at(n);
        *buf = t;
        Some(h.to_vec())
    };
    let _version = i16::from_be_bytes(take(&mut buf, 2)?.try_into().ok()?);
    let count = i32::from_be_bytes(take(&mut buf, 4)?.try_into().ok()?);
    if count < 0 || count as usize > buf.len() {
        return None;
    }
    let mut topics = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(&mut buf, 2)?.try_into().ok()?);
        if len < 0 {
            return None;
        }
        topics.push(String::from_utf8(take(&mut buf, len as usize)?).ok()?);
    }
    Some(topics)
}
