"""Consumer group round trip: subscribe, read everything, commit; a new member of the same group resumes
after the committed offsets and sees only new records."""
# timeout: 120
from _common import *


def member(g):
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": 10000})


def body():
    a = admin()
    t = topic("grp")
    g = t + "-g"
    create_topic(a, t, 3)
    p = producer()
    produce_all(p, [dict(topic=t, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(300)])
    c = member(g)
    c.subscribe([t])
    got = consume_n(c, 300, 60)
    check_eq({f"v{i}".encode() for i in range(300)}, {m.value() for m in got}, "values read by the group")
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(t, i) for i in range(3)], timeout=10)
    check_eq(300, sum(tp.offset for tp in committed), "sum of committed offsets")
    c.close()
    produce_all(p, [dict(topic=t, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(300, 310)])
    c = member(g)
    c.subscribe([t])
    got = consume_n(c, 10, 60)
    check_eq({f"v{i}".encode() for i in range(300, 310)}, {m.value() for m in got}, "values read after rejoining")
    c.close()


run("group-round-trip", body)
