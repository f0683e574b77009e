#!/usr/bin/env bash
# Runs every test: unit and byte-level protocol tests (cargo test), then the real-client compatibility
# suite against a freshly built broker. Installs the clients into compat/.deps/ on first use.
#
#   bash test.sh              everything
#   bash test.sh java kcat    cargo tests, then only these compat clients (see compat/run.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Lints first (fast, and they guard the no-unwrap/expect rule of src/lib.rs).
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets
# The cargo-fuzz targets build (nightly) and run 20 s each over the malformed-produce seeds.
fuzz/ci.sh
compat/setup.sh
compat/run.sh "$@"
