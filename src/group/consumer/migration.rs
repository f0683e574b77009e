//! Online migration between the classic and the consumer group protocol, after Kafka's
//! `GroupMetadataManager` (`convertToConsumerGroup`, `convertToClassicGroup`): a consumer-protocol member
//! joining a non-empty classic group turns it into a consumer group whose classic members keep their
//! partitions and speak JoinGroup/SyncGroup/Heartbeat to it (upgrade); the last consumer-protocol member
//! leaving a group of classic members turns it back into a classic group, which then rebalances
//! (downgrade). `group.consumer.migration.policy` says which directions are allowed.

use std::collections::HashMap;

use super::embedded;
use super::{Assignment, ClassicMetadata, ConsumerGroup, ConsumerMember, MemberState};
use crate::group::shard::*;

/// `group.consumer.migration.policy` (Kafka's `ConsumerGroupMigrationPolicy`; default `bidirectional`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationPolicy {
    /// Upgrade and downgrade.
    Bidirectional,
    /// Classic to consumer only.
    Upgrade,
    /// Consumer to classic only.
    Downgrade,
    /// Neither (empty groups still change protocol, as in Kafka).
    Disabled,
}

impl MigrationPolicy {
    /// Parses Kafka's names, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bidirectional" => Some(MigrationPolicy::Bidirectional),
            "upgrade" => Some(MigrationPolicy::Upgrade),
            "downgrade" => Some(MigrationPolicy::Downgrade),
            "disabled" => Some(MigrationPolicy::Disabled),
            _ => None,
        }
    }

    /// Kafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPolicy::Bidirectional => "bidirectional",
            MigrationPolicy::Upgrade => "upgrade",
            MigrationPolicy::Downgrade => "downgrade",
            MigrationPolicy::Disabled => "disabled",
        }
    }

    fn upgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Upgrade
        )
    }

    fn downgrades(self) -> bool {
        matches!(
            self,
            MigrationPolicy::Bidirectional | MigrationPolicy::Downgrade
        )
    }
}

/// A classic group a heartbeat is replacing, and the records that say so (written before the
/// heartbeat's own), kept aside until the heartbeat is accepted.
pub(crate) struct Replaced {
    /// The classic group (put back if the heartbeat is refused).
    pub(crate) classic: ClassicGroup,
    /// Its tombstone and, for a non-empty group, the new consumer group's records.
    pub(crate) records: Vec<Record>,
}

type Refusal = Option<(GroupError, String)>;

