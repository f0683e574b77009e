#!/usr/bin/env bash
# Load benchmark of Weir driven by the official Java client (kafka-clients 3.9.1).
#
#   benches/load/run.sh                 # build release, start a fresh broker on a free port, run the matrix
#   benches/load/run.sh --runs 3        # repeat the matrix, report medians
#   benches/load/run.sh --quick         # short smoke pass (seconds, not minutes)
#   benches/load/run.sh --bootstrap 127.0.0.1:9092 --broker-pid 1234   # use a running broker
#
# Options: --runs N, --quick, --bootstrap HOST:PORT, --broker-pid PID, --no-build,
#          --only REGEX (run only phases whose name matches), --produce-s SECONDS (per produce phase),
#          --catchup-mb MB, --e2e-s SECONDS, --broker-arg ARG (extra `weir serve` argument, repeatable),
#          --broker-bin PATH (start this weir binary instead of building target/release/weir; implies --no-build).
#
# E2E_DUMP=PREFIX (environment) makes the e2e phase write every latency, in arrival order, to PREFIX.e2e
# and PREFIX.ack (microseconds, one per line) for a timeline.
# The Java programs (benches/load/*.java) are compiled at run time into target/load-bench/classes.
# Client jars: $WEIR_JAVA_LIB if set, else compat/.deps/java/lib (installed by compat/setup.sh).
# Each phase measures, over its exact measured window: payload MB/s, records/s, broker CPU seconds
# (utime+stime from /proc/PID/stat), MB per broker CPU-second, the client JVM's CPU seconds, broker RSS,
# and latency percentiles. Output: Markdown on stdout and in target/load-bench/results-<timestamp>.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT="$ROOT/target/load-bench"

RUNS=1
QUICK=0
BOOTSTRAP=""
BROKER_PID=""
BUILD=1
ONLY=""
PRODUCE_S=""
CATCHUP_MB=""
E2E_S=""
BROKER_ARGS=()
BIN=""

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --bootstrap) BOOTSTRAP=$2; shift 2 ;;
        --broker-pid) BROKER_PID=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --only) ONLY=$2; shift 2 ;;
        --produce-s) PRODUCE_S=$2; shift 2 ;;
        --catchup-mb) CATCHUP_MB=$2; shift 2 ;;
        --e2e-s) E2E_S=$2; shift 2 ;;
        --broker-arg) BROKER_ARGS+=("$2"); shift 2 ;;
        --broker-bin) BIN=$2; BUILD=0; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

if [[ $QUICK == 1 ]]; then
    : "${PRODUCE_S:=1.5}" "${CATCHUP_MB:=128}" "${E2E_S:=4}"
    E2E_WARMUP_S=1
else
    : "${PRODUCE_S:=6}" "${CATCHUP_MB:=1024}" "${E2E_S:=20}"
    # Long enough for the client JVM's JIT: with 2 s the backlog built while it warms (0.4–1.7 s late
    # sends) was still draining 5 s into the measured window (E2E_DUMP timeline, BENCHMARKS.md).
    E2E_WARMUP_S=10
fi

log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

