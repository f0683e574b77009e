"""A record produced while a consumer waits (fetch_max_wait_ms=5000) arrives well under a second later."""
# timeout: 60
import threading
from _common import *


def body():
    a = admin()
    t = topic("longpoll")
    create_topic(a, t, 1)
    p = producer(linger_ms=0)
    send_all(p, [dict(topic=t, partition=0, value=b"warm-up")])
    tp = TopicPartition(t, 0)
    c = consumer(fetch_max_wait_ms=5000, fetch_min_bytes=1)
    c.assign([tp])
    c.seek(tp, 1)
    c.poll(timeout_ms=1000)
    for i in range(3):
        sent = {}

        def send():
            sent["at"] = time.monotonic()
            p.send(t, value=b"ping", partition=0)
            p.flush(5)

        timer = threading.Timer(1.5, send)
        timer.start()
        r = poll_n(c, 1, 15)[0]
        arrived = time.monotonic()
        timer.join()
        latency = (arrived - sent["at"]) * 1000
        log(f"round {i}: arrived {latency:.0f} ms after send")
        check_eq(b"ping", r.value, "value")
        check(latency < 1000, f"record arrived {latency:.0f} ms after send (fetch_max_wait_ms=5000)")
    c.close()


run("long-poll", body)
