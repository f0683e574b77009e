"""Metadata: one broker at the bootstrap address; created topics are listed with leaders and replicas."""
# timeout: 60
from _common import *


def body():
    a = admin()
    host, port = BOOTSTRAP.rsplit(":", 1)
    md = a.list_topics(timeout=15)
    log(f"brokers={md.brokers} controller={md.controller_id} cluster_id={md.cluster_id}")
    check_eq(1, len(md.brokers), "number of brokers")
    b = list(md.brokers.values())[0]
    check_eq((host, int(port)), (b.host, b.port), "broker address")
    check(md.cluster_id, "cluster id must be set")
    check(md.controller_id >= 0, f"controller id {md.controller_id}")
    t1, t2 = topic("meta-a"), topic("meta-b")
    create_topic(a, t1, 1)
    create_topic(a, t2, 3)
    md = a.list_topics(timeout=15)
    check(t1 in md.topics and t2 in md.topics, f"topics missing from {sorted(md.topics)}")
    check_eq(3, len(md.topics[t2].partitions), "partitions of t2")
    for p in md.topics[t2].partitions.values():
        check_eq(b.id, p.leader, f"leader of {p.id}")
        check_eq([b.id], p.replicas, f"replicas of {p.id}")
        check_eq([b.id], p.isrs, f"isr of {p.id}")
    one = a.list_topics(topic=t1, timeout=10)
    check_eq([t1], list(one.topics), "metadata for one topic")
    # Describe cluster (DescribeCluster API or Metadata, as librdkafka chooses).
    dc = a.describe_cluster(request_timeout=15).result()
    check_eq(1, len(dc.nodes), "describe_cluster nodes")
    check_eq(md.cluster_id, dc.cluster_id, "describe_cluster id")


run("metadata", body)
