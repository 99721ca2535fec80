#!/usr/bin/env bash
# Relay benchmark (`make bench`): builds ferrotel and the harness in release mode, makes sure rotel is
# installed, then runs ferrotel-bench, which relays loadgen -> collector -> sink through ferrotel and
# through rotel with the same load and CPU pinning and prints the comparison table (also written to
# target/bench/relay.txt). Arguments go to ferrotel-bench; see `target/release/ferrotel-bench --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release -p ferrotel -p ferrotel-integration-tests
exec "${CARGO_TARGET_DIR:-target}/release/ferrotel-bench" "$@"
