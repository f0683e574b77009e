//! Partition reassignment on the controller (KIP-455, Kafka's `ReplicationControlManager`
//! `alterPartitionReassignment`): a new replica list is first merged into the old one (adding and
//! removing replicas listed in the image), the added replicas catch up and join the ISR through their
//! leader, and the change that puts the last of them in sync also completes the reassignment: the
//! removed replicas leave the replica list and the ISR, and a leader among them hands over.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::admin::check_manual;
use super::elections::acceptable;
use super::ControllerError;
use crate::cluster::image::{MetadataImage, PartitionState, NO_LEADER};
use crate::cluster::records::{MetadataRecord, PartitionChange};

/// Why one partition's reassignment was refused (Kafka's error codes for AlterPartitionReassignments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReassignError {
    /// UNKNOWN_TOPIC_OR_PARTITION, with Kafka's message.
    UnknownTopicOrPartition(String),
    /// INVALID_REPLICA_ASSIGNMENT, with Kafka's message.
    InvalidReplicaAssignment(String),
    /// NO_REASSIGNMENT_IN_PROGRESS: a cancellation of nothing.
    NoReassignmentInProgress,
    /// INVALID_REPLICATION_FACTOR: KIP-860 forbade changing it, with Kafka's message.
    InvalidReplicationFactor(String),
}

/// Per topic, per partition: the new replica list, or `None` to cancel an ongoing reassignment.
pub type ReassignTargets = Vec<(String, Vec<(i32, Option<Vec<i32>>)>)>;

/// Per topic, per partition: why nothing changed (`None`: accepted).
pub type ReassignResults = Vec<(String, Vec<(i32, Option<ReassignError>)>)>;

/// Answers AlterPartitionReassignments: each partition is started, changed or cancelled on its own.
/// With `keep_replication_factor` (KIP-860) a target must be as long as the replica set the partition
/// has, or is headed for.
pub(super) fn alter(
    image: &MetadataImage,
    targets: ReassignTargets,
    keep_replication_factor: bool,
) -> (ReassignResults, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let results = targets
        .into_iter()
        .map(|(topic, partitions)| {
            let results = partitions
                .into_iter()
                .map(|(p, target)| {
                    match alter_one(image, &topic, p, target, keep_replication_factor) {
                        Ok(change) => {
                            records.extend(change.map(MetadataRecord::PartitionChange));
                            (p, None)
                        }
                        Err(e) => (p, Some(e)),
                    }
                })
                .collect();
            (topic, results)
        })
        .collect();
    (results, records)
}

fn alter_one(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<Vec<i32>>,
    keep_replication_factor: bool,
) -> Result<Option<PartitionChange>, ReassignError> {
    let t = image.topics.get(topic).ok_or_else(|| {
        ReassignError::UnknownTopicOrPartition(format!("Unable to find a topic named {topic}."))
    })?;
    let state = t.partition(partition).ok_or_else(|| {
        ReassignError::UnknownTopicOrPartition(format!(
            "Unable to find partition {topic}:{partition}."
        ))
    })?;
    let new = match target {
        Some(target) => {
            if keep_replication_factor {
                same_replication_factor(state, &target)?;
            }
            start(image, state, &target)?
        }
        None => cancel(topic, partition, state)?,
    };
    Ok(change(image, t.id, partition, state, new))
}

/// Kafka's `validatePartitionReplicationFactorUnchanged`: the current replication factor is that of the
/// target of an ongoing reassignment (the replicas not leaving).
fn same_replication_factor(state: &PartitionState, target: &[i32]) -> Result<(), ReassignError> {
    let current = state
        .replicas
        .iter()
        .filter(|r| !state.removing.contains(r))
        .count();
    if current == target.len() {
        return Ok(());
    }
    Err(ReassignError::InvalidReplicationFactor(format!(
        "The replication factor is changed from {current} to {}",
        target.len()
    )))
}

/// Kafka's `PartitionReassignmentReplicas`: the target first, then the current replicas leaving.
fn start(
    image: &MetadataImage,
    state: &PartitionState,
    target: &[i32],
) -> Result<PartitionState, ReassignError> {
    check_manual(image, target, None).map_err(|e| match e {
        ControllerError::InvalidReplicaAssignment(m) => ReassignError::InvalidReplicaAssignment(m),
        other => ReassignError::InvalidReplicaAssignment(other.to_string()),
    })?;
    let current = &state.replicas;
    let removing: Vec<i32> = current
        .iter()
        .copied()
        .filter(|r| !target.contains(r))
        .collect();
    let adding: Vec<i32> = target
        .iter()
        .copied()
        .filter(|r| !current.contains(r))
        .collect();
    let mut replicas = target.to_vec();
    replicas.extend(&removing);
    Ok(PartitionState {
        replicas,
        adding,
        removing,
        ..state.clone()
    })
}

