# weir produce (keys, headers, every codec, fixed partition) and weir consume (templates, JSON, --from
# offset/@timestamp/end, --partition, --max), cross-checked with kcat in both directions.
source "$(dirname "$0")/_common.sh"
T=$(topic pc)
"$W" topic create "$T" --partitions 2 >/dev/null

log "produce 5 x 40 keyed records with a header, one codec per run"
for codec in none gzip snappy lz4 zstd; do
  for i in $(seq 1 40); do echo "k$i:$codec-$i"; done |
    "$W" produce "$T" --key-separator : --header codec="$codec" --compression "$codec" 2>"$TMP/err"
  grep -q "produced 40 records" "$TMP/err" || fail "produce summary: $(cat "$TMP/err")"
done
"$W" consume "$T" -e -o json >"$TMP/all.json"
check_eq 200 "$(wc -l <"$TMP/all.json")" "records consumed"
python3 - "$TMP/all.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    codec, i = r["value"].rsplit("-", 1)
    assert r["key"] == "k" + i, r
    assert r["headers"] == {"codec": codec}, r
# The same key always lands in the same partition (the Java client's murmur2 placement).
where = {}
for r in rows:
    assert where.setdefault(r["key"], r["partition"]) == r["partition"], r
# Offsets per partition are dense from 0.
for p in (0, 1):
    offs = sorted(r["offset"] for r in rows if r["partition"] == p)
    assert offs == list(range(len(offs))), (p, offs[:5])
PY

log "kcat reads what weir produced"
check_eq 200 "$(kcat -b "$WEIR_BOOTSTRAP" -C -t "$T" -e -q -f '%k=%s\n' | grep -cE '^k[0-9]+=[a-z0-9]+-[0-9]+$')" "kcat records"

log "weir reads what kcat produced, with a template"
T2=$(topic fmt)
"$W" topic create "$T2" --partitions 1 >/dev/null
printf 'a:1\nb:2\nc:3\nd:4\n' | kcat -b "$WEIR_BOOTSTRAP" -P -t "$T2" -K: -H src=kcat
check_eq "$(printf '%s\n' "$T2/0@0 a=1 [src=kcat]" "$T2/0@1 b=2 [src=kcat]" "$T2/0@2 c=3 [src=kcat]" "$T2/0@3 d=4 [src=kcat]")" \
  "$("$W" consume "$T2" -e -f '%t/%p@%o %k=%v [%h]\n')" "template output"
check_eq "c=3 d=4" "$("$W" consume "$T2" -e --from 2 -f '%k=%v ' | xargs)" "--from OFFSET"
check_eq "a" "$("$W" consume "$T2" --max 1 -f '%k')" "--max 1"
check_eq "" "$("$W" consume "$T2" -e --from end)" "--from end"
TS=$("$W" consume "$T2" -e --from 3 -f '%T')
check_eq "d" "$("$W" consume "$T2" -e --from "@$TS" -f '%k' | tail -c 1)" "--from @TIMESTAMP"

log "fixed partition and acks"
printf 'x\ny\n' | "$W" produce "$T" --partition 1 --acks 1 2>/dev/null
printf 'z\n' | "$W" produce "$T" --partition 0 --acks 0 2>/dev/null
check_eq "x y" "$("$W" consume "$T" -e --partition 1 -f '%v\n' | tail -n 2 | xargs)" "records in partition 1"
# acks=0 has no answer to wait for: poll until the record is readable.
for _ in $(seq 50); do
  [ "$("$W" consume "$T" -e --partition 0 -f '%v\n' | tail -n 1)" = z ] && break
  sleep 0.1
done
check_eq z "$("$W" consume "$T" -e --partition 0 -f '%v\n' | tail -n 1)" "acks=0 record in partition 0"
check_eq 2 "$(status "$W" produce "$T" --partition 9)" "a partition that does not exist"
log "ok"
