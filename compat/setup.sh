#!/usr/bin/env bash
# Installs the real Kafka clients used by Weir's compatibility suite into compat/.deps/ (git-ignored).
#
# Idempotent: every step checks whether its pinned result is already there and skips if so.
# Needs: python3 (with venv), pip, node + npm, javac, apt-get (for kcat). Runs as root or with sudo.
#
#   compat/.deps/java/lib/*.jar   kafka-clients 3.9.1 + slf4j-api + lz4-java + snappy-java + zstd-jni
#   compat/.deps/venv/            confluent-kafka (bundles librdkafka), kafka-python + its codecs
#   compat/.deps/node/            kafkajs + pure-JS codecs (from compat/kafkajs/package-lock.json)
#   kcat                          Debian package
set -euo pipefail

COMPAT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS="$COMPAT/.deps"
mkdir -p "$DEPS"

# ---- pinned versions -------------------------------------------------------------------------
# The Java client comes from a PyPI wheel that ships Flink's lib/ folder (the only registry we reach
# that carries kafka-clients). Pinned by version and by sha256 of the wheel and of each jar taken.
FLINK_WHEEL_REQ="shigawire-apache-flink-libraries==2.0.0.post1"
FLINK_WHEEL_SHA256="aaa65537d3f0c0ff279185d8243024f0efd95788ba044bf249ba0f40b69289cd"
declare -A JAR_SHA256=(
  [kafka-clients.jar]=7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9 # 3.9.1
  [slf4j-api.jar]=d3ef575e3e4979678dc01bf1dcce51021493b4d11fb7f1be8ad982877c16a1c0     # 1.7.36 (no binding: NOP)
  [lz4-java.jar]=d74a3334fb35195009b338a951f918203d6bbca3d1d359033dc33edd1cadc9ef
  [snappy-java.jar]=4c766cb3f855415ee734b2392949a0b6f12a60879334a74518deaf6270d32e36   # 1.1.10.7
  [zstd-jni.jar]=793ca8734aa15687e7e64564eab8b6ae9ee2720eae27aa663074682144b1c386      # 1.5.6-4
)
PY_PACKAGES=(
  confluent-kafka==2.16.1
  kafka-python==3.0.12
  lz4==4.4.5
  python-snappy==0.7.3
  cramjam==2.14.0
  zstandard==0.25.0
)

log() { printf '[setup] %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- Java: kafka-clients and its codecs --------------------------------------------------------
java_jars_ok() {
  local j
  for j in "${!JAR_SHA256[@]}"; do
    [ -f "$DEPS/java/lib/$j" ] || return 1
    echo "${JAR_SHA256[$j]}  $DEPS/java/lib/$j" | sha256sum -c --quiet - >/dev/null 2>&1 || return 1
  done
}
if java_jars_ok; then
  log "java: jars present"
else
  log "java: downloading $FLINK_WHEEL_REQ"
  mkdir -p "$DEPS/cache" "$DEPS/java/lib"
  wheel="$(ls "$DEPS"/cache/shigawire_apache_flink_libraries-2.0.0.post1-*.whl 2>/dev/null | head -1 || true)"
  if [ -z "$wheel" ]; then
    python3 -m pip download --quiet --no-deps "$FLINK_WHEEL_REQ" -d "$DEPS/cache"
    wheel="$(ls "$DEPS"/cache/shigawire_apache_flink_libraries-2.0.0.post1-*.whl | head -1)"
  fi
  echo "$FLINK_WHEEL_SHA256  $wheel" | sha256sum -c --quiet -
  tmp="$(mktemp -d)"
  python3 - "$wheel" "$tmp" "${!JAR_SHA256[@]}" <<'PY'
import sys, zipfile
wheel, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for n in names:
        z.extract("pyflink/lib/" + n, out)
PY
  for j in "${!JAR_SHA256[@]}"; do
    echo "${JAR_SHA256[$j]}  $tmp/pyflink/lib/$j" | sha256sum -c --quiet -
    mv "$tmp/pyflink/lib/$j" "$DEPS/java/lib/$j"
  done
  rm -rf "$tmp" "$DEPS/cache" # the 90 MB wheel is not needed any more
  java_jars_ok
  log "java: jars installed"
fi
command -v javac >/dev/null || { log "javac not found (need a JDK 11+)"; exit 1; }

# ---- Python: confluent-kafka and kafka-python in a venv ------------------------------------------
py_ok() {
  [ -x "$DEPS/venv/bin/python" ] || return 1
  "$DEPS/venv/bin/python" - "${PY_PACKAGES[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for req in sys.argv[1:]:
    name, want = req.split("==")
    if version(name) != want:
        sys.exit(1)
PY
}
if py_ok; then
  log "python: venv present"
else
  log "python: creating venv"
  [ -x "$DEPS/venv/bin/python" ] || python3 -m venv "$DEPS/venv"
  "$DEPS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  py_ok
  log "python: installed ${PY_PACKAGES[*]}"
fi

# ---- Node: kafkajs -------------------------------------------------------------------------------
node_ok() {
  [ -f "$DEPS/node/package-lock.json" ] && cmp -s "$COMPAT/kafkajs/package-lock.json" "$DEPS/node/package-lock.json" \
    && [ -f "$DEPS/node/node_modules/kafkajs/package.json" ]
}
if node_ok; then
  log "node: kafkajs present"
else
  log "node: npm ci"
  mkdir -p "$DEPS/node"
  cp "$COMPAT/kafkajs/package.json" "$COMPAT/kafkajs/package-lock.json" "$DEPS/node/"
  (cd "$DEPS/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  node_ok
  log "node: installed"
fi

# ---- kcat (Debian package) -----------------------------------------------------------------------
if command -v kcat >/dev/null; then
  log "kcat: present ($(kcat -V 2>&1 | head -1))"
else
  log "kcat: apt-get install"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy kcat 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    sudo_if_needed apt-get update -qq
  fi
  sudo_if_needed apt-get install -y -qq kcat >/dev/null
  log "kcat: installed ($(kcat -V 2>&1 | head -1))"
fi

log "done"
