# kcat -L: one broker at the bootstrap address; a created topic is listed with its partitions.
# timeout: 60
source "$(dirname "$0")/_common.sh"
t=$(topic meta)
mktopic "$t" 3
kcat -b "$B" -L -J >"$TMP/md.json"
python3 - "$TMP/md.json" "$B" "$t" <<'PY'
import json, sys
md = json.load(open(sys.argv[1]))
host, port = sys.argv[2].rsplit(":", 1)
brokers = md["brokers"]
assert len(brokers) == 1, brokers
assert brokers[0]["name"] == f"{host}:{port}", brokers
topics = {t["topic"]: t for t in md["topics"]}
assert sys.argv[3] in topics, sorted(topics)
parts = topics[sys.argv[3]]["partitions"]
assert len(parts) == 3, parts
for p in parts:
    assert p["leader"] == brokers[0]["id"], p
    assert [r["id"] for r in p["replicas"]] == [brokers[0]["id"]], p
    assert [r["id"] for r in p["isrs"]] == [brokers[0]["id"]], p
print("metadata ok:", brokers)
PY
kcat -b "$B" -L -t "$t" | tee "$TMP/md.txt"
grep -q "topic \"$t\" with 3 partitions" "$TMP/md.txt" || fail "kcat -L -t lacks the topic"
