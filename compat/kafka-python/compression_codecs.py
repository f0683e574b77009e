"""Every codec round-trips in its own topic, and all five mixed batch by batch in one partition."""
# timeout: 120
from _common import *


def verify(t, want, what):
    got = read_all(t, 0)
    check_eq(len(want), len(got), f"{what}: record count")
    for i, (w, r) in enumerate(zip(want, got)):
        check_eq(i, r.offset, f"{what}: offset")
        check_eq((w["key"], w["value"]), (r.key, r.value), f"{what}: record {i}")


def body():
    a = admin()
    rnd = random.Random(7)
    producers = {c: producer(compression_type=c, linger_ms=20) for c in CODECS}
    for codec in CODECS:
        t = topic(f"comp-{codec}")
        create_topic(a, t, 1)
        want = [dict(topic=t, partition=0, key=f"{codec}-{i}".encode(), value=payload(rnd, 10 + rnd.randrange(500))) for i in range(1000)]
        send_all(producers[codec], want)
        verify(t, want, str(codec))
        log(f"{codec}: ok")
    t = topic("comp-mixed")
    create_topic(a, t, 1)
    want = []
    for round_i in range(4):
        for codec in CODECS:
            batch = [dict(topic=t, partition=0, key=f"{codec}-{round_i}-{i}".encode(), value=payload(rnd, 50 + rnd.randrange(200))) for i in range(50)]
            send_all(producers[codec], batch)
            want += batch
    verify(t, want, "mixed")


run("compression-codecs", body)
