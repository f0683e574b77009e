"""Cluster mode, part 1: the active controller is cut off from the other voters by a proxy.

timeout: 240

- while cut off, the old controller cannot commit metadata: a topic creation sent only to it fails;
- the majority elects a new controller and commits (a topic created through it);
- after healing, the old controller follows the new one;
- no split brain: every node's own Metadata view (brokers, controller, topics, partitions with leaders,
  replicas and ISR) is identical at the end.
"""
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cluster import Cluster, check, log  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402




def controller(c, i, exclude=()):
    return c.controller(i, exclude)


def main():
    with Cluster(3, proxied=True) as c:
        c.start_all()
        old, _ = c.wait("a controller", lambda: controller(c, 1), 30)
        c.wait("3 live brokers", lambda: len(c.metadata(old)["brokers"]) == 3, 30)
        others = [i for i in c.nodes if i != old]
        tag = uuid.uuid4().hex[:6]
        t0 = time.time()
        c.cut(old)
        log(f"controller {old} cut off from nodes {others}")
        new, took = c.wait("a new controller on the majority side",
                           lambda: controller(c, others[0], exclude=(old,)), 30)
        log(f"majority elected node {new} after {took:.2f}s")

        # The isolated node cannot commit: its own create must fail while the cut lasts.
        isolated = AdminClient({"bootstrap.servers": c.bootstrap(old), "socket.timeout.ms": 5000})
        f = isolated.create_topics([NewTopic(f"from-isolated-{tag}", 1, 1)], request_timeout=8)[f"from-isolated-{tag}"]
        try:
            f.result(20)
            raise AssertionError("the isolated old controller committed a topic")
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure is the expected outcome
            log(f"isolated node refused as expected: {e}")
        check(f"from-isolated-{tag}" not in c.metadata(others[0])["topics"], "majority sees the isolated topic")

        majority = AdminClient({"bootstrap.servers": c.bootstrap(*others)})
        majority.create_topics([NewTopic(f"from-majority-{tag}", 3, 1)])[f"from-majority-{tag}"].result(30)
        log("majority committed a topic during the cut")

        c.heal()
        log(f"healed after {time.time() - t0:.2f}s")
        c.wait(f"node {old} to follow the new controller", lambda: controller(c, old) in others, 30)

        def converged():
            # Metadata's controller_id is the broker asked (KRaft: any live broker), so it is left out.
            views = [dict(c.metadata(i), controller=None) for i in c.nodes]
            quorums = [c.quorum(i) for i in c.nodes]
            same = all(v == views[0] for v in views) and all(q == quorums[0] for q in quorums)
            return (views, quorums[0]) if same and quorums[0][0] >= 0 else None

        (views, quorum), _ = c.wait("identical metadata on every node", converged, 30)
        check(f"from-majority-{tag}" in views[0]["topics"], "majority's topic missing after heal")
        check(quorum[0] in others, f"controller after heal is {quorum[0]}, not one elected by the majority")
        log(f"every node agrees: controller {quorum[0]} (term {quorum[1]}), {len(views[0]['topics'])} topics, "
            f"brokers {sorted(views[0]['brokers'])}")
        log("PASS")


if __name__ == "__main__":
    main()
