"""Every codec round-trips in its own topic, and all five mixed batch by batch in one partition."""
# timeout: 120
from _common import *


def verify(t, want, what):
    got = read_all(t, 0)
    check_eq(len(want), len(got), f"{what}: record count")
    for i, (w, m) in enumerate(zip(want, got)):
        check_eq(i, m.offset(), f"{what}: offset")
        check_eq((w["key"], w["value"], w.get("headers")), (m.key(), m.value(), m.headers()), f"{what}: record {i}")


def body():
    a = admin()
    rnd = random.Random(7)
    producers = {codec: producer(**{"compression.type": codec, "linger.ms": 20}) for codec in CODECS}
    for codec in CODECS:
        t = topic("comp-" + codec)
        create_topic(a, t, 1)
        want = [dict(topic=t, partition=0, key=f"{codec}-{i}".encode(), value=payload(rnd, 10 + rnd.randrange(500)),
                     headers=[("i", str(i).encode())]) for i in range(2000)]
        produce_all(producers[codec], want)
        verify(t, want, codec)
        log(f"{codec}: ok")
    t = topic("comp-mixed")
    create_topic(a, t, 1)
    want = []
    for rnd_i in range(8):
        for codec in CODECS:
            batch = [dict(topic=t, partition=0, key=f"{codec}-{rnd_i}-{i}".encode(), value=payload(rnd, 50 + rnd.randrange(200)))
                     for i in range(60)]
            produce_all(producers[codec], batch)
            want += batch
    verify(t, want, "mixed")
    c = consumer()
    c.assign([TopicPartition(t, 0, 1234)])
    m = consume_n(c, 1)[0]
    check_eq((1234, want[1234]["key"]), (m.offset(), m.key()), "first record after seeking into a batch")
    c.close()


run("compression-codecs", body)
