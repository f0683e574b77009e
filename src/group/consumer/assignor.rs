//! The broker-side assignors of KIP-848 (`group.consumer.assignors`): `uniform` (Kafka's default,
//! sticky and balanced) and `range` (contiguous ranges per topic). Pure functions of the members'
//! subscriptions and current assignments.
//!
//! Neither reads racks, as in Kafka 4.1: the KIP-881 rack logic of the first server-side uniform
//! assignor was removed before 4.0 (KAFKA-16694, "Remove Rack Awareness Code from the Server Side
//! Assignors"), `RangeAssignor` never had it, and members' `RackId` and partitions' replica racks only
//! reach custom assignors (`SubscribedTopicDescriber.racksForPartition`). Re-adding it to the homogeneous
//! uniform builder is an open Kafka change (KAFKA-19909); match it here once Kafka ships it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::Assignment;

/// The assignors this broker offers, default first (Kafka's `group.consumer.assignors` default).
pub const ASSIGNORS: &[&str] = &["uniform", "range"];

/// Parses `group.consumer.assignors`: short names or Kafka's class names, comma-separated, default first;
/// `None` if empty or naming an assignor this broker does not have.
pub fn parse_list(value: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = match item {
            "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => "uniform",
            "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => "range",
            other => other,
        };
        if !ASSIGNORS.contains(&name) {
            return None;
        }
        out.push(name.to_string());
    }
    (!out.is_empty()).then_some(out)
}

/// One member as an assignor sees it.
#[derive(Debug, Clone)]
pub struct MemberSpec<'a> {
    /// Member id (assignors order members by it for determinism).
    pub member_id: &'a str,
    /// Subscribed topic ids.
    pub subscribed: BTreeSet<Uuid>,
    /// The member's current target (stickiness keeps what it can).
    pub current: Option<&'a Assignment>,
}

/// Computes the target assignment of every member with `assignor`; topics maps id → partition count.
/// Every member is in the result (possibly with nothing).
pub fn assign(
    assignor: &str,
    members: &[MemberSpec<'_>],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    match assignor {
        "range" => range(members, topics),
        _ => uniform(members, topics),
    }
}

/// Kafka's RangeAssignor (KIP-848): per topic, its subscribers sorted by member id take contiguous
/// ranges; the first `partitions % subscribers` take one more.
pub fn range(
    members: &[MemberSpec<'_>],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|m| (m.member_id.to_string(), Assignment::new()))
        .collect();
    for (topic, &count) in topics {
        let mut subs: Vec<&str> = members
            .iter()
            .filter(|m| m.subscribed.contains(topic))
            .map(|m| m.member_id)
            .collect();
        if subs.is_empty() || count <= 0 {
            continue;
        }
        subs.sort_unstable();
        let k = subs.len() as i32;
        let (per, extra) = (count / k, count % k);
        for (i, member) in (0..k).zip(subs) {
            let start = i * per + i.min(extra);
            let len = per + i32::from(i < extra);
            if len > 0 {
                if let Some(a) = out.get_mut(member) {
                    a.entry(*topic).or_default().extend(start..start + len);
                }
            }
        }
    }
    out
}

/// Kafka's UniformAssignor: balanced (every member within one partition of the others when
/// subscriptions are the same) and sticky (a member keeps what it had as far as balance allows).
pub fn uniform(
    members: &[MemberSpec<'_>],
    topics: &BTreeMap<Uuid, i32>,
) -> HashMap<String, Assignment> {
    let mut sorted: Vec<&MemberSpec<'_>> = members.iter().collect();
    sorted.sort_unstable_by_key(|m| m.member_id);
    let subscribers = sorted.iter().filter(|m| !m.subscribed.is_empty()).count();
    let mut unassigned: BTreeSet<(Uuid, i32)> = topics
        .iter()
        .filter(|(t, _)| sorted.iter().any(|m| m.subscribed.contains(t)))
        .flat_map(|(t, &n)| (0..n.max(0)).map(move |p| (*t, p)))
        .collect();
    let mut out: HashMap<String, Assignment> = HashMap::new();
    let mut load: HashMap<&str, usize> = HashMap::new();
    for m in &sorted {
        out.insert(m.member_id.to_string(), Assignment::new());
        load.insert(m.member_id, 0);
    }
    if subscribers == 0 {
        return out;
    }
    let min_quota = unassigned.len() / subscribers;
    let mut extra = unassigned.len() % subscribers;
    // Stickiness: keep up to the minimum quota, then one more for as many members as there are extras.
    for round in 0..2 {
        for m in &sorted {
            let Some(current) = m.current else { continue };
            let kept = current
                .iter()
                .filter(|(t, _)| m.subscribed.contains(t))
                .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)));
            for tp in kept {
                let n = load.get(m.member_id).copied().unwrap_or(0);
                let room = if round == 0 {
                    n < min_quota
                } else {
                    n == min_quota && extra > 0
                };
                if !room || !unassigned.contains(&tp) {
                    continue;
                }
                if round == 1 {
                    extra -= 1;
                }
                unassigned.remove(&tp);
                give(&mut out, &mut load, m.member_id, tp);
            }
        }
    }
    // The rest go to the least-loaded subscriber (ties: lowest member id).
    for tp in unassigned {
        let best = sorted
            .iter()
            .filter(|m| m.subscribed.contains(&tp.0))
            .min_by_key(|m| (load.get(m.member_id).copied().unwrap_or(0), m.member_id));
        if let Some(m) = best {
            give(&mut out, &mut load, m.member_id, tp);
        }
    }
    out
}

