# kcat -P / -C with keys (-K:), headers (-H), null keys, NULL values (-Z) and -e to exit at the end.
# timeout: 60
source "$(dirname "$0")/_common.sh"
t=$(topic roundtrip)
mktopic "$t" 1
{
  for i in $(seq 0 199); do echo "key-$i:value-$i"; done
  echo "no-delimiter-so-null-key"
  echo "tomb:"
} >"$TMP/in.txt"
kcat -b "$B" -P -t "$t" -p 0 -K: -Z -H app=kcat -H trace=abc123 -l "$TMP/in.txt"
kcat -b "$B" -C -t "$t" -p 0 -o beginning -e -J -q >"$TMP/out.json"
python3 - "$TMP/out.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(recs) == 202, len(recs)
for i, r in enumerate(recs):
    assert r["offset"] == i, (i, r)
    assert r["partition"] == 0, r
    assert r.get("headers") == ["app", "kcat", "trace", "abc123"], r
for i in range(200):
    assert (recs[i]["key"], recs[i]["payload"]) == (f"key-{i}", f"value-{i}"), recs[i]
assert recs[200]["key"] is None and recs[200]["payload"] == "no-delimiter-so-null-key", recs[200]
assert recs[201]["key"] == "tomb" and recs[201]["payload"] is None, recs[201]
print("round trip ok")
PY
# -o with a relative start and -c count
got=$(kcat -b "$B" -C -t "$t" -p 0 -o 100 -c 3 -e -q -f '%o %k %s\n')
check_eq $'100 key-100 value-100\n101 key-101 value-101\n102 key-102 value-102' "$got" "kcat -o 100 -c 3"
got=$(kcat -b "$B" -C -t "$t" -p 0 -o -2 -e -q -f '%o\n' | tr '\n' ' ')
check_eq "200 201 " "$got" "kcat -o -2 (two from the end)"
