"""Consumer group round trip: subscribe, read all, commit; a new member resumes after the commits."""
# timeout: 120
from _common import *


def member(g):
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=g, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000)


def body():
    a = admin()
    t = topic("grp")
    g = t + "-g"
    create_topic(a, t, 3)
    p = producer()
    send_all(p, [dict(topic=t, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(300)])
    c = member(g)
    c.subscribe([t])
    got = poll_n(c, 300, 60)
    check_eq({f"v{i}".encode() for i in range(300)}, {r.value for r in got}, "values read by the group")
    c.commit()
    check_eq(300, sum(c.committed(TopicPartition(t, i)) or 0 for i in range(3)), "sum of committed offsets")
    c.close()
    send_all(p, [dict(topic=t, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(300, 310)])
    c = member(g)
    c.subscribe([t])
    got = poll_n(c, 10, 60)
    check_eq({f"v{i}".encode() for i in range(300, 310)}, {r.value for r in got}, "values after rejoining")
    c.close()


run("group-round-trip", body)
