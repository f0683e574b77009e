#!/usr/bin/env bash
# Catch-up consume, Weir beside the do-nothing broker (kbsink, ../shared/tools/kbsink) in one run (issue 16).
#
#   benches/load/catchup.sh [--rounds N] [--mb MB] [--bin WEIR_BIN]... [--kbsink KBSINK_BIN]
#
# Starts kbsink and one broker per --bin (fresh data folders, default target/release/weir), fills a
# 1-partition and an 8-partition topic with MB MiB of 1 KiB records on each (Java producer, acks=1), drops
# the page cache's copy only if DROP_CACHES=1 (needs root), then runs ConsumerPerf (assign, seekToBeginning,
# read to the end offsets, client defaults) for every (round, partitions, broker), brokers alternating inside
# each round so they share the machine's state. Output: one RESULT line per consume on stdout (prefixed with
# the broker's label) and a summary table of medians, with Weir / kbsink ratios from the same rounds.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT="$ROOT/target/load-bench"
ROUNDS=3
MB=1024
BINS=()
KBSINK="$ROOT/target/kbsink/release/kbsink"
PARTS_LIST="1 8"
CONSUMER_PROPS=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --mb) MB=$2; shift 2 ;;
        --bin) BINS+=("$2"); shift 2 ;;
        --kbsink) KBSINK=$2; shift 2 ;;
        --partitions) PARTS_LIST=$2; shift 2 ;;
        --prop) CONSUMER_PROPS+=(--prop "$2"); shift 2 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "catchup.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ ${#BINS[@]} -gt 0 ]] || BINS=("$ROOT/target/release/weir")
[[ -x $KBSINK ]] || {
    echo "catchup.sh: $KBSINK missing; build it: cargo build --release --manifest-path ../shared/tools/kbsink/Cargo.toml --target-dir target/kbsink" >&2
    exit 2
}

log() { echo "[catchup $(date +%H:%M:%S)] $*" >&2; }

JAVA_LIB=${WEIR_JAVA_LIB:-$ROOT/compat/.deps/java/lib}
mkdir -p "$OUT/classes"
CP="$OUT/classes:$JAVA_LIB/*"
if [[ -n $(find "$SCRIPT_DIR" -name '*.java' -newer "$OUT/classes/.stamp" 2>/dev/null) || ! -f $OUT/classes/.stamp ]]; then
    javac -nowarn -d "$OUT/classes" -cp "$JAVA_LIB/*" "$SCRIPT_DIR"/*.java
    touch "$OUT/classes/.stamp"
fi
JAVA_OPTS=(-Xms1g -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
CLK_TCK=$(getconf CLK_TCK)

PIDS=()
DIRS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    for d in "${DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
}

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

LABELS=()
ADDRS=()
BPIDS=()
start_broker() { # label cmd...
    local label=$1 port
    shift
    port=$(free_port)
    "$@" "127.0.0.1:$port" >"$OUT/catchup-$label.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$port" || { echo "catchup.sh: $label not listening" >&2; exit 1; }
    LABELS+=("$label")
    ADDRS+=("127.0.0.1:$port")
    BPIDS+=("$pid")
    log "$label on 127.0.0.1:$port (pid $pid)"
}

weir_cmd() { # bin dir -> prints nothing; used via start_broker
    local bin=$1 dir=$2 addr=$3
    exec "$bin" serve --listen "$addr" --data-dir "$dir" --log-level warn --set log.segment.delete.delay.ms=0
}

mkdir -p "$OUT"
start_broker kbsink "$KBSINK" --listen
i=0
for bin in "${BINS[@]}"; do
    dir=$(mktemp -d "$OUT/catchup-data-XXXXXX")
    DIRS+=("$dir")
    label=weir
    [[ ${#BINS[@]} -gt 1 ]] && label="weir$i"
    log "$label = $bin (built $(date -r "$bin" +%H:%M), checkout $(git -C "$ROOT" rev-parse --short HEAD))"
    start_broker "$label" weir_cmd "$bin" "$dir"
    i=$((i + 1))
done

RECORDS=$((MB * 1024))
for k in "${!LABELS[@]}"; do
    for parts in $PARTS_LIST; do
        log "fill ${LABELS[$k]} p$parts: $MB MiB"
        java "${JAVA_OPTS[@]}" -cp "$CP" ProducerPerf --bootstrap "${ADDRS[$k]}" --broker-pid "${BPIDS[$k]}" \
            --clk-tck "$CLK_TCK" --phase "fill-p$parts" --topic "catchup-p$parts" --partitions "$parts" \
            --record-size 1024 --acks 1 --num-records "$RECORDS" --duration-s 300 --delete-after 0 \
            >/dev/null 2>>"$OUT/catchup-client.log"
    done
done
sync
if [[ ${DROP_CACHES:-0} == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches; fi

RAW="$OUT/catchup-$(date +%Y%m%d-%H%M%S).raw"
: >"$RAW"
log "uptime: $(uptime)"
for round in $(seq 1 "$ROUNDS"); do
    for parts in $PARTS_LIST; do
        for k in "${!LABELS[@]}"; do
            line=$(java "${JAVA_OPTS[@]}" -cp "$CP" ConsumerPerf --bootstrap "${ADDRS[$k]}" \
                --broker-pid "${BPIDS[$k]}" --clk-tck "$CLK_TCK" --phase "consume-p$parts" \
                --topic "catchup-p$parts" --timeout-s 200 --delete-after 0 \
                ${CONSUMER_PROPS[@]+"${CONSUMER_PROPS[@]}"} 2>>"$OUT/catchup-client.log" | grep '^RESULT ' || true)
            echo "${LABELS[$k]} round=$round $line" | tee -a "$RAW"
        done
    done
done
log "uptime: $(uptime)"

# Summary: medians per (broker, partitions), and the ratio to kbsink's median.
python3 - "$RAW" <<'EOF'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    label = parts[0]
    f = dict(p.split('=', 1) for p in parts[1:] if '=' in p)
    if 'mb_per_s' not in f:
        continue
    rows[(label, f['phase'])].append(f)
def med(fs, k):
    return statistics.median(float(f[k]) for f in fs)
print("| broker | phase | runs | MB/s (each) | median MB/s | vs kbsink | broker CPU s | MB per broker CPU-s | client CPU s |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|")
for (label, phase), fs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    ref = rows.get(('kbsink', phase))
    ratio = med(fs, 'mb_per_s') / med(ref, 'mb_per_s') if ref else float('nan')
    each = ' / '.join(f"{float(f['mb_per_s']):.0f}" for f in fs)
    print(f"| {label} | {phase} | {len(fs)} | {each} | {med(fs, 'mb_per_s'):.1f} | {ratio:.2f} | "
          f"{med(fs, 'broker_cpu_s'):.2f} | {med(fs, 'mb_per_broker_cpu_s'):.0f} | {med(fs, 'client_cpu_s'):.2f} |")
EOF
log "raw lines: $RAW"
