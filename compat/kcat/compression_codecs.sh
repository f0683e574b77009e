# kcat -z CODEC for every codec, each in its own topic and all mixed in one partition, read back with -e.
# timeout: 120
source "$(dirname "$0")/_common.sh"
mixed=$(topic mixed)
mktopic "$mixed" 1
: >"$TMP/mixed-want.txt"
for codec in none gzip snappy lz4 zstd; do
  t=$(topic "$codec")
  mktopic "$t" 1
  awk -v c="$codec" 'BEGIN { for (i = 0; i < 1000; i++) { v = ""; for (j = 0; j <= i % 20; j++) v = v c " value " i " "; print c "-" i ":" v } }' >"$TMP/$codec.txt"
  kcat -b "$B" -P -t "$t" -p 0 -K: -z "$codec" -X linger.ms=50 -l "$TMP/$codec.txt"
  kcat -b "$B" -C -t "$t" -p 0 -o beginning -e -q -f '%k:%s\n' >"$TMP/$codec-out.txt"
  cmp "$TMP/$codec.txt" "$TMP/$codec-out.txt" || fail "$codec: records differ"
  got=$(kcat -b "$B" -C -t "$t" -p 0 -o beginning -e -q -f '%o\n' | tail -1)
  check_eq 999 "$got" "$codec: last offset"
  head -100 "$TMP/$codec.txt" >"$TMP/part.txt"
  kcat -b "$B" -P -t "$mixed" -p 0 -K: -z "$codec" -l "$TMP/part.txt"
  cat "$TMP/part.txt" >>"$TMP/mixed-want.txt"
  log "$codec ok"
done
kcat -b "$B" -C -t "$mixed" -p 0 -o beginning -e -q -f '%k:%s\n' >"$TMP/mixed-out.txt"
cmp "$TMP/mixed-want.txt" "$TMP/mixed-out.txt" || fail "mixed: records differ"
got=$(kcat -b "$B" -C -t "$mixed" -p 0 -o 250 -c 1 -e -q -f '%o %k\n')
check_eq "250 snappy-50" "$got" "mixed: seek into a batch"