/// Kafka's `PartitionReassignmentRevert`: back to the replicas before the reassignment, without the
/// added ones (in or out of the ISR); refused if no original replica is in sync.
fn cancel(
    topic: &str,
    partition: i32,
    state: &PartitionState,
) -> Result<PartitionState, ReassignError> {
    if !state.reassigning() {
        return Err(ReassignError::NoReassignmentInProgress);
    }
    let replicas: Vec<i32> = state
        .replicas
        .iter()
        .copied()
        .filter(|r| !state.adding.contains(r))
        .collect();
    let isr: Vec<i32> = state
        .isr
        .iter()
        .copied()
        .filter(|r| replicas.contains(r))
        .collect();
    if isr.is_empty() {
        return Err(ReassignError::InvalidReplicaAssignment(format!(
            "Unable to revert partition assignment for {topic}:{partition} because it would require an \
             unclean leader election."
        )));
    }
    Ok(PartitionState {
        replicas,
        isr,
        adding: Vec::new(),
        removing: Vec::new(),
        ..state.clone()
    })
}

/// The record turning `old` into `new` (Kafka's `PartitionChangeBuilder`): completes a reassignment
/// whose target replicas are all in sync, keeps the ISR in replica order, and elects a leader from the
/// ISR when the current one is no longer in it. `None` when nothing changes.
pub(super) fn change(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    old: &PartitionState,
    mut new: PartitionState,
) -> Option<PartitionChange> {
    if new.reassigning() {
        let target: Vec<i32> = new
            .replicas
            .iter()
            .copied()
            .filter(|r| !new.removing.contains(r))
            .collect();
        if target.iter().all(|r| new.isr.contains(r)) {
            new.isr.retain(|r| target.contains(r));
            new.replicas = target;
            new.adding.clear();
            new.removing.clear();
        }
    }
    new.isr = new
        .replicas
        .iter()
        .copied()
        .filter(|r| new.isr.contains(r))
        .collect();
    let leader = if new.isr.contains(&old.leader) {
        old.leader
    } else {
        new.replicas
            .iter()
            .copied()
            .find(|r| new.isr.contains(r) && acceptable(image, *r))
            .unwrap_or(NO_LEADER)
    };
    // Kafka's `triggerLeaderEpochBumpForReplicaReassignmentIfNeeded`: replicas leaving the partition
    // are fenced by a new leader epoch even when the leader stays, so a removed replica that still
    // fetches (or still thinks it leads) is refused.
    let bump_leader_epoch =
        leader == old.leader && !old.replicas.iter().all(|r| new.replicas.contains(r));
    let change = PartitionChange {
        topic_id,
        partition,
        leader: (leader != old.leader).then_some(leader),
        isr: (new.isr != old.isr).then(|| new.isr.clone()),
        replicas: (new.replicas != old.replicas).then(|| new.replicas.clone()),
        adding: (new.adding != old.adding).then(|| new.adding.clone()),
        removing: (new.removing != old.removing).then(|| new.removing.clone()),
        bump_leader_epoch,
    };
    let unchanged = change.leader.is_none()
        && change.isr.is_none()
        && change.replicas.is_none()
        && change.adding.is_none()
        && change.removing.is_none();
    (!unchanged).then_some(change)
}

