//! Heartbeat throughput of the group coordinator: 1,000 members across 100 Stable groups heartbeating
//! concurrently through the public `GroupCoordinator` API (bounded mpsc to the shard actors + oneshot reply).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weir::group::{
    GroupConfig, GroupCoordinator, HeartbeatRequest, InMemoryOffsetsLog, JoinGroupRequest,
    Protocol, SyncGroupRequest, TopicLookup,
};

/// Number of groups.
const GROUPS: usize = 100;
/// Members in each group.
const MEMBERS_PER_GROUP: usize = 10;
/// Concurrent client tasks sending heartbeats (each owns a slice of the members).
const CLIENT_TASKS: usize = 20;

struct AllTopics;
impl TopicLookup for AllTopics {
    fn partition_exists(&self, _topic: &str, _partition: i32) -> bool {
        true
    }
}

fn join_request(group_id: String) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id,
        member_id: String::new(),
        group_instance_id: None,
        client_id: "bench".into(),
        client_host: "/127.0.0.1".into(),
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"m"),
        }],
        session_timeout_ms: 45_000,
        rebalance_timeout_ms: 60_000,
        require_known_member_id: false,
        supports_skip_assignment: false,
        reason: None,
    }
}

/// Joins all members at once (they land inside the initial rebalance delay, so each group forms in one
/// generation), lets the leaders sync, and returns every member's heartbeat request.
async fn setup(c: &GroupCoordinator) -> Vec<HeartbeatRequest> {
    let mut joins = Vec::new();
    for g in 0..GROUPS {
        for _ in 0..MEMBERS_PER_GROUP {
            let c = c.clone();
            let group_id = format!("group-{g}");
            joins.push(tokio::spawn(async move {
                let r = c.join_group(join_request(group_id.clone())).await;
                (group_id, r)
            }));
        }
    }
    let mut beats = Vec::new();
    for j in joins {
        let (group_id, r) = j.await.expect("join task");
        assert!(r.error.is_none(), "{:?}", r.error);
        assert_eq!(r.generation_id, 1);
        if r.leader_id == r.member_id {
            assert_eq!(r.members.len(), MEMBERS_PER_GROUP);
            let s = c
                .sync_group(SyncGroupRequest {
                    group_id: group_id.clone(),
                    generation_id: 1,
                    member_id: r.member_id.clone(),
                    group_instance_id: None,
                    protocol_type: None,
                    protocol_name: None,
                    assignments: vec![],
                })
                .await;
            assert!(s.error.is_none(), "{:?}", s.error);
        }
        beats.push(HeartbeatRequest {
            group_id,
            generation_id: 1,
            member_id: r.member_id,
            group_instance_id: None,
        });
    }
    beats
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = GroupConfig {
        group_initial_rebalance_delay_ms: 300,
        ..GroupConfig::default()
    };
    let coordinator = rt.block_on(async {
        GroupCoordinator::start(
            config,
            Arc::new(InMemoryOffsetsLog::new()),
            Arc::new(AllTopics),
        )
        .expect("start")
    });
    let beats = Arc::new(rt.block_on(setup(&coordinator)));
    assert_eq!(beats.len(), GROUPS * MEMBERS_PER_GROUP);

    let mut group = c.benchmark_group("heartbeat");
    group.throughput(Throughput::Elements(beats.len() as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("1000_members_100_groups", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let coordinator = coordinator.clone();
            let beats = beats.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    // Every member heartbeats once per iteration, from CLIENT_TASKS concurrent clients.
                    let mut tasks = tokio::task::JoinSet::new();
                    for chunk in beats.chunks(beats.len() / CLIENT_TASKS) {
                        let c = coordinator.clone();
                        let chunk = chunk.to_vec();
                        tasks.spawn(async move {
                            for hb in chunk {
                                c.heartbeat(hb).await.expect("heartbeat ok");
                            }
                        });
                    }
                    while let Some(r) = tasks.join_next().await {
                        r.expect("task");
                    }
                }
                start.elapsed()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
