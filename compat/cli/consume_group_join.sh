# weir consume --group joins the group, as kafka-console-consumer.sh does: a second one makes the group
# rebalance and the two share the partitions disjointly (group describe shows both members and their
# assignments, with the range assignor), each record is printed once across the two, Ctrl-C commits
# and leaves (the group is Empty with no lag), and librdkafka's balanced consumer (kcat -G) in the same
# group then starts at the committed offsets.
# timeout: 150
source "$(dirname "$0")/_common.sh"
T=$(topic join)
G="$T-g"
"$W" topic create "$T" --partitions 4 >/dev/null
produce_round() { # produce_round BASE: 10 records per partition, values BASE+p*10+i
  for p in 0 1 2 3; do
    seq $(($1 + p * 10)) $(($1 + p * 10 + 9)) | "$W" produce "$T" --partition "$p" 2>/dev/null
  done
}
# wait_for WHAT PYTHON-EXPR-over-describe-json
wait_for() {
  for _ in $(seq 1 150); do
    if "$W" group describe "$G" -o json 2>/dev/null | jq_py "$2" 2>/dev/null | grep -qx True; then return 0; fi
    sleep 0.2
  done
  fail "$1: $("$W" group describe "$G" -o json 2>&1)"
}
lines() { cat "$TMP"/*.out 2>/dev/null | wc -l; }
wait_lines() { for _ in $(seq 1 150); do [ "$(lines)" -ge "$1" ] && return 0; sleep 0.2; done; fail "expected $1 lines, got $(lines)"; }

produce_round 0
"$W" consume "$T" --group "$G" >"$TMP/a.out" 2>"$TMP/a.err" &
A=$!
trap 'kill $A ${B:-} 2>/dev/null || true' EXIT
wait_for "one member owning all 4 partitions" \
  "d['state']=='Stable' and len(d['members'])==1 and len(d['members'][0]['assignment'])==4"
wait_lines 40
"$W" consume "$T" --group "$G" >"$TMP/b.out" 2>"$TMP/b.err" &
B=$!
wait_for "two members sharing 4 partitions disjointly" \
  "d['state']=='Stable' and d['protocol']=='range' and sorted(len(m['assignment']) for m in d['members'])==[2,2] and len({tuple(p) for m in d['members'] for p in m['assignment']})==4"
produce_round 100
wait_lines 80
[ -s "$TMP/b.out" ] || fail "the second member printed nothing"
kill -INT $A $B
wait $A || fail "first consumer exit status $?: $(cat "$TMP/a.err")"
wait $B || fail "second consumer exit status $?: $(cat "$TMP/b.err")"
trap - EXIT
expected="$( (seq 0 39; seq 100 139) | sort -n | xargs)"
check_eq "$expected" "$(cat "$TMP/a.out" "$TMP/b.out" | sort -n | xargs)" "every record printed exactly once"
wait_for "an empty group with no lag after both left" "d['state']=='Empty' and d['total_lag']==0"

# librdkafka's balanced consumer (kcat -G) in the same group starts where the two committed.
produce_round 200
kcat -b "$WEIR_BOOTSTRAP" -G "$G" -X auto.offset.reset=earliest -e -q -f '%s\n' "$T" >"$TMP/kcat.txt" 2>"$TMP/kcat.err" ||
  fail "kcat -G: $(cat "$TMP/kcat.err")"
check_eq "$(seq 200 239 | xargs)" "$(sort -n "$TMP/kcat.txt" | xargs)" "kcat -G after the committed offsets"
log "ok"
