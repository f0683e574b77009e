//! Leader elections the controller makes besides failover: preferred-replica elections (ElectLeaders and
//! the periodic leader rebalance) and unclean elections (ElectLeaders, or `unclean.leader.election.enable`
//! for a partition whose in-sync replicas are all gone). Kafka's `PartitionChangeBuilder.electLeader` and
//! `ReplicationControlManager.electLeaders` are the model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::image::{MetadataImage, PartitionState, TopicMeta, NO_LEADER};
use crate::cluster::records::{MetadataRecord, PartitionChange};
use crate::cluster::topic_config;
use crate::log::LogConfig;

/// Kafka's `ElectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionKind {
    /// Move leadership to the first replica, if it is alive and in sync.
    Preferred,
    /// Give a leaderless partition a leader, out of sync if no in-sync replica is alive.
    Unclean,
}

/// Why one partition's election did not happen (Kafka's error codes for ElectLeaders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionError {
    /// UNKNOWN_TOPIC_OR_PARTITION, with Kafka's message.
    UnknownTopicOrPartition(String),
    /// ELECTION_NOT_NEEDED: the preferred replica leads already, or (unclean) there is a leader.
    NotNeeded,
    /// PREFERRED_LEADER_NOT_AVAILABLE: the preferred replica is fenced, shutting down or out of sync.
    PreferredLeaderNotAvailable,
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE: no replica of a leaderless partition is alive.
    EligibleLeadersNotAvailable,
}

/// One topic's answers to ElectLeaders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionResult {
    pub topic: String,
    /// Partition index and why no leader was elected (`None`: one was).
    pub partitions: Vec<(i32, Option<ElectionError>)>,
}

/// Partitions named by an ElectLeaders request: topic → partition indexes.
pub type ElectionTargets = Vec<(String, Vec<i32>)>;

/// Answers ElectLeaders (Kafka's `ReplicationControlManager.electLeaders`): every named partition gets a
/// result; with none named every topic is listed with those of its partitions that needed an election.
pub(super) fn elect_leaders(
    image: &MetadataImage,
    kind: ElectionKind,
    targets: Option<ElectionTargets>,
) -> (Vec<ElectionResult>, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let mut one = |topic: &str, partition: i32| match elect_named(image, kind, topic, partition) {
        Ok(change) => {
            records.push(MetadataRecord::PartitionChange(change));
            None
        }
        Err(e) => Some(e),
    };
    let results = match targets {
        Some(targets) => targets
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|p| (p, one(&topic, p)))
                    .collect();
                ElectionResult { topic, partitions }
            })
            .collect(),
        None => image
            .topics
            .values()
            .map(|t| ElectionResult {
                topic: t.name.clone(),
                partitions: (0..t.partition_count())
                    .map(|p| (p, one(&t.name, p)))
                    .filter(|(_, e)| *e != Some(ElectionError::NotNeeded))
                    .collect(),
            })
            .collect(),
    };
    (results, records)
}

/// Kafka's `ReplicationControlManager.electLeader` for one named partition.
fn elect_named(
    image: &MetadataImage,
    kind: ElectionKind,
    topic: &str,
    partition: i32,
) -> Result<PartitionChange, ElectionError> {
    let t = image.topics.get(topic).ok_or_else(|| {
        ElectionError::UnknownTopicOrPartition(format!("No such topic as {topic}"))
    })?;
    let state = t.partition(partition).ok_or_else(|| {
        ElectionError::UnknownTopicOrPartition(format!("No such partition as {topic}-{partition}"))
    })?;
    let not_needed = match kind {
        ElectionKind::Preferred => state.replicas.first() == Some(&state.leader),
        ElectionKind::Unclean => state.leader != NO_LEADER,
    };
    if not_needed {
        return Err(ElectionError::NotNeeded);
    }
    elect(image, t, partition, state, kind).ok_or(match kind {
        ElectionKind::Preferred => ElectionError::PreferredLeaderNotAvailable,
        ElectionKind::Unclean => ElectionError::EligibleLeadersNotAvailable,
    })
}

