#!/usr/bin/env bash
# The ebpf receiver's overhead (`make bench-ebpf`): nginx (Debian) serves a small file on loopback
# under wrk (Debian), flat out, in rounds that alternate "no receiver" and "receiver attached" (L7
# capture on, spans and metrics exported over OTLP to ferrotel-sink). Prints req/s and p99 latency
# of each, the loss, and ferrotel's CPU seconds per 100k requests and peak RSS, as a table (also
# written to target/bench/ebpf.txt).
#
#   scripts/bench-ebpf.sh [--rounds N] [--duration SECONDS] [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 duration=15 connections=50
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--duration S] [--connections N]" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "bench-ebpf: needs root (it loads the ebpf receiver)" >&2; exit 1; }

./scripts/setup.sh build
./scripts/servers.sh start nginx
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p ferrotel -p ferrotel-integration-tests --bin ferrotel --bin ferrotel-sink
bin=${CARGO_TARGET_DIR:-target}/release
out=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
url=http://127.0.0.1:18080/index.html

"$bin/ferrotel-sink" --listen 127.0.0.1:14399 >"$work/sink.log" 2>&1 &
cat >"$work/ebpf.yaml" <<YAML
receivers:
  ebpf:
    l7:
      payload_size: 1024
exporters:
  otlp:
    endpoint: 127.0.0.1:14399
    tls:
      insecure: true
processors:
  batch:
service:
  pipelines:
    traces:
      receivers: [ebpf]
      processors: [batch]
      exporters: [otlp]
    metrics:
      receivers: [ebpf]
      exporters: [otlp]
YAML

# wrk's "Requests/sec" and its 99th percentile latency in ms
run_wrk() {
    wrk -t1 -c"$connections" -d"${duration}s" --latency "$url" >"$work/wrk.txt"
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.txt")
    echo "$rps $p99"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

results=()
for round in $(seq "$rounds"); do
    read -r base_rps base_p99 < <(run_wrk)
    "$bin/ferrotel" --config "$work/ebpf.yaml" >"$work/ferrotel.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "ebpf programs attached" "$work/ferrotel.log" && break; sleep 0.1; done
    grep -q "ebpf programs attached" "$work/ferrotel.log" || { cat "$work/ferrotel.log"; exit 1; }
    before=$(cpu_ticks "$pid")
    read -r with_rps with_p99 < <(run_wrk)
    after=$(cpu_ticks "$pid")
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    results+=("$base_rps $base_p99 $with_rps $with_p99 $((after - before)) $rss")
    echo "bench-ebpf: round $round: without ${base_rps} req/s p99 ${base_p99} ms, with ${with_rps} req/s p99 ${with_p99} ms" >&2
done

hz=$(getconf CLK_TCK)
printf '%s\n' "${results[@]}" | sort -n -k3 | awk -v n="$rounds" -v hz="$hz" -v d="$duration" -v c="$connections" '
    { rows[NR] = $0 }
    END {
        split(rows[int((n + 1) / 2)], r, " ")   # the median round by req/s with the receiver
        base = r[1]; with = r[3]; cpu = r[5] / hz; requests = with * d
        printf "nginx on loopback, wrk -t1 -c%d, %d s per run, median of %d rounds (by req/s with the receiver)\n\n", c, d, n
        printf "| | req/s | p99 latency ms |\n|---|---:|---:|\n"
        printf "| without the receiver | %.0f | %.2f |\n", base, r[2]
        printf "| with the receiver (L7 capture on) | %.0f | %.2f |\n", with, r[4]
        printf "| **loss** | **%.1f%%** | |\n\n", (base - with) / base * 100
        printf "ferrotel: %.2f CPU-s per 100k requests, %.1f%% of one core per 10k req/s, peak RSS %.1f MB\n",
            cpu / requests * 100000, cpu / d / (with / 10000) * 100, r[6] / 1024
    }' | tee "$out/ebpf.txt"
