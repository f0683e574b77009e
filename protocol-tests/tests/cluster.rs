//! Three brokers in this process forming one cluster (a Raft quorum over loopback controller ports):
//! requests for a partition another broker leads are refused with that leader named (KIP-951), and every
//! broker answers Metadata from the same image.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ElectLeadersRequest, FetchRequest, FetchResponse, FindCoordinatorRequest, GroupId,
    OffsetCommitRequest, OffsetFetchRequest, ProduceResponse,
};
use kafka_protocol::ResponseError;
use weir_protocol_tests::{
    bounded, creatable_topic, free_addr, produce_request, str_bytes, topic_name, value_batch,
    Client, TestBroker,
};

#[path = "cluster/txn.rs"]
mod txn;

async fn three_nodes() -> Vec<TestBroker> {
    three_nodes_with(|_| {}).await
}

/// The `controller.quorum.voters` of `nodes` (each node's own setting).
fn nodes_voters(nodes: &[TestBroker]) -> String {
    nodes[0].config().quorum_voters.clone().expect("voters")
}

async fn three_nodes_with(
    adjust: impl Fn(&mut weir::Config) + Clone + Send + 'static,
) -> Vec<TestBroker> {
    let ctrl: Vec<SocketAddr> = (0..3).map(|_| free_addr()).collect();
    let voters = ctrl
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}@{a}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes = Vec::new();
    for (i, addr) in ctrl.iter().enumerate() {
        let voters = voters.clone();
        let adjust = adjust.clone();
        nodes.push(
            TestBroker::start_with(move |c| {
                c.node_id = i as i32 + 1;
                c.controller_listen = Some(*addr);
                c.quorum_voters = Some(voters);
                c.controller_election_timeout_ms = 300;
                adjust(c);
            })
            .await,
        );
    }
    nodes
}

/// Starts node `id` with `process.roles=broker`, joining the quorum of `nodes` without voting.
async fn start_broker_only(nodes: &[TestBroker], id: i32) -> TestBroker {
    let voters = nodes_voters(nodes);
    let ctrl = free_addr();
    TestBroker::start_with(move |c| {
        c.node_id = id;
        c.process_roles = "broker".into();
        c.controller_listen = Some(ctrl);
        c.quorum_voters = Some(voters);
        c.controller_election_timeout_ms = 300;
    })
    .await
}

/// Polls node `i`'s Metadata until `topic` has a leader for every partition on every node's view.
async fn leaders(nodes: &[TestBroker], topic: &str) -> Vec<(i32, i32)> {
    leaders_on(nodes, topic, 3).await
}

/// [`leaders`] for a cluster of `brokers` brokers.
async fn leaders_on(nodes: &[TestBroker], topic: &str, brokers: usize) -> Vec<(i32, i32)> {
    loop {
        let mut views = Vec::new();
        for n in nodes {
            let m = n.client().await.metadata(&[topic]).await;
            let t = &m.topics[0];
            let parts: Vec<(i32, i32)> = t
                .partitions
                .iter()
                .map(|p| (p.leader_id.0, p.leader_epoch))
                .collect();
            views.push((t.error_code, m.brokers.len(), parts));
        }
        let first = &views[0];
        if first.0 == 0
            && first.1 == brokers
            && first.2.iter().all(|(l, _)| *l > 0)
            && views.iter().all(|v| v == first)
        {
            return first.2.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_non_leader_name_the_leader() {
    bounded(Duration::from_secs(60), async {
        let nodes = three_nodes().await;
        // Placement uses the live brokers: wait until all three are registered and unfenced.
        while nodes[0].client().await.metadata(&[]).await.brokers.len() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // CreateTopics sent to node 1 is forwarded to whichever node is the active controller.
        let mut c = loop {
            let mut c = nodes[0].client().await;
            let req = kafka_protocol::messages::CreateTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![weir_protocol_tests::creatable_topic(
                    "kip951",
                    6,
                    1,
                    &[],
                )]);
            let resp = c.call(7, &req).await;
            if resp.topics[0].error_code == 0 {
                break c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let leaders = leaders(&nodes, "kip951").await;
        let mut spread: Vec<i32> = leaders.iter().map(|(l, _)| *l).collect();
        spread.sort();
        spread.dedup();
        assert_eq!(spread, vec![1, 2, 3], "leaders {leaders:?}");
        let (p, (leader, epoch)) = leaders
            .iter()
            .copied()
            .enumerate()
            .find(|(_, (l, _))| *l != 1)
            .expect("a partition led elsewhere");
        let leader_port = i32::from(nodes[(leader - 1) as usize].addr().port());

        // Produce v10+ to node 1, which does not lead partition p.
        let req = produce_request("kip951", p as i32, value_batch("x", 1, 0), -1);
        let resp: ProduceResponse = c.call(10, &req).await;
        let part = &resp.responses[0].partition_responses[0];
        assert_eq!(part.error_code, ResponseError::NotLeaderOrFollower.code());
        assert_eq!(
            (
                part.current_leader.leader_id.0,
                part.current_leader.leader_epoch
            ),
            (leader, epoch)
        );
        assert_eq!(resp.node_endpoints.len(), 1);
        assert_eq!(
            (
                resp.node_endpoints[0].node_id.0,
                resp.node_endpoints[0].port
            ),
            (leader, leader_port)
        );

        // The leader accepts it.
        let mut at_leader = nodes[(leader - 1) as usize].client().await;
        let ok = at_leader
            .produce("kip951", p as i32, value_batch("x", 1, 0))
            .await;
        assert_eq!(ok.error_code, 0);

        // Fetch v16 to the non-leader: the same hint.
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(nodes_topic_id(&mut c, "kip951").await)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(p as i32)
                    .with_partition_max_bytes(1 << 20)])]);
        let resp: FetchResponse = c.call(16, &req).await;
        let data = &resp.responses[0].partitions[0];
        assert_eq!(data.error_code, ResponseError::NotLeaderOrFollower.code());
        assert_eq!(data.current_leader.leader_id.0, leader);
        assert_eq!(
            resp.node_endpoints
                .iter()
                .map(|e| e.node_id.0)
                .collect::<Vec<_>>(),
            vec![leader]
        );
        // Stopped together, as an operator stops a cluster: each moves its leadership away while the
        // quorum still stands.
        let stops: Vec<_> = nodes
            .into_iter()
            .map(|n| tokio::spawn(n.shutdown()))
            .collect();
        for s in stops {
            s.await.expect("shutdown task");
        }
    })
    .await;
}

