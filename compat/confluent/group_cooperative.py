"""Cooperative-sticky rebalancing (librdkafka): a second member joining a group on a 4-partition topic makes
the first give up only the 2 partitions that move (on_revoke gets an incremental list of 2, never all 4),
the first keeps 2 of its original partitions, the second gets the 2 revoked ones, and every record produced
before and after the rebalance is consumed exactly once by the group."""
# timeout: 150
from _common import *

PARTS = 4


def member(g, name, events):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
                  "partition.assignment.strategy": "cooperative-sticky"})

    def on_assign(consumer, parts):
        events.append(("assign", sorted(p.partition for p in parts)))
        log(f"{name} on_assign {sorted(p.partition for p in parts)}")

    def on_revoke(consumer, parts):
        events.append(("revoke", sorted(p.partition for p in parts)))
        log(f"{name} on_revoke {sorted(p.partition for p in parts)}")

    def on_lost(consumer, parts):
        events.append(("lost", sorted(p.partition for p in parts)))
        log(f"{name} on_lost {sorted(p.partition for p in parts)}")

    return c, on_assign, on_revoke, on_lost


def poll_batch(c, got):
    ms = c.consume(num_messages=1000, timeout=0.2)
    n = 0
    for m in ms:
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(m.error())
        got.append(m.value())
        n += 1
    if n:
        c.commit(asynchronous=False)


def body():
    a = admin()
    t = topic("grp-coop")
    g = t + "-g"
    create_topic(a, t, PARTS)
    p = producer()
    produce_all(p, [dict(topic=t, partition=i % PARTS, value=f"v{i}".encode()) for i in range(400)])

    ev1, ev2 = [], []
    c1, as1, rv1, lo1 = member(g, "c1", ev1)
    c1.subscribe([t], on_assign=as1, on_revoke=rv1, on_lost=lo1)
    got = []
    deadline = time.time() + 60
    while len(got) < 400 or len(c1.assignment()) != PARTS:
        check(time.time() < deadline, f"c1 alone: {len(got)} of 400 records, assignment {c1.assignment()}")
        poll_batch(c1, got)
    first = {tp.partition for tp in c1.assignment()}
    check_eq(set(range(PARTS)), first, "c1's first assignment")
    log(f"c1 alone owns {sorted(first)} and read {len(got)} records; c2 joins")

    c2, as2, rv2, lo2 = member(g, "c2", ev2)
    c2.subscribe([t], on_assign=as2, on_revoke=rv2, on_lost=lo2)
    deadline = time.time() + 60
    while not (len(c1.assignment()) == 2 and len(c2.assignment()) == 2):
        check(time.time() < deadline,
              f"no 2/2 split: c1 {c1.assignment()} c2 {c2.assignment()}; events c1 {ev1} c2 {ev2}")
        poll_batch(c1, got)
        poll_batch(c2, got)
    own1 = {tp.partition for tp in c1.assignment()}
    own2 = {tp.partition for tp in c2.assignment()}
    log(f"split: c1 {sorted(own1)} c2 {sorted(own2)}; events c1 {ev1} c2 {ev2}")
    check_eq(set(), own1 & own2, "partitions owned by both")
    check_eq(set(range(PARTS)), own1 | own2, "partitions owned by the group")
    check(own1 <= first, f"c1 kept {own1}, not a subset of its original {first}")

    # Incremental callbacks: c1 was assigned all 4 once, then revoked exactly the 2 that moved, never lost any;
    # any later on_assign of c1 adds nothing (empty incremental list). c2 was assigned exactly the revoked 2.
    check_eq(("assign", list(range(PARTS))), ev1[0], "c1's first event")
    revoked = [x for kind, ps in ev1 if kind == "revoke" for x in ps]
    check_eq(sorted(first - own1), sorted(revoked), "partitions revoked from c1 (incremental)")
    check(not [e for e in ev1 + ev2 if e[0] == "lost"], f"partitions reported lost: c1 {ev1} c2 {ev2}")
    check_eq([], [x for kind, ps in ev1[1:] if kind == "assign" for x in ps], "partitions newly assigned to c1 after the first")
    check_eq(sorted(own2), sorted(x for kind, ps in ev2 if kind == "assign" for x in ps), "partitions assigned to c2")
    check_eq([], [e for e in ev2 if e[0] == "revoke"], "revocations of c2")

    produce_all(p, [dict(topic=t, partition=i % PARTS, value=f"v{i}".encode()) for i in range(400, 800)])
    deadline = time.time() + 60
    while len(got) < 800:
        check(time.time() < deadline, f"{len(got)} of 800 records consumed")
        poll_batch(c1, got)
        poll_batch(c2, got)
    end = time.time() + 3  # keep polling: duplicates would show up here
    while time.time() < end:
        poll_batch(c1, got)
        poll_batch(c2, got)
    dups = sorted({v for v in got if got.count(v) > 1})[:10]
    check_eq([], dups, "records consumed more than once")
    check_eq({f"v{i}".encode() for i in range(800)}, set(got), "records consumed by the group")
    c1.close()
    c2.close()


run("group-cooperative", body)
