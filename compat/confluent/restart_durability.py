"""Acknowledged records (acks=all) survive a clean broker restart and a SIGKILL; offsets continue
contiguously afterwards; the idempotent producer keeps working across the restarts."""
# timeout: 120
import subprocess
from _common import *


def produce(t, lo, hi):
    p = producer(**{"enable.idempotence": True, "acks": "all"})
    out = produce_all(p, [dict(topic=t, partition=i % 3, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(lo, hi)])
    check(all(m.error() is None for m in out), "delivery errors")


def verify(t, n, when):
    values = []
    for part in range(3):
        recs = read_all(t, part)
        check_eq(list(range(len(recs))), [m.offset() for m in recs], f"{when}: offsets of partition {part}")
        values += [m.value() for m in recs]
    check_eq(sorted(f"v{i}".encode() for i in range(n)), sorted(values), f"{when}: values")


def body():
    a = admin()
    t = topic("durable")
    create_topic(a, t, 3)
    produce(t, 0, 3000)
    subprocess.run(os.environ["WEIR_RESTART"], shell=True, check=True)
    wait_topic(admin(), t, 3)
    verify(t, 3000, "after clean restart")
    produce(t, 3000, 6000)
    subprocess.run(os.environ["WEIR_CRASH_RESTART"], shell=True, check=True)
    wait_topic(admin(), t, 3)
    verify(t, 6000, "after SIGKILL restart")
    produce(t, 6000, 6300)
    verify(t, 6300, "after producing again")


run("restart-durability", body)
