"""init_transactions (InitProducerId with a transactional id) from librdkafka: two producers with the same
transactional.id both initialise (the coordinator bumps the epoch, fencing the first), and a
transaction.timeout.ms above the broker's transaction.max.timeout.ms (15 min) is refused with
INVALID_TRANSACTION_TIMEOUT, as Kafka does.
"""
# timeout: 90
import uuid

from confluent_kafka import KafkaError, KafkaException, Producer

import _common as c


def transactional(txn_id, timeout_ms):
    return Producer({
        "bootstrap.servers": c.BOOTSTRAP,
        "transactional.id": txn_id,
        "transaction.timeout.ms": timeout_ms,
    })


def body():
    txn_id = f"confluent-txn-{uuid.uuid4().hex[:8]}"
    first = transactional(txn_id, 60000)
    first.init_transactions(30)
    c.log("first instance initialised")
    second = transactional(txn_id, 60000)
    second.init_transactions(30)
    c.log("second instance initialised")
    too_long = transactional(txn_id + "-long", 900001)
    try:
        too_long.init_transactions(30)
        raise AssertionError("init_transactions with transaction.timeout.ms 900001 succeeded")
    except KafkaException as e:
        err = e.args[0]
        c.check_eq(KafkaError.INVALID_TRANSACTION_TIMEOUT, err.code(), "error code")
        c.log(f"refused: {err}")


if __name__ == "__main__":
    c.run("txn-init", body)
