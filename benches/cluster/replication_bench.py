"""Replication figures for BENCHMARKS.md, on 3 real node processes over loopback.

usage: WEIR_BIN=target/release/weir compat/.deps/venv/bin/python benches/cluster/replication_bench.py [KILLS]
       SKIP_THROUGHPUT=1 / SKIP_E2E=1 / SKIP_FAILOVER=1 leave a part out; E2E_S=seconds (default 20);
       CONTROLLER_ROUNDS=N adds N SIGTERM rounds of a leader that is also the active controller

Prints, for a cluster with the durable default (`acks.all.fsync=true`) and then one with Kafka's semantics
(`acks.all.fsync=false`):
- throughput, same 3 brokers: 1 KiB records, acks=all, 3 partitions, RF 1 against RF 3 (alternating, two
  rounds each): MB/s and broker CPU (all three processes, from /proc) per MB;
- end-to-end latency (benches/load/EndToEndLatency.java, the Java client): 10,000 records/s of 1 KiB,
  acks=all, one partition, RF 1 (one broker does all the work: the single-node figure under the same
  semantics) against RF 3 (alternating, two rounds each): p50/p99/p999 of send slot → consumer receipt;
- failover (durable cluster only): a confluent-kafka and a Java producer (benches/cluster/FailoverProducer.java)
  write to partition 0 of an RF 3 topic (min.insync.replicas=2) every 2 ms each; its leader is SIGTERMed,
  then SIGKILLed, KILLS times each (SIGKILL rounds continue until KILLS of them hit a leader that is not
  also the active controller). Each round is split, in seconds after the signal: `fenced` (the active
  controller fences the broker, or moves leadership off it in a controlled shutdown; its log), `leading`
  (the new leader applied the image that makes it leader; its log), `replicating` (the other survivor's
  first fetch of the partition from the new leader answered; its log), `visible` (a survivor's own
  Metadata names the new leader; polled every 20 ms), `serving` (a fresh producer bootstrapping from the
  new leader at `visible` has a record acknowledged: the broker side of the failover), then each
  producer's first acknowledgement of a record sent after the signal.
"""
import datetime
import glob
import os
import re
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


class RdkafkaWriter:
    """A confluent-kafka (librdkafka) producer writing one record every 2 ms to partition 0 of `topic`.
    Settings: idempotent and acks=all (as the Java client's defaults), linger.ms=0 (one record per request,
    so the first acknowledgement after a fault is not held back by batching), message.timeout.ms=60000
    (a failover never reaches it). Keeps (ack time, send time) of every acknowledged record."""

    def __init__(self, c, topic):
        self.acks = []
        self.p = Producer({"bootstrap.servers": c.bootstrap(), "enable.idempotence": True, "acks": "all",
                           "message.timeout.ms": 60000, "linger.ms": 0})
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, args=(topic,), daemon=True)
        self.t.start()

    def run(self, topic):
        n = 0
        while not self.stop.is_set():
            sent = time.time()
            self.p.produce(topic, value=str(n).encode(), partition=0,
                           on_delivery=lambda e, m, sent=sent: self.acks.append((time.time(), sent))
                           if e is None else None)
            self.p.poll(0)
            n += 1
            time.sleep(0.002)
        self.p.flush(60)

    def close(self):
        self.stop.set()
        self.t.join(60)


