"""Creates a topic with the AdminClient (confluent-kafka) and waits until every partition has a leader.

usage: mktopic.py TOPIC PARTITIONS   (bootstrap from WEIR_BOOTSTRAP)
For clients without an admin API (kcat)."""
import os
import sys
import time

from confluent_kafka.admin import AdminClient, NewTopic

name, parts = sys.argv[1], int(sys.argv[2])
a = AdminClient({"bootstrap.servers": os.environ["WEIR_BOOTSTRAP"]})
a.create_topics([NewTopic(name, num_partitions=parts, replication_factor=1)], request_timeout=30)[name].result(timeout=30)
deadline = time.time() + 15
while time.time() < deadline:
    t = a.list_topics(topic=name, timeout=10).topics.get(name)
    if t is not None and t.error is None and len(t.partitions) == parts and all(p.leader >= 0 for p in t.partitions.values()):
        sys.exit(0)
    time.sleep(0.1)
sys.exit(f"mktopic.py: {name} did not become ready")
