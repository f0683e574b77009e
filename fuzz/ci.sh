#!/usr/bin/env bash
# Builds the cargo-fuzz targets and runs each briefly over the seeds the malformed-produce suite writes,
# so a target that no longer compiles, or an input that crashes one, turns CI red. Longer runs: README.md.
#
#   fuzz/ci.sh                 FUZZ_SECONDS per target (default 20)
#
# Needs the nightly toolchain and cargo-fuzz (.ci/run installs cargo-fuzz); without them it says so and
# stops without failing, so `bash test.sh` still works on a machine with stable Rust only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECONDS_EACH=${FUZZ_SECONDS:-20}

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: not built — needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz)" >&2
  exit 0
fi

(cd .. && WEIR_FUZZ_SEEDS="$PWD/fuzz/seeds" cargo test -q -p weir-protocol-tests --test malformed_produce)
# No sanitizer: the crate forbids unsafe code, and ASan rebuilds every C codec (20 minutes here). A dev
# build keeps overflow checks on and compiles in a fraction of release's time.
cargo +nightly fuzz build --dev -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in request_decode batch_validate segment_recovery; do
  mkdir -p "$scratch/$target"
  # segment_recovery opens a store per input: a RAM-backed TMPDIR keeps its folder fsyncs cheap.
  if ! TMPDIR=/dev/shm cargo +nightly fuzz run --dev -s none "$target" "$scratch/$target" "seeds/$target" -- \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
    tail -n 80 "$scratch/$target.log"
    echo "fuzz: $target failed (the input is under fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$scratch/$target.log" | sed "s/^/$target /"
done
echo "fuzz: ${SECONDS_EACH}s per target, no crash"
