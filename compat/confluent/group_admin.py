"""AdminClient groups: list / describe consumer groups, list / alter committed offsets, delete a group."""
# timeout: 120
from confluent_kafka import ConsumerGroupTopicPartitions
from _common import *


def body():
    a = admin()
    t = topic("grp-admin")
    g = t + "-g"
    create_topic(a, t, 2)
    produce_all(producer(), [dict(topic=t, partition=i % 2, value=f"v{i}".encode()) for i in range(20)])
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([t])
    consume_n(c, 20, 60)
    c.commit(offsets=[TopicPartition(t, 0, 7), TopicPartition(t, 1, 3)], asynchronous=False)
    listed = a.list_consumer_groups(request_timeout=30).result()
    check(g in [x.group_id for x in listed.valid], f"{g} not listed: {listed.valid} errors {listed.errors}")
    d = a.describe_consumer_groups([g], request_timeout=30)[g].result()
    log(f"described {d}")
    check_eq(1, len(d.members), "members")
    check_eq({(t, 0), (t, 1)}, {(x.topic, x.partition) for x in d.members[0].assignment.topic_partitions}, "assignment")
    c.close()
    r = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)], request_timeout=30)[g].result()
    check_eq({0: 7, 1: 3}, {x.partition: x.offset for x in r.topic_partitions}, "listed offsets")
    a.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(g, [TopicPartition(t, 0, 2)])], request_timeout=30)[g].result()
    r = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)], request_timeout=30)[g].result()
    check_eq({0: 2, 1: 3}, {x.partition: x.offset for x in r.topic_partitions}, "offsets after alter")
    a.delete_consumer_groups([g], request_timeout=30)[g].result()
    listed = a.list_consumer_groups(request_timeout=30).result()
    check(g not in [x.group_id for x in listed.valid], "deleted group still listed")


run("group-admin", body)