class JavaWriter:
    """benches/cluster/FailoverProducer.java: a KafkaProducer with the Java client's defaults (idempotent,
    acks=all) writing one record every 2 ms to partition 0 of `topic`. Keeps (ack time, send time)."""

    def __init__(self, c, topic, cp):
        self.acks = []
        self.proc = subprocess.Popen(["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp,
                                      "FailoverProducer", c.bootstrap(), topic],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.proc.stdout:
            sent, at = line.split()
            self.acks.append((int(at) / 1000, int(sent) / 1000))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(60)
        self.t.join(10)


def first_ack_after(acks, t0):
    """Time of the first acknowledgement of a record sent after t0, or None yet."""
    after = [at for at, sent in acks[-400:] if sent > t0]
    return min(after) if after else None


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\s+\w+\s+(.*)$")


def log_time(path, t0, pattern):
    """Epoch time of the first line of a node log after t0 that matches `pattern`, or None."""
    with open(path, errors="replace") as f:
        for line in f:
            m = LOG_LINE.match(line)
            if not m or not re.search(pattern, m.group(2)):
                continue
            at = datetime.datetime.strptime(m.group(1)[:26], "%Y-%m-%dT%H:%M:%S.%f")
            at = at.replace(tzinfo=datetime.timezone.utc).timestamp()
            if at > t0:
                return at
    return None


def probe(c, topic, leader, survivors, out):
    """After the fault: polls the survivors' own Metadata until one names a new leader (out["visible"]),
    then has a fresh producer (not idempotent, so no InitProducerId; acks=all) bootstrap from that leader
    alone and write one record: out["serving"] is its acknowledgement, the broker side of the failover
    as seen by a client that knows the new leader at once."""
    new = None
    while new is None:
        for i in survivors:
            try:
                at = c.metadata(i, timeout=1)["topics"][topic]["partitions"][0][1]
            except Exception:
                continue
            if at not in (-1, leader):
                new = at
                break
        else:
            time.sleep(0.02)
    out["visible"], out["new"] = time.time(), new
    # Bootstrapping from the new leader needs its own Metadata to name itself (another survivor may have
    # applied the election first).
    while True:
        try:
            if c.metadata(new, timeout=1)["topics"][topic]["partitions"][0][1] == new:
                break
        except Exception:
            pass
        time.sleep(0.005)
    done = threading.Event()
    p = Producer({"bootstrap.servers": c.nodes[new].bootstrap, "acks": "all", "enable.idempotence": False,
                  "linger.ms": 0, "message.timeout.ms": 30000})
    p.produce(topic, value=b"probe", partition=0,
              on_delivery=lambda e, m: (out.__setitem__("serving", time.time()) if e is None else None,
                                        done.set()))
    while not done.is_set():
        p.poll(0.001)


def failover(c, cp):
    """SIGTERM rounds, then SIGKILL rounds, of the leader of partition 0 of one RF 3 topic, with a
    confluent-kafka and a Java producer writing to it throughout; prints each round's split."""
    topic = "failover-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": c.bootstrap()})
    admin.create_topics([NewTopic(topic, 1, 3, config={"min.insync.replicas": "2"})])[topic].result(30)
    c.wait("in sync", lambda: in_sync(c, topic, 1), 30)
    writers = {"librdkafka": RdkafkaWriter(c, topic), "java": JavaWriter(c, topic, cp)}
    c.wait("both producers acknowledged", lambda: all(w.acks for w in writers.values()), 60)
    for how in ("SIGTERM", "SIGKILL"):
        rounds = []  # dicts of stage times (s after the signal); "controller": the leader was also it
        while sum(1 for r in rounds if not r["controller"]) < KILLS and len(rounds) < 3 * KILLS:
            time.sleep(1)
            survivor = next(i for i in c.nodes if c.alive(i))
            leader = c.metadata(survivor)["topics"][topic]["partitions"][0][1]
            controller = c.controller(survivor)
            survivors = [i for i in c.nodes if c.alive(i) and i != leader]
            out = {}
            pt = threading.Thread(target=probe, args=(c, topic, leader, survivors, out), daemon=True)
            pt.start()
            t0 = time.time()
            c.kill(leader) if how == "SIGKILL" else c.stop(leader)
            # After a SIGKILL, count records sent once the process is gone (reaped): one sent just after
            # the signal may still be acknowledged by the dying leader. After a SIGTERM the leader serves
            # until leadership has moved, so a record sent after the signal counts.
            after = time.time() if how == "SIGKILL" else t0
            pt.join(60)
            c.wait("an acknowledgement after the fault to each producer",
                   lambda: all(first_ack_after(w.acks, after) for w in writers.values()), 60)
            new = out["new"]
            fence = "broker session expired; fencing it broker=%d\\b" if how == "SIGKILL" else \
                "controlled shutdown: moving leadership off the broker broker=%d\\b"
            fenced = min((t for t in (log_time(n.log_path, t0, fence % leader) for n in c.nodes.values())
                          if t is not None), default=None)
            follower = next(i for i in survivors if i != new)
            r = {"controller": controller == leader, "leader": leader,
                 "fenced": fenced,
                 "leading": log_time(c.nodes[new].log_path, t0, r"^leading topic=%s partition=0\b" % topic),
                 "replicating": log_time(c.nodes[follower].log_path, t0,
                                         r"^replica fetch from the leader answered topic=%s partition=0\b" % topic),
                 "visible": out.get("visible"), "serving": out.get("serving")}
            r.update({k: first_ack_after(w.acks, after) for k, w in writers.items()})
            for k in ("fenced", "leading", "replicating", "visible", "serving", *writers):
                r[k] = None if r[k] is None else r[k] - t0
            rounds.append(r)
            print(f"  {how} of leader {leader}{' (also the active controller)' if r['controller'] else ''}: "
                  + ", ".join(f"{k} {fmt(r[k])}" for k in STAGES), flush=True)
            c.start(leader)
            c.wait("in sync again", lambda: in_sync(c, topic, 1), 60)
        for label, sel in (("leader only", False), ("leader and active controller", True)):
            rs = [r for r in rounds if r["controller"] == sel]
            if rs:
                print(f"{how}, {label}, {len(rs)} rounds (median / max, s after the signal): " + "; ".join(
                    f"{k} {summary([r[k] for r in rs])}" for k in STAGES), flush=True)
    for w in writers.values():
        w.close()


