"""Offsets contiguous from 0; beginning / end offsets; offsets_for_times incl. before and after the data."""
# timeout: 60
from kafka.structs import OffsetAndTimestamp
from _common import *


def body():
    a = admin()
    t = topic("offsets")
    create_topic(a, t, 2)
    base = int(time.time() * 1000) - 600_000
    md = send_all(producer(), [dict(topic=t, partition=0, value=f"v{i}".encode(), timestamp_ms=base + i * 1000) for i in range(10)])
    check_eq(list(range(10)), [m.offset for m in md], "acked offsets")
    p0, p1 = TopicPartition(t, 0), TopicPartition(t, 1)
    c = consumer()
    check_eq({p0: 0, p1: 0}, c.beginning_offsets([p0, p1]), "beginning_offsets")
    check_eq({p0: 10, p1: 0}, c.end_offsets([p0, p1]), "end_offsets")
    r = c.offsets_for_times({p0: base + 1500, p1: base})
    check_eq(2, r[p0].offset, "offsets_for_times(+1500) offset")
    check_eq(base + 2000, r[p0].timestamp, "offsets_for_times(+1500) timestamp")
    check_eq(None, r[p1], "offsets_for_times on an empty partition")
    check_eq(0, c.offsets_for_times({p0: base - 1})[p0].offset, "offsets_for_times(before first)")
    check_eq(None, c.offsets_for_times({p0: base + 9001})[p0], "offsets_for_times(after last)")
    c.close()
    check_eq(list(range(10)), [r.offset for r in read_all(t, 0)], "read offsets")


run("list-offsets", body)
