"""auto.offset.reset for a group with no committed offsets: a new group with "latest" starts at the end of
each partition and sees only records produced after it joined; a new group with "earliest" sees everything."""
# timeout: 120
from _common import *

PARTS, OLD, NEW = 3, 60, 30


def member(g, reset):
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": g, "auto.offset.reset": reset,
                     "enable.auto.commit": False, "session.timeout.ms": 10000})


def values(ms):
    return [m.value() for m in ms]


def vals(a, b):
    return {f"v{i}".encode() for i in range(a, b)}


def drain(c, seconds):
    out = []
    end = time.time() + seconds
    while time.time() < end:
        for m in c.consume(num_messages=1000, timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            out.append(m)
    return out


def body():
    a = admin()
    t = topic("grp-reset")
    create_topic(a, t, PARTS)
    p = producer()
    produce_all(p, [dict(topic=t, partition=i % PARTS, value=f"v{i}".encode()) for i in range(OLD)])

    latest = member(t + "-latest", "latest")
    latest.subscribe([t])
    got = []
    deadline = time.time() + 60
    while len(latest.assignment()) != PARTS:
        check(time.time() < deadline, f"latest group: assignment {latest.assignment()}")
        got += drain(latest, 0.2)
    # librdkafka resolves "latest" with ListOffsets right after the assignment: give it time to start fetching.
    got += drain(latest, 3)
    check_eq([], values(got), "records the latest group saw before new ones were produced")
    produce_all(p, [dict(topic=t, partition=i % PARTS, value=f"v{i}".encode()) for i in range(OLD, OLD + NEW)])
    got += consume_n(latest, NEW, 30)
    got += drain(latest, 2)
    check_eq(NEW, len(got), "records seen by the latest group")
    check_eq(vals(OLD, OLD + NEW), set(values(got)), "values seen by the latest group")
    latest.close()

    earliest = member(t + "-earliest", "earliest")
    earliest.subscribe([t])
    got = consume_n(earliest, OLD + NEW, 60)
    got += drain(earliest, 2)
    check_eq(OLD + NEW, len(got), "records seen by the earliest group")
    check_eq(vals(0, OLD + NEW), set(values(got)), "values seen by the earliest group")
    earliest.close()


run("group-offset-reset", body)
