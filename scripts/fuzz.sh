#!/usr/bin/env bash
# Builds the fuzz targets in components/core/fuzz with libFuzzer's coverage instrumentation on
# stable rustc (the flags cargo-fuzz passes, minus the sanitizer, which needs nightly), then runs
# each for FUZZ_SECONDS (default 30) from its committed seed corpus. Fails, printing the
# reproducer, if any target crashes, panics, hangs or runs out of memory.
#
#   scripts/fuzz.sh                      # every target, 30 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh otlp_json
#   scripts/fuzz.sh --build-only
#
# otlp_protobuf asserts, for all three signals, that what the receiver's walk (wire::check) accepts
# prost decodes, to the same item count, and that the walk refuses what prost decodes only for its
# own reasons (a limit, an id of the wrong length, a group, a metric with two kinds of data).
#
# Reproduce a finding: target/fuzz/x86_64-unknown-linux-gnu/release/<target> <reproducer file>
# New inputs a run finds go to target/fuzz/corpus/<target>; the committed corpus is only read.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_DIR=$ROOT/components/core/fuzz
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/fuzz
HOST=$(rustc -vV | sed -n 's/^host: //p')

build_only=false
targets=()
for arg in "$@"; do
    case $arg in
        --build-only) build_only=true ;;
        *) targets+=("$arg") ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(otlp_protobuf otlp_json decompress config l7_parse)
fi

# --target keeps the instrumentation off build scripts and proc macros; --cfg fuzzing is what
# cargo-fuzz sets; the checks stay on in the optimised build so the fuzzer trips on them.
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "fuzz: building ${targets[*]} (target dir $CARGO_TARGET_DIR)"
# Not --locked: the fuzz crate's Cargo.lock pins what it has, and a dependency that ferrotel-core
# gains later is resolved here rather than failing the build.
bins=()
for target in "${targets[@]}"; do bins+=(--bin "$target"); done
cargo build --manifest-path "$FUZZ_DIR/Cargo.toml" --release --target "$HOST" "${bins[@]}"
$build_only && exit 0

failed=()
for target in "${targets[@]}"; do
    bin=$CARGO_TARGET_DIR/$HOST/release/$target
    work=$CARGO_TARGET_DIR/corpus/$target
    artifacts=$CARGO_TARGET_DIR/artifacts/$target
    mkdir -p "$work" "$artifacts"
    log=$CARGO_TARGET_DIR/$target.log
    echo "fuzz: $target for ${FUZZ_SECONDS}s"
    if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=1048576 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$work" "$FUZZ_DIR/corpus/$target" >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -2 | sed "s/^/fuzz: $target: /"
    else
        echo "fuzz: $target FAILED; the last lines of $log:"
        tail -40 "$log"
        grep -E 'Test unit written to|^artifact_prefix' "$log" | sed 's/^.*written to /fuzz: reproducer: /' || true
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (reproduce with $CARGO_TARGET_DIR/$HOST/release/<target> <reproducer>)"
    exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${FUZZ_SECONDS}s each with no crash"
