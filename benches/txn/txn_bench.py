"""Transactions cost, measured with librdkafka (confluent-kafka) against one Weir broker: the same N records
of SIZE bytes produced by a plain producer (acks=all), an idempotent one, and transactional ones committing
every 100 and every 1,000 records; then the whole topic consumed with read_uncommitted and read_committed.
Prints one line per case (records/s, MB/s). One topic per case, 3 partitions.

usage: WEIR_BOOTSTRAP=127.0.0.1:9092 compat/.deps/venv/bin/python benches/txn/txn_bench.py [N] [SIZE]
"""
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOT = os.environ.get("WEIR_BOOTSTRAP", "127.0.0.1:9092")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PARTS = 3
VALUE = b"x" * SIZE


def topic(name):
    t = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": BOOT})
    admin.create_topics([NewTopic(t, PARTS, 1)])[t].result(30)
    time.sleep(0.5)
    return t


def produce(name, conf, txn_size):
    t = topic(name)
    p = Producer({"bootstrap.servers": BOOT, "linger.ms": 5, "acks": "all", **conf})
    if txn_size:
        p.init_transactions(30)
    start = time.time()
    for i in range(N):
        if txn_size and i % txn_size == 0:
            if i:
                p.commit_transaction(30)
            p.begin_transaction()
        while True:
            try:
                p.produce(t, VALUE, partition=i % PARTS)
                break
            except BufferError:
                p.poll(0.01)
    if txn_size:
        p.commit_transaction(30)
    assert p.flush(60) == 0
    dt = time.time() - start
    print(f"produce {name:<16} {N / dt:>10,.0f} records/s {N * SIZE / dt / 1e6:>7.1f} MB/s")
    return t


def consume(t, isolation):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "b-" + uuid.uuid4().hex[:6], "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True, "fetch.max.bytes": 52428800})
    c.assign([TopicPartition(t, p, 0) for p in range(PARTS)])
    got, eof, start = 0, set(), time.time()
    while len(eof) < PARTS:
        for m in c.consume(10000, 1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise SystemExit(m.error())
            got += 1
    dt = time.time() - start
    c.close()
    assert got == N, (got, N)
    print(f"consume {isolation:<16} {N / dt:>10,.0f} records/s {N * SIZE / dt / 1e6:>7.1f} MB/s")


if __name__ == "__main__":
    produce("plain", {}, 0)
    produce("idempotent", {"enable.idempotence": True}, 0)
    produce("txn-100", {"transactional.id": "b-" + uuid.uuid4().hex}, 100)
    t = produce("txn-1000", {"transactional.id": "b-" + uuid.uuid4().hex}, 1000)
    consume(t, "read_uncommitted")
    consume(t, "read_committed")
