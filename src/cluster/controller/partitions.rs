//! Partition state on the controller: ISR changes asked for by leaders (Kafka's AlterPartition), fenced
//! by leader and partition epochs so a deposed leader or a stale request changes nothing.

use uuid::Uuid;

use super::ControllerError;
use crate::cluster::image::MetadataImage;
use crate::cluster::records::MetadataRecord;

/// A leader's request to change one partition's ISR.
#[derive(Debug, Clone)]
pub(super) struct AlterPartition {
    pub broker: i32,
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The new ISR, leader included.
    pub isr: Vec<i32>,
}

/// Validates an ISR change as Kafka's `ReplicationControlManager.alterPartition` does and returns the
/// record making it (none when the ISR is already that).
pub(super) fn alter(
    image: &MetadataImage,
    req: &AlterPartition,
) -> Result<Vec<MetadataRecord>, ControllerError> {
    let state = image
        .topic_name(req.topic_id)
        .and_then(|n| image.topics.get(n))
        .and_then(|t| t.partition(req.partition))
        .ok_or(ControllerError::UnknownTopic)?;
    if state.leader != req.broker {
        return Err(ControllerError::NotLeaderOrFollower);
    }
    if req.leader_epoch != state.leader_epoch {
        return Err(ControllerError::FencedLeaderEpoch);
    }
    if req.partition_epoch != state.partition_epoch {
        return Err(ControllerError::InvalidUpdateVersion);
    }
    if !req.isr.contains(&req.broker) {
        return Err(ControllerError::IneligibleReplica(
            "the new ISR must contain the leader".into(),
        ));
    }
    for id in &req.isr {
        if !state.replicas.contains(id) {
            return Err(ControllerError::IneligibleReplica(format!(
                "broker {id} is not a replica of the partition"
            )));
        }
        // A joining replica must be alive and not shutting down (Kafka's INELIGIBLE_REPLICA).
        let joining = !state.isr.contains(id);
        let eligible = image
            .brokers
            .get(id)
            .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown);
        if joining && !eligible {
            return Err(ControllerError::IneligibleReplica(format!(
                "broker {id} is fenced or shutting down"
            )));
        }
    }
    let mut isr = req.isr.clone();
    isr.sort_unstable();
    isr.dedup();
    let mut current = state.isr.clone();
    current.sort_unstable();
    if isr == current {
        return Ok(Vec::new());
    }
    // The ISR change may complete a reassignment (the last added replica caught up).
    let new = crate::cluster::image::PartitionState {
        isr,
        ..state.clone()
    };
    Ok(
        super::reassign::change(image, req.topic_id, req.partition, state, new)
            .map(MetadataRecord::PartitionChange)
            .into_iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::image_with_topic;
    use super::*;

    fn image() -> (MetadataImage, Uuid) {
        image_with_topic(3, vec![vec![1, 2, 3]])
    }

    fn req(
        id: Uuid,
        broker: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: &[i32],
    ) -> AlterPartition {
        AlterPartition {
            broker,
            topic_id: id,
            partition: 0,
            leader_epoch,
            partition_epoch,
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn isr_changes_are_fenced_by_leader_and_partition_epochs() {
        let (mut image, id) = image();
        let records = alter(&image, &req(id, 1, 0, 0, &[1, 3])).expect("shrink");
        image.apply(8, &records[0]);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.isr.clone(), p.leader_epoch, p.partition_epoch),
            (vec![1, 3], 0, 1)
        );
        // The same request again carries a stale partition epoch.
        assert_eq!(
            alter(&image, &req(id, 1, 0, 0, &[1])).err(),
            Some(ControllerError::InvalidUpdateVersion)
        );
        assert_eq!(
            alter(&image, &req(id, 2, 0, 1, &[2])).err(),
            Some(ControllerError::NotLeaderOrFollower)
        );
        assert_eq!(
            alter(&image, &req(id, 1, 5, 1, &[1])).err(),
            Some(ControllerError::FencedLeaderEpoch)
        );
        // Expansion back, in replica order.
        let records = alter(&image, &req(id, 1, 0, 1, &[3, 1, 2])).expect("expand");
        image.apply(9, &records[0]);
        assert_eq!(image.topics["t"].partitions[0].isr, vec![1, 2, 3]);
        assert!(alter(&image, &req(id, 1, 0, 2, &[1, 2, 3]))
            .expect("same")
            .is_empty());
    }

    #[test]
    fn a_fenced_broker_cannot_join_the_isr() {
        let (mut image, id) = image();
        image.apply(
            8,
            &alter(&image, &req(id, 1, 0, 0, &[1])).expect("shrink")[0],
        );
        image.apply(9, &MetadataRecord::FenceBroker { id: 2, epoch: 2 });
        assert!(matches!(
            alter(&image, &req(id, 1, 0, 1, &[1, 2])),
            Err(ControllerError::IneligibleReplica(_))
        ));
        assert!(matches!(
            alter(&image, &req(id, 1, 0, 1, &[1, 4])),
            Err(ControllerError::IneligibleReplica(_))
        ));
    }
}
