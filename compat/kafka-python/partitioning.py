"""Key -> partition stickiness with kafka-python's default (murmur2) partitioner, matching the Java client."""
# timeout: 60
from kafka.partitioner.default import murmur2
from _common import *


def body():
    a = admin()
    t = topic("part")
    create_topic(a, t, 6)
    recs = [dict(topic=t, key=f"user-{k}".encode(), value=f"r{r}".encode()) for r in range(5) for k in range(60)]
    md = send_all(producer(), recs)
    where, per_part = {}, {}
    for r, m in zip(recs, md):
        where.setdefault(r["key"], set()).add(m.partition)
        per_part.setdefault(m.partition, []).append(r["key"])
    for k, ps in where.items():
        check_eq(1, len(ps), f"partitions used by {k}")
        check_eq((murmur2(k) & 0x7FFFFFFF) % 6, next(iter(ps)), f"partition of {k}")
    for part in range(6):
        check_eq(per_part.get(part, []), [r.key for r in read_all(t, part)], f"keys in partition {part}")


run("partitioning", body)
