"""A local Weir cluster for tests: N node processes on loopback with free ports, started, SIGKILLed,
SIGTERMed and restarted by pid, with an optional fault-injection proxy on every controller link.

With proxied=True, node i reaches node j's controller listener through its own proxy port P(i, j), so
cut(i) can isolate node i's quorum traffic in both directions while clients still reach every node.
Also a minimal raw Metadata v1 client, so a checker can ask one specific node for its view (librdkafka
and the Java client pick brokers themselves).

usage (from a scenario):  sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
                          from cluster import Cluster
"""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

WEIR_BIN = os.environ.get("WEIR_BIN", "weir")


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


_NEXT_PORT = [random.randrange(12000)]


def free_port():
    """A free loopback port below Linux's ephemeral range (32768+). Nodes keep their ports across restarts,
    and a port taken from the ephemeral range and released is soon reused as the source port of some
    outgoing connection, which then makes the restarted node fail to bind. Successive calls walk the range
    from a random start, so one process never hands out a port twice."""
    for _ in range(12000):
        port = 20000 + _NEXT_PORT[0] % 12000
        _NEXT_PORT[0] += 1
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 20000..32000")


class Link:
    """A TCP relay from a local port to a target port that can be cut (connections dropped, new ones
    closed at once) and healed."""

    def __init__(self, target_port):
        self.target = target_port
        self.cut = False
        self.conns = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data or self.cut:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def set_cut(self, cut):
        self.cut = cut
        if cut:
            with self.lock:
                conns, self.conns = self.conns, []
            for s in conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass


class Node:
    def __init__(self, node_id, base_dir):
        self.id = node_id
        self.kafka_port = free_port()
        self.ctrl_port = free_port()
        self.dir = os.path.join(base_dir, f"node{node_id}")
        self.log_path = os.path.join(base_dir, f"node{node_id}.log")
        self.proc = None
        self.args = []

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.kafka_port}"


class Cluster:
    def __init__(self, n=3, proxied=False, extra=()):
        self.base = tempfile.mkdtemp(prefix="weir-cluster-", dir=os.environ.get("COMPAT_TMP"))
        self.nodes = {i: Node(i, self.base) for i in range(1, n + 1)}
        self.extra = list(extra)
        self.links = {}
        for i in self.nodes:
            voters = []
            for j, nj in self.nodes.items():
                port = nj.ctrl_port
                if proxied and i != j:
                    link = Link(nj.ctrl_port)
                    self.links[(i, j)] = link
                    port = link.port
                voters.append(f"{j}@127.0.0.1:{port}")
            self.nodes[i].args = [
                "serve", "--node-id", str(i), "--listen", self.nodes[i].bootstrap,
                "--controller-listen", f"127.0.0.1:{self.nodes[i].ctrl_port}",
                "--controller-quorum-voters", ",".join(voters), "--data-dir", self.nodes[i].dir,
            ] + self.extra

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            import sys
            print(self.logs(), file=sys.stderr)
        self.close(keep_logs_on_failure=kind is not None)
        return False

    def controller(self, i, exclude=()):
        """The active controller as node i learns it (DescribeQuorum), unless it is in `exclude`."""
        leader, _ = self.quorum(i)
        return leader if leader >= 0 and leader not in exclude else None

    def bootstrap(self, *ids):
        ids = ids or tuple(self.nodes)
        return ",".join(self.nodes[i].bootstrap for i in ids)

    def start(self, i):
        node = self.nodes[i]
        assert node.proc is None or node.proc.poll() is not None, f"node {i} already running"
        log = open(node.log_path, "a")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n")
        log.flush()
        env = dict(os.environ, NO_COLOR="1")
        node.proc = subprocess.Popen([WEIR_BIN] + node.args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        wait_port(node.kafka_port, node.proc, 30)

    def start_all(self):
        for i in self.nodes:
            self.start(i)

    def _halt(self, i, sig, timeout=20):
        node = self.nodes[i]
        if node.proc is None or node.proc.poll() is not None:
            return
        node.proc.send_signal(sig)
        try:
            node.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait(5)
            raise AssertionError(f"node {i} did not exit {timeout}s after signal {sig}")

    def kill(self, i):
        self._halt(i, signal.SIGKILL)

    def stop(self, i):
        self._halt(i, signal.SIGTERM)

    def alive(self, i):
        p = self.nodes[i].proc
        return p is not None and p.poll() is None

    def cut(self, i):
        """Isolates node i's quorum traffic (both directions); clients still reach it."""
        for (a, b), link in self.links.items():
            if i in (a, b):
                link.set_cut(True)

    def heal(self):
        for link in self.links.values():
            link.set_cut(False)

    def close(self, keep_logs_on_failure=False):
        for i in self.nodes:
            try:
                self.stop(i)
            except AssertionError:
                pass
        if keep_logs_on_failure and os.environ.get("COMPAT_KEEP_FAILED"):
            # Kept for a post-mortem (the whole data folders: logs, segments, checkpoints).
            print(f"cluster folder kept: {self.base}")
            return
        shutil.rmtree(self.base, ignore_errors=True)

    def logs(self, lines=40):
        out = []
        for n in self.nodes.values():
            try:
                with open(n.log_path) as f:
                    tail = f.readlines()[-lines:]
            except OSError:
                tail = []
            out.append(f"===== node {n.id} =====\n" + "".join(tail))
        return "\n".join(out)

    def metadata(self, i, timeout=5):
        """Node i's own view: raw Metadata v1 for all topics (see metadata_v1)."""
        return metadata_v1(self.nodes[i].kafka_port, timeout)

    def quorum(self, i, timeout=5):
        """The active controller and its term, as node i learns them (DescribeQuorum, forwarded by the
        node to the active controller): (leader_id, term)."""
        return describe_quorum_v0(self.nodes[i].kafka_port, timeout)

    def wait(self, what, cond, timeout):
        """Polls cond() (returning a truthy value when done) until timeout; returns (value, seconds)."""
        start = time.time()
        last_err = None
        while time.time() - start < timeout:
            try:
                v = cond()
                if v:
                    return v, time.time() - start
            except Exception as e:  # noqa: BLE001 - a node may be down meanwhile
                last_err = e
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_err})\n{self.logs()}")


