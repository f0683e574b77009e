"""Issue-16 figures on real `weir serve` processes: CreateTopics latency and RSS per idle connection.

usage: compat/.deps/venv/bin/python benches/efficiency/efficiency.py create BIN [BIN...] [--runs N]
       compat/.deps/venv/bin/python benches/efficiency/efficiency.py conns BIN [BIN...] [--n 1000,10000]

`create`: per run and binary, a fresh broker on a fresh folder (same disk as the build), then CreateTopics of
one topic with 1,000 partitions through the admin client, timed from the call to the answer (the answer
comes once the topic is committed and its partitions are created), and the broker's CPU time (utime+stime)
over the same window. Binaries alternate within each run. EFF_TMP=DIR puts the data folders there
(default target/; /dev/shm takes the disk out).
`conns`: per binary and N, a fresh broker; N connections each send one ApiVersions v3 and read the answer,
then stay idle; VmRSS is sampled after 2 s idle. Per connection = (RSS with N open - RSS before) / N.
"""
import os
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Broker:
    def __init__(self, binary, extra=()):
        self.dir = tempfile.mkdtemp(prefix="eff-", dir=os.environ.get("EFF_TMP", "target"))
        self.port = free_port()
        ctl, adm = free_port(), free_port()
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir,
             "--controller-listen", f"127.0.0.1:{ctl}", "--admin-listen", f"127.0.0.1:{adm}",
             "--log-level", "warn", *extra],
            stdout=open(os.path.join(self.dir, "broker.log"), "a"), stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.bootstrap = f"127.0.0.1:{self.port}"

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_ms(self):
        """utime + stime of the broker so far, in milliseconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def create(bins, runs):
    from confluent_kafka.admin import AdminClient, NewTopic
    res = {b: [] for b in bins}
    cpus = {b: [] for b in bins}
    for r in range(runs):
        for b in bins:
            br = Broker(b)
            try:
                admin = AdminClient({"bootstrap.servers": br.bootstrap})
                # Warm: metadata and a first small topic, so the timing is the big topic alone.
                admin.create_topics([NewTopic("warm", 1, 1)])["warm"].result(30)
                name = "big-" + uuid.uuid4().hex[:6]
                cpu0, t0 = br.cpu_ms(), time.perf_counter()
                admin.create_topics([NewTopic(name, 1000, 1)], operation_timeout=60)[name].result(60)
                ms = (time.perf_counter() - t0) * 1000
                cpu = br.cpu_ms() - cpu0
                n = sum(1 for e in os.listdir(br.dir) if e.startswith(name + "-"))
                res[b].append(ms)
                cpus[b].append(cpu)
                print(f"run {r} {b}: CreateTopics 1,000 partitions {ms:.0f} ms, broker CPU {cpu:.0f} ms "
                      f"({n} folders)", flush=True)
            finally:
                br.close()
    for b in bins:
        print(f"{b}: median {statistics.median(res[b]):.0f} ms over {runs}: "
              + ", ".join(f"{x:.0f}" for x in res[b])
              + f"; broker CPU median {statistics.median(cpus[b]):.0f} ms")


def api_versions_request(corr):
    # ApiVersions v3 (flexible): header v2 = api key, version, correlation id, client id, tagged fields;
    # body = client software name, version (compact strings), tagged fields.
    client = b"eff"
    header = struct.pack(">hhih", 18, 3, corr, len(client)) + client + b"\x00"
    body = bytes([4]) + b"eff" + bytes([4]) + b"1.0" + b"\x00"
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf


def conns(bins, ns):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for n in ns:
        for b in bins:
            br = Broker(b, ["--set", "connections.max.idle.ms=600000"])
            socks = []
            try:
                time.sleep(1)
                before = br.rss_kb()
                for i in range(n):
                    s = socket.create_connection(("127.0.0.1", br.port))
                    s.sendall(api_versions_request(i))
                    (ln,) = struct.unpack(">i", read_exact(s, 4))
                    read_exact(s, ln)
                    socks.append(s)
                time.sleep(2)
                after = br.rss_kb()
                per = (after - before) * 1024 / n
                print(f"{b}: {n} idle connections: RSS {before} KiB -> {after} KiB, "
                      f"{per:.0f} bytes per connection", flush=True)
            finally:
                for s in socks:
                    s.close()
                br.close()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    opts = {}
    bins = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opts[args[i][2:]] = args[i + 1]
            i += 2
        else:
            bins.append(args[i])
            i += 1
    if mode == "create":
        create(bins, int(opts.get("runs", "5")))
    elif mode == "conns":
        conns(bins, [int(x) for x in opts.get("n", "1000,10000").split(",")])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
