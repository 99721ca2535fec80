#!/usr/bin/env bash
# Relay benchmark (`make bench`): builds ferrotel and the harness in release mode, makes sure rotel is
# installed and the reference otelcol is built (scripts/reference-otelcol.sh, cached once per machine),
# then runs ferrotel-bench, which relays loadgen -> collector -> sink through ferrotel, rotel and
# otelcol with the same load and CPU pinning, at 4 and at 512 requests in flight, and prints the
# comparison tables (also written to target/bench/relay.txt). Arguments go to ferrotel-bench; see
# `target/release/ferrotel-bench --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release -p ferrotel -p ferrotel-integration-tests
otelcol=()
if [[ " $* " != *" --otelcol-bin"* ]]; then
    otelcol=(--otelcol-bin "$(nice -n 10 ./scripts/reference-otelcol.sh | tail -n 1)")
fi
exec "${CARGO_TARGET_DIR:-target}/release/ferrotel-bench" "${otelcol[@]}" "$@"