async fn nodes_topic_id(c: &mut weir_protocol_tests::Client, topic: &str) -> uuid::Uuid {
    c.metadata(&[topic]).await.topics[0].topic_id
}

/// FindCoordinator v3 for `group` through `c`: the coordinator's (id, port), or the error code.
async fn coordinator_of(c: &mut Client, group: &str) -> Result<(i32, i32), i16> {
    let req = FindCoordinatorRequest::default()
        .with_key(str_bytes(group))
        .with_key_type(0);
    let resp = c.call(3, &req).await;
    match resp.error_code {
        0 => Ok((resp.node_id.0, resp.port)),
        e => Err(e),
    }
}

/// OffsetCommit v9 of `offset` for partition 0 of "moves-t" by a standalone consumer: the error code.
async fn commit(c: &mut Client, group: &str, offset: i64) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(str_bytes(""))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name("moves-t"))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    c.call(9, &req).await.topics[0].partitions[0].error_code
}

/// OffsetFetch v9 of partition 0 of "moves-t": the group-level error code, or the committed offset.
async fn committed(c: &mut Client, group: &str) -> Result<i64, i16> {
    let req = OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_topics(Some(vec![OffsetFetchRequestTopics::default()
            .with_name(topic_name("moves-t"))
            .with_partition_indexes(vec![0])]))]);
    let resp = c.call(9, &req).await;
    match resp.groups[0].error_code {
        0 => Ok(resp.groups[0].topics[0].partitions[0].committed_offset),
        e => Err(e),
    }
}

