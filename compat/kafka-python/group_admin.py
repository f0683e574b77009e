"""KafkaAdminClient groups: list / describe groups, list / alter / delete committed offsets, delete groups."""
# timeout: 120
from kafka.structs import OffsetAndMetadata
from _common import *


def body():
    a = admin()
    t = topic("grp-admin")
    g = t + "-g"
    create_topic(a, t, 2)
    send_all(producer(), [dict(topic=t, partition=i % 2, value=f"v{i}".encode()) for i in range(20)])
    p0, p1 = TopicPartition(t, 0), TopicPartition(t, 1)
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=g, auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([t])
    poll_n(c, 20, 60)
    c.commit({p0: OffsetAndMetadata(7, "", -1), p1: OffsetAndMetadata(3, "", -1)})
    listed = a.list_groups()
    log(f"groups: {listed}")
    check(g in str(listed), f"{g} not listed")
    described = a.describe_groups([g])
    log(f"described: {described}")
    check(g in str(described), "describe_groups")
    c.close()
    offs = a.list_group_offsets({g: None})
    log(f"offsets: {offs}")
    check_eq({p0: 7, p1: 3}, {tp: o.offset for tp, o in offs[g].items()}, "listed offsets")
    a.alter_group_offsets(g, {p0: OffsetAndMetadata(2, "moved", -1)})
    offs = a.list_group_offsets({g: None})
    check_eq((2, "moved"), (offs[g][p0].offset, offs[g][p0].metadata), "p0 after alter")
    a.delete_group_offsets(g, [p1])
    offs = a.list_group_offsets({g: None})
    check(p1 not in offs[g] or offs[g][p1] is None or offs[g][p1].offset == -1, f"p1 after delete: {offs}")
    a.delete_groups([g])
    check(g not in str(a.list_groups()), "deleted group still listed")


run("group-admin", body)
