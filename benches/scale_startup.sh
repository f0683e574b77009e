#!/usr/bin/env bash
# Real-process figures for 10,000 partitions: `weir serve` start-up time (spawn until the port accepts) on a
# data folder shut down cleanly, VmRSS and open descriptors when idle and after every partition was read
# once (kcat), and the clean-shutdown time. Prints one line per run, then medians.
#
#   benches/scale_startup.sh                 # N=10000 partitions, RUNS=5, CAP=4096 (log.max.open.files)
#   N=10000 RUNS=5 CAP=256 benches/scale_startup.sh
#
# The data folder is built once by `examples/scale_data.rs` (about 1.5 min, mostly fsyncs) under
# target/bench-data/scale-proc-$N and reused; every run ends with a clean shutdown, so the next start is
# clean too. An idle broker on an empty folder gives the baseline RSS for the per-partition figure.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
RUNS=${RUNS:-5}
CAP=${CAP:-4096}
PORT=${PORT:-19392}
DATA=target/bench-data/scale-proc-$N
WEIR=target/release/weir

cargo build --release --quiet --bin weir --example scale_data
if [ ! -f "$DATA.built" ]; then
    rm -rf "$DATA"
    target/release/examples/scale_data "$DATA" "$N" 3 scale
    touch "$DATA.built"
fi

now_ns() { date +%s%N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
wait_port() {
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.002; done
}
stop() { # SIGTERM, wait (not in a subshell: it must be this shell's child); sets STOP_MS
    local t0
    t0=$(now_ns)
    kill -TERM "$1"
    wait "$1" || true
    STOP_MS=$((($(now_ns) - t0) / 1000000))
}

# Baseline: idle broker, empty folder.
EMPTY=$(mktemp -d)
"$WEIR" serve --listen "127.0.0.1:$PORT" --data-dir "$EMPTY" --log-level warn &
pid=$!
wait_port
sleep 2
base_rss=$(rss_kib $pid)
base_fds=$(fds $pid)
stop $pid
rm -rf "$EMPTY"
echo "empty folder: VmRSS ${base_rss} KiB, ${base_fds} fds"

starts=() idle_rss=() read_rss=() max_fds=() stops=()
for run in $(seq 1 "$RUNS"); do
    test -f "$DATA/.kafka_cleanshutdown" || { echo "no clean-shutdown marker in $DATA" >&2; exit 1; }
    t0=$(now_ns)
    "$WEIR" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --log-level warn \
        --set "log.max.open.files=$CAP" &
    pid=$!
    wait_port
    start_ms=$((($(now_ns) - t0) / 1000000))
    sleep 2
    rss1=$(rss_kib $pid)
    fds1=$(fds $pid)
    # Read every partition once while sampling the descriptor count.
    (peak=0; while kill -0 $pid 2>/dev/null; do f=$(fds $pid 2>/dev/null) || f=0
        [ "$f" -gt "$peak" ] && peak=$f && echo $peak > "$DATA.peak"; sleep 0.05; done) &
    sampler=$!
    got=$(kcat -C -b "127.0.0.1:$PORT" -t scale -o beginning -e -q -f '%p\n' | sort -u | wc -l)
    sleep 0.2
    rss2=$(rss_kib $pid)
    fds2=$(fds $pid)
    peak=$(cat "$DATA.peak")
    stop $pid
    stop_ms=$STOP_MS
    wait $sampler 2>/dev/null || true
    echo "run $run: start ${start_ms} ms; idle VmRSS ${rss1} KiB, ${fds1} fds; read ${got} partitions:" \
        "VmRSS ${rss2} KiB, ${fds2} fds (peak ${peak}); clean shutdown ${stop_ms} ms"
    starts+=("$start_ms") idle_rss+=("$rss1") read_rss+=("$rss2") max_fds+=("$peak") stops+=("$stop_ms")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_rss=$(median "${idle_rss[@]}")
echo "medians over $RUNS runs ($N partitions, log.max.open.files=$CAP): start $(median "${starts[@]}") ms;" \
    "idle VmRSS ${m_rss} KiB ($(( (m_rss - base_rss) * 1024 / N )) bytes per idle partition over the empty" \
    "broker); after reading all: VmRSS $(median "${read_rss[@]}") KiB, peak fds $(median "${max_fds[@]}");" \
    "clean shutdown $(median "${stops[@]}") ms"