/// The change an election of `kind` makes to a partition, if any (Kafka's `PartitionChangeBuilder`
/// with that election): `None` when the leader would stay what it is.
fn elect(
    image: &MetadataImage,
    t: &TopicMeta,
    partition: i32,
    state: &PartitionState,
    kind: ElectionKind,
) -> Option<PartitionChange> {
    let (leader, unclean) = match kind {
        ElectionKind::Preferred => (preferred_choice(image, state), false),
        ElectionKind::Unclean => any_choice(image, state),
    };
    if leader == state.leader {
        return None;
    }
    Some(PartitionChange {
        topic_id: t.id,
        partition,
        leader: Some(leader),
        // An unclean leader is the only replica known to hold what it holds (Kafka: ISR = [leader]).
        isr: unclean.then(|| vec![leader]),
        ..Default::default()
    })
}

/// A broker may lead: registered, unfenced and not shutting down (Kafka's `isAcceptableLeader`).
pub(super) fn acceptable(image: &MetadataImage, id: i32) -> bool {
    image
        .brokers
        .get(&id)
        .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
}

/// Acceptable and in sync (Kafka's `isValidNewLeader`).
fn valid(image: &MetadataImage, state: &PartitionState, id: i32) -> bool {
    state.isr.contains(&id) && acceptable(image, id)
}

/// Kafka's `electPreferredLeader`: the preferred replica if valid, else the current leader if valid,
/// else the first other valid replica, else none.
fn preferred_choice(image: &MetadataImage, state: &PartitionState) -> i32 {
    let preferred = state.replicas.first().copied().unwrap_or(NO_LEADER);
    if valid(image, state, preferred) {
        return preferred;
    }
    if valid(image, state, state.leader) {
        return state.leader;
    }
    state
        .replicas
        .iter()
        .skip(1)
        .copied()
        .find(|r| valid(image, state, *r))
        .unwrap_or(NO_LEADER)
}

/// Kafka's `electAnyLeader` with unclean election allowed: the current leader if valid, else the first
/// valid replica, else the first acceptable replica out of sync (`true`: an unclean election).
fn any_choice(image: &MetadataImage, state: &PartitionState) -> (i32, bool) {
    if valid(image, state, state.leader) {
        return (state.leader, false);
    }
    if let Some(r) = state
        .replicas
        .iter()
        .copied()
        .find(|r| valid(image, state, *r))
    {
        return (r, false);
    }
    match state
        .replicas
        .iter()
        .copied()
        .find(|r| acceptable(image, *r))
    {
        Some(r) => (r, true),
        None => (NO_LEADER, false),
    }
}

/// How many partitions a broker is the preferred replica for, and those of them it does not lead.
type PreferredShare<'a> = (usize, Vec<(&'a TopicMeta, i32)>);

/// Preferred-replica elections for the periodic leader rebalance (`auto.leader.rebalance.enable`), with
/// the rule `leader.imbalance.per.broker.percentage` documents (Kafka's `checkAndTriggerAutoLeaderRebalance`):
/// a broker whose share of partitions it is preferred for but does not lead exceeds `percentage` gets
/// those back where it is alive and in sync.
pub(super) fn rebalance(image: &MetadataImage, percentage: u32) -> Vec<MetadataRecord> {
    // Per preferred broker: how many partitions it is preferred for, and those it does not lead.
    let mut preferred_for: BTreeMap<i32, PreferredShare> = BTreeMap::new();
    for t in image.topics.values() {
        for (p, state) in t.partitions.iter().enumerate() {
            let Some(&preferred) = state.replicas.first() else {
                continue;
            };
            let entry = preferred_for.entry(preferred).or_default();
            entry.0 += 1;
            if state.leader != preferred {
                entry.1.push((t, i32::try_from(p).unwrap_or(i32::MAX)));
            }
        }
    }
    let mut out = Vec::new();
    for (broker, (total, imbalanced)) in preferred_for {
        // More than `percentage` percent: imbalanced × 100 > total × percentage, in integers.
        if imbalanced.len() * 100 <= total * usize::try_from(percentage).unwrap_or(usize::MAX) {
            continue;
        }
        for (t, p) in imbalanced {
            let Some(state) = t.partition(p) else {
                continue;
            };
            if valid(image, state, broker) {
                out.push(MetadataRecord::PartitionChange(PartitionChange {
                    topic_id: t.id,
                    partition: p,
                    leader: Some(broker),
                    isr: None,
                    ..Default::default()
                }));
            }
        }
    }
    out
}

