"""Replication figures for BENCHMARKS.md, on 3 real node processes over loopback.

usage: WEIR_BIN=target/release/weir compat/.deps/venv/bin/python benches/cluster/replication_bench.py [KILLS]
       (SKIP_THROUGHPUT=1 for the failover part only)

Prints:
- failover: a confluent-kafka idempotent acks=all producer writes to partition 0 of an RF 3 topic
  (min.insync.replicas=2) every 2 ms; its leader is SIGKILLed (then SIGTERMed) KILLS times each; the time
  from the signal to the first acknowledgement of a record written after it (median, max);
- throughput, same 3 brokers, one run: 1 KiB records, acks=all, 3 partitions, RF 1 against RF 3: MB/s and
  broker CPU (all three processes, from /proc) per MB.
"""
import os
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "compat", "lib"))
from cluster import Cluster  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def cpu_seconds(c):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for n in c.nodes.values():
        with open(f"/proc/{n.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def in_sync(c, topic, parts):
    for i in c.nodes:
        if c.alive(i):
            p = c.metadata(i)["topics"].get(topic, {}).get("partitions", {})
            return len(p) == parts and all(v[1] >= 0 and len(v[3]) == 3 for v in p.values())
    return False


def failover(c, how):
    topic = "failover-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": c.bootstrap()})
    admin.create_topics([NewTopic(topic, 1, 3, config={"min.insync.replicas": "2"})])[topic].result(30)
    c.wait("in sync", lambda: in_sync(c, topic, 1), 30)
    acks = []  # (ack time, send time) of every acknowledged record
    p = Producer({"bootstrap.servers": c.bootstrap(), "enable.idempotence": True, "acks": "all",
                  "message.timeout.ms": 60000, "linger.ms": 0})
    stop = threading.Event()

    def run():
        n = 0
        while not stop.is_set():
            sent = time.time()
            p.produce(topic, value=str(n).encode(), partition=0,
                      on_delivery=lambda e, m, sent=sent: acks.append((time.time(), sent)) if e is None else None)
            p.poll(0)
            n += 1
            time.sleep(0.002)
        p.flush(60)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    times = []
    for _ in range(KILLS):
        time.sleep(1)
        leader = c.metadata(next(i for i in c.nodes if c.alive(i)))["topics"][topic]["partitions"][0][1]
        t0 = time.time()
        c.kill(leader) if how == "SIGKILL" else c.stop(leader)
        # The first record sent after the fault and acknowledged (by the new leader).
        c.wait("an acknowledgement after the fault", lambda: any(sent > t0 for _, sent in acks[-200:]), 60)
        first = min(at for at, sent in acks if sent > t0)
        times.append(first - t0)
        c.start(leader)
        c.wait("in sync again", lambda: in_sync(c, topic, 1), 60)
    stop.set()
    t.join(60)
    print(f"{how} of the leader → first acks=all acknowledgement after it, {KILLS} times: "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in times)})", flush=True)


def throughput(c, rf, records=100_000):
    topic = f"tput-rf{rf}-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": c.bootstrap()})
    admin.create_topics([NewTopic(topic, 3, rf)])[topic].result(30)
    time.sleep(1)
    p = Producer({"bootstrap.servers": c.bootstrap(), "acks": "all", "linger.ms": 5,
                  "batch.size": 262144, "enable.idempotence": True})
    value = os.urandom(1024)
    cpu0, t0 = cpu_seconds(c), time.time()
    for n in range(records):
        while True:
            try:
                p.produce(topic, value=value, partition=n % 3)
                break
            except BufferError:
                p.poll(0.01)
        if n % 1000 == 0:
            p.poll(0)
    assert p.flush(120) == 0
    secs, cpu = time.time() - t0, cpu_seconds(c) - cpu0
    mb = records * 1024 / 1e6
    print(f"RF {rf}, acks=all, 1 KiB × {records}: {mb / secs:.1f} MB/s, broker CPU {cpu / mb * 1000:.1f} ms per MB "
          f"(all three brokers)", flush=True)


def main():
    with Cluster(3) as c:
        c.start_all()
        c.wait("controller and 3 brokers", lambda: c.quorum(1)[0] >= 0 and len(c.metadata(1)["brokers"]) == 3, 60)
        if os.environ.get("SKIP_THROUGHPUT") is None:
            for rf in (1, 3, 1, 3):
                throughput(c, rf)
        failover(c, "SIGTERM")
        failover(c, "SIGKILL")


if __name__ == "__main__":
    main()
