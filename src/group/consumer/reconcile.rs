//! Kafka's `CurrentAssignmentBuilder`: moves one member one step towards its target assignment. A
//! partition is handed to a member only once no other member owns it, and a member keeps its epoch until
//! it acknowledged (through its owned partitions) the revocation of partitions it must give up.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{Assignment, ConsumerMember, MemberState};

/// The member after one reconciliation step. `owned` is what the member reported owning (None: not
/// reported in this heartbeat); `owner_epoch` tells whether a partition is owned by any member (this
/// member's own partitions included).
pub fn next(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    owner_epoch: impl Fn(Uuid, i32) -> Option<i32>,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable if member.member_epoch == target_epoch => member.clone(),
        MemberState::UnrevokedPartitions if owns_any(owned, &member.revoking) => member.clone(),
        _ => compute(member, target_epoch, target, owned, owner_epoch),
    }
}

/// Whether the member still owns any of `revoking` (not reporting counts as owning, as in Kafka).
fn owns_any(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else { return true };
    revoking.iter().any(|(t, ps)| {
        owned
            .get(t)
            .is_some_and(|o| ps.iter().any(|p| o.contains(p)))
    })
}

/// Kafka's `computeNextAssignment`.
fn compute(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    owner_epoch: impl Fn(Uuid, i32) -> Option<i32>,
) -> ConsumerMember {
    let empty = BTreeSet::new();
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut pending = Assignment::new();
    let mut unreleased = false;
    let topics: BTreeSet<Uuid> = member
        .assigned
        .keys()
        .chain(target.keys())
        .copied()
        .collect();
    for topic in topics {
        let current = member.assigned.get(&topic).unwrap_or(&empty);
        let wanted = target.get(&topic).unwrap_or(&empty);
        let kept: BTreeSet<i32> = current.intersection(wanted).copied().collect();
        let gone: BTreeSet<i32> = current.difference(wanted).copied().collect();
        let mut to_add = BTreeSet::new();
        for p in wanted.difference(current) {
            // Free unless another member owns it (or this member is still revoking it elsewhere).
            if owner_epoch(topic, *p).is_some() && !is_own_revoking(member, topic, *p) {
                unreleased = true;
            } else {
                to_add.insert(*p);
            }
        }
        if !kept.is_empty() {
            assigned.insert(topic, kept);
        }
        if !gone.is_empty() {
            revoking.insert(topic, gone);
        }
        if !to_add.is_empty() {
            pending.insert(topic, to_add);
        }
    }
    let mut next = member.clone();
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        // Keep the epoch and wait for the client to acknowledge the revocation.
        next.state = MemberState::UnrevokedPartitions;
        next.assigned = assigned;
        next.revoking = revoking;
        return next;
    }
    for (topic, ps) in pending {
        assigned.entry(topic).or_default().extend(ps);
    }
    next.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    if next.member_epoch != target_epoch {
        next.previous_member_epoch = next.member_epoch;
        next.member_epoch = target_epoch;
    }
    next.assigned = assigned;
    next.revoking = Assignment::new();
    next
}

/// A partition the member itself is revoking may be re-assigned to it at once.
fn is_own_revoking(member: &ConsumerMember, topic: Uuid, partition: i32) -> bool {
    member
        .revoking
        .get(&topic)
        .is_some_and(|ps| ps.contains(&partition))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    fn t() -> Uuid {
        Uuid::from_bytes([7; 16])
    }

    fn parts(ps: &[i32]) -> Assignment {
        BTreeMap::from([(t(), ps.iter().copied().collect())])
    }

    fn member(epoch: i32, assigned: &[i32]) -> ConsumerMember {
        let mut m = ConsumerMember::new("m".into());
        m.member_epoch = epoch;
        m.assigned = parts(assigned);
        m
    }

    #[test]
    fn revocation_comes_first_and_keeps_the_epoch() {
        let m = member(1, &[0, 1, 2]);
        let next = next(&m, 2, &parts(&[0, 3]), None, |_, _| None);
        assert_eq!(next.state, MemberState::UnrevokedPartitions);
        assert_eq!(next.member_epoch, 1);
        assert_eq!(next.assigned, parts(&[0]));
        assert_eq!(next.revoking, parts(&[1, 2]));
    }

    #[test]
    fn acknowledged_revocation_moves_to_the_target_epoch() {
        let m = member(1, &[0, 1, 2]);
        let step = next(&m, 2, &parts(&[0, 3]), None, |_, _| None);
        let still_owning = parts(&[0, 1]);
        assert_eq!(
            next(&step, 2, &parts(&[0, 3]), Some(&still_owning), |_, _| None),
            step
        );
        let acked = parts(&[0]);
        let done = next(&step, 2, &parts(&[0, 3]), Some(&acked), |_, _| None);
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!(done.member_epoch, 2);
        assert_eq!(done.previous_member_epoch, 1);
        assert_eq!(done.assigned, parts(&[0, 3]));
        assert!(done.revoking.is_empty());
    }

    #[test]
    fn a_partition_another_member_owns_waits() {
        let m = member(1, &[0]);
        let owners: HashMap<(Uuid, i32), i32> = HashMap::from([((t(), 0), 1), ((t(), 1), 1)]);
        let step = next(&m, 2, &parts(&[0, 1]), None, |topic, p| {
            owners.get(&(topic, p)).copied()
        });
        assert_eq!(step.state, MemberState::UnreleasedPartitions);
        assert_eq!(step.member_epoch, 2);
        assert_eq!(step.assigned, parts(&[0]));
        let step = next(&step, 2, &parts(&[0, 1]), None, |topic, p| {
            (p == 0).then(|| owners[&(topic, p)])
        });
        assert_eq!(step.state, MemberState::Stable);
        assert_eq!(step.assigned, parts(&[0, 1]));
    }

    #[test]
    fn stable_at_target_epoch_stays() {
        let m = member(3, &[0, 1]);
        assert_eq!(next(&m, 3, &parts(&[5]), None, |_, _| None), m);
    }
}