impl GroupShard {
    /// Kafka's `validateOnlineUpgrade` and `convertToConsumerGroup`: the consumer group a non-empty classic
    /// group becomes, with its records. `Err(None)` when the policy or the group's protocol type forbids
    /// it; `Err(Some(..))` when a member's embedded consumer protocol does not decode.
    pub(crate) fn upgrade(
        &mut self,
        classic: &ClassicGroup,
    ) -> Result<(ConsumerGroup, Vec<Record>), Refusal> {
        let id = &classic.group_id;
        if !self.config.consumer_migration_policy.upgrades() {
            tracing::info!(group = %id, "not upgrading the classic group: group.consumer.migration.policy forbids it");
            return Err(None);
        }
        if classic.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            tracing::info!(group = %id, "not upgrading the classic group: it does not use the consumer protocol");
            return Err(None);
        }
        let mut g = self.consumer_group_of(classic).map_err(|e| {
            tracing::warn!(group = %id, error = %e, "cannot upgrade the classic group");
            Some((
                GroupError::GroupIdNotFound,
                format!("Cannot upgrade the classic group {id} to consumer group because the embedded consumer protocol is malformed."),
            ))
        })?;
        g.subscription_metadata = self.subscription_metadata(&mut g);
        let mut records = vec![(crate::group::records::encode_group_key(id), None)];
        records.extend(creation_records(&g));
        tracing::info!(group = %id, generation = classic.generation_id, members = g.members.len(),
            "upgrading the classic group to a consumer group");
        Ok((g, records))
    }

    /// Kafka's `ConsumerGroup.fromClassicGroup`: every member keeps its last assignment as its target at
    /// the classic generation, in the Stable state.
    fn consumer_group_of(&self, classic: &ClassicGroup) -> Result<ConsumerGroup, GroupError> {
        let mut g = ConsumerGroup::new(classic.group_id.clone());
        g.group_epoch = classic.generation_id;
        g.assignment_epoch = classic.generation_id;
        for m in classic.members.values() {
            let protocol = classic
                .protocol_name
                .clone()
                .or_else(|| m.protocols.first().map(|p| p.name.clone()))
                .unwrap_or_default();
            let subscription = embedded::decode_subscription(&m.metadata(&protocol))?;
            let assigned = self.by_topic_id(&embedded::decode_assignment(&m.assignment)?);
            let mut topics = subscription.topics;
            topics.sort_unstable();
            topics.dedup();
            let mut member = ConsumerMember::new(m.member_id.clone());
            member.member_epoch = classic.generation_id;
            member.previous_member_epoch = classic.generation_id;
            member.state = MemberState::Stable;
            member.instance_id = m.group_instance_id.clone();
            member.rack_id = subscription.rack_id;
            member.rebalance_timeout_ms = m.rebalance_timeout_ms;
            member.client_id = m.client_id.clone();
            member.client_host = m.client_host.clone();
            member.subscribed_topic_names = topics;
            member.assigned = assigned.clone();
            member.classic = Some(ClassicMetadata {
                session_timeout_ms: m.session_timeout_ms,
                protocols: m.protocols.clone(),
            });
            if let Some(i) = &member.instance_id {
                g.static_members.insert(i.clone(), member.member_id.clone());
            }
            g.target.insert(member.member_id.clone(), assigned);
            g.track_owned(&member, false);
            g.members.insert(member.member_id.clone(), member);
        }
        Ok(g)
    }

    /// After an accepted upgrade: parked classic replies learn that a new rebalance is under way (their
    /// members rejoin the consumer group), and converted members must heartbeat within their session.
    /// Returns the classic group, with nothing parked, in case the upgrade's records are not stored.
    pub(crate) fn upgraded(
        &mut self,
        ctx: &mut GCtx,
        g: &mut ConsumerGroup,
        mut classic: ClassicGroup,
    ) -> ClassicGroup {
        for m in classic.members.values_mut() {
            if let Some(tx) = m.awaiting_join.take() {
                let _ = tx.send(JoinGroupResult::error(
                    m.member_id.clone(),
                    GroupError::RebalanceInProgress,
                ));
            }
            if let Some(tx) = m.awaiting_sync.take() {
                let _ = tx.send(SyncGroupResult::error(GroupError::RebalanceInProgress));
            }
        }
        classic.num_awaiting_join = 0;
        let converted: Vec<String> = classic.members.keys().cloned().collect();
        for member in converted {
            if g.members
                .get(&member)
                .is_some_and(ConsumerMember::uses_classic)
            {
                self.arm_consumer_session(ctx, g, &member);
            }
        }
        classic
    }

    /// Kafka's `validateOnlineDowngradeWithFencedMember`: `leaving` is the last member speaking the
    /// consumer protocol, others remain, the policy allows it and they fit in a classic group.
    pub(crate) fn downgrade_allowed(&self, g: &ConsumerGroup, leaving: &str) -> bool {
        if !g.only_classic_members_besides(leaving) || g.members.len() <= 1 {
            return false;
        }
        if !self.config.consumer_migration_policy.downgrades() {
            tracing::info!(group = %g.group_id, "not downgrading the consumer group: group.consumer.migration.policy forbids it");
            return false;
        }
        if g.members.len() - 1 > self.config.group_max_size {
            tracing::info!(group = %g.group_id, "not downgrading the consumer group: more members than group.max.size");
            return false;
        }
        true
    }

    /// Kafka's `convertToClassicGroup` for a leaving member: the remaining (classic) members form a Stable
    /// classic group at the group epoch, each holding its target assignment, which then rebalances.
    /// Returns the consumer group's tombstones and the classic group's record.
    pub(crate) fn convert_to_classic(
        &mut self,
        ctx: &mut GCtx,
        g: ConsumerGroup,
        leaving: &str,
    ) -> Vec<Record> {
        let mut records: Vec<Record> = g
            .members
            .keys()
            .flat_map(|m| super::records::member_tombstones(&g.group_id, m))
            .collect();
        records.extend(super::records::group_tombstones(&g.group_id));
        let mut classic = self.classic_group_of(&g, leaving, ctx.now_ms());
        records.push(group_record(&classic, None));
        tracing::info!(group = %g.group_id, generation = classic.generation_id,
            members = classic.members.len(), "downgrading the consumer group to a classic group");
        let members: Vec<(String, i32)> = classic
            .members
            .values()
            .map(|m| (m.member_id.clone(), m.session_timeout_ms))
            .collect();
        for (member, session_ms) in members {
            self.arm_heartbeat(ctx, &mut classic, &member, i64::from(session_ms));
        }
        self.prepare_rebalance(ctx, &mut classic);
        self.groups.insert(classic.group_id.clone(), classic);
        records
    }

    /// Kafka's `ClassicGroup.fromConsumerGroup`.
    fn classic_group_of(&self, g: &ConsumerGroup, leaving: &str, now_ms: i64) -> ClassicGroup {
        let mut classic = ClassicGroup::new(g.group_id.clone(), now_ms);
        // Kafka builds the group directly in Stable; Empty -> Stable is no transition of the table.
        classic.state = GroupState::Stable;
        classic.generation_id = g.group_epoch;
        for m in g.members.values().filter(|m| m.member_id != leaving) {
            let Some(c) = &m.classic else { continue };
            let now = Instant::now();
            classic.add_member(Member {
                member_id: m.member_id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: c.session_timeout_ms,
                protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
                protocols: c.protocols.clone(),
                assignment: Bytes::new(),
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                heartbeat_deadline: now,
                heartbeat_timer_id: 0,
                heartbeat_timer_at: now,
            });
        }
        classic.protocol_type = Some(CONSUMER_PROTOCOL_TYPE.to_string());
        classic.protocol_name = classic.select_protocol();
        classic.compute_subscribed_topics();
        let protocol = classic.protocol_name.clone().unwrap_or_default();
        let empty = Assignment::new();
        let assignments: HashMap<String, Bytes> = classic
            .members
            .values()
            .map(|m| {
                let target = g.target.get(&m.member_id).unwrap_or(&empty);
                let version = embedded::subscription_version(&m.metadata(&protocol));
                let bytes = embedded::encode_assignment(version, &self.by_topic_name(target));
                (m.member_id.clone(), bytes)
            })
            .collect();
        for (id, bytes) in assignments {
            if let Some(m) = classic.members.get_mut(&id) {
                m.assignment = bytes;
            }
        }
        classic
    }

    /// An assignment by topic name to one by topic id (topics that no longer exist are left out).
    pub(crate) fn by_topic_id(&self, parts: &[(String, Vec<i32>)]) -> Assignment {
        let mut out = Assignment::new();
        for (name, ps) in parts {
            if let Some(t) = self.topics.topic_info(name) {
                out.entry(t.id).or_default().extend(ps.iter().copied());
            }
        }
        out.retain(|_, ps| !ps.is_empty());
        out
    }

    /// An assignment by topic id to one by name, in name order (unknown ids are left out).
    pub(crate) fn by_topic_name(&self, a: &Assignment) -> Vec<(String, Vec<i32>)> {
        let mut out: Vec<(String, Vec<i32>)> = a
            .iter()
            .filter_map(|(id, ps)| {
                Some((self.topics.topic_name(*id)?, ps.iter().copied().collect()))
            })
            .collect();
        out.sort();
        out
    }
}

/// Kafka's `createConsumerGroupRecords`: every member's metadata, the group epoch, the target
/// assignment with its epoch, then every member's current assignment.
fn creation_records(g: &ConsumerGroup) -> Vec<Record> {
    let members: Vec<Vec<Record>> = g
        .members
        .keys()
        .map(|m| super::records::member_records(g, m))
        .collect();
    let mut out: Vec<Record> = members.iter().filter_map(|r| r.first().cloned()).collect();
    out.push(super::records::group_epoch_record(g));
    out.extend(super::records::target_records(g));
    out.extend(members.iter().filter_map(|r| r.get(1).cloned()));
    out
}
