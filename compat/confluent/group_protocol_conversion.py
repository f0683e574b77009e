"""librdkafka (confluent-kafka) across a group's protocol changes, as Kafka 4 does them whatever
group.consumer.migration.policy says: a classic group whose member left becomes a consumer (KIP-848)
group when a group.protocol=consumer member joins, and a classic group again once that member left and a
classic member joins. Committed offsets stay with the group id: each member starts where the previous
one committed, and the admin client's describe shows the group's type."""
# timeout: 120
from _common import *
from confluent_kafka import ConsumerGroupType


def member(g, protocol):
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "group.protocol": protocol,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})


def first_offsets(c, t, timeout=60):
    """Polls until a record of each partition arrived; the first offset read on each."""
    first = {}
    deadline = time.time() + timeout
    while len(first) < 2:
        check(time.time() < deadline, f"timed out; first offsets so far {first}")
        for m in c.consume(num_messages=100, timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            first.setdefault(m.partition(), m.offset())
    return first


def step(a, g, t, protocol, expected, commit, group_type):
    c = member(g, protocol)
    c.subscribe([t])
    check_eq(expected, first_offsets(c, t), f"{protocol} member's first offsets")
    d = a.describe_consumer_groups([g])[g].result(timeout=30)
    check_eq(group_type, d.type, f"group type while a {protocol} member is in it")
    if commit:
        c.commit(offsets=[TopicPartition(t, p, o) for p, o in commit.items()], asynchronous=False)
    c.close()


def body():
    a = admin()
    t = topic("grp-convert")
    g = t + "-g"
    create_topic(a, t, 2)
    p = producer()
    produce_all(p, [{"topic": t, "partition": i % 2, "value": f"v{i}".encode()} for i in range(20)])
    step(a, g, t, "classic", {0: 0, 1: 0}, {0: 3, 1: 4}, ConsumerGroupType.CLASSIC)
    step(a, g, t, "consumer", {0: 3, 1: 4}, {0: 5, 1: 6}, ConsumerGroupType.CONSUMER)
    step(a, g, t, "classic", {0: 5, 1: 6}, None, ConsumerGroupType.CLASSIC)


if __name__ == "__main__":
    run("group-protocol-conversion", body)
