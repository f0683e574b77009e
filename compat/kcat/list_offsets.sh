# kcat -Q: offsets by timestamp (ListOffsets); -o beginning/end; an unknown timestamp past the end is -1.
# timeout: 60
source "$(dirname "$0")/_common.sh"
t=$(topic offsets)
mktopic "$t" 1
base=$(( $(date +%s) * 1000 - 600000 ))
for i in $(seq 0 9); do
  echo "v$i" | kcat -b "$B" -P -t "$t" -p 0 -X "message.timeout.ms=30000" -T -q >/dev/null 2>&1 || true
done
# kcat -P cannot set per-message timestamps from stdin lines; use the librdkafka client for that.
t2=$(topic offsets-ts)
mktopic "$t2" 1
"$PY" - "$t2" "$base" <<'PY'
import os, sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": os.environ["WEIR_BOOTSTRAP"]})
for i in range(10):
    p.produce(sys.argv[1], value=f"v{i}".encode(), partition=0, timestamp=int(sys.argv[2]) + i * 1000)
assert p.flush(30) == 0
PY
check_eq "10" "$(kcat -b "$B" -C -t "$t" -o beginning -e -q -f '%s\n' | wc -l | tr -d ' ')" "records in $t"
q() { kcat -b "$B" -Q -t "$t2:0:$1" | grep -o 'offset [-0-9]*' | awk '{print $2}'; }
check_eq 2 "$(q $((base + 1500)))" "offset for base+1500"
check_eq 0 "$(q $((base - 1)))" "offset before the first record"
check_eq 9 "$(q $((base + 9000)))" "offset of the last record"
check_eq -1 "$(q $((base + 9001)))" "offset after the last record"
