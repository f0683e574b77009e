"""Replication figures for BENCHMARKS.md, on 3 real node processes over loopback.

usage: WEIR_BIN=target/release/weir compat/.deps/venv/bin/python benches/cluster/replication_bench.py [KILLS]
       SKIP_THROUGHPUT=1 / SKIP_E2E=1 / SKIP_FAILOVER=1 leave a part out; E2E_S=seconds (default 20)

Prints, for a cluster with the durable default (`acks.all.fsync=true`) and then one with Kafka's semantics
(`acks.all.fsync=false`):
- throughput, same 3 brokers: 1 KiB records, acks=all, 3 partitions, RF 1 against RF 3 (alternating, two
  rounds each): MB/s and broker CPU (all three processes, from /proc) per MB;
- end-to-end latency (benches/load/EndToEndLatency.java, the Java client): 10,000 records/s of 1 KiB,
  acks=all, one partition, RF 1 (one broker does all the work: the single-node figure under the same
  semantics) against RF 3 (alternating, two rounds each): p50/p99/p999 of send slot → consumer receipt;
- failover (durable cluster only): a confluent-kafka idempotent acks=all producer writes to partition 0 of
  an RF 3 topic (min.insync.replicas=2) every 2 ms; its leader is SIGTERMed, then SIGKILLed, KILLS times
  each (SIGKILL rounds continue until KILLS of them hit a leader that is not also the active controller);
  the time from the signal to the first acknowledgement of a record written after it, and the part of it
  until a surviving broker's metadata names the new leader.
"""
import glob
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "compat", "lib"))
from cluster import Cluster  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
E2E_S = float(os.environ.get("E2E_S", "20"))


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


def stats(xs):
    return f"median {statistics.median(xs):.2f} s, max {max(xs):.2f} s" if xs else "none"


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
    rounds = []  # (total s, election visible s, leader was the active controller)
    while sum(1 for r in rounds if not r[2]) < KILLS and len(rounds) < 3 * KILLS:
        time.sleep(1)
        survivor = next(i for i in c.nodes if c.alive(i))
        leader = c.metadata(survivor)["topics"][topic]["partitions"][0][1]
        controller = c.controller(survivor)
        survivor = next(i for i in c.nodes if c.alive(i) and i != leader)
        t0 = time.time()
        c.kill(leader) if how == "SIGKILL" else c.stop(leader)
        # When a surviving broker's own metadata names the new leader (fencing, election, propagation).
        c.wait("a new leader", lambda: c.metadata(survivor, timeout=1)["topics"][topic]
               ["partitions"][0][1] not in (-1, leader), 60)
        elected = time.time() - t0
        # The first record sent after the fault and acknowledged (by the new leader).
        c.wait("an acknowledgement after the fault", lambda: any(sent > t0 for _, sent in acks[-200:]), 60)
        first = min(at for at, sent in acks if sent > t0)
        rounds.append((first - t0, elected, controller == leader))
        print(f"  {how} of leader {leader}{' (also the active controller)' if controller == leader else ''}: "
              f"new leader visible after {elected:.2f} s, first acknowledgement after {first - t0:.2f} s",
              flush=True)
        c.start(leader)
        c.wait("in sync again", lambda: in_sync(c, topic, 1), 60)
    stop.set()
    t.join(60)
    only = [r for r in rounds if not r[2]]
    both = [r for r in rounds if r[2]]
    print(f"{how} of the leader → first acks=all acknowledgement after it, {len(only)} leader-only rounds: "
          f"{stats([r[0] for r in only])} (new leader visible: {stats([r[1] for r in only])}); "
          f"{len(both)} rounds where the leader was also the active controller: {stats([r[0] for r in both])}",
          flush=True)


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
    admin.delete_topics([topic])[topic].result(30)


def java_classes():
    """Compiles benches/load/*.java (as benches/load/run.sh does); returns the class path."""
    out = os.path.join(ROOT, "target", "load-bench", "classes")
    lib = os.environ.get("WEIR_JAVA_LIB", os.path.join(ROOT, "compat", ".deps", "java", "lib"))
    sources = glob.glob(os.path.join(ROOT, "benches", "load", "*.java"))
    stamp = os.path.join(out, ".stamp")
    if not os.path.exists(stamp) or any(os.path.getmtime(s) > os.path.getmtime(stamp) for s in sources):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["javac", "-nowarn", "-d", out, "-cp", f"{lib}/*"] + sources, check=True)
        open(stamp, "w").close()
    return f"{out}:{lib}/*"


def e2e(c, rf, cp):
    topic = f"e2e-rf{rf}-" + uuid.uuid4().hex[:6]
    cmd = ["java", "-Xms1g", "-Xmx1g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp,
           "EndToEndLatency", "--bootstrap", c.bootstrap(), "--topic", topic, "--partitions", "1",
           "--replication-factor", str(rf), "--record-size", "1024", "--rate", "10000", "--acks", "all",
           "--duration-s", str(E2E_S), "--warmup-s", "10", "--clk-tck", str(os.sysconf("SC_CLK_TCK")),
           "--phase", f"e2e-rf{rf}"]
    cpu0 = cpu_seconds(c)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_S + 120)
    cpu = cpu_seconds(c) - cpu0
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        print(f"e2e RF {rf}: no result (exit {out.returncode}): {out.stderr[-2000:]}", flush=True)
        return None
    r = dict(kv.split("=", 1) for kv in line.split()[1:])
    print(f"e2e RF {rf}, acks=all, 10,000 × 1 KiB/s: p50 {float(r['p50_ms']):.2f} ms, "
          f"p99 {float(r['p99_ms']):.2f} ms, p999 {float(r['p999_ms']):.2f} ms, max {float(r['max_ms']):.1f} ms; "
          f"send→ack p99 {float(r['ack_p99_ms']):.2f} ms; missing {r['missing']}; "
          f"broker CPU {cpu:.1f} s (all three, whole run)", flush=True)
    return float(r["p99_ms"])


def cluster_run(fsync):
    print(f"=== acks.all.fsync={fsync} ({time.strftime('%H:%M:%S')}, load average "
          f"{os.getloadavg()[0]:.1f}) ===", flush=True)
    with Cluster(3, extra=["--set", f"acks.all.fsync={fsync}"]) as c:
        c.start_all()
        c.wait("controller and 3 brokers", lambda: c.quorum(1)[0] >= 0 and len(c.metadata(1)["brokers"]) == 3, 60)
        if os.environ.get("SKIP_THROUGHPUT") is None:
            for rf in (1, 3, 1, 3):
                throughput(c, rf)
        if os.environ.get("SKIP_E2E") is None:
            cp = java_classes()
            p99 = {1: [], 3: []}
            for rf in (1, 3, 1, 3):
                v = e2e(c, rf, cp)
                if v is not None:
                    p99[rf].append(v)
            if p99[1] and p99[3]:
                gap = statistics.median(p99[3]) - statistics.median(p99[1])
                print(f"e2e p99, medians: RF 1 {statistics.median(p99[1]):.2f} ms, RF 3 "
                      f"{statistics.median(p99[3]):.2f} ms (gap {gap:+.2f} ms)", flush=True)
        if fsync == "true" and os.environ.get("SKIP_FAILOVER") is None:
            failover(c, "SIGTERM")
            failover(c, "SIGKILL")


def main():
    for fsync in ("true", "false"):
        cluster_run(fsync)


if __name__ == "__main__":
    main()
