"""Prints every record of one partition as a JSON line (base64 key/value/header values), read with
librdkafka through assign() (no group). Used by clients that cannot read without a group (kafkajs).

usage: dump.py TOPIC PARTITION   (bootstrap from WEIR_BOOTSTRAP)
"""
import base64
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

t, part = sys.argv[1], int(sys.argv[2])
c = Consumer({"bootstrap.servers": os.environ["WEIR_BOOTSTRAP"], "group.id": "dump-" + uuid.uuid4().hex[:8],
              "enable.auto.commit": False, "enable.auto.offset.store": False})
b64 = lambda x: None if x is None else base64.b64encode(x).decode()
low, high = c.get_watermark_offsets(TopicPartition(t, part), timeout=10)
c.assign([TopicPartition(t, part, low)])
pos = low
deadline = time.time() + 60
while pos < high:
    if time.time() > deadline:
        raise SystemExit(f"dump.py: timed out at offset {pos} of {high}")
    for m in c.consume(10000, 0.2):
        if m.error():
            raise SystemExit(f"dump.py: {m.error()}")
        print(json.dumps({"offset": m.offset(), "timestamp": m.timestamp()[1], "key": b64(m.key()), "value": b64(m.value()),
                          "headers": [[k, b64(v)] for k, v in (m.headers() or [])]}))
        pos = m.offset() + 1
c.close()
