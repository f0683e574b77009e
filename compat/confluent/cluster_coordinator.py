"""Cluster mode: a group's coordinator is the leader of its __consumer_offsets partition, and the group keeps
its committed offsets when that broker dies and comes back.

timeout: 300

- 3 nodes with `offsets.topic.replication.factor=1` (the group's partition lives on one broker only; the
  replicated case, where the group moves to an in-sync follower, is `protocol-tests` cluster's
  `a_replicated_group_moves_to_another_broker_with_its_offsets` and `confluent/replication-faults`); a topic
  of 6 partitions, RF 1, holding 600 numbered records;
- one librdkafka consumer of a group whose coordinator (the leader of the group's __consumer_offsets
  partition) is node X, also the active controller, reads them, committing synchronously after every batch;
- X is SIGKILLed mid-stream and restarted (RF 1: its partitions, the group's one included, return only with
  it), later SIGTERMed (controlled shutdown: X gives up the group before it exits) and restarted;
- the consumer, running all along, reads every record; a record is read twice only if the commit of the
  batch that first delivered it failed (no reprocessing beyond uncommitted records); the coordinator is X
  again after each restart (asked by a fresh AdminClient each time: a long-lived librdkafka AdminClient that
  got NOT_COORDINATOR from the resigning X kept timing out afterwards), and the committed offsets end at the
  log ends.
"""
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Cluster, check, log, offsets_partition  # noqa: E402
from confluent_kafka import (  # noqa: E402
    Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer)
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

RECORDS = 600
PARTITIONS = 6


def main():
    with Cluster(3, extra=["--set", "offsets.topic.replication.factor=1"]) as c:
        c.start_all()
        c.wait("a controller and 3 live brokers",
               lambda: c.controller(1) is not None and len(c.metadata(1)["brokers"]) == 3, 30)
        admin = AdminClient({"bootstrap.servers": c.bootstrap()})
        topic = "coord-moves-" + uuid.uuid4().hex[:6]
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        p = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all"})
        for n in range(RECORDS):
            p.produce(topic, value=str(n).encode(), partition=n % PARTITIONS)
        check(p.flush(30) == 0, "produce did not finish")

        admin.describe_consumer_groups(["probe"])["probe"].result(30)  # creates __consumer_offsets
        c.wait("__consumer_offsets led everywhere", lambda: all(
            v[1] > 0 for v in c.metadata(1)["topics"]["__consumer_offsets"]["partitions"].values()), 30)
        offsets_leaders = {q: v[1] for q, v in c.metadata(1)["topics"]["__consumer_offsets"]["partitions"].items()}
        # The hardest case: the coordinator is also the active controller, so the quorum fails over too.
        ctrl = c.controller(1)
        base = uuid.uuid4().hex[:6]
        group = next(g for g in (f"coord-moves-{base}-{k}" for k in range(1000))
                     if offsets_leaders[offsets_partition(g)] == ctrl)
        x = offsets_leaders[offsets_partition(group)]
        log(f"group {group}: coordinator should be node {x}")

        seen, committed, uncommitted = [], set(), set()
        lock, stop = threading.Lock(), threading.Event()
        failure = []

        def member():
            cons = Consumer({"bootstrap.servers": c.bootstrap(), "group.id": group,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
            cons.subscribe([topic])
            try:
                while not stop.is_set():
                    msgs = cons.consume(20, 0.2)
                    batch = [int(m.value()) for m in msgs if m.error() is None]
                    if not batch:
                        continue
                    with lock:
                        seen.extend(batch)
                    try:
                        cons.commit(asynchronous=False)
                        with lock:
                            committed.update(batch)
                    except KafkaException as e:
                        log(f"commit failed ({e.args[0].name()}): {len(batch)} records uncommitted")
                        with lock:
                            uncommitted.update(batch)
                    time.sleep(0.05)  # a steady stream, so the coordinator dies mid-way
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                failure.append(e)
            finally:
                cons.close()

        t = threading.Thread(target=member, daemon=True)
        t.start()

        def count():
            with lock:
                return len(set(seen))

        seen_coordinators = []

        def coordinator():
            # A fresh client each time: what a new client learns, not what one client cached.
            probe = AdminClient({"bootstrap.servers": c.bootstrap()})
            try:
                desc = probe.describe_consumer_groups([group])[group].result(10)
            except KafkaException as e:
                seen_coordinators.append(repr(e))
                raise
            seen_coordinators.append(desc.coordinator.id)
            return desc.coordinator.id

        for k, (how, at) in enumerate((("SIGKILL", 150), ("SIGTERM", 350))):
            c.wait(f"{at} records consumed", lambda: count() >= at and not failure, 60)
            check(coordinator() == x, f"coordinator is not node {x}")
            t0 = time.time()
            c.kill(x) if how == "SIGKILL" else c.stop(x)
            log(f"{how} of coordinator node {x} after {count()} records")
            c.start(x)
            try:
                _, took = c.wait(f"node {x} coordinating {group} again", lambda: coordinator() == x, 60)
            except AssertionError:
                log(f"coordinators seen: {seen_coordinators[-5:]}")
                for i in c.nodes:
                    try:
                        parts = c.metadata(i)["topics"]["__consumer_offsets"]["partitions"]
                        log(f"node {i}: brokers {sorted(c.metadata(i)['brokers'])}, "
                            f"group partition {parts[offsets_partition(group)]}")
                    except Exception as e:  # noqa: BLE001 - diagnostics only
                        log(f"node {i}: {e!r}")
                print(c.logs(300), file=sys.stderr)
                raise
            log(f"node {x} coordinates {group} again {time.time() - t0:.2f}s after the {how}")

        c.wait(f"all {RECORDS} records consumed", lambda: count() == RECORDS or failure, 120)
        stop.set()
        t.join(30)
        check(not failure, f"consumer failed: {failure}")
        with lock:
            dups = sorted({n for n in seen if seen.count(n) > 1})
            check(set(seen) == set(range(RECORDS)), "records missing")
            reprocessed = [n for n in dups if n not in uncommitted]
            check(not reprocessed,
                  f"records read twice although their commit succeeded: {reprocessed[:10]}")
        log(f"every record read; {len(dups)} read twice, all from batches whose commit failed")

        got = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(30)
        offsets = {tp.partition: tp.offset for tp in got.topic_partitions if tp.topic == topic}
        check(offsets == {q: RECORDS // PARTITIONS for q in range(PARTITIONS)}, f"committed offsets {offsets}")
        log("PASS")


if __name__ == "__main__":
    main()
