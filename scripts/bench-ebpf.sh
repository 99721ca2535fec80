#!/usr/bin/env bash
# The ebpf receiver's overhead (`make bench-ebpf`): nginx (Debian) serves a small file on loopback
# under wrk (Debian), flat out, in rounds of three runs: no receiver; the receiver with a span per
# exchange and its metrics; the receiver with metrics only (every exchange still counted and timed)
# — exported over OTLP to ferrotel-sink. Prints req/s and p99 latency of each, the loss, and
# ferrotel's CPU seconds per 100k requests and peak RSS, as a table (also target/bench/ebpf.txt).
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
# $1: the pipelines the receiver feeds. "traces, metrics": a span per exchange and the metrics;
# "metrics": the metrics alone (every exchange still counted and timed).
write_config() {
    {
        printf 'receivers:\n  ebpf:\n    l7:\n      payload_size: 1024\n'
        printf 'exporters:\n  otlp:\n    endpoint: 127.0.0.1:14399\n    tls:\n      insecure: true\n'
        printf 'processors:\n  batch:\nservice:\n  pipelines:\n'
        for signal in $1; do
            printf '    %s:\n      receivers: [ebpf]\n      processors: [batch]\n      exporters: [otlp]\n' "$signal"
        done
    } >"$2"
}
write_config "traces metrics" "$work/spans.yaml"
write_config "metrics" "$work/metrics.yaml"

# wrk's "Requests/sec", its 99th percentile latency in ms and the requests it completed
run_wrk() {
    wrk -t1 -c"$connections" -d"${duration}s" --latency "$url" >"$work/wrk.txt"
    local rps p99 total
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.txt")
    total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    echo "$rps $p99 $total"
}

# spans the sink has received so far
sink_spans() { curl -fsS http://127.0.0.1:14399/count | grep -o '"traces":{[^}]*}' | grep -o '"items":[0-9]*' | cut -d: -f2; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk with ferrotel running $1: "req/s p99 requests cpu-ticks peak-rss-kB spans-delivered"
run_with() {
    local spans_before
    spans_before=$(sink_spans)
    "$bin/ferrotel" --config "$1" >"$work/ferrotel.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q "ebpf programs attached" "$work/ferrotel.log" && break; sleep 0.1; done
    grep -q "ebpf programs attached" "$work/ferrotel.log" || { cat "$work/ferrotel.log" >&2; exit 1; }
    local before after rss rps p99 total
    before=$(cpu_ticks "$pid")
    read -r rps p99 total < <(run_wrk)
    after=$(cpu_ticks "$pid")
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    # SIGTERM flushes what the receiver and the exporter still hold before the count is read
    kill -TERM "$pid"; wait "$pid" || true
    echo "$rps $p99 $total $((after - before)) $rss $(( $(sink_spans) - spans_before ))"
}

base=() spans=() metrics=()
for round in $(seq "$rounds"); do
    base+=("$(run_wrk)")
    spans+=("$(run_with "$work/spans.yaml")")
    metrics+=("$(run_with "$work/metrics.yaml")")
    echo "bench-ebpf: round $round: without ${base[-1]%% *} req/s, spans+metrics ${spans[-1]%% *} req/s, metrics only ${metrics[-1]%% *} req/s" >&2
done

# the median round of each configuration, by req/s
median() { printf '%s\n' "$@" | sort -n -k1 | sed -n "$(( ($# + 1) / 2 ))p"; }
hz=$(getconf CLK_TCK)
{
    echo "nginx on loopback, wrk -t1 -c$connections, $duration s per run, median of $rounds rounds; ferrotel exports over OTLP (batch, gzip) to a sink"
    echo
    echo "| configuration | req/s | p99 ms | req/s lost | ferrotel CPU-s per 100k req | % of a core per 10k req/s | ferrotel peak RSS MB | spans at the sink per request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    read -r brps bp99 _ < <(median "${base[@]}")
    printf '| without the receiver | %.0f | %.2f | | | | | |\n' "$brps" "$bp99"
    for name in spans metrics; do
        if [[ $name == spans ]]; then label="receiver: a span per exchange + metrics"; rows=("${spans[@]}"); else label="receiver: metrics only"; rows=("${metrics[@]}"); fi
        read -r rps p99 total ticks rss delivered < <(median "${rows[@]}")
        awk -v l="$label" -v r="$rps" -v p="$p99" -v n="$total" -v t="$ticks" -v m="$rss" -v s="$delivered" -v b="$brps" -v hz="$hz" -v d="$duration" 'BEGIN {
            cpu = t / hz; req = r * d
            printf "| %s | %.0f | %.2f | %.1f%% | %.2f | %.1f%% | %.1f | %.2f |\n", l, r, p, (b - r) / b * 100, cpu / req * 100000, cpu / d / (r / 10000) * 100, m / 1024, s / n }'
    done
    echo
    echo "spans at the sink per request: each request is two exchanges (wrk's client side, nginx's server side), so 2.00 means every exchange arrived as a span"
} | tee "$out/ebpf.txt"
