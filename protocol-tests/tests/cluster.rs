//! Three brokers in this process forming one cluster (a Raft quorum over loopback controller ports):
//! requests for a partition another broker leads are refused with that leader named (KIP-951), and every
//! broker answers Metadata from the same image.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    FetchRequest, FetchResponse, FindCoordinatorRequest, GroupId, OffsetCommitRequest,
    OffsetFetchRequest, ProduceResponse,
};
use kafka_protocol::ResponseError;
use weir_protocol_tests::{
    bounded, creatable_topic, produce_request, str_bytes, topic_name, value_batch, Client,
    TestBroker,
};

#[path = "cluster/txn.rs"]
mod txn;

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

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
        let offset = loop {
            match committed(&mut at_x, group).await {
                Err(e) if e == ResponseError::CoordinatorLoadInProgress.code() => {
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
        let voters = nodes_voters(&nodes);
        // Node 4: `process.roles=broker`, bootstrapped from `controller.quorum.voters` (not among them).
        let observer_ctrl = free_addr();
        nodes.push(
            TestBroker::start_with(move |c| {
                c.node_id = 4;
                c.process_roles = "broker".into();
                c.controller_listen = Some(observer_ctrl);
                c.quorum_voters = Some(voters);
                c.controller_election_timeout_ms = 300;
            })
            .await,
        );
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