/// Creates a topic through node 1, finds `group`'s coordinator (creating `__consumer_offsets`, which
/// answers COORDINATOR_NOT_AVAILABLE meanwhile) and commits `offset` there once it has loaded. Returns the
/// coordinator's node id (node i is `nodes[i - 1]`).
async fn group_with_commit(nodes: &[TestBroker], group: &str, offset: i64) -> i32 {
    while nodes[0].client().await.metadata(&[]).await.brokers.len() < 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c = nodes[0].client().await;
    let req = kafka_protocol::messages::CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![creatable_topic("moves-t", 1, 1, &[])]);
    assert_eq!(c.call(7, &req).await.topics[0].error_code, 0);
    let (coordinator, _) = loop {
        match coordinator_of(&mut c, group).await {
            Ok(found) => break found,
            Err(e) => assert_eq!(e, ResponseError::CoordinatorNotAvailable.code()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut at = nodes[(coordinator - 1) as usize].client().await;
    // Elected: loaded (possibly still loading a moment after the lookup) and serving.
    let code = loop {
        match commit(&mut at, group, offset).await {
            c if c == ResponseError::CoordinatorLoadInProgress.code() => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            c => break c,
        }
    };
    assert_eq!(code, 0);
    coordinator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_coordinator_follows_the_leadership_of_its_offsets_partition() {
    bounded(Duration::from_secs(90), async {
        // RF 1: the partition (and the group) can only come back with its own broker.
        let mut nodes = three_nodes_with(|c| {
            c.offsets_topic_num_partitions = 3;
            c.offsets_topic_replication_factor = 1;
        })
        .await;
        let group = "moves-g";
        let coordinator = group_with_commit(&nodes, group, 42).await;
        let x = (coordinator - 1) as usize;
        let other = (x + 1) % 3;
        let mut at_other = nodes[other].client().await;
        assert_eq!(
            commit(&mut at_other, group, 7).await,
            ResponseError::NotCoordinator.code(),
            "a broker that does not lead the group's partition"
        );
        // The coordinator restarts: its controlled shutdown moves the leadership away (RF 1: to none), the
        // restarted broker is elected again when it is unfenced and loads the group from its log.
        let restarted = nodes.remove(x).restart().await;
        let port = i32::from(restarted.addr().port());
        loop {
            if coordinator_of(&mut at_other, group).await == Ok((coordinator, port)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut at_x = restarted.client().await;
        // The other broker may still answer from its image of before the restart (same id and port), so
        // the restarted one can briefly say NOT_COORDINATOR: clients retry both codes, and so does this.
        let retriable = [
            ResponseError::CoordinatorLoadInProgress.code(),
            ResponseError::NotCoordinator.code(),
        ];
        let offset = loop {
            match committed(&mut at_x, group).await {
                Err(e) if retriable.contains(&e) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => break other,
            }
        };
        assert_eq!(offset, Ok(42), "the commit made before the restart");
        assert_eq!(commit(&mut at_x, group, 43).await, 0);
        assert_eq!(committed(&mut at_x, group).await, Ok(43));
        nodes.push(restarted);
        let stops: Vec<_> = nodes
            .into_iter()
            .map(|n| tokio::spawn(n.shutdown()))
            .collect();
        for s in stops {
            s.await.expect("shutdown task");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_group_moves_to_another_broker_with_its_offsets() {
    bounded(Duration::from_secs(90), async {
        // Kafka's default offsets.topic.replication.factor (3): the group's partition has followers.
        let mut nodes = three_nodes_with(|c| c.offsets_topic_num_partitions = 3).await;
        let group = "moves-rf3";
        // Acknowledged once the ISR holds it.
        let coordinator = group_with_commit(&nodes, group, 42).await;
        let x = (coordinator - 1) as usize;
        // The coordinator shuts down: its partition's leadership moves to an in-sync follower, which
        // loads the group from its own copy of the log and serves the committed offset.
        nodes.remove(x).shutdown().await;
        let mut at_other = nodes[0].client().await;
        let moved_port = loop {
            match coordinator_of(&mut at_other, group).await {
                Ok((id, port)) if id != coordinator => break port,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let y = nodes
            .iter()
            .position(|n| i32::from(n.addr().port()) == moved_port)
            .expect("the new coordinator is a running node");
        let mut at_y = nodes[y].client().await;
        let offset = loop {
            match committed(&mut at_y, group).await {
                Err(e)
                    if e == ResponseError::CoordinatorLoadInProgress.code()
                        || e == ResponseError::NotCoordinator.code() =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => break other,
            }
        };
        assert_eq!(offset, Ok(42), "the commit made on the old coordinator");
        for n in nodes {
            n.shutdown().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_only_node_follows_the_quorum_and_leads_partitions() {
    bounded(Duration::from_secs(90), async {
        let mut nodes = three_nodes().await;
        // Node 4: `process.roles=broker`, bootstrapped from `controller.quorum.voters` (not among them).
        nodes.push(start_broker_only(&nodes, 4).await);
        // It learns the metadata (every broker, itself included) without voting.
        while nodes[3].client().await.metadata(&[]).await.brokers.len() < 4 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // An admin request sent to it is forwarded to the active controller; its partitions spread over
        // all four brokers, and node 4's view is every voter's.
        let mut c = nodes[3].client().await;
        let req = kafka_protocol::messages::CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![creatable_topic("observer-t", 12, 1, &[])]);
        assert_eq!(c.call(7, &req).await.topics[0].error_code, 0);
        let leaders = leaders_on(&nodes, "observer-t", 4).await;
        let mut spread: Vec<i32> = leaders.iter().map(|(l, _)| *l).collect();
        spread.sort();
        spread.dedup();
        assert_eq!(spread, vec![1, 2, 3, 4], "leaders {leaders:?}");
        let (p, _) = leaders
            .iter()
            .enumerate()
            .find(|(_, (l, _))| *l == 4)
            .expect("node 4 leads a partition");
        let ok = c
            .produce("observer-t", p as i32, value_batch("x", 3, 0))
            .await;
        assert_eq!(ok.error_code, 0, "node 4 serves the partition it leads");
        // It never joined the voters.
        let q = c
            .call(
                0,
                &kafka_protocol::messages::DescribeQuorumRequest::default().with_topics(vec![
                    kafka_protocol::messages::describe_quorum_request::TopicData::default()
                        .with_topic_name(topic_name("__cluster_metadata"))
                        .with_partitions(vec![Default::default()]),
                ]),
            )
            .await;
        let voters: Vec<i32> = q.topics[0].partitions[0]
            .current_voters
            .iter()
            .map(|v| v.replica_id.0)
            .collect();
        assert!(!voters.contains(&4), "voters {voters:?}");
        let stops: Vec<_> = nodes
            .into_iter()
            .map(|n| tokio::spawn(n.shutdown()))
            .collect();
        for s in stops {
            s.await.expect("shutdown task");
        }
    })
    .await;
}

/// One partition as a broker's Metadata shows it.
#[derive(Debug, Clone, PartialEq)]
struct PartitionView {
    leader: i32,
    epoch: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
}

async fn partitions_of(node: &TestBroker, topic: &str) -> Vec<PartitionView> {
    let m = node.client().await.metadata(&[topic]).await;
    m.topics[0]
        .partitions
        .iter()
        .map(|p| PartitionView {
            leader: p.leader_id.0,
            epoch: p.leader_epoch,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
        })
        .collect()
}

/// Polls `node`'s Metadata until partition `p` of `topic` satisfies `ok`.
async fn wait_partition(
    node: &TestBroker,
    topic: &str,
    p: usize,
    ok: impl Fn(&PartitionView) -> bool,
) -> PartitionView {
    loop {
        if let Some(view) = partitions_of(node, topic).await.get(p) {
            if ok(view) {
                return view.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates `topic` through `node` once the cluster has `brokers` live brokers.
async fn create_on(node: &TestBroker, brokers: usize, topic: CreatableTopic) {
    while node.client().await.metadata(&[]).await.brokers.len() < brokers {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let req = kafka_protocol::messages::CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![topic]);
    let resp = node.client().await.call(7, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
}

/// ElectLeaders v`v` of `election_type` for `partitions` of `topic`: each partition's error code.
async fn elect(
    node: &TestBroker,
    v: i16,
    election_type: i8,
    topic: &str,
    partitions: &[i32],
) -> Vec<(i32, i16)> {
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(30_000)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(topic_name(topic))
            .with_partitions(partitions.to_vec())]));
    let resp = node.client().await.call(v, &req).await;
    assert_eq!(resp.error_code, 0);
    resp.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| (p.partition_id, p.error_code))
        .collect()
}

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// Stops every node at once.
async fn stop_all(nodes: Vec<TestBroker>) {
    let stops: Vec<_> = nodes
        .into_iter()
        .map(|n| tokio::spawn(n.shutdown()))
        .collect();
    for s in stops {
        s.await.expect("shutdown task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_returns_to_the_preferred_replica_by_itself() {
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes_with(|c| c.leader_imbalance_check_interval_seconds = 1).await;
        create_on(&nodes[0], 3, creatable_topic("pref-auto", 3, 3, &[])).await;
        leaders(&nodes, "pref-auto").await;
        let before = partitions_of(&nodes[0], "pref-auto").await;
        // The preferred replica of partition 0 restarts: its controlled shutdown moves the leadership to
        // another in-sync replica.
        let x = before[0].replicas[0];
        assert_eq!(before[0].leader, x, "created with its preferred leader");
        let restarted = nodes.remove((x - 1) as usize).restart().await;
        nodes.insert((x - 1) as usize, restarted);
        let other = &nodes[(x % 3) as usize];
        // Back in the ISR, then (within a check interval) the leader again, one epoch per move.
        let view = wait_partition(other, "pref-auto", 0, |v| v.leader == x).await;
        assert_eq!(view.epoch, before[0].epoch + 2, "{view:?}");
        assert!(view.isr.contains(&x), "{view:?}");
        // Once its own image shows it, it serves produce again as leader.
        wait_partition(&nodes[(x - 1) as usize], "pref-auto", 0, |v| v.leader == x).await;
        let mut c = nodes[(x - 1) as usize].client().await;
        let ok = c.produce("pref-auto", 0, value_batch("p", 2, 0)).await;
        assert_eq!(ok.error_code, 0);
        stop_all(nodes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elect_leaders_moves_leadership_to_the_preferred_replica_on_request() {
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes_with(|c| c.auto_leader_rebalance_enable = false).await;
        create_on(&nodes[0], 3, creatable_topic("pref-el", 3, 3, &[])).await;
        leaders(&nodes, "pref-el").await;
        let before = partitions_of(&nodes[0], "pref-el").await;
        let x = before[0].replicas[0];
        let xi = (x - 1) as usize;
        let oi = (xi + 1) % 3;
        // The preferred replica shuts down: leadership moves, and it cannot be elected meanwhile.
        let stopped = nodes.remove(xi).stop().await;
        let other = if oi > xi { oi - 1 } else { oi };
        wait_partition(&nodes[other], "pref-el", 0, |v| {
            v.leader > 0 && v.leader != x && !v.isr.contains(&x)
        })
        .await;
        assert_eq!(
            elect(&nodes[other], 1, PREFERRED, "pref-el", &[0]).await,
            vec![(0, ResponseError::PreferredLeaderNotAvailable.code())]
        );
        // Back, it rejoins the ISR but stays a follower (auto.leader.rebalance.enable=false).
        nodes.insert(xi, stopped.start().await);
        let view = wait_partition(&nodes[oi], "pref-el", 0, |v| v.isr.contains(&x)).await;
        assert_ne!(view.leader, x, "no automatic rebalance: {view:?}");
        // v0 (no election type field) asks for the preferred leader.
        assert_eq!(
            elect(&nodes[oi], 0, PREFERRED, "pref-el", &[0]).await,
            vec![(0, 0)]
        );
        // The answer came after this node's own image applied the election.
        let after = partitions_of(&nodes[oi], "pref-el").await;
        assert_eq!(
            (after[0].leader, after[0].epoch),
            (x, before[0].epoch + 2),
            "{after:?}"
        );
        for v in 1..=2 {
            assert_eq!(
                elect(&nodes[oi], v, PREFERRED, "pref-el", &[0]).await,
                vec![(0, ResponseError::ElectionNotNeeded.code())],
                "v{v}"
            );
            assert_eq!(
                elect(&nodes[oi], v, UNCLEAN, "pref-el", &[0]).await,
                vec![(0, ResponseError::ElectionNotNeeded.code())],
                "v{v}: a partition with a leader needs no unclean election"
            );
        }
        // Once its own image shows it, it serves produce as leader.
        wait_partition(&nodes[xi], "pref-el", 0, |v| v.leader == x).await;
        let mut c = nodes[xi].client().await;
        let ok = c.produce("pref-el", 0, value_batch("p", 2, 0)).await;
        assert_eq!(ok.error_code, 0, "the elected leader serves produce");
        stop_all(nodes).await;
    })
    .await;
}

/// A topic on explicit replicas, one list per partition.
fn assigned_topic(name: &str, replicas: &[&[i32]]) -> CreatableTopic {
    use kafka_protocol::messages::create_topics_request::CreatableReplicaAssignment;
    use kafka_protocol::messages::BrokerId;
    creatable_topic(name, -1, -1, &[]).with_assignments(
        replicas
            .iter()
            .enumerate()
            .map(|(p, r)| {
                CreatableReplicaAssignment::default()
                    .with_partition_index(p as i32)
                    .with_broker_ids(r.iter().map(|b| BrokerId(*b)).collect())
            })
            .collect(),
    )
}

/// Sets one topic config with IncrementalAlterConfigs.
async fn set_topic_config(node: &TestBroker, topic: &str, key: &str, value: &str) {
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let req =
        kafka_protocol::messages::IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(str_bytes(topic))
                .with_configs(vec![AlterableConfig::default()
                    .with_name(str_bytes(key))
                    .with_config_operation(0)
                    .with_value(Some(str_bytes(value)))]),
        ]);
    let resp = node.client().await.call(0, &req).await;
    assert_eq!(resp.responses[0].error_code, 0, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_election_gives_a_leaderless_partition_an_out_of_sync_leader() {
    bounded(Duration::from_secs(60), async {
        // Voters 1-3 keep the metadata quorum while brokers 1 and 4 (broker-only) hold the data.
        let mut nodes = three_nodes().await;
        nodes.push(start_broker_only(&nodes, 4).await);
        create_on(&nodes[1], 4, assigned_topic("unclean", &[&[1, 4], &[1, 4]])).await;
        create_on(&nodes[1], 4, assigned_topic("unclean-solo", &[&[1]])).await;
        for p in 0..2 {
            wait_partition(&nodes[1], "unclean", p, |v| {
                v.leader == 1 && v.isr == [1, 4]
            })
            .await;
        }
        // Broker 4 stops and leaves the ISR; broker 1 goes on alone, then stops too: no leader, and the
        // ISR keeps its last member (the only replica known to hold everything).
        let four = nodes.remove(3).stop().await;
        for p in 0..2 {
            wait_partition(&nodes[1], "unclean", p, |v| v.isr == [1]).await;
        }
        let mut at_one = nodes[0].client().await;
        let ok = at_one
            .produce("unclean", 0, value_batch("lost", 3, 0))
            .await;
        assert_eq!(ok.error_code, 0, "acknowledged by the ISR, broker 1 alone");
        nodes.remove(0).shutdown().await;
        let two = &nodes[0];
        for p in 0..2 {
            wait_partition(two, "unclean", p, |v| v.leader == -1 && v.isr == [1]).await;
        }
        // No replica alive at all.
        assert_eq!(
            elect(two, 1, UNCLEAN, "unclean", &[0]).await,
            vec![(0, ResponseError::EligibleLeadersNotAvailable.code())]
        );
        // Broker 4 comes back out of sync: with unclean election off (Kafka's default) nothing elects it.
        nodes.push(four.start().await);
        let two = &nodes[0];
        while two.client().await.metadata(&[]).await.brokers.len() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            elect(two, 2, PREFERRED, "unclean", &[0]).await,
            vec![(0, ResponseError::PreferredLeaderNotAvailable.code())]
        );
        assert_eq!(
            elect(two, 2, UNCLEAN, "unclean-solo", &[0]).await,
            vec![(0, ResponseError::EligibleLeadersNotAvailable.code())],
            "its only replica is down"
        );
        // ElectLeaders UNCLEAN elects it, with an ISR of itself; the other partition stays leaderless.
        let code = loop {
            // The controller may apply broker 4's unfencing a moment after broker 2 shows it.
            match elect(two, 2, UNCLEAN, "unclean", &[0]).await[..] {
                [(0, c)] if c == ResponseError::EligibleLeadersNotAvailable.code() => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                [(0, c)] => break c,
                ref other => panic!("{other:?}"),
            }
        };
        assert_eq!(code, 0);
        let views = partitions_of(two, "unclean").await;
        assert_eq!((views[0].leader, views[0].isr.clone()), (4, vec![4]));
        assert_eq!((views[1].leader, views[1].isr.clone()), (-1, vec![1]));
        // Turning unclean.leader.election.enable on for the topic elects the other partition's leader.
        set_topic_config(two, "unclean", "unclean.leader.election.enable", "true").await;
        let view = wait_partition(two, "unclean", 1, |v| v.leader == 4).await;
        assert_eq!(view.isr, vec![4]);
        // The new leader serves from its own log: what only broker 1 had is gone (Kafka's trade-off).
        let four = &nodes[2];
        wait_partition(four, "unclean", 0, |v| v.leader == 4).await;
        let mut at_four = four.client().await;
        let ok = at_four
            .produce("unclean", 0, value_batch("new", 1, 0))
            .await;
        assert_eq!((ok.error_code, ok.base_offset), (0, 0));
        stop_all(nodes).await;
    })
    .await;
}

/// Fetch v12 (by name) of partition 0 of `topic` at `offset`: error code, log start offset and the base
/// offsets of the batches returned.
async fn fetch_at(node: &TestBroker, topic: &str, offset: i64) -> (i16, i64, Vec<i64>) {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let resp: FetchResponse = node.client().await.call(12, &req).await;
    let p = &resp.responses[0].partitions[0];
    let bases = p
        .records
        .as_ref()
        .map(|r| {
            weir_protocol_tests::split_batches(r)
                .iter()
                .map(|b| weir_protocol_tests::batch_base_offset(b))
                .collect()
        })
        .unwrap_or_default();
    (p.error_code, p.log_start_offset, bases)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_below_the_leaders_log_start_restarts_its_log_there() {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes_with(|c| c.leader_imbalance_check_interval_seconds = 1).await;
        create_on(&nodes[0], 3, creatable_topic("behind", 1, 3, &[])).await;
        leaders(&nodes, "behind").await;
        let x = partitions_of(&nodes[0], "behind").await[0].leader;
        let xi = (x - 1) as usize;
        let mut at_x = nodes[xi].client().await;
        for _ in 0..2 {
            assert_eq!(
                at_x.produce("behind", 0, value_batch("a", 3, 0))
                    .await
                    .error_code,
                0
            );
        }
        // Broker x stops with offsets 0..6; the new leader appends more and deletes everything below 15
        // (DeleteRecords, as retention would).
        let stopped = nodes.remove(xi).stop().await;
        let view = wait_partition(&nodes[0], "behind", 0, |v| v.leader > 0 && v.leader != x).await;
        let y = nodes
            .iter()
            .position(|n| n.config().node_id == view.leader)
            .expect("the new leader runs");
        // The new leader's own image may trail node 0's: produce once it knows it leads (clients retry
        // NOT_LEADER_OR_FOLLOWER; this test does not).
        wait_partition(&nodes[y], "behind", 0, |v| v.leader == view.leader).await;
        let mut at_y = nodes[y].client().await;
        for _ in 0..5 {
            assert_eq!(
                at_y.produce("behind", 0, value_batch("b", 3, 0))
                    .await
                    .error_code,
                0
            );
        }
        let req = kafka_protocol::messages::DeleteRecordsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(topic_name("behind"))
                .with_partitions(vec![DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(15)])]);
        let resp = at_y.call(2, &req).await;
        let p = &resp.topics[0].partitions[0];
        assert_eq!((p.error_code, p.low_watermark), (0, 15));
        assert_eq!(
            at_y.produce("behind", 0, value_batch("c", 3, 0))
                .await
                .error_code,
            0
        );
        // Back, x cannot fetch from 6: it empties its log, restarts at 15, catches up, rejoins the ISR and
        // (preferred replica) leads again.
        nodes.insert(xi, stopped.start().await);
        wait_partition(&nodes[xi], "behind", 0, |v| {
            v.leader == x && v.isr.len() == 3
        })
        .await;
        assert_eq!(
            fetch_at(&nodes[xi], "behind", 15).await,
            (0, 15, vec![15, 18, 21]),
            "its log starts where the leader's did"
        );
        assert_eq!(
            fetch_at(&nodes[xi], "behind", 3).await.0,
            ResponseError::OffsetOutOfRange.code()
        );
        stop_all(nodes).await;
    })
    .await;
}

/// AlterPartitionReassignments v0 for partitions of `topic` (`None` cancels): each partition's error.
async fn reassign(
    node: &TestBroker,
    topic: &str,
    targets: &[(i32, Option<&[i32]>)],
) -> Vec<(i32, i16)> {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::BrokerId;
    let req = kafka_protocol::messages::AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                targets
                    .iter()
                    .map(|(p, r)| {
                        ReassignablePartition::default()
                            .with_partition_index(*p)
                            .with_replicas(r.map(|r| r.iter().map(|b| BrokerId(*b)).collect()))
                    })
                    .collect(),
            )]);
    let resp = node.client().await.call(0, &req).await;
    assert_eq!(resp.error_code, 0, "{resp:?}");
    resp.responses[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect()
}

/// AlterPartitionReassignments v1 with KIP-860's `allowReplicationFactorChange` false, for one partition:
/// its error code and message.
async fn reassign_keeping_rf(
    node: &TestBroker,
    topic: &str,
    p: i32,
    replicas: &[i32],
) -> (i16, Option<String>) {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::BrokerId;
    let req = kafka_protocol::messages::AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(30_000)
        .with_allow_replication_factor_change(false)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(p)
                .with_replicas(Some(
                    replicas.iter().map(|b| BrokerId(*b)).collect(),
                ))])]);
    let resp = node.client().await.call(1, &req).await;
    assert_eq!(resp.error_code, 0, "{resp:?}");
    assert!(!resp.allow_replication_factor_change, "the flag is echoed");
    let part = &resp.responses[0].partitions[0];
    (
        part.error_code,
        part.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// ListPartitionReassignments v0 of every partition: (topic, partition, replicas, adding, removing).
async fn ongoing(node: &TestBroker) -> Vec<(String, i32, Vec<i32>, Vec<i32>, Vec<i32>)> {
    let req =
        kafka_protocol::messages::ListPartitionReassignmentsRequest::default().with_topics(None);
    let resp = node.client().await.call(0, &req).await;
    assert_eq!(resp.error_code, 0);
    let ids = |v: &[kafka_protocol::messages::BrokerId]| v.iter().map(|b| b.0).collect();
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassignment_adds_replicas_catches_them_up_then_removes_the_old_ones() {
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes().await;
        create_on(&nodes[0], 3, assigned_topic("moving", &[&[1]])).await;
        wait_partition(&nodes[0], "moving", 0, |v| v.leader == 1).await;
        let mut at_one = nodes[0].client().await;
        for _ in 0..3 {
            assert_eq!(
                at_one
                    .produce("moving", 0, value_batch("m", 3, 0))
                    .await
                    .error_code,
                0
            );
        }
        // Broker 3 is down: the reassignment to [2, 3] starts but cannot finish without it.
        let three = nodes.remove(2).stop().await;
        assert_eq!(
            reassign(&nodes[1], "moving", &[(0, Some(&[2, 2])), (7, Some(&[2]))]).await,
            vec![
                (0, ResponseError::InvalidReplicaAssignment.code()),
                (7, ResponseError::UnknownTopicOrPartition.code()),
            ]
        );
        assert_eq!(
            reassign(&nodes[1], "moving", &[(0, Some(&[2, 3]))]).await,
            vec![(0, 0)]
        );
        let expected = ("moving".to_string(), 0, vec![2, 3, 1], vec![2, 3], vec![1]);
        assert_eq!(ongoing(&nodes[1]).await, vec![expected.clone()]);
        // Broker 2 catches up and joins the ISR; the reassignment waits for 3.
        let view = wait_partition(&nodes[1], "moving", 0, |v| v.isr == [2, 1]).await;
        assert_eq!((view.leader, view.replicas), (1, vec![2, 3, 1]));
        assert_eq!(ongoing(&nodes[1]).await, vec![expected]);
        // Broker 3 returns, catches up: the old replica leaves and leadership moves to the new ones.
        nodes.push(three.start().await);
        let view = wait_partition(&nodes[1], "moving", 0, |v| v.replicas == [2, 3]).await;
        assert_eq!((view.leader, view.isr.clone()), (2, vec![2, 3]), "{view:?}");
        assert!(ongoing(&nodes[1]).await.is_empty());
        assert_eq!(
            reassign(&nodes[1], "moving", &[(0, None)]).await,
            vec![(0, ResponseError::NoReassignmentInProgress.code())]
        );
        // Every record moved with it, at the same offsets.
        for n in &nodes[1..] {
            wait_partition(n, "moving", 0, |v| v.leader == 2).await;
        }
        assert_eq!(
            fetch_at(&nodes[1], "moving", 0).await,
            (0, 0, vec![0, 3, 6])
        );
        // Broker 1 no longer hosts it.
        let folder = nodes[0].config().data_dir.join("moving-0");
        while folder.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_all(nodes).await;
    })
    .await;
}

/// A reassignment that removes a replica bumps the leader epoch even though the leader stays (newer
/// Kafka's fencing of removed replicas); a broker that was down meanwhile deletes the stray replica once
/// its metadata has caught up (Kafka's stray replica handling); KIP-860 refuses a changed replication
/// factor when asked to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_reassigned_away_while_its_broker_is_down_is_deleted_at_start_up() {
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes().await;
        create_on(&nodes[0], 3, assigned_topic("stray", &[&[1, 2]])).await;
        wait_partition(&nodes[0], "stray", 0, |v| v.leader == 1 && v.isr == [1, 2]).await;
        // One record, so broker 2's replica has a folder (a partition's folder comes with its first write).
        let mut at_one = nodes[0].client().await;
        assert_eq!(
            at_one
                .produce("stray", 0, value_batch("s", 2, 0))
                .await
                .error_code,
            0
        );
        let folder = nodes[1].config().data_dir.join("stray-0");
        while !folder.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let two = nodes.remove(1).stop().await;
        let before = wait_partition(&nodes[0], "stray", 0, |v| v.isr == [1]).await;
        assert_eq!(
            reassign_keeping_rf(&nodes[0], "stray", 0, &[1]).await,
            (
                ResponseError::InvalidReplicationFactor.code(),
                Some("The replication factor is changed from 2 to 1".into())
            )
        );
        assert_eq!(
            reassign(&nodes[0], "stray", &[(0, Some(&[1]))]).await,
            vec![(0, 0)]
        );
        let after = wait_partition(&nodes[0], "stray", 0, |v| v.replicas == [1]).await;
        assert_eq!((after.leader, after.epoch), (1, before.epoch + 1));
        // Broker 2 comes back: its folder goes once it has caught up (from the metadata log's records;
        // had it been sent a snapshot, by the stray replica check).
        nodes.insert(1, two.start().await);
        while folder.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The leader's log is untouched and serves on.
        let mut at_one = nodes[0].client().await;
        assert_eq!(
            at_one
                .produce("stray", 0, value_batch("s", 2, 0))
                .await
                .error_code,
            0
        );
        stop_all(nodes).await;
    })
    .await;
}

/// A follower fetch of partition 0 of `topic` sent to `node` as broker 3 (which holds no replica there and so
/// moves nothing), asking for more bytes than will come and waiting up to 20 s: it parks on the leader.
/// Resolves to the response and how long it took.
async fn park_follower_fetch(
    node: &TestBroker,
    topic: &str,
) -> tokio::task::JoinHandle<(FetchResponse, Duration)> {
    let fetch = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(3))
        .with_max_wait_ms(20_000)
        .with_min_bytes(1 << 20)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_current_leader_epoch(-1)
                .with_last_fetched_epoch(-1)
                .with_partition_max_bytes(1 << 20)])]);
    let mut follower = node.client().await;
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let resp: FetchResponse = follower.call(12, &fetch).await;
        (resp, started.elapsed())
    })
}

