"""A record produced while a consumer waits (fetch.wait.max.ms=5000) arrives well under a second later,
and an idle consumer's fetches are held by the broker rather than answered at once."""
# timeout: 90
import json
import threading
from _common import *


def body():
    a = admin()
    t = topic("longpoll")
    create_topic(a, t, 1)
    p = producer(**{"linger.ms": 0})
    produce_all(p, [dict(topic=t, partition=0, value=b"warm-up")])
    stats = {}

    def on_stats(s):
        stats["last"] = json.loads(s)

    c = consumer(**{"fetch.wait.max.ms": 5000, "fetch.min.bytes": 1, "statistics.interval.ms": 1000, "stats_cb": on_stats})
    c.assign([TopicPartition(t, 0, 1)])
    c.consume(10, 1.0)

    def fetch_requests():
        total = 0
        for b in stats["last"]["brokers"].values():
            if b.get("nodeid", -1) >= 0:
                total += b.get("req", {}).get("Fetch", 0)
        return total

    c.consume(10, 1.2)
    before = fetch_requests()
    end = time.time() + 3
    while time.time() < end:
        check(not [m for m in c.consume(10, 0.2) if not m.error()], "unexpected record while idle")
    c.consume(10, 1.1)
    idle = fetch_requests() - before
    log(f"fetch requests in ~4.3 s idle: {idle}")
    check(idle <= 4, f"{idle} fetches in ~4.3 s idle: the broker should hold each for fetch.wait.max.ms=5000")

    for i in range(3):
        sent = {}

        def send():
            sent["at"] = time.monotonic()
            p.produce(t, value=b"ping", partition=0)
            p.flush(5)

        timer = threading.Timer(1.5, send)
        timer.start()
        m = consume_n(c, 1, 15)[0]
        arrived = time.monotonic()
        timer.join()
        latency = (arrived - sent["at"]) * 1000
        log(f"round {i}: arrived {latency:.0f} ms after send")
        check_eq(b"ping", m.value(), "value")
        check(latency < 1000, f"record arrived {latency:.0f} ms after send (fetch.wait.max.ms=5000)")
    c.close()


run("long-poll", body)
