"""Transactions across a broker crash (issue 13): a librdkafka transactional producer commits one
transaction and leaves a second one open with its records flushed; the broker is SIGKILLed and restarted.
After recovery the open transaction is intact — read_committed stops at its first record (LSO below the
high watermark) while read_uncommitted sees it — and the coordinator, having replayed `__transaction_state`,
aborts it once `transaction.timeout.ms` passes: the LSO reaches the log end, read_committed never shows an
open record, the old producer is fenced, and a new instance with the same transactional.id commits.

timeout: 150
"""
import os
import subprocess
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BROKER = os.environ["WEIR_BROKER"]
NAME = "txn-crash"
PARTITIONS = 3
TXN_TIMEOUT_MS = 5000


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def broker(*args):
    out = subprocess.run([BROKER, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def transactional(bootstrap, txn_id):
    return Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
                     "transaction.timeout.ms": TXN_TIMEOUT_MS})


def send(p, topic, tag, n):
    for i in range(n):
        p.produce(topic, value=f"{tag}-{i}".encode(), partition=i % PARTITIONS)
    return {f"{tag}-{i}" for i in range(n)}


def consumer(bootstrap, isolation):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-crash-" + uuid.uuid4().hex[:6],
                     "enable.auto.commit": False, "isolation.level": isolation,
                     "enable.partition.eof": True})


def ends(bootstrap, topic, isolation):
    """Each partition's end as `isolation` sees it (ListOffsets latest: the LSO for read_committed)."""
    c = consumer(bootstrap, isolation)
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, q), timeout=10, cached=False)[1]
                for q in range(PARTITIONS)]
    finally:
        c.close()


def read_to_end(bootstrap, topic, isolation):
    c = consumer(bootstrap, isolation)
    try:
        c.assign([TopicPartition(topic, q, 0) for q in range(PARTITIONS)])
        values, eof = [], set()
        deadline = time.time() + 30
        while len(eof) < PARTITIONS:
            check(time.time() < deadline, f"{isolation} read did not reach the end")
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                        continue
                    raise KafkaException(m.error())
                values.append(m.value().decode())
        return values
    finally:
        c.close()


def main():
    bootstrap = broker("start", NAME)
    log(f"private broker at {bootstrap}")
    topic = "txn-crash-" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(10)
    txn_id = "txn-crash-" + uuid.uuid4().hex[:8]
    p = transactional(bootstrap, txn_id)
    p.init_transactions(30)
    p.begin_transaction()
    committed = send(p, topic, "committed", 90)
    p.commit_transaction(30)
    p.begin_transaction()
    opened = send(p, topic, "open", 90)
    check(p.flush(30) == 0, "the open transaction's records were not all acknowledged")

    broker("crash-restart", NAME)
    log("broker SIGKILLed and restarted with the transaction open")
    rc_end, ru_end = ends(bootstrap, topic, "read_committed"), ends(bootstrap, topic, "read_uncommitted")
    log(f"after recovery: read_committed ends {rc_end}, read_uncommitted ends {ru_end}")
    check(all(lso < hw for lso, hw in zip(rc_end, ru_end)),
          "the open transaction holds the last stable offset of every partition it wrote")
    check(sorted(read_to_end(bootstrap, topic, "read_committed")) == sorted(committed),
          "read_committed sees the committed transaction only")
    check(sorted(read_to_end(bootstrap, topic, "read_uncommitted")) == sorted(committed | opened),
          "the open transaction's records survived the crash")

    # The coordinator replayed the open transaction and aborts it on timeout (its sweep runs every 10 s).
    t0 = time.time()
    while True:
        rc_end, ru_end = ends(bootstrap, topic, "read_committed"), ends(bootstrap, topic, "read_uncommitted")
        if rc_end == ru_end:
            break
        check(time.time() - t0 < 60, f"open transaction not aborted: LSO {rc_end}, HW {ru_end}")
        time.sleep(0.5)
    log(f"transaction ended {time.time() - t0:.1f}s after the checks; LSO = HW = {rc_end}")
    rc = read_to_end(bootstrap, topic, "read_committed")
    check(sorted(rc) == sorted(committed), f"read_committed after the abort: {len(rc)} records")

    try:
        p.commit_transaction(30)
        raise AssertionError("the timed-out transaction committed")
    except KafkaException as e:
        err = e.args[0]
        log(f"old producer's commit: {err}")
        check(err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                            KafkaError.INVALID_PRODUCER_EPOCH, KafkaError.INVALID_TXN_STATE)
              or err.txn_requires_abort(), f"a commit after the coordinator's abort must fail: {err}")

    second = transactional(bootstrap, txn_id)
    second.init_transactions(30)
    second.begin_transaction()
    after = send(second, topic, "after", 30)
    second.commit_transaction(30)
    rc = read_to_end(bootstrap, topic, "read_committed")
    check(sorted(rc) == sorted(committed | after), "read_committed: both committed transactions, nothing else")
    log(f"ok: {len(rc)} committed records; the {len(opened)} open ones never visible to read_committed")
    broker("stop", NAME)


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run([BROKER, "stop", NAME], capture_output=True)
