"""CreateTopics is durable once answered (issue 16): SIGKILL right after the answer, every partition is there.

timeout: 240

A private broker; the admin client creates one topic of 1,000 partitions (and, in later rounds, smaller
ones), and the moment the answer arrives the broker gets SIGKILL (no clean shutdown, no flush) and is
started again on the same folder. Kafka's contract: a topic whose CreateTopics answered without error
exists, with all its partitions. After each restart: Metadata lists every partition created so far with a
leader and no error, every partition's folder is on disk, and a librdkafka producer (acks=all) gets every
record, one per partition, acknowledged at offset 0 — each partition's log exists and takes writes.
"""
import os
import signal
import subprocess
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

BROKER = os.environ["WEIR_BROKER"]
STATE = os.environ["COMPAT_STATE"]
NAME = "create-topics-kill9"
# (topic, partitions) created one per round, each round ended by SIGKILL right after the answer.
ROUNDS = [("kill9-big", 1000), ("kill9-mid", 200), ("kill9-small", 3)]


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def broker(*args):
    out = subprocess.run([BROKER, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def state(name):
    with open(os.path.join(STATE, "brokers", NAME, name)) as f:
        return f.read().strip()


def check_topics(bootstrap, created):
    """Metadata, folders and one acknowledged record per partition for every topic in `created`."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=30)
    datadir = state("datadir")
    for name, n in created:
        t = md.topics.get(name)
        if t is None or t.error is not None:
            raise AssertionError(f"{name}: missing after the restart ({t.error if t else 'not listed'})")
        if len(t.partitions) != n:
            raise AssertionError(f"{name}: {len(t.partitions)} partitions after the restart, expected {n}")
        bad = [p for p, pm in t.partitions.items() if pm.error is not None or pm.leader < 0]
        if bad:
            raise AssertionError(f"{name}: partitions without a leader after the restart: {bad[:10]}")
        missing = [p for p in range(n) if not os.path.isdir(os.path.join(datadir, f"{name}-{p}"))]
        if missing:
            raise AssertionError(f"{name}: partition folders missing after the restart: {missing[:10]}")
    acked, errors = {}, []

    def on_delivery(err, msg):
        if err is None:
            acked[(msg.topic(), msg.partition())] = msg.offset()
        else:
            errors.append((msg.topic(), msg.partition(), str(err)))

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for name, n in created:
        for part in range(n):
            p.produce(name, value=b"x", partition=part, on_delivery=on_delivery)
            p.poll(0)
    left = p.flush(60)
    if errors or left:
        raise AssertionError(f"produce after the restart: {len(errors)} errors, {left} undelivered: {errors[:5]}")
    total = sum(n for _, n in created)
    if len(acked) != total:
        raise AssertionError(f"{len(acked)} partitions acknowledged a record, expected {total}")
    # Each round writes one more record to the partitions created earlier: the offset is the round index.
    for (name, part), off in acked.items():
        expected = next(i for i, (t, _) in enumerate(reversed(created)) if t == name)
        if off != expected:
            raise AssertionError(f"{name}-{part}: record acknowledged at offset {off}, expected {expected}")


def main():
    bootstrap = broker("start", NAME)
    log(f"private broker at {bootstrap}")
    created = []
    for name, n in ROUNDS:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        t0 = time.perf_counter()
        admin.create_topics([NewTopic(name, n, 1)], operation_timeout=60)[name].result(60)
        # SIGKILL at once: no clean shutdown, no later flush gets a chance.
        os.kill(int(state("pid")), signal.SIGKILL)
        log(f"{name}: {n} partitions created in {(time.perf_counter() - t0) * 1000:.0f} ms, broker killed")
        created.append((name, n))
        broker("crash-restart", NAME)
        check_topics(bootstrap, created)
        log(f"after restart: {len(created)} topics, {sum(k for _, k in created)} partitions, all present and writable")
    log("OK")


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run([BROKER, "stop", NAME], capture_output=True)
