"""Crash test (issue 4): SIGKILL the broker at random moments while a real client produces with acks=all.

timeout: 300

A private broker is started with WEIR_BROKER; each cycle a fresh librdkafka producer (acks=all) sends
uniquely numbered records, the broker is killed with SIGKILL after a random delay, and the producer's
delivery reports say which records were acknowledged (and at which offset). After all cycles the broker
is started once more and the whole partition is read back. Kafka's guarantee under the durable setting:
 - every acknowledged record is present, exactly once, at the offset it was acknowledged with;
 - offsets are contiguous from 0 (no holes, no torn batch: every record decodes);
 - records that were never acknowledged may or may not be there (at-least-once), but whole.
"""
import os
import random
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BROKER = os.environ["WEIR_BROKER"]
NAME = "crash-kill9"
TOPIC = "crash-kill9"
CYCLES = int(os.environ.get("CRASH_CYCLES", "20"))


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, flush=True)


def broker(*args):
    out = subprocess.run([BROKER, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def produce_until_killed(bootstrap, cycle, acked, attempted):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 2,
        "message.timeout.ms": 4000,
        "retries": 0,
        "enable.idempotence": False,
        "socket.timeout.ms": 2000,
        "reconnect.backoff.max.ms": 200,
    })

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value().decode()] = msg.offset()

    stop = threading.Event()

    def loop():
        i = 0
        while not stop.is_set():
            value = f"c{cycle:02d}-{i:07d}"
            try:
                p.produce(TOPIC, value=value.encode(), partition=0, on_delivery=on_delivery)
                attempted.add(value)
                i += 1
            except BufferError:
                p.poll(0.01)
            if i % 100 == 0:
                # At most ~50k records/s: records stay in flight at every kill, but the read-back (one
                # Python call per record) stays a few seconds on any machine.
                p.poll(0)
                time.sleep(0.002)
    t = threading.Thread(target=loop)
    t.start()
    return p, stop, t


def main():
    bootstrap = broker("start", NAME)
    log(f"private broker at {bootstrap}")
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(10)
    acked = {}
    attempted = set()
    rng = random.Random(int(os.environ.get("CRASH_SEED", str(int(time.time())))))
    for cycle in range(CYCLES):
        p, stop, t = produce_until_killed(bootstrap, cycle, acked, attempted)
        time.sleep(rng.uniform(0.3, 1.2))
        before = len(acked)
        # SIGKILL (no clean shutdown) and start again on the same port and data dir: recovery runs.
        broker("crash-restart", NAME)
        stop.set()
        t.join()
        p.flush(6)
        log(f"cycle {cycle}: {len(acked) - before} newly acknowledged, {len(acked)} total")
    # The broker was restarted after the last kill: read everything back.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    seen = {}
    expected_offset = 0
    # The read-back is millions of records on a fast machine: the bound is on progress (a stalled read
    # fails within 30 s), not on the total, which grows with the machine's speed.
    stalled_at = time.time() + 30
    at_end = False
    while not at_end:
        if time.time() > stalled_at:
            raise AssertionError(f"read-back stalled at offset {expected_offset}")
        for m in c.consume(num_messages=10000, timeout=1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end = True
                    break
                raise AssertionError(f"consume error: {m.error()}")
            if m.offset() != expected_offset:
                raise AssertionError(f"offset gap: expected {expected_offset}, got {m.offset()}")
            expected_offset += 1
            v = m.value().decode()
            if v not in attempted:
                raise AssertionError(f"record {v!r} at {m.offset()} was never sent")
            if v in seen:
                raise AssertionError(f"record {v!r} present twice: offsets {seen[v]} and {m.offset()}")
            seen[v] = m.offset()
            stalled_at = time.time() + 30
    c.close()
    missing = [v for v in acked if v not in seen]
    if missing:
        raise AssertionError(f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}")
    moved = [(v, o, seen[v]) for v, o in acked.items() if seen[v] != o]
    if moved:
        raise AssertionError(f"{len(moved)} acknowledged records at other offsets, e.g. {moved[:5]}")
    if len(acked) < CYCLES:
        raise AssertionError(f"only {len(acked)} records acknowledged in {CYCLES} cycles: test proves nothing")
    log(f"OK: {len(acked)} acknowledged records all present once at their offsets; "
        f"{len(seen) - len(acked)} unacknowledged but whole records also present; {expected_offset} offsets")
    broker("stop", NAME)


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run([BROKER, "stop", NAME], capture_output=True)
