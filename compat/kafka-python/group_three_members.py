"""Three consumers of one group, each polled from its own thread (`poll(timeout_ms=50)`), six partitions: the
group settles within a few seconds (two partitions each, all six covered, one generation) and stays settled.
With all three polled from one thread, kafka-python 3.0.12 itself drops join results (compat/FINDINGS.md)."""
# timeout: 90
import threading

from _common import *

PARTITIONS = 6
SETTLE_S = 15
STAY_S = 8


def member(g):
    return KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=g, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000)


def snapshot(cs):
    """(partitions per member, generation per member); kafka-python keeps the joined generation on its
    coordinator."""
    return ([sorted(tp.partition for tp in c.assignment()) for c in cs],
            [c._coordinator._generation.generation_id for c in cs])


def settled(parts, gens):
    flat = sorted(p for ps in parts for p in ps)
    return flat == list(range(PARTITIONS)) and all(len(ps) == PARTITIONS // 3 for ps in parts) \
        and len(set(gens)) == 1


def body():
    a = admin()
    t = topic("three")
    g = t + "-g"
    create_topic(a, t, PARTITIONS)
    cs = [member(g) for _ in range(3)]
    for c in cs:
        c.subscribe([t])
    stop = threading.Event()
    failures = []

    def loop(c):
        try:
            while not stop.is_set():
                c.poll(timeout_ms=50)
        except Exception as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in cs]
    for th in threads:
        th.start()
    try:
        start = time.time()
        parts, gens = snapshot(cs)
        while not settled(parts, gens) and time.time() - start < SETTLE_S:
            time.sleep(0.1)  # observing state the poll threads change; there is no event to await
            parts, gens = snapshot(cs)
        check(settled(parts, gens), f"group did not settle within {SETTLE_S} s: {parts} generations {gens}")
        log(f"settled after {time.time() - start:.1f} s: {parts}, generation {gens[0]}")
        stop.wait(STAY_S)
        check_eq((parts, gens), snapshot(cs), f"assignments and generations {STAY_S} s later")
        check(not failures, f"poll failed: {failures}")
    finally:
        stop.set()
        for th in threads:
            th.join(10)
        for c in cs:
            c.close()


run("group-three-members", body)
