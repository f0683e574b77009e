# The web console in a real browser: headless Chromium (Debian's `chromium`) renders every page of a
# broker holding known topics, records and a group with known lag; the numbers in the rendered DOM must
# match the broker's (read through the CLI's JSON). Screenshots go to compat/.work/artifacts/console/.
# timeout: 150
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

log "data: orders (3 partitions, 300 keyed JSON records), payments (1 partition, 40), group billing committed 25 of payments"
"$W" topic create orders --partitions 3 >/dev/null
seq 1 300 | sed -E 's/(.*)/order-\1:{"id":\1}/' | "$W" produce orders -K: -H src=console-test 2>/dev/null
"$W" topic create payments --partitions 1 >/dev/null
seq 1 40 | "$W" produce payments 2>/dev/null
"$W" consume payments --group billing --max 25 >/dev/null

page / overview
check_eq "$("$W" cluster info -o json | jq_py "d['cluster_id']")" "$(cell "$TMP/overview.html" overview 1 1)" "cluster id"
check_eq "$(echo "$B" | cut -d: -f2)" "$(cell "$TMP/overview.html" brokers 1 2)" "broker port"

page /topics topics
"$W" topic describe orders -o json >"$TMP/orders.json"
ROW=$(python3 "$COMPAT/cli/_dom.py" "$TMP/topics.html" topics find orders)
check_eq 3 "$(cell "$TMP/topics.html" topics "$ROW" 1)" "orders partitions"
check_eq 300 "$(cell "$TMP/topics.html" topics "$ROW" 3)" "orders records"

page "/topics/orders?partition=1&offset=0&format=json" topic
HW1=$(jq_py "d['partitions'][1]['high_watermark']" <"$TMP/orders.json")
check_eq "$HW1" "$(cell "$TMP/topic.html" partitions 2 5)" "partition 1 high watermark"
# The first message of partition 1, as the CLI reads it.
FIRST=$("$W" consume orders --partition 1 --max 1 -o json)
check_eq "$(echo "$FIRST" | jq_py "d['key']")" "$(cell "$TMP/topic.html" messages 1 2)" "first key of partition 1"
check_eq "$(echo "$FIRST" | jq_py "json.dumps(json.loads(d['value']), indent=2)")" "$(cell "$TMP/topic.html" messages 1 3)" "first value as JSON"
check_eq "src=console-test" "$(cell "$TMP/topic.html" messages 1 4)" "headers"
ROWS=$(python3 "$COMPAT/cli/_dom.py" "$TMP/topic.html" messages count)
[ "$ROWS" -eq "$(( HW1 < 50 ? HW1 : 50 ))" ] || fail "message rows: $ROWS (partition 1 holds $HW1; pages hold 50)"
page "/topics/orders?partition=1&offset=0&format=hex" topic-hex
check_eq "$(echo "$FIRST" | jq_py "d['key'].encode().hex()")" "$(cell "$TMP/topic-hex.html" messages 1 2)" "first key as hex"

page /groups groups
ROW=$(python3 "$COMPAT/cli/_dom.py" "$TMP/groups.html" groups find billing)
check_eq Empty "$(cell "$TMP/groups.html" groups "$ROW" 1)" "billing state"
check_eq 15 "$(cell "$TMP/groups.html" groups "$ROW" 3)" "billing total lag"

page /groups/billing group
check_eq "25 40 15" "$(for c in 2 3 4; do cell "$TMP/group.html" lag 1 "$c"; done | xargs)" "committed, log end, lag"
check_eq "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "$(cell "$TMP/group.html" summary 4 1)" "total lag matches the CLI"

log "read-only by default: no form changes the cluster, and its write actions are refused"
grep -qi "method=.post" "$TMP"/*.html && fail "a page posts"
post() { curl -s -o "$TMP/post.html" -w '%{http_code}' -X POST "$URL$1"; }
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
"$W" topic create payments --partitions 1 >/dev/null
seq 1 40 | "$W" produce payments 2>/dev/null
"$W" consume payments --group billing --max 25 >/dev/null
page /groups/billing group-rw
grep -q 'action="/groups/billing/reset?topic=payments&amp;to=latest"' "$TMP/group-rw.html" || fail "no reset form"
check_eq 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://evil.example' "$URL/topics/payments/delete")" "cross-origin POST refused"
check_eq 200 "$(post '/groups/billing/reset?topic=payments&to=latest')" "reset to latest"
check_eq 0 "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "lag after reset to latest"
check_eq 200 "$(post '/groups/billing/reset?topic=payments&to=earliest')" "reset to earliest"
check_eq 40 "$("$W" group describe billing -o json | jq_py "d['total_lag']")" "lag after reset to earliest"
page /topics/payments topic-rw
grep -q 'action="/topics/payments/delete"' "$TMP/topic-rw.html" || fail "no delete form"
check_eq 200 "$(post /topics/payments/delete)" "delete"
"$W" topic list | grep -qx payments && fail "payments still listed after delete"
"$WEIR_BROKER" stop console-rw
log "ok; screenshots in $SHOTS"
