"""Compaction as a client sees it (issue 14): a compacted topic with segment.ms=500, max.compaction.lag.ms=100
and min.cleanable.dirty.ratio=0.01, four keys per round (two updated, one alternating value/tombstone, one
unique per record), ten rounds 150 ms apart so segments roll. Apache Kafka rolls the active segment at
max.compaction.lag.ms and its cleaner (log.cleaner.backoff.ms 15 s) compacts the closed segments, leaving
exactly the newest record per key; the newest tombstone stays (delete.retention.ms is 86.4 s)."""
# timeout: 120
from _common import *

ROUNDS = 10
CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": "500",
    "segment.bytes": "1048576",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "86400",
    "max.compaction.lag.ms": "100",
}


def read_to_end(t):
    """Every record of partition 0 from the log start to the high watermark: [(offset, key, value)]."""
    c = consumer(**{"enable.partition.eof": True})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)
        c.assign([TopicPartition(t, 0, low)])
        out = []
        deadline = time.time() + 20
        while time.time() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= high:
                            return out
                        continue
                    raise KafkaException(m.error())
                out.append((m.offset(), m.key(), m.value()))
                if m.offset() + 1 >= high:
                    return out
        raise AssertionError(f"did not reach the high watermark {high}: {short(out)}")
    finally:
        c.close()


def body():
    a = admin()
    t = topic("compaction")
    create_topic(a, t, 1, CONFIG)
    p = producer(**{"linger.ms": 0})
    sent = []
    for r in range(ROUNDS):
        batch = [
            dict(topic=t, partition=0, key=b"a", value=f"a{r}".encode()),
            dict(topic=t, partition=0, key=b"b", value=f"b{r}".encode()),
            dict(topic=t, partition=0, key=b"t", value=None if r % 2 else f"t{r}".encode()),
            dict(topic=t, partition=0, key=f"u{r}".encode(), value=f"u{r}".encode()),
        ]
        sent += [(m.offset(), m.key(), m.value()) for m in produce_all(p, batch)]
        time.sleep(0.15)  # lets the active segment pass max.compaction.lag.ms, so the next round rolls it
    # One more record rolls the last round's segment, leaving only this record in the active segment.
    sent += [(m.offset(), m.key(), m.value()) for m in produce_all(p, [dict(topic=t, partition=0, key=b"end", value=b"end")])]
    newest = {}
    for off, k, v in sent:
        newest[k] = (off, k, v)
    want = sorted(newest.values())
    check_eq(4 * ROUNDS + 1, len(sent), "records sent")
    start = time.time()
    got = None
    while time.time() - start < 60:
        got = read_to_end(t)
        if got == want:
            break
        time.sleep(1)
    check_eq(want, got, "records left after compaction")
    log(f"compacted to the newest record per key ({len(got)} of {len(sent)}) after {time.time() - start:.1f} s")
    check(any(k == b"t" and v is None for _, k, v in got), "the newest tombstone stays for delete.retention.ms")


run("compaction", body)
