#!/usr/bin/env bash
# Runs GroupProtocolBench (classic vs consumer group protocol) against a private Weir broker started with
# group.initial.rebalance.delay.ms=0.
#   compat/java/bench/group-protocol.sh [ROUNDS]     (after cargo build --release and compat/setup.sh)
set -euo pipefail
COMPAT=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=$(dirname "$COMPAT")
export WEIR_BIN=${WEIR_BIN:-$ROOT/target/release/weir}
WORK=$(mktemp -d)
export COMPAT_STATE=$WORK/state
trap '"$COMPAT/lib/broker.sh" stop-all >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
CP="$WORK/classes:$(ls "$COMPAT"/.deps/java/lib/*.jar | tr '\n' ':')"
mkdir -p "$WORK/classes"
javac -nowarn -encoding UTF-8 -d "$WORK/classes" -cp "$CP" "$COMPAT"/java/lib/*.java "$COMPAT"/java/bench/*.java
export WEIR_BOOTSTRAP
WEIR_BOOTSTRAP=$("$COMPAT/lib/broker.sh" start bench --set group.initial.rebalance.delay.ms=0)
java -Xmx512m -cp "$CP" GroupProtocolBench "${1:-3}"