def wait_port(port, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"port {port} did not open in {timeout}s")


def _str(buf, pos):
    (n,) = struct.unpack_from(">h", buf, pos)
    pos += 2
    if n < 0:
        return None, pos
    return buf[pos:pos + n].decode(), pos + n


def metadata_v1(port, timeout=5):
    """Sends Metadata v1 (all topics) to one broker and returns
    {"controller": id, "brokers": {id: (host, port, rack)},
     "topics": {name: {"error": code, "internal": bool, "partitions": {p: (error, leader, replicas, isr)}}}}"""
    client_id = b"weir-cluster-check"
    body = struct.pack(">i", -1)  # null topic array: all topics
    header = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id
    req = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", _recv(s, 4))[0]
        buf = _recv(s, size)
    pos = 4  # correlation id
    (nb,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    brokers = {}
    for _ in range(nb):
        (bid,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        host, pos = _str(buf, pos)
        (bport,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        rack, pos = _str(buf, pos)
        brokers[bid] = (host, bport, rack)
    (controller,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    (nt,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    topics = {}
    for _ in range(nt):
        (terr,) = struct.unpack_from(">h", buf, pos)
        pos += 2
        name, pos = _str(buf, pos)
        internal = buf[pos] != 0
        pos += 1
        (np_,) = struct.unpack_from(">i", buf, pos)
        pos += 4
        parts = {}
        for _ in range(np_):
            perr, pid, leader = struct.unpack_from(">hii", buf, pos)
            pos += 10
            lists = []
            for _ in range(2):
                (k,) = struct.unpack_from(">i", buf, pos)
                pos += 4
                lists.append(tuple(struct.unpack_from(f">{k}i", buf, pos)))
                pos += 4 * k
            parts[pid] = (perr, leader, lists[0], lists[1])
        topics[name] = {"error": terr, "internal": internal, "partitions": parts}
    return {"controller": controller, "brokers": brokers, "topics": topics}


def _uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _read_uvarint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def describe_quorum_v0(port, timeout=5):
    """DescribeQuorum v0 (flexible) for __cluster_metadata-0: returns (leader_id, leader_epoch), or raises
    with the error code."""
    client_id = b"weir-cluster-check"
    header = struct.pack(">hhih", 55, 0, 1, len(client_id)) + client_id + _uvarint(0)
    name = b"__cluster_metadata"
    body = (_uvarint(2) + _uvarint(len(name) + 1) + name + _uvarint(2) + struct.pack(">i", 0)
            + _uvarint(0) + _uvarint(0) + _uvarint(0))
    req = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", _recv(s, 4))[0]
        buf = _recv(s, size)
    pos = 4
    _, pos = _read_uvarint(buf, pos)  # header tagged fields
    (err,) = struct.unpack_from(">h", buf, pos)
    pos += 2
    if err:
        raise RuntimeError(f"DescribeQuorum error {err}")
    _, pos = _read_uvarint(buf, pos)  # topics
    n, pos = _read_uvarint(buf, pos)
    pos += n - 1  # topic name
    _, pos = _read_uvarint(buf, pos)  # partitions
    perr, leader, epoch = struct.unpack_from(">hii", buf, pos + 4)
    if perr:
        raise RuntimeError(f"DescribeQuorum partition error {perr}")
    return leader, epoch


def _recv(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        out += chunk
    return out


def java_string_hash(s):
    """Java's String.hashCode, as Kafka uses for a group's __consumer_offsets partition."""
    h = 0
    units = s.encode("utf-16-be")
    for k in range(0, len(units), 2):
        h = (31 * h + ((units[k] << 8) | units[k + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def offsets_partition(group, partitions=50):
    """Kafka's Utils.abs(groupId.hashCode) % partitions (Utils.abs maps MIN_VALUE to 0)."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def _serve(n):
    """`cluster.py run N`: starts an N-node cluster, prints `NODE id host:port` lines and `READY` once a
    controller and N live brokers are seen, then keeps it up until stdin closes (for clients in other
    languages, e.g. the Java scenarios)."""
    import sys
    c = Cluster(n)
    try:
        c.start_all()
        c.wait("a controller and every broker live",
               lambda: c.quorum(1)[0] >= 0 and len(c.metadata(1)["brokers"]) == n, 60)
        for i, node in c.nodes.items():
            print(f"NODE {i} {node.bootstrap}", flush=True)
        print("READY", flush=True)
        sys.stdin.read()
    finally:
        c.close()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        _serve(int(sys.argv[2]))
    else:
        sys.exit("usage: cluster.py run N")
