"""CreateTopics is durable once answered (issue 16): SIGKILL right after the answer, every partition is there.

timeout: 240

A private broker; the admin client creates one topic of 1,000 partitions (and, in later rounds, smaller
ones), and the moment the answer arrives the broker gets SIGKILL (no clean shutdown, no flush) and is
started again on the same folder. Kafka's contract: a topic whose CreateTopics answered without error
exists, with all its partitions. After each restart: Metadata lists every partition created so far with a
leader and no error, and a librdkafka producer (acks=all) gets every record, one per partition,
acknowledged at the next offset (0 for the topic just created) — each partition's log exists and takes
writes — after which every written partition's folder is on disk (Weir creates a partition's folder with
its first write, session 8). A topic created in the first round is never written until the end: it must
come through every SIGKILL and restart with all its partitions, then take its first records, which a
consumer reads back with the others.
"""
import os
import signal
import subprocess
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BROKER = os.environ["WEIR_BROKER"]
STATE = os.environ["COMPAT_STATE"]
NAME = "create-topics-kill9"
# (topic, partitions) created one per round, each round ended by SIGKILL right after the answer.
ROUNDS = [("kill9-big", 1000), ("kill9-mid", 200), ("kill9-small", 3)]
# Created with the first round, written only after the last restart.
IDLE = ("kill9-idle", 20)


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def broker(*args):
    out = subprocess.run([BROKER, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def state(name):
    with open(os.path.join(STATE, "brokers", NAME, name)) as f:
        return f.read().strip()


def check_metadata(bootstrap, topics):
    """Every topic in `topics` is listed with all its partitions, each with a leader and no error."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=30)
    for name, n in topics:
        t = md.topics.get(name)
        if t is None or t.error is not None:
            raise AssertionError(f"{name}: missing after the restart ({t.error if t else 'not listed'})")
        if len(t.partitions) != n:
            raise AssertionError(f"{name}: {len(t.partitions)} partitions after the restart, expected {n}")
        bad = [p for p, pm in t.partitions.items() if pm.error is not None or pm.leader < 0]
        if bad:
            raise AssertionError(f"{name}: partitions without a leader after the restart: {bad[:10]}")


def check_folders(created):
    """Every partition written so far has its folder on disk."""
    datadir = state("datadir")
    for name, n in created:
        missing = [p for p in range(n) if not os.path.isdir(os.path.join(datadir, f"{name}-{p}"))]
        if missing:
            raise AssertionError(f"{name}: partition folders missing after a write: {missing[:10]}")


def produce_one_each(bootstrap, created):
    """One acks=all record per partition of every topic in `created`; returns {(topic, p): offset}."""
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
    return acked


def check_topics(bootstrap, created):
    """Metadata, one acknowledged record per partition, then folders, for every topic in `created`."""
    check_metadata(bootstrap, created + [IDLE])
    acked = produce_one_each(bootstrap, created)
    check_folders(created)
    # Each round writes one more record to the partitions created earlier: the offset is the round index.
    for (name, part), off in acked.items():
        expected = next(i for i, (t, _) in enumerate(reversed(created)) if t == name)
        if off != expected:
            raise AssertionError(f"{name}-{part}: record acknowledged at offset {off}, expected {expected}")


def consume_all(bootstrap, topics):
    """Reads every partition of `topics` from the start; returns {(topic, p): [offsets]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kill9-check", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": True})
    parts = [TopicPartition(name, p, 0) for name, n in topics for p in range(n)]
    c.assign(parts)
    seen, at_end = {}, set()
    deadline = time.time() + 60
    while len(at_end) < len(parts) and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add((m.topic(), m.partition()))
                continue
            raise AssertionError(f"consume: {m.error()}")
        seen.setdefault((m.topic(), m.partition()), []).append(m.offset())
    c.close()
    if len(at_end) < len(parts):
        raise AssertionError(f"consume: {len(parts) - len(at_end)} partitions never reached their end")
    return seen


def main():
    bootstrap = broker("start", NAME)
    log(f"private broker at {bootstrap}")
    created = []
    for i, (name, n) in enumerate(ROUNDS):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        t0 = time.perf_counter()
        new = [NewTopic(name, n, 1)] + ([NewTopic(IDLE[0], IDLE[1], 1)] if i == 0 else [])
        for f in admin.create_topics(new, operation_timeout=60).values():
            f.result(60)
        # SIGKILL at once: no clean shutdown, no later flush gets a chance.
        os.kill(int(state("pid")), signal.SIGKILL)
        log(f"{name}: {n} partitions created in {(time.perf_counter() - t0) * 1000:.0f} ms, broker killed")
        created.append((name, n))
        broker("crash-restart", NAME)
        check_topics(bootstrap, created)
        log(f"after restart: {len(created)} topics, {sum(k for _, k in created)} partitions, all present and writable")
    # The idle topic, never written through three SIGKILLs: its first records, then everything read back.
    produce_one_each(bootstrap, [IDLE])
    check_folders([IDLE])
    small = [t for t in created if t[1] <= 200] + [IDLE]
    seen = consume_all(bootstrap, small)
    for name, n in small:
        want = list(range(len(created) - [t for t, _ in created].index(name))) if name != IDLE[0] else [0]
        for p in range(n):
            if seen.get((name, p)) != want:
                raise AssertionError(f"{name}-{p}: consumed offsets {seen.get((name, p))}, expected {want}")
    log(f"idle topic written after {len(ROUNDS)} restarts; {len(small)} topics read back in full")
    log("OK")


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run([BROKER, "stop", NAME], capture_output=True)
