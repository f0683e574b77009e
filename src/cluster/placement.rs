//! Replica placement for new partitions, as Kafka's `AdminUtils`/`StripedReplicaPlacer` do it: round robin
//! from a random start with a random shift for the followers, so leaders (first replicas) spread evenly
//! across brokers; with racks set, the broker list alternates racks first so replicas land on
//! different racks where there are enough of them.

use std::collections::BTreeMap;

/// A live broker as placement sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Broker id.
    pub id: i32,
    /// `broker.rack`.
    pub rack: Option<String>,
}

/// Assigns `count` partitions starting at index `first_partition`, `rf` replicas each, over `brokers`.
/// `start` and `shift` are the random start index and follower shift (passed in, so tests are exact).
pub fn assign(
    brokers: &[Candidate],
    count: usize,
    first_partition: usize,
    rf: usize,
    start: usize,
    shift: usize,
) -> Result<Vec<Vec<i32>>, String> {
    let n = brokers.len();
    if rf == 0 || rf > n {
        return Err(format!(
            "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} \
             cannot be reached because only {n} broker(s) are registered."
        ));
    }
    let ordered = rack_alternated(brokers);
    let start = start % n;
    let mut shift = shift % n;
    let mut out = Vec::with_capacity(count);
    for p in first_partition..first_partition + count {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![ordered[first].0];
        for j in 0..rf - 1 {
            replicas.push(pick_follower(
                &ordered,
                &replicas,
                follower_index(first, shift, j, n),
            ));
        }
        out.push(replicas);
    }
    Ok(out)
}

/// Kafka's `replicaIndex`: followers are shifted from the first replica by 1 + (shift + j) mod (n - 1),
/// so they never coincide with it.
fn follower_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let step = 1 + (shift + j) % (n - 1);
    (first + step) % n
}

/// The first broker from index `k` on (wrapping) that is not chosen yet and sits on a rack not used yet;
/// once every rack holds a replica, any broker not chosen yet (Kafka's rack-aware rule).
fn pick_follower(ordered: &[(i32, &str)], chosen: &[i32], k: usize) -> i32 {
    let n = ordered.len();
    let rack_of = |id: i32| ordered.iter().find(|b| b.0 == id).map_or("", |b| b.1);
    let used: Vec<&str> = chosen.iter().map(|id| rack_of(*id)).collect();
    let racks_left = ordered.iter().any(|b| !used.contains(&b.1));
    (0..n)
        .map(|i| ordered[(k + i) % n])
        .find(|b| !chosen.contains(&b.0) && (!racks_left || !used.contains(&b.1)))
        .map_or(ordered[k % n].0, |b| b.0)
}

/// Brokers (id, rack) ordered so consecutive entries alternate racks (Kafka's
/// `getRackAlternatedBrokerList`); without racks, simply by id.
fn rack_alternated(brokers: &[Candidate]) -> Vec<(i32, &str)> {
    let mut by_rack: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for b in brokers {
        by_rack
            .entry(b.rack.as_deref().unwrap_or(""))
            .or_default()
            .push(b.id);
    }
    for ids in by_rack.values_mut() {
        ids.sort_unstable();
    }
    let mut out = Vec::with_capacity(brokers.len());
    let mut round = 0;
    while out.len() < brokers.len() {
        for (rack, ids) in &by_rack {
            if let Some(id) = ids.get(round) {
                out.push((*id, *rack));
            }
        }
        round += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(racks: &[Option<&str>]) -> Vec<Candidate> {
        racks
            .iter()
            .enumerate()
            .map(|(i, r)| Candidate {
                id: i as i32 + 1,
                rack: r.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn leaders_spread_evenly_and_replicas_are_distinct() {
        let b = brokers(&[None, None, None]);
        let a = assign(&b, 12, 0, 3, 1, 2).unwrap();
        let mut leaders = [0; 3];
        for r in &a {
            leaders[(r[0] - 1) as usize] += 1;
            let mut s = r.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 3, "{r:?}");
        }
        assert_eq!(leaders, [4, 4, 4]);
    }

    #[test]
    fn rack_aware_replicas_span_racks() {
        let b = brokers(&[Some("a"), Some("a"), Some("b"), Some("b")]);
        for start in 0..4 {
            for r in assign(&b, 8, 0, 2, start, 0).unwrap() {
                let rack = |id: i32| b[(id - 1) as usize].rack.clone();
                assert_ne!(rack(r[0]), rack(r[1]), "{r:?}");
            }
        }
    }

    #[test]
    fn too_few_brokers_is_refused() {
        let e = assign(&brokers(&[None]), 1, 0, 3, 0, 0).unwrap_err();
        assert!(e.contains("only 1 broker(s)"), "{e}");
    }
}
