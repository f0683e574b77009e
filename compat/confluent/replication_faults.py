"""Cluster mode, part 2: replicated partitions under faults, in the Jepsen spirit: nothing acknowledged lost.

timeout: 900

Three broker processes (controller links through fault-injection proxies), a topic with 3 partitions,
RF 3 and min.insync.replicas=2. The Java producer (default settings: idempotent, acks=all) and a
confluent-kafka idempotent acks=all producer write numbered records while a consumer group reads and
commits. Meanwhile the test injects REPLICATION_FAULTS faults (default 6 in CI; `REPLICATION_FAULTS=21`
for the full run recorded in BENCHMARKS.md), cycling through:
  - SIGKILL the leader of a partition, restart it;
  - SIGKILL the active controller, restart it;
  - cut a follower off: its quorum links cut and the process paused (SIGSTOP: no fetches, no heartbeats)
    for longer than the broker session, then resumed and healed.
Then everything is healed and a checker reads every partition back and asserts zero of each:
acknowledged records missing (or at another offset than acknowledged), records duplicated, records out
of order within a partition (per producer), replicas whose log bytes differ, committed offsets that went
backwards.
"""
import glob
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Cluster, check, log  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

FAULTS = int(os.environ.get("REPLICATION_FAULTS", "6"))
PARTITIONS = 3
COMPAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class JavaProducer:
    """The Java client in a subprocess (compat/java/lib/NumberedProducer.java), paced, until stopped."""

    def __init__(self, bootstrap, topic, tmp):
        jars = glob.glob(os.path.join(COMPAT, ".deps", "java", "lib", "*.jar"))
        check(jars, "kafka-clients jars missing (run compat/setup.sh)")
        classes = os.path.join(tmp, "java-classes")
        os.makedirs(classes, exist_ok=True)
        cp = ":".join(jars)
        subprocess.run(["javac", "-nowarn", "-d", classes, "-cp", cp,
                        os.path.join(COMPAT, "java", "lib", "NumberedProducer.java")], check=True)
        self.stop_file = os.path.join(tmp, "java-stop")
        self.acks, self.fails, self.sent_done = [], [], False
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", f"{classes}:{cp}", "NumberedProducer",
             bootstrap, topic, "j", "100000000", "4", self.stop_file],
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "java.log"), "w"), text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if parts[:1] == ["ack"]:
                self.acks.append((int(parts[1]), int(parts[2]), parts[3]))
            elif parts[:1] == ["fail"]:
                self.fails.append(parts[1:])
            elif parts[:1] == ["done"]:
                self.sent_done = True

    def stop(self):
        open(self.stop_file, "w").close()
        self.proc.wait(180)
        time.sleep(0.2)
        check(self.sent_done, "the Java producer did not finish")


