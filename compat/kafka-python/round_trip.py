"""Round trip: keys, headers (kafka-python cannot send null header values), null keys / values, binary data, explicit timestamps, a 900 KB value."""
# timeout: 90
from _common import *


def body():
    a = admin()
    t = topic("roundtrip")
    create_topic(a, t, 1)
    ts = int(time.time() * 1000) - 3_600_000
    rnd = random.Random(42)
    big = rnd.randbytes(900 * 1024)
    want = [
        dict(key=b"key-1", value=b"value-1", headers=[("h", b"first"), ("h", b"second"), ("empty", b"")]),
        dict(key=None, value=b"null key"),
        dict(key=b"tombstone", value=None),
        dict(key=b"", value=b""),
        dict(key=bytes(range(256)), value=bytes(range(256))),
        dict(key=b"big", value=big),
        dict(key=b"after-big", value=b"v", headers=[("k", b"v")]),
    ]
    for i, r in enumerate(want):
        r.update(topic=t, partition=0, timestamp_ms=ts + i)
    md = send_all(producer(max_request_size=2 * 1024 * 1024), want)
    check_eq(list(range(len(want))), [m.offset for m in md], "acked offsets")
    got = read_all(t, 0)
    check_eq(len(want), len(got), "record count")
    for i, (w, r) in enumerate(zip(want, got)):
        check_eq(i, r.offset, "offset")
        check_eq(w["key"], r.key, f"key of {i}")
        check(w["value"] == r.value, f"value of {i} differs")
        check_eq(w.get("headers", []), list(r.headers or []), f"headers of {i}")
        check_eq(w["timestamp_ms"], r.timestamp, f"timestamp of {i}")
        check_eq(0, r.timestamp_type, f"timestamp type of {i}")


run("round-trip", body)
