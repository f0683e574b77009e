"""Offsets contiguous from 0; watermarks; offsets_for_times (ListOffsets by timestamp) incl. past the end."""
# timeout: 60
from confluent_kafka.admin import OffsetSpec
from _common import *


def body():
    a = admin()
    t = topic("offsets")
    create_topic(a, t, 2)
    base = int(time.time() * 1000) - 600_000
    out = produce_all(producer(), [dict(topic=t, partition=0, key=f"k{i}".encode(), value=f"v{i}".encode(), timestamp=base + i * 1000) for i in range(10)])
    check_eq(list(range(10)), [m.offset() for m in out], "acked offsets")
    c = consumer()
    check_eq((0, 10), c.get_watermark_offsets(TopicPartition(t, 0), timeout=10), "watermarks p0")
    check_eq((0, 0), c.get_watermark_offsets(TopicPartition(t, 1), timeout=10), "watermarks p1")
    for ts, want in [(base + 1500, 2), (base - 5000, 0), (base + 9000, 9), (base + 9001, -1)]:
        r = c.offsets_for_times([TopicPartition(t, 0, ts)], timeout=10)[0]
        check(r.error is None, f"offsets_for_times error {r.error}")
        check_eq(want, r.offset, f"offsets_for_times({ts - base:+d})")
    r = c.offsets_for_times([TopicPartition(t, 1, base)], timeout=10)[0]
    check_eq(-1, r.offset, "offsets_for_times on an empty partition")
    c.close()
    check_eq(list(range(10)), [m.offset() for m in read_all(t, 0)], "read offsets")
    res = a.list_offsets({TopicPartition(t, 0): OffsetSpec.earliest(), TopicPartition(t, 1): OffsetSpec.latest()}, request_timeout=30)
    got = {tp.partition: f.result().offset for tp, f in res.items()}
    check_eq({0: 0, 1: 0}, got, "admin earliest p0 / latest p1")
    res = a.list_offsets({TopicPartition(t, 0): OffsetSpec.for_timestamp(base + 3500)}, request_timeout=30)
    info = list(res.values())[0].result()
    check_eq((4, base + 4000), (info.offset, info.timestamp), "admin for_timestamp")
    res = a.list_offsets({TopicPartition(t, 0): OffsetSpec.max_timestamp()}, request_timeout=30)
    info = list(res.values())[0].result()
    check_eq((9, base + 9000), (info.offset, info.timestamp), "admin max_timestamp")


run("list-offsets", body)