/// Ongoing reassignments, for ListPartitionReassignments: (topic, partition, replicas, adding, removing)
/// of the named partitions (all when `None`); unknown ones are skipped, as Kafka does.
pub fn list(
    image: &MetadataImage,
    named: Option<&[(String, Vec<i32>)]>,
) -> Vec<(String, i32, PartitionState)> {
    let mut out = Vec::new();
    let mut one = |topic: &str, p: i32| {
        if let Some(state) = image
            .topics
            .get(topic)
            .and_then(|t| t.partition(p))
            .filter(|s| s.reassigning())
        {
            out.push((topic.to_string(), p, state.clone()));
        }
    };
    match named {
        Some(named) => {
            for (topic, partitions) in named {
                for p in partitions {
                    one(topic, *p);
                }
            }
        }
        None => {
            for t in image.topics.values() {
                for p in 0..t.partition_count() {
                    one(&t.name, p);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{apply_all, image_with_topic};
    use super::*;

    /// Brokers 1–4 registered and unfenced; topic "t" with one partition on [1, 2], led by 1.
    fn image() -> MetadataImage {
        image_with_topic(4, vec![vec![1, 2]]).0
    }

    fn reassign(image: &MetadataImage, target: Option<Vec<i32>>) -> ReassignResults {
        alter(image, vec![("t".into(), vec![(0, target)])], false).0
    }

    #[test]
    fn replicas_are_added_then_the_old_ones_removed_once_the_new_are_in_sync() {
        let mut image = image();
        let (results, records) = alter(
            &image,
            vec![("t".into(), vec![(0, Some(vec![3, 4]))])],
            false,
        );
        assert_eq!(results, vec![("t".to_string(), vec![(0, None)])]);
        apply_all(&mut image, &records);
        let p = image.topics["t"].partitions[0].clone();
        assert_eq!(
            (p.replicas.clone(), p.adding.clone(), p.removing.clone()),
            (vec![3, 4, 1, 2], vec![3, 4], vec![1, 2])
        );
        assert_eq!((p.leader, p.isr.clone()), (1, vec![1, 2]));
        assert_eq!(list(&image, None).len(), 1);
        // 3 joins the ISR: not complete yet.
        let id = image.topics["t"].id;
        let step = |image: &MetadataImage, isr: Vec<i32>| {
            let old = &image.topics["t"].partitions[0];
            change(image, id, 0, old, PartitionState { isr, ..old.clone() })
        };
        let c = step(&image, vec![1, 2, 3]).expect("change");
        apply_all(&mut image, &[MetadataRecord::PartitionChange(c)]);
        assert!(image.topics["t"].partitions[0].reassigning());
        // 4 joins: complete; the old replicas leave, and leadership moves to a target replica.
        let c = step(&image, vec![1, 2, 3, 4]).expect("change");
        apply_all(&mut image, &[MetadataRecord::PartitionChange(c)]);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.isr.clone(), p.leader, p.leader_epoch),
            (vec![3, 4], vec![3, 4], 3, 1)
        );
        assert!(!p.reassigning());
        assert!(list(&image, None).is_empty());
    }

    #[test]
    fn requests_are_checked_as_kafka_does() {
        let mut image = image();
        let one = |r: ReassignResults| r[0].1[0].1.clone();
        assert_eq!(
            one(reassign(&image, None)),
            Some(ReassignError::NoReassignmentInProgress)
        );
        assert!(matches!(
            one(reassign(&image, Some(vec![3, 3]))),
            Some(ReassignError::InvalidReplicaAssignment(_))
        ));
        assert!(matches!(
            one(reassign(&image, Some(vec![9]))),
            Some(ReassignError::InvalidReplicaAssignment(_))
        ));
        let (r, _) = alter(&image, vec![("u".into(), vec![(0, Some(vec![1]))])], false);
        assert_eq!(
            one(r),
            Some(ReassignError::UnknownTopicOrPartition(
                "Unable to find a topic named u.".into()
            ))
        );
        // Removing a replica only (already in sync): complete at once.
        let (_, records) = alter(&image, vec![("t".into(), vec![(0, Some(vec![2]))])], false);
        apply_all(&mut image, &records);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.isr.clone(), p.leader),
            (vec![2], vec![2], 2)
        );
        // Started, then cancelled: back to the original replicas.
        let (_, records) = alter(&image, vec![("t".into(), vec![(0, Some(vec![3]))])], false);
        apply_all(&mut image, &records);
        assert!(image.topics["t"].partitions[0].reassigning());
        let (r, records) = alter(&image, vec![("t".into(), vec![(0, None)])], false);
        assert_eq!(one(r), None);
        apply_all(&mut image, &records);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.isr.clone(), p.leader),
            (vec![2], vec![2], 2)
        );
        assert!(!p.reassigning());
    }

    #[test]
    fn removing_replicas_bumps_the_leader_epoch_even_when_the_leader_stays() {
        let mut image = image();
        // [1, 2] led by 1 → [1]: 2 leaves at once (1 is in sync), 1 keeps leading with a new epoch.
        let (_, records) = alter(&image, vec![("t".into(), vec![(0, Some(vec![1]))])], false);
        apply_all(&mut image, &records);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.leader, p.leader_epoch),
            (vec![1], 1, 1)
        );
        // Adding a replica leaves the epoch alone; cancelling removes the added one: a bump.
        let (_, records) = alter(
            &image,
            vec![("t".into(), vec![(0, Some(vec![1, 3]))])],
            false,
        );
        apply_all(&mut image, &records);
        let p = &image.topics["t"].partitions[0];
        assert_eq!((p.replicas.clone(), p.leader_epoch), (vec![1, 3], 1));
        let (_, records) = alter(&image, vec![("t".into(), vec![(0, None)])], false);
        apply_all(&mut image, &records);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.leader, p.leader_epoch),
            (vec![1], 1, 2)
        );
    }

    #[test]
    fn a_kept_replication_factor_refuses_targets_of_another_length() {
        let mut image = image();
        let (r, records) = alter(
            &image,
            vec![("t".into(), vec![(0, Some(vec![1, 2, 3]))])],
            true,
        );
        assert_eq!(
            r[0].1[0].1,
            Some(ReassignError::InvalidReplicationFactor(
                "The replication factor is changed from 2 to 3".into()
            ))
        );
        assert!(records.is_empty());
        // Moving a replica keeps the factor; while that runs, the factor is the target's.
        let (r, records) = alter(
            &image,
            vec![("t".into(), vec![(0, Some(vec![1, 3]))])],
            true,
        );
        assert_eq!(r[0].1[0].1, None);
        apply_all(&mut image, &records);
        assert_eq!(image.topics["t"].partitions[0].replicas, vec![1, 3, 2]);
        let (r, _) = alter(&image, vec![("t".into(), vec![(0, Some(vec![4]))])], true);
        assert_eq!(
            r[0].1[0].1,
            Some(ReassignError::InvalidReplicationFactor(
                "The replication factor is changed from 2 to 1".into()
            ))
        );
        let (r, _) = alter(
            &image,
            vec![("t".into(), vec![(0, Some(vec![4, 3]))])],
            true,
        );
        assert_eq!(r[0].1[0].1, None);
    }
}
