"""Topic create / describe / delete via KafkaAdminClient with Apache Kafka's error codes."""
# timeout: 90
from _common import *


def create_err(a, name, partitions=1, rf=1, **kw):
    try:
        a.create_topics({name: {"num_partitions": partitions, "replication_factor": rf}}, **kw)
        return None
    except Errors.KafkaError as e:
        return type(e)


def body():
    a = admin()
    t = topic("admin")
    create_topic(a, t, 4)
    d = [x for x in a.describe_topics([t]) if x["name"] == t][0]
    log(f"described {d}")
    check_eq(4, len(d["partitions"]), "partition count")
    for p in d["partitions"]:
        check_eq([p["leader_id"]], p["replica_nodes"], "replicas")
        check_eq([p["leader_id"]], p["isr_nodes"], "isr")
    check_eq(Errors.TopicAlreadyExistsError, create_err(a, t), "duplicate create")
    for bad in ["bad/name", "bad name", "..", "x" * 250]:
        check_eq(Errors.InvalidTopicError, create_err(a, bad), f"create {bad[:20]!r}")
    check_eq(Errors.InvalidReplicationFactorError, create_err(a, topic("rf"), 1, 3), "replication factor 3")
    check_eq(Errors.InvalidPartitionsError, create_err(a, topic("zero"), 0, 1), "0 partitions")
    a.delete_topics([t])
    deadline = time.time() + 15
    while t in a.list_topics():
        check(time.time() < deadline, "deleted topic still listed after 15 s")
        time.sleep(0.1)
    try:
        a.delete_topics([t])
        raise AssertionError("deleting a deleted topic must fail")
    except Errors.UnknownTopicOrPartitionError:
        pass
    create_topic(a, t, 2)


run("topic-admin", body)