# ------------------------------------------------------------------ cleanup: always kill what we started
STARTED_BROKER_PID=""
CURRENT_PID=""
DATA_DIR=""
cleanup() {
    local rc=$?
    if [[ -n $CURRENT_PID ]] && kill -0 "$CURRENT_PID" 2>/dev/null; then
        kill "$CURRENT_PID" 2>/dev/null || true
    fi
    if [[ -n $STARTED_BROKER_PID ]] && kill -0 "$STARTED_BROKER_PID" 2>/dev/null; then
        log "stopping broker $STARTED_BROKER_PID"
        kill -TERM "$STARTED_BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$STARTED_BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$STARTED_BROKER_PID" 2>/dev/null || true
    fi
    if [[ -n $DATA_DIR && -d $DATA_DIR ]]; then rm -rf "$DATA_DIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ Java client and programs
JAVA_LIB=${WEIR_JAVA_LIB:-$ROOT/compat/.deps/java/lib}
if ! compgen -G "$JAVA_LIB/kafka-clients*.jar" >/dev/null; then
    if [[ -z ${WEIR_JAVA_LIB:-} && -f $ROOT/compat/setup.sh ]]; then
        log "client jars missing; running compat/setup.sh"
        bash "$ROOT/compat/setup.sh" >&2
    fi
fi
compgen -G "$JAVA_LIB/kafka-clients*.jar" >/dev/null || {
    echo "run.sh: no kafka-clients jar in $JAVA_LIB (run compat/setup.sh or set WEIR_JAVA_LIB)" >&2
    exit 2
}
command -v javac >/dev/null || { echo "run.sh: javac not found (need a JDK 11+)" >&2; exit 2; }

mkdir -p "$OUT/classes"
CP="$OUT/classes:$JAVA_LIB/*"
if [[ -n $(find "$SCRIPT_DIR" -name '*.java' -newer "$OUT/classes/.stamp" 2>/dev/null) || ! -f $OUT/classes/.stamp ]]; then
    log "compiling benches/load/*.java"
    javac -nowarn -d "$OUT/classes" -cp "$JAVA_LIB/*" "$SCRIPT_DIR"/*.java
    touch "$OUT/classes/.stamp"
fi
# A fixed heap keeps GC behaviour comparable between runs; the client logs only warnings.
JAVA_OPTS=(-Xms1g -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
CLK_TCK=$(getconf CLK_TCK)

# ------------------------------------------------------------------ broker
TS=$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
BROKER_LOG="$OUT/broker-$TS.log"
if [[ -z $BOOTSTRAP ]]; then
    if [[ $BUILD == 1 ]]; then
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release --quiet) >&2
    fi
    BIN=${BIN:-$ROOT/target/release/weir}
    [[ -x $BIN ]] || { echo "run.sh: $BIN missing (drop --no-build)" >&2; exit 2; }
    # A free port: the first in a random high range that nothing answers on.
    PORT=""
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
    done
    [[ -n $PORT ]] || { echo "run.sh: no free port found" >&2; exit 2; }
    DATA_DIR=$(mktemp -d "$OUT/data-XXXXXX")
    BOOTSTRAP="127.0.0.1:$PORT"
    log "starting broker on $BOOTSTRAP (data $DATA_DIR, log $BROKER_LOG)"
    # Deleted topics leave the disk at once (not 60 s later), and each phase waits for that (see
    # wait_for_deletions): a phase must not pay for unlinking the gigabytes of the one before it.
    "$BIN" serve --listen "$BOOTSTRAP" --data-dir "$DATA_DIR" --log-level warn \
        --set log.segment.delete.delay.ms=0 \
        ${BROKER_ARGS[@]+"${BROKER_ARGS[@]}"} >"$BROKER_LOG" 2>&1 &
    STARTED_BROKER_PID=$!
    BROKER_PID=$STARTED_BROKER_PID
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
        kill -0 "$BROKER_PID" 2>/dev/null || { echo "run.sh: broker exited; see $BROKER_LOG" >&2; exit 1; }
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "run.sh: broker not listening after 30 s" >&2; exit 1; }
    if [[ $BIN == "$ROOT/target/release/weir" ]]; then
        BROKER_DESC="release build of this checkout, started by run.sh, fresh data dir"
    else
        BIN_COMMIT=$(git -C "$(dirname "$BIN")" rev-parse --short HEAD 2>/dev/null || echo "unknown commit")
        BROKER_DESC="$BIN (checkout at $BIN_COMMIT), started by run.sh, fresh data dir"
    fi
    [[ ${#BROKER_ARGS[@]} -gt 0 ]] && BROKER_DESC+="; broker args: ${BROKER_ARGS[*]}"
else
    [[ -n $BROKER_PID ]] || log "no --broker-pid: broker CPU and RSS columns will be n/a"
    BROKER_DESC="external broker at $BOOTSTRAP (pid ${BROKER_PID:-unknown})"
fi

RAW="$OUT/results-$TS.raw"
: >"$RAW"
COMMON=(--bootstrap "$BOOTSTRAP" --broker-pid "$BROKER_PID" --clk-tck "$CLK_TCK")

# Waits (up to 60 s) until the broker has removed the folders of deleted topics (`*-delete`) from its data
# dir, so that removal (page-cache truncation, block frees, discards) does not land in the next measured
# window. Only possible for a broker this script started (it knows the data dir).
wait_for_deletions() {
    [[ -n $DATA_DIR ]] || return 0
    local waited=0
    while compgen -G "$DATA_DIR/*-delete" >/dev/null && ((waited < 600)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    ((waited == 0)) || log "waited $((waited / 10)).$((waited % 10)) s for deleted topics to leave the disk"
}

# run_phase NAME TIMEOUT_S CLASS ARGS... : runs one bounded Java program, appends its RESULT line.
run_phase() {
    local name=$1 timeout_s=$2 class=$3
    shift 3
    if [[ -n $ONLY && ! $name =~ $ONLY ]]; then return 0; fi
    wait_for_deletions
    log "phase $name"
    local tmp="$OUT/phase-$TS.out"
    timeout -k 10 "$timeout_s" java "${JAVA_OPTS[@]}" -cp "$CP" "$class" "${COMMON[@]}" --phase "$name" "$@" \
        >"$tmp" 2>>"$OUT/client-$TS.log" &
    CURRENT_PID=$!
    local rc=0
    wait "$CURRENT_PID" || rc=$?
    CURRENT_PID=""
    if grep -q '^RESULT ' "$tmp"; then
        grep '^RESULT ' "$tmp" | tee -a "$RAW" | sed 's/^/  /' >&2
    else
        log "phase $name produced no result (exit $rc; timeout=124); see $OUT/client-$TS.log"
        echo "RESULT kind=error phase=$name exit=$rc failed=exit_$rc" >>"$RAW"
    fi
    if [[ -n $STARTED_BROKER_PID ]] && ! kill -0 "$STARTED_BROKER_PID" 2>/dev/null; then
        echo "run.sh: broker died during $name; see $BROKER_LOG" >&2
        exit 1
    fi
}

run_matrix() {
    local size label acks parts
    local produce_timeout
    produce_timeout=$(awk -v s="$PRODUCE_S" 'BEGIN { printf "%d", s + 60 }')
    for size in 100 1024 16384; do
        case $size in 100) label=100B ;; 1024) label=1KiB ;; 16384) label=16KiB ;; esac
        for acks in 1 all; do
            for parts in 1 8; do
                run_phase "produce-$label-acks$acks-p$parts" "$produce_timeout" ProducerPerf \
                    --topic "bench-produce" --partitions "$parts" --record-size "$size" --acks "$acks" \
                    --num-records 100000000 --duration-s "$PRODUCE_S"
            done
        done
    done
    local catchup_records=$((CATCHUP_MB * 1024))
    run_phase "catchup-fill-1KiB-p8" 240 ProducerPerf \
        --topic bench-catchup --partitions 8 --record-size 1024 --acks 1 \
        --num-records "$catchup_records" --duration-s 200 --delete-after 0
    run_phase "catchup-consume-${CATCHUP_MB}MB-p8" 240 ConsumerPerf \
        --topic bench-catchup --timeout-s 200 --delete-after 1
    run_phase "e2e-1KiB-10000rps-acksall-p1" "$(awk -v s="$E2E_S" -v w="$E2E_WARMUP_S" 'BEGIN { printf "%d", s + w + 60 }')" \
        EndToEndLatency --topic bench-e2e --partitions 1 --record-size 1024 --rate 10000 --acks all \
        --duration-s "$E2E_S" --warmup-s "$E2E_WARMUP_S"
}

START=$(date +%s)
for run in $(seq 1 "$RUNS"); do
    log "=== run $run of $RUNS ==="
    run_matrix
done
ELAPSED=$(($(date +%s) - START))

COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (dirty)" || true)
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
CLIENT_VERSION="kafka-clients $(java -cp "$CP" Report --client-version 2>/dev/null || echo unknown)"
REPORT="$OUT/results-$TS.md"
{
    echo "## Weir load benchmark (Java client) — $TS"
    echo
    echo "- commit: \`$COMMIT\`$DIRTY; broker: $BROKER_DESC"
    echo "- machine: $(nproc) cores ($CPU_MODEL), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; client: $CLIENT_VERSION, $(java -version 2>&1 | head -1)"
    echo "- runs: $RUNS (table shows medians); produce phases ${PRODUCE_S} s each; catch-up ${CATCHUP_MB} MB; e2e ${E2E_S} s after ${E2E_WARMUP_S} s warm-up; wall time ${ELAPSED} s"
    echo "- MB = 2^20 bytes of record values. CPU columns are utime+stime over the measured window only."
    echo "  Latency: produce = send() to callback; e2e = intended send time (schedule slot) to consumer receipt."
    echo
    java -cp "$CP" Report "$RAW"
} | tee "$REPORT"
log "wrote $REPORT (raw lines: $RAW)"
