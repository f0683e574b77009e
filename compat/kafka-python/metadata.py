"""Metadata: one broker at the bootstrap address; created topics are listed."""
# timeout: 60
from _common import *


def body():
    a = admin()
    host, port = BOOTSTRAP.rsplit(":", 1)
    cl = a.describe_cluster()
    log(f"cluster {cl}")
    check_eq(1, len(cl["brokers"]), "number of brokers")
    b = cl["brokers"][0]
    check_eq((host, int(port)), (b["host"], b["port"]), "broker address")
    check(cl.get("cluster_id"), "cluster id")
    t1, t2 = topic("meta-a"), topic("meta-b")
    create_topic(a, t1, 1)
    create_topic(a, t2, 3)
    names = a.list_topics()
    check(t1 in names and t2 in names, f"topics missing from {names}")
    c = consumer()
    check_eq({0, 1, 2}, c.partitions_for_topic(t2), "partitions_for_topic")
    check(t1 in c.topics(), "consumer.topics()")
    c.close()


run("metadata", body)
