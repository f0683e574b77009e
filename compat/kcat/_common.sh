# Shared helpers for the kcat scenarios (sourced). kcat is Debian's package (librdkafka inside).
set -euo pipefail
COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$COMPAT/.deps/venv/bin/python"
B="${WEIR_BOOTSTRAP:?}"
TMP="${COMPAT_TMP:-$(mktemp -d)}"
mkdir -p "$TMP"

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
topic() { echo "kcat-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }
mktopic() { "$PY" "$COMPAT/lib/mktopic.py" "$1" "$2"; }
# check_eq EXPECTED ACTUAL WHAT
check_eq() { [ "$1" == "$2" ] || fail "$3: expected [$1] but was [$2]"; }