fn give<'a>(
    out: &mut HashMap<String, Assignment>,
    load: &mut HashMap<&'a str, usize>,
    member: &'a str,
    (topic, partition): (Uuid, i32),
) {
    if let Some(a) = out.get_mut(member) {
        a.entry(topic).or_default().insert(partition);
    }
    *load.entry(member).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn spec<'a>(id: &'a str, topics: &[Uuid], current: Option<&'a Assignment>) -> MemberSpec<'a> {
        MemberSpec {
            member_id: id,
            subscribed: topics.iter().copied().collect(),
            current,
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[test]
    fn uniform_shares_six_partitions_among_three_disjointly() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 6)]);
        let members = [
            spec("a", &[t], None),
            spec("b", &[t], None),
            spec("c", &[t], None),
        ];
        let out = uniform(&members, &topics);
        let mut all = BTreeSet::new();
        for a in out.values() {
            assert_eq!(count(a), 2);
            for p in &a[&t] {
                assert!(all.insert(*p), "partition {p} twice");
            }
        }
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn uniform_is_sticky_when_a_member_joins() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 6)]);
        let a0: Assignment = BTreeMap::from([(t, BTreeSet::from([0, 1, 2]))]);
        let b0: Assignment = BTreeMap::from([(t, BTreeSet::from([3, 4, 5]))]);
        let members = [
            spec("a", &[t], Some(&a0)),
            spec("b", &[t], Some(&b0)),
            spec("c", &[t], None),
        ];
        let out = uniform(&members, &topics);
        assert_eq!(count(&out["a"]), 2);
        assert_eq!(count(&out["b"]), 2);
        assert_eq!(count(&out["c"]), 2);
        assert!(out["a"][&t].is_subset(&a0[&t]), "a keeps two of its own");
        assert!(out["b"][&t].is_subset(&b0[&t]), "b keeps two of its own");
    }

    #[test]
    fn uniform_gives_extras_to_members_that_had_them() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 7)]);
        let a0: Assignment = BTreeMap::from([(t, BTreeSet::from([0, 1, 2, 3]))]);
        let b0: Assignment = BTreeMap::from([(t, BTreeSet::from([4, 5, 6]))]);
        let members = [spec("a", &[t], Some(&a0)), spec("b", &[t], Some(&b0))];
        let out = uniform(&members, &topics);
        assert_eq!(out["a"], a0);
        assert_eq!(out["b"], b0);
    }

    #[test]
    fn uniform_only_assigns_subscribed_topics() {
        let (t1, t2) = (topic(1), topic(2));
        let topics = BTreeMap::from([(t1, 2), (t2, 2)]);
        let members = [spec("a", &[t1], None), spec("b", &[t1, t2], None)];
        let out = uniform(&members, &topics);
        assert!(!out["a"].contains_key(&t2));
        assert_eq!(out["b"][&t2].len(), 2);
        assert_eq!(count(&out["a"]) + count(&out["b"]), 4);
    }

    #[test]
    fn range_gives_contiguous_ranges_extras_first() {
        let t = topic(1);
        let topics = BTreeMap::from([(t, 7)]);
        let members = [
            spec("b", &[t], None),
            spec("a", &[t], None),
            spec("c", &[t], None),
        ];
        let out = range(&members, &topics);
        assert_eq!(out["a"][&t], BTreeSet::from([0, 1, 2]));
        assert_eq!(out["b"][&t], BTreeSet::from([3, 4]));
        assert_eq!(out["c"][&t], BTreeSet::from([5, 6]));
    }

    #[test]
    fn no_subscribers_no_assignment() {
        let topics = BTreeMap::from([(topic(1), 3)]);
        let members = [spec("a", &[], None)];
        assert_eq!(count(&uniform(&members, &topics)["a"]), 0);
        assert_eq!(count(&range(&members, &topics)["a"]), 0);
    }
}
