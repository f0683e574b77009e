"""Round trip: keys, headers (repeated, empty, null values), null keys / values, binary data, explicit
timestamps and a 900 KB value; offsets contiguous from 0."""
# timeout: 90
from confluent_kafka import TIMESTAMP_CREATE_TIME
from _common import *


def body():
    a = admin()
    t = topic("roundtrip")
    create_topic(a, t, 1)
    ts = int(time.time() * 1000) - 3_600_000
    rnd = random.Random(42)
    big = bytes(rnd.randrange(256) for _ in range(900 * 1024))
    binary = bytes(range(256))
    want = [
        dict(key=b"key-1", value=b"value-1", headers=[("h", b"first"), ("h", b"second"), ("empty", b""), ("null-value", None), ("utf8-\u00fc", "\u00e9t\u00e9".encode())]),
        dict(key=None, value=b"null key"),
        dict(key=b"tombstone", value=None),
        dict(key=None, value=None),
        dict(key=b"", value=b""),
        dict(key=binary, value=binary),
        dict(key=b"big", value=big),
        dict(key=b"after-big", value=b"v", headers=[("k", b"v")]),
    ]
    for i, r in enumerate(want):
        r.update(topic=t, partition=0, timestamp=ts + i)
    p = producer(**{"message.max.bytes": 2 * 1024 * 1024, "linger.ms": 0})
    delivered = produce_all(p, want)
    for i, m in enumerate(delivered):
        check_eq((0, i), (m.partition(), m.offset()), f"partition/offset of record {i}")

    c = consumer()
    low, high = c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)
    check_eq((0, len(want)), (low, high), "watermarks")
    c.assign([TopicPartition(t, 0, 0)])
    got = consume_n(c, len(want))
    for i, (w, m) in enumerate(zip(want, got)):
        check_eq(i, m.offset(), "offset")
        check_eq(w["key"], m.key(), f"key of {i}")
        check(w["value"] == m.value(), f"value of {i} differs (len {len(w['value'] or b'')} vs {len(m.value() or b'')})")
        check_eq(w.get("headers"), m.headers(), f"headers of {i}")
        check_eq((TIMESTAMP_CREATE_TIME, w["timestamp"]), m.timestamp(), f"timestamp of {i}")
    check(not [m for m in c.consume(10, 0.5) if not m.error()], "unexpected extra records")
    # The high watermark librdkafka caches comes from Fetch responses (not ListOffsets): Kafka reports the
    # log end of a fully replicated partition, so it equals the number of records.
    check_eq((0, len(want)), c.get_watermark_offsets(TopicPartition(t, 0), cached=True), "cached watermarks from Fetch")
    c.close()


run("round-trip", body)