/// A follower's long poll ends when the leader's high watermark moves, not only when records arrive
/// (Kafka completes delayed fetches on a high watermark change): an idle follower learns the high
/// watermark at once instead of one `replica.fetch.wait.max.ms` later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_follower_fetch_completes_when_the_high_watermark_moves() {
    bounded(Duration::from_secs(60), async {
        let nodes = three_nodes().await;
        create_on(&nodes[0], 3, assigned_topic("hw", &[&[1, 2]])).await;
        wait_partition(&nodes[0], "hw", 0, |v| v.leader == 1 && v.isr == [1, 2]).await;
        // Only the high watermark moving can end this fetch before its 20 s wait.
        let parked = park_follower_fetch(&nodes[0], "hw").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut at_one = nodes[0].client().await;
        let produced = at_one.produce("hw", 0, value_batch("h", 2, 0)).await;
        assert_eq!(produced.error_code, 0);
        let (resp, waited) = parked.await.expect("fetch task");
        let p = &resp.responses[0].partitions[0];
        assert_eq!((p.error_code, p.high_watermark), (0, 2), "{p:?}");
        assert!(
            waited < Duration::from_secs(10),
            "answered after {waited:?}"
        );
        stop_all(nodes).await;
    })
    .await;
}

/// A follower's long poll ends when its leader starts leading another partition the follower replicates
/// (a failover, a new topic), so the follower's next fetch names it at once instead of after
/// `replica.fetch.wait.max.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_follower_fetch_completes_when_its_leader_leads_a_new_partition_for_it() {
    bounded(Duration::from_secs(60), async {
        let nodes = three_nodes().await;
        create_on(&nodes[0], 3, assigned_topic("first", &[&[1, 2]])).await;
        wait_partition(&nodes[0], "first", 0, |v| v.leader == 1 && v.isr == [1, 2]).await;
        let parked = park_follower_fetch(&nodes[0], "first").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A topic that node 1 leads and broker 3 follows: the parked fetch must end.
        create_on(&nodes[0], 3, assigned_topic("second", &[&[1, 3]])).await;
        let (resp, waited) = parked.await.expect("fetch task");
        assert_eq!(resp.responses[0].partitions[0].error_code, 0);
        assert!(
            waited < Duration::from_secs(10),
            "answered after {waited:?}"
        );
        stop_all(nodes).await;
    })
    .await;
}

