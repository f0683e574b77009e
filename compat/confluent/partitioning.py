"""Key -> partition stickiness with librdkafka's default partitioner, and with murmur2_random the same
partition the Java client picks (murmur2(key) % partitions)."""
# timeout: 90
from _common import *


def murmur2(data):
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    i = 0
    while length - i >= 4:
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def body():
    a = admin()
    for partitioner in ["consistent_random", "murmur2_random"]:
        t = topic("part")
        create_topic(a, t, 6)
        p = producer(partitioner=partitioner)
        recs = [dict(topic=t, key=f"user-{k}".encode(), value=f"round-{r}".encode()) for r in range(5) for k in range(60)]
        out = produce_all(p, recs)
        where = {}
        per_part = {}
        for r, m in zip(recs, out):
            where.setdefault(r["key"], set()).add(m.partition())
            per_part.setdefault(m.partition(), []).append(r["key"])
        for k, ps in where.items():
            check_eq(1, len(ps), f"{partitioner}: partitions used by {k}")
            if partitioner == "murmur2_random":
                check_eq((murmur2(k) & 0x7FFFFFFF) % 6, next(iter(ps)), f"murmur2 partition of {k}")
        check_eq(6, len(per_part), f"{partitioner}: partitions used by 60 keys")
        for part in range(6):
            check_eq(per_part[part], [m.key() for m in read_all(t, part)], f"{partitioner}: keys in partition {part}")


run("partitioning", body)
