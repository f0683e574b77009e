#!/usr/bin/env bash
# Hostile-load benchmark (issue 15): a real client (the Java load benchmark's phases) produces and consumes
# against one broker, first alone, then beside 5,000 idle connections, slow writers and never-reading
# fetchers (benches/hostile/hostile.py). Reports the broker's peak RSS and the client's figures both ways.
# Loopback only, bounded (every step under `timeout`), not part of CI.
#
#   benches/hostile/run.sh                     # build release, run both passes once
#   benches/hostile/run.sh --runs 3 --no-build # three alternating pairs (alone, beside), medians by hand
#
# Options: --runs N, --no-build, --only REGEX (load-benchmark phases, default: produce 1 KiB acks=1 p1
# and the e2e phase), --idle N, --slow N, --fetchers N, --pipeline N, --fill-mb MB (the fetchers' topic).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT="$ROOT/target/hostile-bench"
BIN="$ROOT/target/release/weir"
RUNS=1
BUILD=1
ONLY='produce-1KiB-acks1-p1|e2e'
IDLE=5000
SLOW=50
FETCHERS=50
PIPELINE=200
FILL_MB=64

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --only) ONLY=$2; shift 2 ;;
        --idle) IDLE=$2; shift 2 ;;
        --slow) SLOW=$2; shift 2 ;;
        --fetchers) FETCHERS=$2; shift 2 ;;
        --pipeline) PIPELINE=$2; shift 2 ;;
        --fill-mb) FILL_MB=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { echo "[hostile $(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$OUT"
TS=$(date +%Y%m%d-%H%M%S)

BROKER_PID=""
HOSTILE_PID=""
DATA_DIR=""
cleanup() {
    [[ -n $HOSTILE_PID ]] && kill "$HOSTILE_PID" 2>/dev/null || true
    [[ -n $BROKER_PID ]] && kill "$BROKER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    [[ -n $DATA_DIR ]] && rm -rf "$DATA_DIR"
}
trap cleanup EXIT

if [[ $BUILD == 1 ]]; then
    (cd "$ROOT" && cargo build --release --bin weir)
fi
[[ -x $BIN ]] || { echo "run.sh: $BIN missing (drop --no-build)" >&2; exit 2; }

PORT=""
for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[[ -n $PORT ]] || { echo "run.sh: no free port" >&2; exit 2; }
BOOTSTRAP="127.0.0.1:$PORT"
DATA_DIR=$(mktemp -d "$OUT/data-XXXXXX")
log "broker on $BOOTSTRAP (data $DATA_DIR)"
"$BIN" serve --listen "$BOOTSTRAP" --data-dir "$DATA_DIR" --admin-listen "" --log-level warn \
    --set log.segment.delete.delay.ms=0 >"$OUT/broker-$TS.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$BROKER_PID" 2>/dev/null || { echo "run.sh: broker exited" >&2; exit 1; }
    sleep 0.1
done

rss_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$BROKER_PID/status"; }

# The fetchers' topic: FILL_MB MiB of 1 KiB values in one partition.
log "filling hostile-big with $FILL_MB MiB"
python3 -c "
import sys
v = 'x' * 1000
for i in range($FILL_MB * 1024):
    sys.stdout.write(v + '\n')
" | WEIR_BOOTSTRAP="$BOOTSTRAP" timeout 300 "$BIN" produce hostile-big >/dev/null

load() {
    timeout 900 "$ROOT/benches/load/run.sh" --bootstrap "$BOOTSTRAP" --broker-pid "$BROKER_PID" --no-build \
        --only "$ONLY" 2>>"$OUT/load-$TS.log"
}

REPORT="$OUT/results-$TS.md"
for run in $(seq 1 "$RUNS"); do
    log "=== run $run: alone ==="
    echo 5 >"/proc/$BROKER_PID/clear_refs"
    { echo "### run $run: alone"; load; echo "- broker peak RSS over the pass: $(($(rss_kib VmHWM) / 1024)) MiB"; } | tee -a "$REPORT"

    log "=== run $run: beside $IDLE idle, $SLOW slow writers, $FETCHERS never-reading fetchers ==="
    echo 5 >"/proc/$BROKER_PID/clear_refs"
    python3 "$SCRIPT_DIR/hostile.py" --bootstrap "$BOOTSTRAP" --idle "$IDLE" --slow "$SLOW" \
        --fetchers "$FETCHERS" --pipeline "$PIPELINE" --hold-s 1200 >"$OUT/hostile-$TS.out" 2>&1 &
    HOSTILE_PID=$!
    for _ in $(seq 1 1200); do
        grep -q '^ready' "$OUT/hostile-$TS.out" && break
        kill -0 "$HOSTILE_PID" 2>/dev/null || { cat "$OUT/hostile-$TS.out" >&2; exit 1; }
        sleep 0.1
    done
    grep -q '^ready' "$OUT/hostile-$TS.out" || { echo "run.sh: hostile clients not ready in 120 s" >&2; exit 1; }
    ready_rss=$(($(rss_kib VmRSS) / 1024))
    {
        echo "### run $run: beside the hostile clients ($(head -1 "$OUT/hostile-$TS.out"))"
        load
        echo "- broker RSS once they were connected: $ready_rss MiB; peak over the pass: $(($(rss_kib VmHWM) / 1024)) MiB; open fds: $(ls /proc/$BROKER_PID/fd | wc -l)"
    } | tee -a "$REPORT"
    kill "$HOSTILE_PID" 2>/dev/null || true
    wait "$HOSTILE_PID" 2>/dev/null || true
    HOSTILE_PID=""
    tail -1 "$OUT/hostile-$TS.out" | tee -a "$REPORT"
done
log "wrote $REPORT"
