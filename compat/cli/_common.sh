# Shared helpers for the `weir` CLI scenarios (sourced): the CLI under test is $WEIR_BIN against the
# shared broker; python3 reads its JSON, kcat (librdkafka) cross-checks what it writes and reads.
set -euo pipefail
COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WEIR_BOOTSTRAP="${WEIR_BOOTSTRAP:?}"
W="${WEIR_BIN:?}"
TMP="${COMPAT_TMP:-$(mktemp -d)}"
mkdir -p "$TMP"

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
topic() { echo "cli-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }
# check_eq EXPECTED ACTUAL WHAT
check_eq() { [ "$1" == "$2" ] || fail "$3: expected [$1] but was [$2]"; }
# jq_py EXPR: evaluates a Python expression over the JSON document on stdin (bound to d)
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# status CMD...: prints the exit status of CMD (its stdout/stderr go to $TMP/out, $TMP/err)
status() { local s=0; "$@" >"$TMP/out" 2>"$TMP/err" || s=$?; echo "$s"; }
