"""KIP-848 with librdkafka (group.protocol=consumer): three members share six partitions disjointly and
completely; with synchronous commits, a member that leaves hands its partitions over and every record is
read exactly once; a static member (group.instance.id) restarts and gets its partitions back while the
other member sees no rebalance; a regex subscription picks up a topic created later."""
# timeout: 150
from _common import *

PARTS = 6


def member(g, **conf):
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "group.protocol": "consumer",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False, **conf})


def owned(c):
    return {(tp.topic, tp.partition) for tp in c.assignment()}


def poll_all(cs, seen, who):
    for i, c in enumerate(cs):
        msgs = c.consume(num_messages=500, timeout=0.1)
        n = 0
        for m in msgs:
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            v = m.value().decode()
            check(v not in seen, f"record {v} read twice (by {who[i]} and {seen.get(v)})")
            seen[v] = who[i]
            n += 1
        if n:
            c.commit(asynchronous=False)


def wait_for(cs, what, cond, seen=None, timeout=60):
    deadline = time.time() + timeout
    seen = {} if seen is None else seen
    while not cond():
        check(time.time() < deadline, f"{what}: assignments {[sorted(owned(c)) for c in cs]}")
        poll_all(cs, seen, list(range(len(cs))))


def share_and_hand_over(a):
    t = topic("grp-848")
    g = t + "-g"
    create_topic(a, t, PARTS)
    cs = [member(g) for _ in range(3)]
    for c in cs:
        c.subscribe([t])

    def disjoint_and_complete():
        sets = [owned(c) for c in cs]
        union = set().union(*sets)
        return sum(len(s) for s in sets) == len(union) == PARTS and all(len(s) == 2 for s in sets)

    seen = {}
    wait_for(cs, "3 members share 6 partitions", disjoint_and_complete, seen)
    log(f"assignments: {[sorted(owned(c)) for c in cs]}")
    p = producer()
    produce_all(p, [dict(topic=t, partition=i % PARTS, value=f"v{i}".encode()) for i in range(600)])
    wait_for(cs, "first 300 records", lambda: len(seen) >= 300, seen)
    cs.pop(0).close()
    wait_for(cs, "2 members take over all 6 partitions and read the rest",
             lambda: len(seen) == 600 and len(owned(cs[0]) | owned(cs[1])) == PARTS
             and not (owned(cs[0]) & owned(cs[1])), seen)
    log(f"after leave: {[sorted(owned(c)) for c in cs]}; read {len(seen)} records once each")
    for c in cs:
        c.close()


def static_restart(a):
    t = topic("grp-848-static")
    g = t + "-g"
    create_topic(a, t, 4)
    events = []
    other = member(g)
    other.subscribe([t], on_assign=lambda c, ps: events.append(("assign", len(ps))),
                    on_revoke=lambda c, ps: events.append(("revoke", len(ps))))
    s = member(g, **{"group.instance.id": "static-1"})
    s.subscribe([t])
    wait_for([other, s], "static member and other share 4", lambda: len(owned(other)) == 2 and len(owned(s)) == 2)
    before = owned(s)
    settled = list(events)
    s.close()
    s2 = member(g, **{"group.instance.id": "static-1"})
    s2.subscribe([t])
    wait_for([other, s2], "restarted static member owns its partitions", lambda: owned(s2) == before)
    for _ in range(20):
        poll_all([other, s2], {}, ["other", "s2"])
    check_eq(settled, events, "the other member's rebalance callbacks across the static restart")
    check_eq(2, len(owned(other)), "other member keeps its partitions")
    other.close()
    s2.close()


def regex_later_topic(a):
    prefix = topic("rx")
    t1 = prefix + "-a"
    create_topic(a, t1, 2)
    c = member(prefix + "-g", **{"topic.metadata.refresh.interval.ms": 1000})
    c.subscribe([f"^{prefix}-.*"])
    wait_for([c], "regex member gets the first topic", lambda: {tp for tp, _ in owned(c)} == {t1})
    t2 = prefix + "-b"
    create_topic(a, t2, 3)
    wait_for([c], "regex member picks up the later topic", lambda: len(owned(c)) == 5, timeout=60)
    log(f"regex assignment: {sorted(owned(c))}")
    c.close()


def body():
    a = admin()
    share_and_hand_over(a)
    static_restart(a)
    regex_later_topic(a)


if __name__ == "__main__":
    run("group-consumer-protocol", body)
