"""A position past the log end is handled by auto.offset.reset: earliest, latest, or an error."""
# timeout: 90
from _common import *


def body():
    a = admin()
    t = topic("oor")
    create_topic(a, t, 1)
    p = producer()
    produce_all(p, [dict(topic=t, partition=0, value=f"v{i}".encode()) for i in range(10)])

    c = consumer(**{"auto.offset.reset": "earliest"})
    c.assign([TopicPartition(t, 0, 1000)])
    got = consume_n(c, 10)
    check_eq((0, b"v9"), (got[0].offset(), got[9].value()), "earliest: first offset / last value")
    c.close()

    c = consumer(**{"auto.offset.reset": "latest"})
    c.assign([TopicPartition(t, 0, 1000)])
    # librdkafka's position() stays INVALID until a record is consumed: give the reset (logged by librdkafka
    # as "offset reset ... to offset END") three seconds of polling, during which nothing may arrive.
    end = time.time() + 3
    while time.time() < end:
        check(not [m for m in c.consume(10, 0.2) if not m.error()], "latest: nothing expected before the new record")
    produce_all(p, [dict(topic=t, partition=0, value=b"v10")])
    m = consume_n(c, 1)[0]
    check_eq(10, m.offset(), "latest: offset of the new record")
    c.close()

    c = consumer(**{"auto.offset.reset": "error"})
    c.assign([TopicPartition(t, 0, 1000)])
    deadline = time.time() + 15
    err = None
    while err is None and time.time() < deadline:
        for m in c.consume(10, 0.2):
            check(m.error() is not None, "error: no records expected")
            err = m.error()
    check(err is not None, "auto.offset.reset=error: expected an error within 15 s")
    check_eq(KafkaError._AUTO_OFFSET_RESET, err.code(), f"error code ({err})")
    log(f"reset=error -> {err}")
    c.close()


run("out-of-range", body)