/// Unclean elections for leaderless partitions of topics whose effective `unclean.leader.election.enable`
/// is true (Kafka elects them when a replica comes back or the config is turned on).
pub(super) fn unclean_where_enabled(
    image: &MetadataImage,
    defaults: &LogConfig,
) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        if !t.partitions.iter().any(|p| p.leader == NO_LEADER) {
            continue;
        }
        let enabled = topic_config::log_config(defaults, &t.configs)
            .map(|c| c.unclean_leader_election_enable)
            .unwrap_or(defaults.unclean_leader_election_enable);
        if !enabled {
            continue;
        }
        for (p, state) in t.partitions.iter().enumerate() {
            let p = i32::try_from(p).unwrap_or(i32::MAX);
            if state.leader != NO_LEADER {
                continue;
            }
            if let Some(change) = elect(image, t, p, state, ElectionKind::Unclean) {
                tracing::warn!(
                    topic = %t.name,
                    partition = p,
                    leader = change.leader,
                    "unclean leader election: records only the old in-sync replicas had may be lost"
                );
                out.push(MetadataRecord::PartitionChange(change));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{apply_all, image_with_topic};
    use super::*;

    /// Brokers 1–3 registered and unfenced; topic "t" with partitions [1,2,3], [2,3,1], [3] as given by
    /// `states` (replicas, isr, leader).
    fn image(states: &[(Vec<i32>, Vec<i32>, i32)]) -> MetadataImage {
        let (mut image, _) = image_with_topic(3, states.iter().map(|s| s.0.clone()).collect());
        let t = image.topics.get_mut("t").expect("topic");
        for (p, (_, isr, leader)) in t.partitions.iter_mut().zip(states) {
            p.isr = isr.clone();
            p.leader = *leader;
        }
        image
    }

    fn errors(results: &[ElectionResult]) -> Vec<(i32, Option<ElectionError>)> {
        results.iter().flat_map(|r| r.partitions.clone()).collect()
    }

    fn named(partitions: &[i32]) -> Option<ElectionTargets> {
        Some(vec![("t".into(), partitions.to_vec())])
    }

    #[test]
    fn preferred_election_answers_as_kafka() {
        let mut image = image(&[
            (vec![1, 2, 3], vec![1, 2, 3], 2), // preferred in sync: elected
            (vec![2, 3, 1], vec![2, 3, 1], 2), // preferred leads: not needed
            (vec![3, 1], vec![1], 1),          // preferred out of sync: not available
        ]);
        let (results, records) =
            elect_leaders(&image, ElectionKind::Preferred, named(&[0, 1, 2, 7]));
        assert_eq!(
            errors(&results),
            vec![
                (0, None),
                (1, Some(ElectionError::NotNeeded)),
                (2, Some(ElectionError::PreferredLeaderNotAvailable)),
                (
                    7,
                    Some(ElectionError::UnknownTopicOrPartition(
                        "No such partition as t-7".into()
                    ))
                ),
            ]
        );
        let epoch = image.topics["t"].partitions[0].leader_epoch;
        apply_all(&mut image, &records);
        let p0 = &image.topics["t"].partitions[0];
        assert_eq!((p0.leader, p0.leader_epoch), (1, epoch + 1));
        // A fenced preferred replica is not available either.
        image.apply(20, &MetadataRecord::FenceBroker { id: 3, epoch: 3 });
        image.topics.get_mut("t").expect("t").partitions[2].isr = vec![3, 1];
        let (results, _) = elect_leaders(&image, ElectionKind::Preferred, named(&[2]));
        assert_eq!(
            errors(&results),
            vec![(2, Some(ElectionError::PreferredLeaderNotAvailable))]
        );
        // All partitions: only those that needed an election are listed.
        let (results, _) = elect_leaders(&image, ElectionKind::Preferred, None);
        assert_eq!(
            errors(&results),
            vec![(2, Some(ElectionError::PreferredLeaderNotAvailable))]
        );
        let (results, _) = elect_leaders(
            &image,
            ElectionKind::Preferred,
            Some(vec![("u".into(), vec![0])]),
        );
        assert_eq!(
            errors(&results),
            vec![(
                0,
                Some(ElectionError::UnknownTopicOrPartition(
                    "No such topic as u".into()
                ))
            )]
        );
    }

    #[test]
    fn unclean_election_picks_a_live_replica_out_of_sync_only_when_none_in_sync_lives() {
        let mut image = image(&[
            (vec![1, 2], vec![1, 2], 1),         // has a leader: not needed
            (vec![3, 2], vec![3], NO_LEADER),    // ISR member 3 fenced below: 2 out of sync
            (vec![3], vec![3], NO_LEADER),       // only replica fenced: none eligible
            (vec![3, 1], vec![3, 1], NO_LEADER), // in-sync 1 alive: clean choice
        ]);
        image.apply(20, &MetadataRecord::FenceBroker { id: 3, epoch: 3 });
        let (results, records) = elect_leaders(&image, ElectionKind::Unclean, named(&[0, 1, 2, 3]));
        assert_eq!(
            errors(&results),
            vec![
                (0, Some(ElectionError::NotNeeded)),
                (1, None),
                (2, Some(ElectionError::EligibleLeadersNotAvailable)),
                (3, None),
            ]
        );
        apply_all(&mut image, &records);
        let t = &image.topics["t"];
        assert_eq!(
            (t.partitions[1].leader, t.partitions[1].isr.clone()),
            (2, vec![2])
        );
        assert_eq!(
            (t.partitions[3].leader, t.partitions[3].isr.clone()),
            (1, vec![3, 1]),
            "a clean election keeps the ISR"
        );
    }

    #[test]
    fn unclean_elections_run_only_where_the_topic_or_broker_enables_them() {
        let mut image = image(&[(vec![3, 2], vec![3], NO_LEADER)]);
        image.apply(20, &MetadataRecord::FenceBroker { id: 3, epoch: 3 });
        let defaults = LogConfig::default();
        assert!(unclean_where_enabled(&image, &defaults).is_empty());
        let broker_on = LogConfig {
            unclean_leader_election_enable: true,
            ..LogConfig::default()
        };
        assert_eq!(unclean_where_enabled(&image, &broker_on).len(), 1);
        let id = image.topics["t"].id;
        let configs = [(
            "unclean.leader.election.enable".to_string(),
            "true".to_string(),
        )];
        image.apply(
            21,
            &MetadataRecord::TopicConfigs {
                id,
                configs: configs.into_iter().collect(),
            },
        );
        let records = unclean_where_enabled(&image, &defaults);
        apply_all(&mut image, &records);
        assert_eq!(image.topics["t"].partitions[0].leader, 2);
    }

    #[test]
    fn rebalance_moves_leadership_back_past_the_imbalance_percentage() {
        // Broker 1 is preferred for 2 partitions and leads none; broker 2 leads its own.
        let states = [
            (vec![1, 2], vec![1, 2], 2),
            (vec![1, 2], vec![2], 2),
            (vec![2, 1], vec![2, 1], 2),
        ];
        let mut image = image(&states);
        let records = rebalance(&image, 10);
        // Partition 1: broker 1 is out of sync there and stays a follower.
        assert_eq!(records.len(), 1);
        apply_all(&mut image, &records);
        assert_eq!(image.topics["t"].partitions[0].leader, 1);
        // At 50 % imbalance and a 50 % allowance, nothing moves.
        assert!(rebalance(&image, 50).is_empty());
        image.topics.get_mut("t").expect("t").partitions[1].isr = vec![2, 1];
        assert_eq!(rebalance(&image, 49).len(), 1);
    }
}
