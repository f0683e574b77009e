# weir topic create/list/describe/alter-config/add-partitions/delete and weir config get/set, checked
# through the CLI's JSON and against kcat's metadata view; errors exit 1 with Kafka's error name.
source "$(dirname "$0")/_common.sh"
T=$(topic topics)

log "create $T with 3 partitions and retention.ms=120000"
"$W" topic create "$T" --partitions 3 --config retention.ms=120000 | grep -q "created topic $T"
check_eq 1 "$(status "$W" topic create "$T" --partitions 3)" "creating it again exits"
grep -q "TOPIC_ALREADY_EXISTS" "$TMP/err" || fail "error lacks the Kafka name: $(cat "$TMP/err")"

log "list and describe"
check_eq 3 "$("$W" topic list -o json | jq_py "[t['partitions'] for t in d if t['name']=='$T'][0]")" "listed partitions"
"$W" topic list | grep -qE "^$T +3 +1" || fail "table row for $T: $("$W" topic list)"
check_eq "0 1 2" "$("$W" topic describe "$T" -o json | jq_py "' '.join(str(p['partition']) for p in d['partitions'])")" "described partitions"
check_eq "120000" "$("$W" topic describe "$T" -o json | jq_py "[c['value'] for c in d['configs'] if c['name']=='retention.ms'][0]")" "topic config"
check_eq 3 "$(kcat -b "$WEIR_BOOTSTRAP" -L -t "$T" -J | jq_py "len(d['topics'][0]['partitions'])")" "kcat sees the partitions"

log "alter-config and config get/set"
"$W" topic alter-config "$T" --set cleanup.policy=compact --delete retention.ms >/dev/null
check_eq "compact DYNAMIC_TOPIC_CONFIG" "$("$W" config get --topic "$T" cleanup.policy -o json | jq_py "d[0]['value']+' '+d[0]['source']")" "altered cleanup.policy"
check_eq "DEFAULT_CONFIG" "$("$W" config get --topic "$T" retention.ms -o json | jq_py "d[0]['source']")" "deleted retention.ms"
"$W" config set --topic "$T" segment.ms=3600000 >/dev/null
"$W" config get --topic "$T" segment.ms | grep -qE "^segment.ms +3600000 +DYNAMIC_TOPIC_CONFIG" || fail "config get table"
check_eq 1 "$(status "$W" config set --topic "$T" no.such.key=1)" "unknown config key exits"
grep -q "INVALID_CONFIG" "$TMP/err" || fail "unknown key error: $(cat "$TMP/err")"

log "add-partitions"
"$W" topic add-partitions "$T" --total 5 >/dev/null
check_eq 5 "$("$W" topic describe "$T" -o json | jq_py "len(d['partitions'])")" "partitions after add-partitions"
check_eq 1 "$(status "$W" topic add-partitions "$T" --total 2)" "shrinking exits"
grep -q "INVALID_PARTITIONS" "$TMP/err" || fail "shrink error: $(cat "$TMP/err")"

log "delete"
"$W" topic delete "$T" | grep -q "deleted topic $T"
check_eq 1 "$(status "$W" topic describe "$T")" "describing a deleted topic exits"
grep -q "UNKNOWN_TOPIC_OR_PARTITION" "$TMP/err" || fail "deleted topic error: $(cat "$TMP/err")"

log "cluster info, exit codes, completions"
check_eq 1 "$("$W" cluster info -o json | jq_py "len(d['brokers'])")" "brokers"
"$W" cluster info | grep -qE "^Fetch +1 +" || fail "API table lacks Fetch"
check_eq 3 "$(status "$W" topic list --bootstrap 127.0.0.1:1)" "unreachable cluster exits"
check_eq 2 "$(status "$W" consume "$T" --from yesterday --bootstrap 127.0.0.1:1)" "bad usage exits"
"$W" completions bash >"$TMP/weir.bash"
grep -q "reset-offsets" "$TMP/weir.bash" || fail "bash completions lack subcommands"
"$W" topic list | head -c 1 >/dev/null && "$W" completions bash | head -c 1 >/dev/null || fail "a closed pipe is not an error"
log "ok"
