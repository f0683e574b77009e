# /metrics, /healthz and /readyz on the admin listener: counters move by exactly what a known CLI
# produce/consume run did; a second broker whose admin port is taken still serves Kafka.
# timeout: 90
source "$(dirname "$0")/_common.sh"
ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=$("$WEIR_BROKER" start metrics --admin-listen "127.0.0.1:$ADMIN_PORT")
export WEIR_BOOTSTRAP=$B
URL="http://127.0.0.1:$ADMIN_PORT"
scrape() { python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('$URL/metrics').read().decode())" >"$1"; }
# metric FILE 'name{labels}': the sample's value (0 when absent)
metric() { python3 - "$1" "$2" <<'PY'
import sys
want = sys.argv[2]
for line in open(sys.argv[1]):
    if line.startswith(want + " "):
        v = float(line.split()[-1]); print(int(v) if v == int(v) else v); break
else:
    print(0)
PY
}
http_status() { python3 -c "
import urllib.request, urllib.error
try: print(urllib.request.urlopen('$URL$1').status)
except urllib.error.HTTPError as e: print(e.code)"; }

check_eq 200 "$(http_status /healthz)" "/healthz"
check_eq 200 "$(http_status /readyz)" "/readyz"
check_eq 404 "$(http_status /nope)" "unknown path"
check_eq 431 "$(python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $ADMIN_PORT))
s.sendall(b'GET /metrics HTTP/1.1\\r\\nX: ' + b'a' * 10000)
print(s.recv(64).split()[1].decode())")" "oversized request head"

T=$(topic metrics)
G="$T-g"
"$W" topic create "$T" --partitions 1 >/dev/null
scrape "$TMP/before"
log "produce 2500 records (3 batches of at most 1000, acks=all), consume 1800 with a group"
seq 1 2500 | "$W" produce "$T" --acks all 2>/dev/null
"$W" consume "$T" --group "$G" --max 1800 >/dev/null
scrape "$TMP/after"

d() { echo $(( $(metric "$TMP/after" "$1") - $(metric "$TMP/before" "$1") )); }
check_eq 3 "$(d 'weir_requests_total{api="Produce",version="12"}')" "Produce requests"
check_eq 2500 "$(metric "$TMP/after" "weir_topic_records_in_total{topic=\"$T\"}")" "records in"
SIZE=$(metric "$TMP/after" "weir_partition_size_bytes{topic=\"$T\",partition=\"0\"}")
check_eq "$SIZE" "$(metric "$TMP/after" "weir_topic_bytes_in_total{topic=\"$T\"}")" "bytes in = the segment's size"
[ "$SIZE" -gt 2500 ] || fail "segment size $SIZE"
check_eq 2500 "$(metric "$TMP/after" "weir_partition_log_end_offset{topic=\"$T\",partition=\"0\"}")" "log end"
check_eq 2500 "$(metric "$TMP/after" "weir_partition_high_watermark{topic=\"$T\",partition=\"0\"}")" "high watermark"
check_eq 1 "$(metric "$TMP/after" "weir_partition_segments{topic=\"$T\",partition=\"0\"}")" "segments"
check_eq 1800 "$(metric "$TMP/after" "weir_group_committed_offset{group=\"$G\",topic=\"$T\",partition=\"0\"}")" "committed"
check_eq 700 "$(metric "$TMP/after" "weir_group_lag{group=\"$G\",topic=\"$T\",partition=\"0\"}")" "lag"
check_eq 0 "$(metric "$TMP/after" "weir_group_members{group=\"$G\"}")" "members"
[ "$(metric "$TMP/after" 'weir_groups{state="Empty"}')" -ge 1 ] || fail "no Empty group counted"
# acks=all waits for fdatasync: each produce was covered by at least one flush.
[ "$(d 'weir_log_flush_duration_seconds_count')" -ge 1 ] || fail "no flush observed"
[ "$(d 'weir_request_duration_seconds_count{api="Produce",stage="total"}')" -eq 3 ] || fail "produce latency count"
[ "$(d 'weir_request_duration_seconds_count{api="Produce",stage="send"}')" -eq 3 ] || fail "produce send-stage count"
# Every CLI connection of the run was opened and closed (the broker may see the last close just after
# the CLI exits: scrape until the counts meet, for at most 5 s).
for _ in $(seq 50); do
  [ "$(d weir_connections_created_total)" = "$(d weir_connections_closed_total)" ] && break
  sleep 0.1
  scrape "$TMP/after"
done
check_eq "$(d weir_connections_created_total)" "$(d weir_connections_closed_total)" "connections created vs closed"
[ "$(d weir_connections_created_total)" -ge 4 ] || fail "connections created: $(d weir_connections_created_total)"
[ "$(metric "$TMP/after" "weir_topic_bytes_out_total{topic=\"$T\"}")" -ge "$SIZE" ] || fail "bytes out below one full read"

log "an out-of-range fetch is counted under its error code"
scrape "$TMP/e0"
"$W" consume "$T" --from 99999 --max 1 --request-timeout-ms 3000 >/dev/null 2>&1 || true
scrape "$TMP/e1"
E0=$(metric "$TMP/e0" 'weir_errors_total{api="Fetch",code="1",error="OFFSET_OUT_OF_RANGE"}')
E1=$(metric "$TMP/e1" 'weir_errors_total{api="Fetch",code="1",error="OFFSET_OUT_OF_RANGE"}')
[ "$E1" -gt "$E0" ] || fail "OFFSET_OUT_OF_RANGE not counted ($E0 -> $E1)"

log "codes a handler sets directly are counted too: 3 Metadata answers for a missing topic"
UNKNOWN='weir_errors_total{api="Metadata",code="3",error="UNKNOWN_TOPIC_OR_PARTITION"}'
scrape "$TMP/u0"
for _ in 1 2 3; do
  check_eq 1 "$(status "$W" topic describe "$T-missing")" "describe of a missing topic exits 1"
done
scrape "$TMP/u1"
check_eq 3 "$(( $(metric "$TMP/u1" "$UNKNOWN") - $(metric "$TMP/u0" "$UNKNOWN") ))" "UNKNOWN_TOPIC_OR_PARTITION from Metadata"

log "a second broker whose admin port is taken serves Kafka and says why there is no /metrics"
B2=$("$WEIR_BROKER" start metrics2 --admin-listen "127.0.0.1:$ADMIN_PORT")
"$W" topic list --bootstrap "$B2" >/dev/null
grep -q "admin listener not started" "$("$WEIR_BROKER" log metrics2)" || fail "no warning in the second broker's log"
"$WEIR_BROKER" stop metrics2
"$WEIR_BROKER" stop metrics
log "ok"
