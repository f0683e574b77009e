#!/usr/bin/env bash
# Starts, stops and restarts named Weir broker processes for the compatibility suite.
#
#   broker.sh start NAME [EXTRA weir serve ARGS...]  start broker NAME on a free loopback port with a fresh
#                                                     data dir; prints its address (127.0.0.1:PORT)
#   broker.sh addr NAME                               print the address of broker NAME
#   broker.sh stop NAME                               SIGTERM, wait for exit (SIGKILL after 20 s)
#   broker.sh kill NAME                               SIGKILL, wait for exit (a crash: no clean shutdown)
#   broker.sh restart NAME                            stop, then start again: same port, data dir and args
#   broker.sh crash-restart NAME                      kill, then start again: same port, data dir and args
#   broker.sh stop-all [EXCEPT]                       stop every broker except the one named EXCEPT
#   broker.sh log NAME                                print the path of the broker's log file
#
# The shared broker of a run is named "shared"; scenarios restart it through $WEIR_RESTART
# (= "broker.sh restart shared") and may start private brokers of their own (e.g. one advertising a
# proxy's address) with "$WEIR_BROKER start NAME --advertised-listener 127.0.0.1:PORT".
#
# Environment: WEIR_BIN (the weir binary), COMPAT_STATE (folder for pid/port/args/log files).
set -euo pipefail

: "${WEIR_BIN:?WEIR_BIN must point to the weir binary}"
: "${COMPAT_STATE:?COMPAT_STATE must name the state folder}"
mkdir -p "$COMPAT_STATE/brokers"

die() { echo "broker.sh: $*" >&2; exit 1; }

# A free port below Linux's ephemeral range (32768+): brokers keep their port across restarts, and a port
# released from the ephemeral range is soon reused as some outgoing connection's source port.
free_port() {
  python3 -c '
import random, socket
start = random.randrange(12000)
for i in range(12000):
    port = 20000 + (start + i) % 12000
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port in 20000..32000")
'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID: wait up to 30 s for PORT to accept while PID lives.
wait_port() {
  local port=$1 pid=$2 i
  for ((i = 0; i < 300; i++)); do
    port_open "$port" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# launch NAME: start the broker described by NAME's state files; record its pid.
launch() {
  local name=$1 d="$COMPAT_STATE/brokers/$1"
  local port datadir pid
  port=$(cat "$d/port")
  datadir=$(cat "$d/datadir")
  local -a extra=()
  mapfile -t extra <"$d/args"
  # Never inherit our stdout: the caller may be reading it through a pipe ($(...)).
  echo "--- start $(date +%T.%N) weir serve --listen 127.0.0.1:$port --data-dir $datadir ${extra[*]:-}" >>"$d/log"
  NO_COLOR=1 setsid "$WEIR_BIN" serve --listen "127.0.0.1:$port" --data-dir "$datadir" "${extra[@]}" \
    </dev/null >>"$d/log" 2>&1 &
  pid=$!
  echo "$pid" >"$d/pid"
  if ! wait_port "$port" "$pid"; then
    echo "broker.sh: broker $name did not accept on port $port; log tail:" >&2
    tail -n 30 "$d/log" >&2
    kill -KILL "$pid" 2>/dev/null || true
    return 1
  fi
}

# halt NAME SIGNAL: send SIGNAL and wait for the process to exit.
halt() {
  local name=$1 sig=$2 d="$COMPAT_STATE/brokers/$1" pid i
  [ -f "$d/pid" ] || return 0
  pid=$(cat "$d/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "--- broker did not exit 20 s after SIG$sig; SIGKILL" >>"$d/log"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  echo "--- stopped $(date +%T.%N) by SIG$sig" >>"$d/log"
  rm -f "$d/pid"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    name=${1:?name}; shift
    d="$COMPAT_STATE/brokers/$name"
    [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null && die "broker $name already running"
    mkdir -p "$d"
    free_port >"$d/port"
    mktemp -d "${TMPDIR:-/tmp}/weir-compat-$name.XXXXXX" >"$d/datadir"
    printf '%s\n' "$@" >"$d/args"
    [ $# -gt 0 ] || : >"$d/args"
    : >"$d/log"
    launch "$name"
    echo "127.0.0.1:$(cat "$d/port")"
    ;;
  addr) echo "127.0.0.1:$(cat "$COMPAT_STATE/brokers/${1:?name}/port")" ;;
  log) echo "$COMPAT_STATE/brokers/${1:?name}/log" ;;
  stop) halt "${1:?name}" TERM ;;
  kill) halt "${1:?name}" KILL ;;
  restart) halt "${1:?name}" TERM; launch "$1" ;;
  crash-restart) halt "${1:?name}" KILL; launch "$1" ;;
  stop-all)
    except=${1:-}
    for d in "$COMPAT_STATE"/brokers/*/; do
      [ -d "$d" ] || continue
      n=$(basename "$d")
      [ "$n" = "$except" ] && continue
      halt "$n" TERM
      if [ -f "$d/datadir" ]; then rm -rf "$(cat "$d/datadir")"; fi
      rm -rf "$d"
    done
    ;;
  *) die "usage: broker.sh start|addr|log|stop|kill|restart|crash-restart|stop-all ..." ;;
esac
