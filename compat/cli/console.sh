# The web console in a real browser: headless Chromium (Debian's `chromium`) renders every page of a
# broker holding known topics, records and a group with known lag; the numbers in the rendered DOM must
# match the broker's (read through the CLI's JSON and its /metrics). The same pages are checked twice:
# from the broker's admin port and from `weir console --bootstrap` (another process, Kafka protocol
# only). Screenshots go to compat/.work/artifacts/console/.
# timeout: 240
source "$(dirname "$0")/_common.sh"
command -v chromium >/dev/null || fail "chromium is not installed (.ci/run installs Debian's chromium)"
SHOTS="$COMPAT/.work/artifacts/console"
mkdir -p "$SHOTS"
ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=$("$WEIR_BROKER" start console --admin-listen "127.0.0.1:$ADMIN_PORT")
export WEIR_BOOTSTRAP=$B
URL="http://127.0.0.1:$ADMIN_PORT"
browser() { chromium --headless --no-sandbox --disable-gpu --user-data-dir="$TMP/chrome" "$@" 2>>"$TMP/chromium.log"; }
# page PATH NAME: the DOM Chromium rendered (saved as NAME.html) and a screenshot NAME.png
page() {
  browser --dump-dom "$URL$1" >"$TMP/$2.html"
  browser --window-size=1200,900 --screenshot="$SHOTS/$2.png" "$URL$1" >/dev/null
  [ -s "$SHOTS/$2.png" ] || fail "no screenshot of $1"
}
# cell FILE TABLE_ID ROW COL: text of a cell in the rendered DOM (row 0 = headings)
cell() { python3 "$COMPAT/cli/_dom.py" "$1" "$2" "$3" "$4"; }
# metric FILE 'name{labels}': a sample's value; metric_sum / metric_count FILE NAME: over all its samples
metric() { awk -v w="$2" 'index($0, w " ") == 1 { printf "%d", $NF; exit }' "$1"; }
metric_sum() { awk -v n="$2" 'index($0, n "{") == 1 { s += $NF } END { printf "%d", s }' "$1"; }
metric_count() { awk -v n="$2" 'index($0, n "{") == 1 { c++ } END { print c + 0 }' "$1"; }
# post PATH: the HTTP status of a POST to $URL PATH
post() { curl -s -o "$TMP/post.html" -w '%{http_code}' -X POST "$URL$1"; }
# human BYTES: as the console shows sizes
human() { python3 -c "
n = int('$1')
print(next((f'{n / d:.1f} {u}' for d, u in ((1 << 30, 'GiB'), (1 << 20, 'MiB'), (1 << 10, 'KiB')) if n >= d), f'{n} B'))"; }
# check_pages TAG: every page at $URL shows the broker's numbers, read through the CLI and the broker's
# /metrics ($METRICS); DOMs and screenshots are saved as TAG-*.
check_pages() {
  TAG=$1
  log "$TAG: pages at $URL"
  page / "$TAG-overview"
  check_eq "$("$W" cluster info -o json | jq_py "d['cluster_id']")" "$(cell "$TMP/$TAG-overview.html" overview 1 1)" "cluster id"
  check_eq "$(echo "$B" | cut -d: -f2)" "$(cell "$TMP/$TAG-overview.html" brokers 1 2)" "broker port"

  page /topics "$TAG-topics"
  "$W" topic describe orders -o json >"$TMP/orders.json"
  ROW=$(python3 "$COMPAT/cli/_dom.py" "$TMP/$TAG-topics.html" topics find orders)
  check_eq 3 "$(cell "$TMP/$TAG-topics.html" topics "$ROW" 1)" "orders partitions"
  check_eq 300 "$(cell "$TMP/$TAG-topics.html" topics "$ROW" 3)" "orders records"

  page "/topics/orders?partition=1&offset=0&format=json" "$TAG-topic"
  HW1=$(jq_py "d['partitions'][1]['high_watermark']" <"$TMP/orders.json")
  check_eq "$HW1" "$(cell "$TMP/$TAG-topic.html" partitions 2 5)" "partition 1 high watermark"
  # The first message of partition 1, as the CLI reads it.
  FIRST=$("$W" consume orders --partition 1 --max 1 -o json)
  check_eq "$(echo "$FIRST" | jq_py "d['key']")" "$(cell "$TMP/$TAG-topic.html" messages 1 2)" "first key of partition 1"
  check_eq "$(echo "$FIRST" | jq_py "json.dumps(json.loads(d['value']), indent=2)")" "$(cell "$TMP/$TAG-topic.html" messages 1 3)" "first value as JSON"
  check_eq "src=console-test" "$(cell "$TMP/$TAG-topic.html" messages 1 4)" "headers"
  ROWS=$(python3 "$COMPAT/cli/_dom.py" "$TMP/$TAG-topic.html" messages count)
  [ "$ROWS" -eq "$(( HW1 < 50 ? HW1 : 50 ))" ] || fail "message rows: $ROWS (partition 1 holds $HW1; pages hold 50)"
  page "/topics/orders?partition=1&offset=0&format=hex" "$TAG-topic-hex"
  check_eq "$(echo "$FIRST" | jq_py "d['key'].encode().hex()")" "$(cell "$TMP/$TAG-topic-hex.html" messages 1 2)" "first key as hex"

  page /groups "$TAG-groups"
  ROW=$(python3 "$COMPAT/cli/_dom.py" "$TMP/$TAG-groups.html" groups find billing)
  check_eq Empty "$(cell "$TMP/$TAG-groups.html" groups "$ROW" 1)" "billing state"
  check_eq 15 "$(cell "$TMP/$TAG-groups.html" groups "$ROW" 3)" "billing total lag"

  page /groups/billing "$TAG-group"
  check_eq "25 40 15" "$(for c in 2 3 4; do cell "$TMP/$TAG-group.html" lag 1 "$c"; done | xargs)" "committed, log end, lag"
  check_eq "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "$(cell "$TMP/$TAG-group.html" summary 4 1)" "total lag matches the CLI"
  # Sizes come from DescribeLogDirs: they match the broker's own /metrics.
  SIZE1=$(metric "$METRICS" 'weir_partition_size_bytes{topic="orders",partition="1"}')
  check_eq "$(human "$SIZE1")" "$(cell "$TMP/$TAG-topic.html" partitions 2 6)" "partition 1 size"
  check_eq "$(human "$(metric_sum "$METRICS" weir_partition_size_bytes)")" "$(cell "$TMP/$TAG-overview.html" logdirs 1 3)" "log dir used"
  check_eq "$(metric_count "$METRICS" weir_partition_size_bytes)" "$(cell "$TMP/$TAG-overview.html" logdirs 1 2)" "log dir partitions"
  check_eq "cleanup.policy" "$(cell "$TMP/$TAG-topic.html" configs 1 0)" "first topic config"
}

log "data: orders (3 partitions, 300 keyed JSON records), payments (1 partition, 40), group billing committed 25 of payments"
"$W" topic create orders --partitions 3 >/dev/null
seq 1 300 | sed -E 's/(.*)/order-\1:{"id":\1}/' | "$W" produce orders -K: -H src=console-test 2>/dev/null
"$W" topic create payments --partitions 1 >/dev/null
seq 1 40 | "$W" produce payments 2>/dev/null
"$W" consume payments --group billing --max 25 >/dev/null

METRICS="$TMP/metrics.txt"
curl -s "$URL/metrics" >"$METRICS"
check_pages embedded

log "weir console --bootstrap: the same pages from another process, through the Kafka protocol alone"
CONSOLE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# start_console LOG ARGS...: runs `weir console` on $CONSOLE_PORT against $B; returns once it serves
start_console() {
  local out=$1; shift
  "$W" console --bootstrap "$B" --listen "127.0.0.1:$CONSOLE_PORT" "$@" 2>"$out" &
  CONSOLE_PID=$!
  for _ in $(seq 100); do grep -q "at http://" "$out" && return; kill -0 $CONSOLE_PID 2>/dev/null || break; sleep 0.1; done
  fail "weir console did not start: $(cat "$out")"
}
trap 'kill $CONSOLE_PID 2>/dev/null || true' EXIT
start_console "$TMP/console.log"
ADMIN_URL=$URL
URL="http://127.0.0.1:$CONSOLE_PORT"
check_pages standalone
grep -q "Metrics" "$TMP/standalone-overview.html" && fail "weir console links to /metrics, which it does not serve"
check_eq "(not in the Kafka protocol)" "$(cell "$TMP/standalone-overview.html" overview 3 1)" "version of a remote broker"
check_eq 403 "$(post /topics/payments/delete)" "weir console: delete refused"
kill $CONSOLE_PID; wait $CONSOLE_PID 2>/dev/null || true
URL=$ADMIN_URL

log "read-only by default: no form changes the cluster, and its write actions are refused"
grep -qi "method=.post" "$TMP"/*.html && fail "a page posts"
check_eq 403 "$(post /topics/payments/delete)" "delete refused"
check_eq 403 "$(post '/groups/billing/reset?topic=payments&to=latest')" "reset refused"
"$W" topic describe payments >/dev/null || fail "payments was deleted by a refused POST"
check_eq 15 "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "offsets untouched"
"$WEIR_BROKER" stop console

log "admin.console.write.enabled=true: pages offer the actions, and they act"
ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B=$("$WEIR_BROKER" start console-rw --admin-listen "127.0.0.1:$ADMIN_PORT" --set admin.console.write.enabled=true)
export WEIR_BOOTSTRAP=$B
URL="http://127.0.0.1:$ADMIN_PORT"
ADMIN_URL=$URL
"$W" topic create payments --partitions 1 >/dev/null
seq 1 40 | "$W" produce payments 2>/dev/null
"$W" consume payments --group billing --max 25 >/dev/null
page /groups/billing group-rw
grep -q 'action="/groups/billing/reset?topic=payments&amp;to=latest"' "$TMP/group-rw.html" || fail "no reset form"
check_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://evil.example' "$URL/topics/payments/delete")" "cross-origin POST refused"
check_eq 200 "$(post '/groups/billing/reset?topic=payments&to=latest')" "reset to latest"
check_eq 0 "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "lag after reset to latest"
log "weir console --write-enabled acts too"
start_console "$TMP/console-rw.log" --write-enabled
URL="http://127.0.0.1:$CONSOLE_PORT"
check_eq 200 "$(post '/groups/billing/reset?topic=payments&to=earliest')" "weir console: reset to earliest"
check_eq 40 "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "lag after reset to earliest"
kill $CONSOLE_PID; wait $CONSOLE_PID 2>/dev/null || true
URL=$ADMIN_URL
page /topics/payments topic-rw
grep -q 'action="/topics/payments/delete"' "$TMP/topic-rw.html" || fail "no delete form"
check_eq 200 "$(post /topics/payments/delete)" "delete"
"$W" topic list | grep -qx payments && fail "payments still listed after delete"
"$WEIR_BROKER" stop console-rw
log "ok; screenshots in $SHOTS"
