"""Topic create / describe / delete through the AdminClient, with Apache Kafka's error codes."""
# timeout: 90
from confluent_kafka import TopicCollection
from _common import *


def create_err(a, name, partitions=1, rf=1, **kw):
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rf)], request_timeout=30, **kw)
    try:
        fs[name].result(timeout=30)
        return None
    except KafkaException as e:
        return e.args[0].code()


def body():
    a = admin()
    t = topic("admin")
    create_topic(a, t, 4)
    d = a.describe_topics(TopicCollection([t]), request_timeout=30)[t].result()
    log(f"described {d}")
    check_eq(t, d.name, "name")
    check(not d.is_internal, "internal")
    check_eq(4, len(d.partitions), "partition count")
    for i, p in enumerate(d.partitions):
        check_eq(i, p.id, "partition id")
        check(p.leader is not None, f"partition {i} leader")
        check_eq([p.leader.id], [r.id for r in p.replicas], f"replicas of {i}")
        check_eq([p.leader.id], [r.id for r in p.isr], f"isr of {i}")

    check_eq(KafkaError.TOPIC_ALREADY_EXISTS, create_err(a, t), "duplicate create")
    for bad in ["bad/name", "bad name", "..", ".", "x" * 250]:
        check_eq(KafkaError.TOPIC_EXCEPTION, create_err(a, bad), f"create {bad[:20]!r}")
    check_eq(KafkaError.INVALID_REPLICATION_FACTOR, create_err(a, topic("rf"), 1, 3), "replication factor 3")
    vo = topic("validate-only")
    check_eq(None, create_err(a, vo, validate_only=True), "validate_only create")
    check(vo not in a.list_topics(timeout=10).topics, "validate_only created the topic")

    fs = a.delete_topics([t], operation_timeout=30, request_timeout=30)
    fs[t].result(timeout=30)
    deadline = time.time() + 15
    while t in a.list_topics(timeout=10).topics:
        check(time.time() < deadline, "deleted topic still listed after 15 s")
        time.sleep(0.1)
    try:
        a.delete_topics([t], request_timeout=30)[t].result(timeout=30)
        raise AssertionError("deleting a deleted topic must fail")
    except KafkaException as e:
        check_eq(KafkaError.UNKNOWN_TOPIC_OR_PART, e.args[0].code(), "delete twice")
    create_topic(a, t, 2)


run("topic-admin", body)
