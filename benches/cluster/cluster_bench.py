"""Cluster control-plane figures for BENCHMARKS.md, on real node processes over loopback.

usage: WEIR_BIN=target/release/weir compat/.deps/venv/bin/python benches/cluster/cluster_bench.py [KILLS]

Prints:
- time from starting 3 fresh nodes (at once) to an elected controller with every broker unfenced;
- CreateTopics of one topic with 1,000 partitions (RF 1) through one node, answered once applied there;
- how long each created topic takes to appear in the Metadata of the other two nodes (median, p99);
- controller failover: SIGKILL of the active controller until a survivor names a new one (KILLS times).
"""
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "compat", "lib"))
from cluster import Cluster  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    c = Cluster(3)
    try:
        import subprocess
        t0 = time.time()
        # Start all three at once (not one after another as the tests do).
        for i, n in c.nodes.items():
            n.proc = subprocess.Popen([os.environ["WEIR_BIN"]] + n.args, stdout=open(n.log_path, "a"),
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=dict(os.environ, NO_COLOR="1"), start_new_session=True)
        c.wait("controller and 3 brokers", lambda: c.quorum(1)[0] >= 0 and len(c.metadata(1)["brokers"]) == 3, 60)
        print(f"fresh 3-node cluster: controller elected and every broker unfenced {time.time() - t0:.2f} s after start")

        admin = AdminClient({"bootstrap.servers": c.bootstrap(1)})
        name = "big-" + uuid.uuid4().hex[:6]
        t0 = time.time()
        admin.create_topics([NewTopic(name, 1000, 1)], operation_timeout=60)[name].result(60)
        took = time.time() - t0
        c.wait("all nodes know the big topic", lambda: all(name in c.metadata(i)["topics"] for i in c.nodes), 30)
        print(f"CreateTopics 1,000 partitions on 3 nodes: {took * 1000:.0f} ms (answered once applied on the node asked)")

        lags = []
        for k in range(50):
            t = f"prop-{k}-" + uuid.uuid4().hex[:4]
            admin.create_topics([NewTopic(t, 1, 1)])[t].result(30)
            t0 = time.time()
            for i in (2, 3):
                while t not in c.metadata(i)["topics"]:
                    time.sleep(0.001)
            lags.append((time.time() - t0) * 1000)
        print(f"metadata change reaching the other brokers after the answer: median {statistics.median(lags):.1f} ms, "
              f"p99 {pct(lags, 99):.1f} ms, max {max(lags):.1f} ms (50 topics; Metadata polled every 1 ms)")

        times = []
        for k in range(KILLS):
            old, _ = c.wait("a controller", lambda: c.quorum(1)[0] if c.alive(1) else c.quorum(2)[0], 30)
            survivor = next(i for i in c.nodes if i != old)
            t0 = time.time()
            c.kill(old)
            c.wait("new controller", lambda: c.quorum(survivor)[0] not in (-1, old), 30)
            times.append(time.time() - t0)
            c.start(old)
            c.wait("3 brokers again", lambda: len(c.metadata(survivor)["brokers"]) == 3, 30)
        print(f"controller failover after SIGKILL ({KILLS} kills): median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s, all: {', '.join(f'{t:.2f}' for t in times)}")
    finally:
        c.close()


if __name__ == "__main__":
    main()
