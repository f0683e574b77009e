"""Shared helpers for the confluent-kafka (librdkafka) scenarios of Weir's compatibility suite.

Scenarios assert what Apache Kafka does. Data-plane consumers use assign(); the Python wrapper insists on a
group.id, so they get a throwaway one with auto-commit off and never commit.
"""
import os
import random
import sys
import time
import traceback
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = os.environ.get("WEIR_BOOTSTRAP", "")
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def topic(prefix):
    return f"confluent-{prefix}-{uuid.uuid4().hex[:8]}"


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def short(x, limit=300):
    r = repr(x)
    return r if len(r) <= limit else r[:limit] + f"... ({len(r)} chars)"


def check_eq(expected, actual, what):
    if expected != actual:
        raise AssertionError(f"{what}: expected {short(expected)} but was {short(actual)}")


def admin(**conf):
    return AdminClient({"bootstrap.servers": BOOTSTRAP, **conf})


def producer(**conf):
    base = {"bootstrap.servers": BOOTSTRAP, "linger.ms": 5, "message.timeout.ms": 60000}
    base.update(conf)
    return Producer(base)


def consumer(**conf):
    base = {
        "bootstrap.servers": BOOTSTRAP,
        "group.id": "assign-only-" + uuid.uuid4().hex[:8],
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
    }
    base.update(conf)
    return Consumer(base)


def create_topic(a, name, partitions, config=None):
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
                         operation_timeout=30, request_timeout=30)
    fs[name].result(timeout=30)
    wait_topic(a, name, partitions)


def wait_topic(a, name, partitions, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        md = a.list_topics(topic=name, timeout=10)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions and all(
                p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {name} did not become ready")


def produce_all(p, records):
    """records: list of dicts for Producer.produce. Returns the delivered messages in send order."""
    out = [None] * len(records)
    errors = []

    def cb(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append((i, err))
            out[i] = msg
        return on_delivery

    for i, r in enumerate(records):
        while True:
            try:
                p.produce(on_delivery=cb(i), **r)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(60)
    check(left == 0, f"{left} messages not delivered after 60 s")
    check(not errors, f"delivery errors: {errors[:5]}")
    return out


def consume_n(c, n, timeout=30.0):
    got = []
    deadline = time.time() + timeout
    while len(got) < n:
        left = deadline - time.time()
        check(left > 0, f"timed out after {timeout}s with {len(got)} of {n} records")
        for m in c.consume(num_messages=min(10000, n - len(got)), timeout=min(left, 0.5)):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            got.append(m)
    return got


def read_all(t, partition, timeout=30.0, **conf):
    c = consumer(**conf)
    try:
        low, high = c.get_watermark_offsets(TopicPartition(t, partition), timeout=10)
        c.assign([TopicPartition(t, partition, low)])
        return consume_n(c, high - low, timeout) if high > low else []
    finally:
        c.close()


def payload(rnd, n):
    return bytes((97 + i % 13) if i % 7 < 4 else rnd.randrange(256) for i in range(n))


def run(name, body):
    start = time.time()
    try:
        body()
    except Exception:
        sys.stdout.flush()
        print(f"FAILED {name}:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    print(f"ok {name} ({(time.time() - start) * 1000:.0f} ms)", flush=True)
