"""Three consumers of one group polled in turn from one thread, six partitions: the group settles within a
few seconds (each member owns two partitions, together all six) and stays settled (no further rebalance)."""
# timeout: 90
from _common import *

PARTITIONS = 6
SETTLE_S = 15
STAY_S = 8


def member(g):
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=g, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000)


def assignments(cs):
    return [sorted(tp.partition for tp in c.assignment()) for c in cs]


def settled(parts):
    flat = sorted(p for ps in parts for p in ps)
    return flat == list(range(PARTITIONS)) and all(len(ps) == PARTITIONS // 3 for ps in parts)


def generations(cs):
    # kafka-python keeps the generation it last joined with on its coordinator.
    return [c._coordinator._generation.generation_id for c in cs]


def body():
    a = admin()
    t = topic("one-thread")
    g = t + "-g"
    create_topic(a, t, PARTITIONS)
    cs = [member(g) for _ in range(3)]
    for c in cs:
        c.subscribe([t])
    start = time.time()
    parts = assignments(cs)
    while time.time() - start < SETTLE_S:
        for c in cs:
            c.poll(timeout_ms=50)
        parts = assignments(cs)
        if settled(parts) and len(set(generations(cs))) == 1:
            break
    took = time.time() - start
    check(settled(parts), f"group did not settle within {SETTLE_S} s: {parts}")
    gens = generations(cs)
    log(f"settled after {took:.1f} s: {parts}, generation {gens[0]}")
    # Stays settled: no member rejoins, so the generation does not move.
    until = time.time() + STAY_S
    while time.time() < until:
        for c in cs:
            c.poll(timeout_ms=50)
    check_eq(parts, assignments(cs), f"assignments {STAY_S} s later")
    check_eq(gens, generations(cs), f"generations {STAY_S} s later")
    for c in cs:
        c.close()


run("group-three-in-one-thread", body)
