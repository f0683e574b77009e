#!/usr/bin/env bash
# End-to-end latency (acks=all, 10,000 records/s of 1 KiB, Java client) on a quiet broker and while a deleted
# multi-GB topic is removed from disk inside the measured window (issue 16, latency isolation).
#
#   benches/efficiency/deletion.sh BIN [BIN...]     # env: FILL_MB (5632), E2E_S (20), DELAY_MS (12000)
#
# Per binary: a fresh broker (log.segment.delete.delay.ms=DELAY_MS) on a fresh folder under target/; fills
# topic `doomed` (8 partitions, acks=1) with FILL_MB of 1 KiB records; one quiet e2e run; then deletes
# `doomed` right before a second e2e run, whose 10 s warm-up ends before the removal starts (DELAY_MS after
# the delete), so the removal lands inside the measured window. Needs compat/setup.sh (client jars, venv).
# Each e2e line is followed by a FLUSH line: the broker's partition fdatasync durations over that run (from
# its /metrics), the disk wait acks=all answers sit behind, less bent by CPU contention than the e2e figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/target/load-bench
JAVA_LIB=$ROOT/compat/.deps/java/lib
CP="$OUT/classes:$JAVA_LIB/*"
FILL_MB=${FILL_MB:-5632} E2E_S=${E2E_S:-20} DELAY_MS=${DELAY_MS:-12000}
mkdir -p "$OUT/classes"
javac -nowarn -d "$OUT/classes" -cp "$JAVA_LIB/*" "$ROOT"/benches/load/*.java
JAVA=(java -Xms1g -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CP")
PY=$ROOT/compat/.deps/venv/bin/python
log() { echo "[deletion.sh $(date +%H:%M:%S)] $*" >&2; }
BROKER=""
DATA=""
cleanup() {
    [[ -n $BROKER ]] && kill -TERM "$BROKER" 2>/dev/null && wait "$BROKER" 2>/dev/null || true
    [[ -n $DATA ]] && rm -rf "$DATA"
}
trap cleanup EXIT
for BIN in "$@"; do
    PORT=$((20000 + RANDOM % 30000))
    DATA=$(mktemp -d "$OUT/del-XXXXXX")
    "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --log-level warn \
        --controller-listen "127.0.0.1:$((PORT + 1))" --admin-listen "127.0.0.1:$((PORT + 2))" \
        --set "log.segment.delete.delay.ms=$DELAY_MS" >"$DATA.log" 2>&1 &
    BROKER=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    COMMON=(--bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER" --clk-tck "$(getconf CLK_TCK)")
    log "$BIN: filling $FILL_MB MB"
    "${JAVA[@]}" ProducerPerf "${COMMON[@]}" --phase fill --topic doomed --partitions 8 --record-size 1024 \
        --acks 1 --num-records $((FILL_MB * 1024)) --duration-s 600 --delete-after 0 | grep '^RESULT' || true
    du -sh "$DATA" >&2
    ADMIN="127.0.0.1:$((PORT + 2))"
    log "$BIN: quiet e2e"
    python3 "$ROOT/benches/efficiency/flush_hist.py" snap "$ADMIN" "$DATA.flush"
    "${JAVA[@]}" EndToEndLatency "${COMMON[@]}" --phase "e2e-quiet $BIN" --topic quiet --partitions 1 \
        --record-size 1024 --rate 10000 --acks all --duration-s "$E2E_S" --warmup-s 10 | grep '^RESULT'
    echo "FLUSH quiet $BIN $(python3 "$ROOT/benches/efficiency/flush_hist.py" diff "$ADMIN" "$DATA.flush")"
    log "$BIN: deleting doomed, e2e during its removal"
    "$PY" -c "
from confluent_kafka.admin import AdminClient
a = AdminClient({'bootstrap.servers': '127.0.0.1:$PORT'})
a.delete_topics(['doomed'])['doomed'].result(30)"
    python3 "$ROOT/benches/efficiency/flush_hist.py" snap "$ADMIN" "$DATA.flush"
    "${JAVA[@]}" EndToEndLatency "${COMMON[@]}" --phase "e2e-deleting $BIN" --topic busy --partitions 1 \
        --record-size 1024 --rate 10000 --acks all --duration-s "$E2E_S" --warmup-s 10 | grep '^RESULT'
    echo "FLUSH deleting $BIN $(python3 "$ROOT/benches/efficiency/flush_hist.py" diff "$ADMIN" "$DATA.flush")"
    # The e2e program deletes its own topic when done, so its one folder is still waiting out DELAY_MS here.
    log "$BIN: deleted folders on disk after the run (1 = the e2e topic's own): $(find "$DATA" -mindepth 1 -maxdepth 1 -name '*-delete' | wc -l)"
    kill -TERM "$BROKER"; wait "$BROKER" 2>/dev/null || true
    BROKER=""
    rm -rf "$DATA" "$DATA.log" "$DATA.flush"
    DATA=""
done