/// A follower that applied an election before its new leader did names a leader epoch the leader does not
/// know yet: the leader waits (within the fetch's max wait) for its own image to catch up and answers
/// with records, where Kafka refuses and its follower backs off `replica.fetch.backoff.ms`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_fetch_naming_an_epoch_not_yet_applied_waits_for_it() {
    bounded(Duration::from_secs(60), async {
        let mut nodes = three_nodes_with(|c| c.auto_leader_rebalance_enable = false).await;
        create_on(&nodes[0], 3, assigned_topic("ahead", &[&[1, 2]])).await;
        wait_partition(&nodes[0], "ahead", 0, |v| v.leader == 1 && v.isr == [1, 2]).await;
        // Node 1 goes away and comes back: node 2 leads, node 1 follows in sync.
        let stopped = nodes.remove(0).stop().await;
        wait_partition(&nodes[0], "ahead", 0, |v| v.leader == 2).await;
        nodes.insert(0, stopped.start().await);
        let view =
            wait_partition(&nodes[0], "ahead", 0, |v| v.leader == 2 && v.isr.len() == 2).await;
        let mut at_two = nodes[1].client().await;
        let produced = at_two.produce("ahead", 0, value_batch("a", 2, 0)).await;
        assert_eq!(produced.error_code, 0);
        // A fetch from replica 2 naming the epoch the preferred election (node 1) will bring.
        let fetch = FetchRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(2))
            .with_max_wait_ms(20_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name("ahead"))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(0)
                    .with_current_leader_epoch(view.epoch + 1)
                    .with_last_fetched_epoch(-1)
                    .with_partition_max_bytes(1 << 20)])]);
        let mut follower = nodes[0].client().await;
        let parked = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let resp: FetchResponse = follower.call(12, &fetch).await;
            (resp, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            elect(&nodes[1], 1, PREFERRED, "ahead", &[0]).await,
            vec![(0, 0)]
        );
        let (resp, waited) = parked.await.expect("fetch task");
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "{p:?}");
        assert!(
            p.records.as_ref().is_some_and(|r| !r.is_empty()),
            "records from the new leader: {p:?}"
        );
        assert!(
            waited < Duration::from_secs(15),
            "answered after {waited:?}"
        );
        stop_all(nodes).await;
    })
    .await;
}
