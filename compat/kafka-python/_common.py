"""Shared helpers for the kafka-python scenarios of Weir's compatibility suite (assign(), no group)."""
import os
import random
import sys
import time
import traceback
import uuid

import kafka.errors as Errors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

BOOTSTRAP = os.environ.get("WEIR_BOOTSTRAP", "")
CODECS = [None, "gzip", "snappy", "lz4", "zstd"]


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def topic(prefix):
    return f"kpy-{prefix}-{uuid.uuid4().hex[:8]}"


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def short(x, limit=300):
    r = repr(x)
    return r if len(r) <= limit else r[:limit] + f"... ({len(r)} chars)"


def check_eq(expected, actual, what):
    if expected != actual:
        raise AssertionError(f"{what}: expected {short(expected)} but was {short(actual)}")


def admin():
    return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=30000)


def producer(**conf):
    base = dict(bootstrap_servers=BOOTSTRAP, linger_ms=5)
    base.update(conf)
    return KafkaProducer(**base)


def consumer(**conf):
    base = dict(bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
    base.update(conf)
    return KafkaConsumer(**base)


def create_topic(a, name, partitions):
    a.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}})
    wait_topic(a, name, partitions)


def wait_topic(a, name, partitions, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            d = [x for x in a.describe_topics([name]) if x["name"] == name]
            if d and d[0]["error_code"] == 0 and len(d[0]["partitions"]) == partitions and all(
                    p["leader_id"] >= 0 for p in d[0]["partitions"]):
                return
        except Errors.KafkaError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"topic {name} did not become ready")


def send_all(p, records):
    """records: dicts of KafkaProducer.send kwargs (topic, value, key, headers, partition, timestamp_ms)."""
    futures = [p.send(**r) for r in records]
    p.flush(timeout=60)
    return [f.get(timeout=30) for f in futures]


def poll_n(c, n, timeout=30.0):
    got = []
    deadline = time.time() + timeout
    while len(got) < n:
        left = deadline - time.time()
        check(left > 0, f"timed out after {timeout}s with {len(got)} of {n} records")
        for recs in c.poll(timeout_ms=int(min(left, 0.5) * 1000)).values():
            got.extend(recs)
    return got


def read_all(t, partition, timeout=30.0, **conf):
    c = consumer(**conf)
    try:
        tp = TopicPartition(t, partition)
        c.assign([tp])
        end = c.end_offsets([tp])[tp]
        c.seek_to_beginning(tp)
        got = poll_n(c, end, timeout) if end > 0 else []
        got.sort(key=lambda r: r.offset)
        return got
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