class ConfluentProducer(threading.Thread):
    """librdkafka's idempotent producer, acks=all, paced, in a thread."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.topic, self.acks, self.fails, self.stopping = topic, [], [], False
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                           "message.timeout.ms": 300000, "linger.ms": 5})

    def _delivered(self, err, msg):
        if err is None:
            self.acks.append((msg.partition(), msg.offset(), msg.value().decode()))
        else:
            self.fails.append((msg.value().decode(), str(err)))

    def run(self):
        n = 0
        while not self.stopping:
            self.p.produce(self.topic, key=str(n).encode(), value=f"c-{n}".encode(), on_delivery=self._delivered)
            self.p.poll(0)
            n += 1
            time.sleep(0.004)
        check(self.p.flush(180) == 0, "confluent producer could not flush")


class GroupReader(threading.Thread):
    """A consumer group member that reads and commits synchronously, recording every committed offset."""

    def __init__(self, bootstrap, topic, group):
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                           "auto.offset.reset": "earliest", "session.timeout.ms": 30000})
        self.c.subscribe([topic])
        self.committed, self.backwards, self.read, self.stopping = {}, [], 0, False

    def run(self):
        while not self.stopping:
            msgs = self.c.consume(500, 0.2)
            good = [m for m in msgs if m.error() is None]
            self.read += len(good)
            if not good:
                continue
            try:
                done = self.c.commit(asynchronous=False) or []
            except Exception as e:  # noqa: BLE001 - commits fail during faults; retried with the next batch
                log(f"commit failed (retried later): {e}")
                continue
            for tp in done:
                if tp.error is None and tp.offset >= 0:
                    prev = self.committed.get(tp.partition, -1)
                    if tp.offset < prev:
                        self.backwards.append((tp.partition, prev, tp.offset))
                    self.committed[tp.partition] = max(prev, tp.offset)
        self.c.close()


def partitions_of(c, topic):
    for i in c.nodes:
        if c.alive(i):
            try:
                return c.metadata(i)["topics"][topic]["partitions"]
            except Exception:  # noqa: BLE001 - that node may be restarting
                continue
    return {}


def all_in_sync(c, topic):
    parts = partitions_of(c, topic)
    return len(parts) == PARTITIONS and all(v[1] >= 0 and len(v[3]) == 3 for v in parts.values())


def inject(c, k, topic):
    kind = ("leader", "controller", "follower")[k % 3]
    q = k % PARTITIONS
    parts = partitions_of(c, topic)
    leader = parts[q][1]
    ctrl = c.wait("a controller", lambda: c.controller(next(i for i in c.nodes if c.alive(i))), 30)[0]
    t0 = time.time()
    if kind == "leader":
        c.kill(leader)
        time.sleep(1)
        c.start(leader)
        what = f"SIGKILL leader {leader} of partition {q}"
    elif kind == "controller":
        c.kill(ctrl)
        time.sleep(1)
        c.start(ctrl)
        what = f"SIGKILL controller {ctrl}"
    else:
        follower = next(i for i in parts[q][2] if i != leader and i != ctrl) if any(
            i not in (leader, ctrl) for i in parts[q][2]) else next(i for i in parts[q][2] if i != leader)
        c.cut(follower)
        os.kill(c.nodes[follower].proc.pid, signal.SIGSTOP)
        time.sleep(11)
        os.kill(c.nodes[follower].proc.pid, signal.SIGCONT)
        c.heal()
        what = f"cut off follower {follower} of partition {q} for 11 s"
    c.wait("every partition back in full sync", lambda: all_in_sync(c, topic), 90)
    log(f"fault {k + 1}/{FAULTS}: {what}; healed and back in sync {time.time() - t0:.1f}s later")


def read_all(bootstrap, topic, ends):
    """Every record of `topic` up to `ends` (partition → log end), as {partition: [(offset, value)]}."""
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": "checker-" + uuid.uuid4().hex[:6],
                     "enable.auto.commit": False})
    cons.assign([TopicPartition(topic, q, 0) for q in range(PARTITIONS)])
    out = {q: [] for q in range(PARTITIONS)}
    deadline = time.time() + 120
    while any((out[q][-1][0] + 1 if out[q] else 0) < ends[q] for q in out) and time.time() < deadline:
        for m in cons.consume(1000, 0.5):
            if m.error() is None:
                out[m.partition()].append((m.offset(), m.value().decode()))
    cons.close()
    return out


def replica_bytes(c, topic, q):
    """The concatenated segment files of partition q on every node."""
    out = {}
    for i, node in c.nodes.items():
        files = sorted(glob.glob(os.path.join(node.dir, f"{topic}-{q}", "*.log")))
        out[i] = b"".join(open(f, "rb").read() for f in files)
    return out


def main():
    tmp = os.environ.get("COMPAT_TMP") or "/tmp"
    with Cluster(3, proxied=True, extra=["--set", "replica.lag.time.max.ms=10000"]) as c:
        c.start_all()
        c.wait("a controller", lambda: c.controller(1), 30)
        c.wait("3 live brokers", lambda: len(c.metadata(1)["brokers"]) == 3, 30)
        topic = "faults-" + uuid.uuid4().hex[:6]
        admin = AdminClient({"bootstrap.servers": c.bootstrap()})
        admin.create_topics([NewTopic(topic, PARTITIONS, 3, config={"min.insync.replicas": "2"})])[topic].result(30)
        c.wait("the topic in full sync", lambda: all_in_sync(c, topic), 30)

        java = JavaProducer(c.bootstrap(), topic, tmp)
        conf = ConfluentProducer(c.bootstrap(), topic)
        reader = GroupReader(c.bootstrap(), topic, "faults-group")
        conf.start()
        reader.start()
        time.sleep(3)
        for k in range(FAULTS):
            inject(c, k, topic)
            time.sleep(1)
        java.stop()
        conf.stopping = True
        conf.join(200)
        time.sleep(2)
        reader.stopping = True
        reader.join(60)
        log(f"acknowledged: java {len(java.acks)}, confluent {len(conf.acks)}; given up: java {len(java.fails)}, "
            f"confluent {len(conf.fails)}; group read {reader.read}")
        check(len(java.acks) > 1000 and len(conf.acks) > 1000, "too few records acknowledged to mean anything")

        # Checker: every replica caught up, then read back and compare.
        c.wait("every partition in full sync", lambda: all_in_sync(c, topic), 60)
        acked = java.acks + conf.acks
        ends = {q: max([o for p, o, _ in acked if p == q], default=-1) + 1 for q in range(PARTITIONS)}
        c.wait("replicas byte-identical", lambda: all(
            len(set(replica_bytes(c, topic, q).values())) == 1 for q in range(PARTITIONS)), 60)
        diverged = [q for q in range(PARTITIONS) if len(set(replica_bytes(c, topic, q).values())) != 1]
        log_ = read_all(c.bootstrap(), topic, ends)
        at = {(q, o): v for q, recs in log_.items() for o, v in recs}
        missing = [(q, o, v) for q, o, v in acked if at.get((q, o)) != v]
        values = [v for recs in log_.values() for _, v in recs]
        duplicated = len(values) - len(set(values))
        reordered = 0
        for q, recs in log_.items():
            last = {}
            for _, v in recs:
                who, n = v.split("-")
                if int(n) <= last.get(who, -1):
                    reordered += 1
                last[who] = int(n)
        log(f"checker: {len(acked)} acknowledged; missing {len(missing)}, duplicated {duplicated}, "
            f"reordered {reordered}, diverged replicas {len(diverged)}, committed offsets backwards "
            f"{len(reader.backwards)}")
        check(not missing, f"acknowledged records missing: {missing[:10]}")
        check(duplicated == 0, f"{duplicated} duplicated records")
        check(reordered == 0, f"{reordered} records out of order")
        check(not diverged, f"replica logs differ for partitions {diverged}")
        check(not reader.backwards, f"committed offsets went backwards: {reader.backwards[:10]}")
        log("ok replication-faults")


if __name__ == "__main__":
    main()
