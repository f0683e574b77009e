"""100,000 keyed records with headers under each codec over 3 partitions, read back byte-identical, in
order per partition, offsets contiguous from 0."""
# timeout: 400
import struct
from _common import *

N, PARTS = 100_000, 3


def body():
    a = admin()
    for codec in CODECS:
        start = time.time()
        t = topic("bulk-" + codec)
        create_topic(a, t, PARTS)
        rnd = random.Random(codec)
        vals = [rnd.randbytes(20 + rnd.randrange(150)) for _ in range(N)]
        p = producer(**{"compression.type": codec, "linger.ms": 10, "batch.size": 65536, "partitioner": "murmur2_random"})
        recs = [dict(topic=t, key=b"key-%d" % (i % 997), value=vals[i], headers=[("seq", struct.pack(">i", i)), ("codec", codec.encode())]) for i in range(N)]
        out = produce_all(p, recs)
        expect = [[] for _ in range(PARTS)]
        for i, m in enumerate(out):
            check_eq(len(expect[m.partition()]), m.offset(), f"{codec}: acked offset of record {i}")
            expect[m.partition()].append(i)
        produced = time.time()
        c = consumer(**{"fetch.max.bytes": 8 * 1024 * 1024})
        c.assign([TopicPartition(t, part, 0) for part in range(PARTS)])
        nxt = [0] * PARTS
        total = 0
        deadline = time.time() + 120
        while total < N:
            check(time.time() < deadline, f"{codec}: timed out at {total} of {N}")
            for m in c.consume(10000, 0.5):
                if m.error():
                    raise KafkaException(m.error())
                part = m.partition()
                check(nxt[part] < len(expect[part]), f"{codec}: extra record at partition {part} offset {m.offset()}")
                check_eq(nxt[part], m.offset(), f"{codec}: offset in partition {part}")
                r = recs[expect[part][nxt[part]]]
                if (m.key(), m.value(), m.headers()) != (r["key"], r["value"], r["headers"]):
                    raise AssertionError(f"{codec}: record differs at partition {part} offset {m.offset()}")
                nxt[part] += 1
                total += 1
        check(not [m for m in c.consume(100, 0.3) if not m.error()], f"{codec}: extra records")
        c.close()
        log(f"{codec}: {N} records, produce {produced - start:.1f}s, consume {time.time() - produced:.1f}s")


run("bulk-codecs", body)
