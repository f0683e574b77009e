# weir consume --group: starts from the group's committed offsets and commits what it printed; group
# describe shows the lag that leaves; group list shows the group.
source "$(dirname "$0")/_common.sh"
T=$(topic grp)
G="$T-g"
"$W" topic create "$T" --partitions 1 >/dev/null
seq 0 9 | "$W" produce "$T" 2>/dev/null

check_eq "0 1 2 3" "$("$W" consume "$T" --group "$G" --max 4 | xargs)" "first four"
check_eq "4 10 6" "$("$W" group describe "$G" -o json | jq_py "' '.join(str(d['partitions'][0][k]) for k in ('current_offset','log_end_offset','lag'))")" "committed, end, lag"
"$W" group list | grep -qE "^$G +Empty" || fail "group list: $("$W" group list)"
check_eq "4 5 6 7 8 9" "$("$W" consume "$T" --group "$G" -e | xargs)" "the rest, from the committed offset"
check_eq "0" "$("$W" group describe "$G" -o json | jq_py "d['total_lag']")" "lag after consuming everything"
"$W" group reset-offsets "$G" --topic "$T" --to-earliest --execute >/dev/null
check_eq "0 1 2 3 4 5 6 7 8 9" "$("$W" consume "$T" --group "$G" -e | xargs)" "again after --to-earliest"
log "ok"
