//! Broker lifecycle on the controller: registration, heartbeats, fencing and unfencing, controlled
//! shutdown, and the leader changes each of them implies.

use tokio::time::Instant;

use super::{Controller, ControllerError, ControllerReply};
use crate::cluster::image::{MetadataImage, NO_LEADER};
use crate::cluster::records::{BrokerRegistration, MetadataRecord, PartitionChange};

type Decision = (ControllerReply, Vec<MetadataRecord>);

impl Controller {
    /// A broker (re)registers. A retry of the same incarnation gets its existing epoch back; a new
    /// incarnation replaces the old registration, and anything the old one led moves off it first.
    pub(super) fn register(
        &mut self,
        image: &MetadataImage,
        reg: BrokerRegistration,
    ) -> Result<Decision, ControllerError> {
        self.heartbeats.insert(reg.id, Instant::now());
        if let Some(b) = image.brokers.get(&reg.id) {
            if b.registration == reg {
                return Ok((ControllerReply::Registered { epoch: b.epoch }, Vec::new()));
            }
        }
        let mut records = Vec::new();
        if image.brokers.contains_key(&reg.id) {
            records.extend(move_leadership(image, reg.id));
        }
        records.push(MetadataRecord::RegisterBroker(reg));
        Ok((ControllerReply::Registered { epoch: -1 }, records))
    }

    /// A heartbeat: keeps the session, unfences a broker that has caught up, or completes a controlled
    /// shutdown.
    pub(super) fn heartbeat(
        &mut self,
        image: &MetadataImage,
        id: i32,
        epoch: i64,
        applied: u64,
        shutting_down: bool,
    ) -> Result<Decision, ControllerError> {
        let b = check_epoch(image, id, epoch)?;
        self.heartbeats.insert(id, Instant::now());
        if shutting_down {
            let mut records = Vec::new();
            if !b.fenced || !b.in_controlled_shutdown {
                tracing::info!(
                    broker = id,
                    "controlled shutdown: moving leadership off the broker"
                );
                records.extend(move_leadership(image, id));
                records.push(MetadataRecord::ControlledShutdown { id, epoch });
                records.push(MetadataRecord::FenceBroker { id, epoch });
            }
            let reply = ControllerReply::Heartbeat {
                fenced: true,
                shutdown_ready: true,
            };
            return Ok((reply, records));
        }
        // Kafka unfences a broker once it has replayed the metadata log up to its own registration.
        let caught_up = i64::try_from(applied).unwrap_or(i64::MAX) >= epoch;
        if b.fenced && caught_up && !b.in_controlled_shutdown {
            let mut records = vec![MetadataRecord::UnfenceBroker { id, epoch }];
            records.extend(elect_leaderless(image, id));
            let reply = ControllerReply::Heartbeat {
                fenced: false,
                shutdown_ready: false,
            };
            return Ok((reply, records));
        }
        let reply = ControllerReply::Heartbeat {
            fenced: b.fenced,
            shutdown_ready: false,
        };
        Ok((reply, Vec::new()))
    }
}

/// The broker's registration, if `epoch` is its current one.
pub(super) fn check_epoch(
    image: &MetadataImage,
    id: i32,
    epoch: i64,
) -> Result<&crate::cluster::image::BrokerInfo, ControllerError> {
    image
        .brokers
        .get(&id)
        .filter(|b| b.epoch == epoch)
        .ok_or(ControllerError::StaleBrokerEpoch)
}

/// Records fencing broker `id` (session expired): its leaderships move first.
pub(super) fn fence(image: &MetadataImage, id: i32, epoch: i64) -> Vec<MetadataRecord> {
    let mut records = move_leadership(image, id);
    records.push(MetadataRecord::FenceBroker { id, epoch });
    records
}

/// Takes broker `id` out of every partition: leadership of what it leads moves to another live in-sync
/// replica (or to none), and it leaves every ISR (Kafka's `ReplicationControlManager` on fencing), so
/// leaders stop waiting for it before acks=all answers. The last ISR member stays (KRaft keeps it, so the
/// partition can come back with it rather than electing an out-of-sync replica).
fn move_leadership(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        for (p, state) in t.partitions.iter().enumerate() {
            let leads = state.leader == id;
            if !leads && !state.isr.contains(&id) {
                continue;
            }
            let isr: Vec<i32> = state.isr.iter().copied().filter(|r| *r != id).collect();
            let leader = if leads {
                Some(
                    isr.iter()
                        .copied()
                        .find(|r| image.live_broker(*r).is_some())
                        .unwrap_or(NO_LEADER),
                )
            } else {
                None
            };
            if isr.is_empty() && !leads {
                continue;
            }
            let isr = if isr.is_empty() {
                state.isr.clone()
            } else {
                isr
            };
            out.push(MetadataRecord::PartitionChange(PartitionChange {
                topic_id: t.id,
                partition: i32::try_from(p).unwrap_or(i32::MAX),
                leader,
                isr: Some(isr),
                ..Default::default()
            }));
        }
    }
    out
}