def controller_failover(c, cp, rounds):
    """SIGTERM of a partition leader that is also the active controller (CONTROLLER_ROUNDS=N): each round
    creates one-partition topics until one is led by the controller (placement is the controller's, so a
    topic cannot be pinned), then stops that node. This exercises the quorum leader's hand-off at shutdown:
    the voter outside the last commit's majority must learn of it without a new election."""
    results = []
    for _ in range(rounds):
        time.sleep(1)
        survivor = next(i for i in c.nodes if c.alive(i))
        controller = c.controller(survivor)
        admin = AdminClient({"bootstrap.servers": c.bootstrap()})
        topic = None
        for _ in range(8):
            name = "ctl-failover-" + uuid.uuid4().hex[:6]
            admin.create_topics([NewTopic(name, 1, 3, config={"min.insync.replicas": "2"})])[name].result(30)
            c.wait("in sync", lambda: in_sync(c, name, 1), 30)
            if c.metadata(survivor)["topics"][name]["partitions"][0][1] == controller:
                topic = name
                break
        if topic is None:
            print("  no topic led by the controller; round skipped", flush=True)
            continue
        writers = {"librdkafka": RdkafkaWriter(c, topic), "java": JavaWriter(c, topic, cp)}
        c.wait("both producers acknowledged", lambda: all(w.acks for w in writers.values()), 60)
        survivors = [i for i in c.nodes if c.alive(i) and i != controller]
        out = {}
        pt = threading.Thread(target=probe, args=(c, topic, controller, survivors, out), daemon=True)
        pt.start()
        t0 = time.time()
        c.stop(controller)
        pt.join(60)
        c.wait("an acknowledgement after the fault to each producer",
               lambda: all(first_ack_after(w.acks, t0) for w in writers.values()), 60)
        r = {"visible": out.get("visible"), "serving": out.get("serving")}
        r.update({k: first_ack_after(w.acks, t0) for k, w in writers.items()})
        r = {k: None if v is None else v - t0 for k, v in r.items()}
        results.append(r)
        print(f"  SIGTERM of leader {controller} (also the active controller): "
              + ", ".join(f"{k} {fmt(v)}" for k, v in r.items()), flush=True)
        for w in writers.values():
            w.close()
        c.start(controller)
        c.wait("3 brokers again", lambda: len(c.metadata(survivor)["brokers"]) == 3, 60)
        c.wait("in sync again", lambda: in_sync(c, topic, 1), 60)
    if results:
        print(f"SIGTERM, leader and active controller, {len(results)} rounds (median / max): " + "; ".join(
            f"{k} {summary([r[k] for r in results])}" for k in results[0]), flush=True)


STAGES = ("fenced", "leading", "replicating", "visible", "serving", "librdkafka", "java")


def fmt(x):
    return "-" if x is None else f"{x:.2f}"


def summary(xs):
    xs = [x for x in xs if x is not None]
    return f"{statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "-"


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
    """Compiles benches/load/*.java (as benches/load/run.sh does) and benches/cluster/*.java; returns the
    class path."""
    out = os.path.join(ROOT, "target", "load-bench", "classes")
    lib = os.environ.get("WEIR_JAVA_LIB", os.path.join(ROOT, "compat", ".deps", "java", "lib"))
    sources = glob.glob(os.path.join(ROOT, "benches", "load", "*.java")) + \
        glob.glob(os.path.join(ROOT, "benches", "cluster", "*.java"))
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
    # Replication's debug lines (leading, following, first fetch answered) time the failover stages.
    with Cluster(3, extra=["--set", f"acks.all.fsync={fsync}",
                           "--log-level", "info,openraft=warn,weir::cluster::replication=debug"]) as c:
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
            failover(c, java_classes())
        if fsync == "true" and os.environ.get("CONTROLLER_ROUNDS"):
            controller_failover(c, java_classes(), int(os.environ["CONTROLLER_ROUNDS"]))


def main():
    for fsync in ("true", "false"):
        cluster_run(fsync)


if __name__ == "__main__":
    main()
