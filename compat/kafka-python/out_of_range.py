"""A position past the log end is handled by auto_offset_reset: earliest, latest, or an error (none)."""
# timeout: 90
from _common import *


def body():
    a = admin()
    t = topic("oor")
    create_topic(a, t, 1)
    p = producer()
    send_all(p, [dict(topic=t, partition=0, value=f"v{i}".encode()) for i in range(10)])
    tp = TopicPartition(t, 0)

    c = consumer(auto_offset_reset="earliest")
    c.assign([tp])
    c.seek(tp, 1000)
    got = sorted(poll_n(c, 10), key=lambda r: r.offset)
    check_eq((0, b"v9"), (got[0].offset, got[9].value), "earliest: first offset / last value")
    c.close()

    c = consumer(auto_offset_reset="latest")
    c.assign([tp])
    c.seek(tp, 1000)
    deadline = time.time() + 15
    while True:
        check(not c.poll(timeout_ms=200), "latest: nothing expected before the new record")
        if c.position(tp) == 10:
            break
        check(time.time() < deadline, f"latest: position stuck at {c.position(tp)}")
    send_all(p, [dict(topic=t, partition=0, value=b"v10")])
    check_eq(10, poll_n(c, 1)[0].offset, "latest: offset of the new record")
    c.close()

    c = consumer(auto_offset_reset="none")
    c.assign([tp])
    c.seek(tp, 1000)
    deadline = time.time() + 15
    raised = None
    while raised is None and time.time() < deadline:
        try:
            check(not c.poll(timeout_ms=200), "none: no records expected")
        except Errors.OffsetOutOfRangeError as e:
            raised = e
    check(raised is not None, "auto_offset_reset=none: expected OffsetOutOfRangeError within 15 s")
    log(f"none -> {raised!r}")
    c.close()


run("out-of-range", body)