/// Elects broker `id` for every leaderless partition it is in sync for.
fn elect_leaderless(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        for (p, state) in t.partitions.iter().enumerate() {
            if state.leader == NO_LEADER && state.isr.contains(&id) {
                out.push(MetadataRecord::PartitionChange(PartitionChange {
                    topic_id: t.id,
                    partition: i32::try_from(p).unwrap_or(i32::MAX),
                    leader: Some(id),
                    isr: None,
                    ..Default::default()
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::records::BrokerRegistration;
    use uuid::Uuid;

    fn reg(id: i32) -> BrokerRegistration {
        BrokerRegistration {
            id,
            incarnation: Uuid::new_v4(),
            host: "127.0.0.1".into(),
            port: 9000 + id,
            rack: None,
        }
    }

    /// Brokers 1 and 2 registered (epochs 1 and 2) and unfenced; topic "t" with partitions led by each.
    fn image() -> MetadataImage {
        let mut image = MetadataImage::default();
        image.apply(1, &MetadataRecord::RegisterBroker(reg(1)));
        image.apply(2, &MetadataRecord::RegisterBroker(reg(2)));
        image.apply(3, &MetadataRecord::UnfenceBroker { id: 1, epoch: 1 });
        image.apply(4, &MetadataRecord::UnfenceBroker { id: 2, epoch: 2 });
        image.apply(
            5,
            &MetadataRecord::CreateTopic {
                name: "t".into(),
                id: Uuid::new_v4(),
                configs: Default::default(),
                internal: false,
                assignments: vec![vec![1], vec![2], vec![1, 2]],
            },
        );
        image
    }

    fn apply_all(image: &mut MetadataImage, records: &[MetadataRecord]) {
        let next = image.offset + 1;
        for r in records {
            image.apply(next, r);
        }
    }

    #[test]
    fn a_zombie_broker_epoch_changes_nothing() {
        let mut image = image();
        // Broker 1 restarts: a new registration (epoch 6) replaces the one with epoch 1.
        image.apply(6, &MetadataRecord::RegisterBroker(reg(1)));
        assert_eq!(
            check_epoch(&image, 1, 1).err(),
            Some(ControllerError::StaleBrokerEpoch)
        );
        assert!(check_epoch(&image, 1, 6).is_ok());
        // Records carrying the old epoch (a zombie's heartbeat turned into a record) leave it fenced.
        image.apply(7, &MetadataRecord::UnfenceBroker { id: 1, epoch: 1 });
        assert!(image.brokers[&1].fenced);
        image.apply(8, &MetadataRecord::UnfenceBroker { id: 1, epoch: 6 });
        assert!(!image.brokers[&1].fenced);
    }

    #[test]
    fn fencing_moves_leadership_to_a_live_in_sync_replica_or_none() {
        let mut image = image();
        let before = image.topics["t"].clone();
        let records = fence(&image, 1, 1);
        apply_all(&mut image, &records);
        let t = &image.topics["t"];
        assert!(image.brokers[&1].fenced);
        // Alone in its ISR: no leader, ISR kept (the partition returns with its broker).
        assert_eq!(
            (t.partitions[0].leader, t.partitions[0].isr.clone()),
            (NO_LEADER, vec![1])
        );
        assert_eq!(
            t.partitions[0].leader_epoch,
            before.partitions[0].leader_epoch + 1
        );
        // Led elsewhere: untouched.
        assert_eq!(t.partitions[1], before.partitions[1]);
        // Another replica in sync: it leads, and the fenced one leaves the ISR.
        assert_eq!(
            (t.partitions[2].leader, t.partitions[2].isr.clone()),
            (2, vec![2])
        );
        // Unfenced again: the leaderless partition it is in sync for comes back to it.
        let mut records = vec![MetadataRecord::UnfenceBroker { id: 1, epoch: 1 }];
        records.extend(elect_leaderless(&image, 1));
        apply_all(&mut image, &records);
        let t = &image.topics["t"];
        assert_eq!(t.partitions[0].leader, 1);
        assert_eq!(
            t.partitions[0].leader_epoch,
            before.partitions[0].leader_epoch + 2
        );
        assert_eq!(
            t.partitions[2].leader, 2,
            "not in sync: stays with the leader it has"
        );
    }
}
