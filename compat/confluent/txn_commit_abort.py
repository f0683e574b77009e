"""Transactions from librdkafka: a transactional producer commits, aborts and commits again across three
partitions; a read_committed consumer sees exactly the committed records (checked by content) and never
an aborted one, a read_uncommitted consumer sees all of them, and control records reach neither. While a
transaction is open, read_committed stops at the last stable offset. A second producer with the same
transactional.id fences the first, whose open transaction is aborted.
"""
# timeout: 120
import uuid

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

import _common as c

PARTITIONS = 3


def transactional(txn_id):
    return Producer({
        "bootstrap.servers": c.BOOTSTRAP,
        "transactional.id": txn_id,
        "linger.ms": 5,
    })


def send(p, t, tag, n):
    for i in range(n):
        while True:
            try:
                p.produce(t, key=f"k{i}".encode(), value=f"{tag}-{i}".encode(), partition=i % PARTITIONS)
                break
            except BufferError:
                p.poll(0.05)
    return {f"{tag}-{i}" for i in range(n)}


def read_to_end(t, isolation):
    """Every value in the topic up to each partition's end as `isolation` sees it."""
    cons = c.consumer(**{"isolation.level": isolation, "enable.partition.eof": True})
    try:
        cons.assign([TopicPartition(t, p, 0) for p in range(PARTITIONS)])
        values, eof = [], set()
        while len(eof) < PARTITIONS:
            for m in cons.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                        continue
                    raise KafkaException(m.error())
                values.append(m.value().decode())
        return values
    finally:
        cons.close()


def body():
    a = c.admin()
    t = c.topic("txn-ca")
    c.create_topic(a, t, PARTITIONS)
    txn_id = f"confluent-ca-{uuid.uuid4().hex[:8]}"
    p = transactional(txn_id)
    p.init_transactions(30)

    p.begin_transaction()
    committed = send(p, t, "commit1", 300)
    p.commit_transaction(30)
    p.begin_transaction()
    aborted = send(p, t, "abort", 300)
    p.flush(30)
    # The aborted records are in the log now, the transaction still open: read_committed stops at the LSO.
    open_view = read_to_end(t, "read_committed")
    c.check_eq(sorted(committed), sorted(open_view), "read_committed while a transaction is open")
    p.abort_transaction(30)
    p.begin_transaction()
    committed |= send(p, t, "commit2", 150)
    p.commit_transaction(30)

    rc = read_to_end(t, "read_committed")
    c.check_eq(len(rc), len(set(rc)), "no duplicates")
    c.check_eq(sorted(committed), sorted(rc), "read_committed sees exactly the committed records")
    ru = read_to_end(t, "read_uncommitted")
    c.check_eq(sorted(committed | aborted), sorted(ru), "read_uncommitted sees every record")
    c.log(f"read_committed {len(rc)} records, read_uncommitted {len(ru)}")

    # Fencing: a new instance aborts the old one's open transaction and fences it.
    p.begin_transaction()
    zombie = send(p, t, "zombie", 30)
    p.flush(30)
    second = transactional(txn_id)
    second.init_transactions(30)
    try:
        p.commit_transaction(30)
        raise AssertionError("the fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        c.log(f"fenced producer: {err}")
        c.check(err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                              KafkaError.INVALID_PRODUCER_EPOCH),
                f"fenced commit fails fatally: {err}")
    second.begin_transaction()
    committed |= send(second, t, "second", 30)
    second.commit_transaction(30)
    rc = read_to_end(t, "read_committed")
    c.check(not (set(rc) & zombie), "the fenced producer's open transaction was aborted")
    c.check_eq(sorted(committed), sorted(rc), "read_committed after fencing")


if __name__ == "__main__":
    c.run("txn-commit-abort", body)
