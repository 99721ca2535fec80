#!/usr/bin/env bash
# The ebpf receiver's overhead (`make bench-ebpf`): nginx (Debian) serves a small file on loopback
# under wrk (Debian), flat out, in rounds of three runs: no receiver; the receiver with a span per
# exchange and its metrics; the receiver with metrics only (every exchange still counted and timed)
# — exported over OTLP to ferrotel-sink. Prints, as tables (also target/bench/ebpf.txt):
# - per configuration: req/s and p99 latency, the loss, ferrotel's CPU seconds per 100k requests
#   and peak RSS, and the whole machine's CPU per request (from /proc/stat), which also holds what
#   ferrotel's own accounting cannot see: the eBPF programs' run time, billed to nginx and wrk;
# - per receiver configuration: each eBPF program's runs and run time per request, from the
#   kernel's BPF statistics (kernel.bpf_stats_enabled), from one extra run of each, so that the
#   statistics' own cost (two clock reads per program run) stays out of the req/s figures.
#
# With --baseline COMMIT, each round also runs the spans configuration on ferrotel as built at that
# commit (built once per machine, in a worktree under /var/cache/ferrotel/baseline): a regression
# shows as the difference, measured in the same run.
#
#   scripts/bench-ebpf.sh [--rounds N] [--duration SECONDS] [--connections N] [--baseline COMMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 duration=15 connections=50 baseline=
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --baseline) baseline=$(git rev-parse --short "$2"); shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--duration S] [--connections N] [--baseline COMMIT]" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "bench-ebpf: needs root (it loads the ebpf receiver)" >&2; exit 1; }

# apt_need COMMAND PACKAGE: installs Debian's PACKAGE unless COMMAND is already there
apt_need() {
    command -v "$1" >/dev/null && return 0
    echo "bench-ebpf: installing $2 (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

./scripts/setup.sh build
./scripts/servers.sh start nginx
apt_need wrk wrk
# bpftool names the programs (fdinfo has only their ids); without it they go by id and tag
apt_need bpftool bpftool || echo "bench-ebpf: no bpftool: programs are listed by id and tag" >&2
cargo build --release -q -p ferrotel -p ferrotel-integration-tests --bin ferrotel --bin ferrotel-sink
bin=${CARGO_TARGET_DIR:-target}/release
if [[ -n $baseline ]]; then
    base_dir=/var/cache/ferrotel/baseline/$baseline
    if [[ ! -x $base_dir/target/release/ferrotel ]]; then
        echo "bench-ebpf: building the baseline $baseline (release, once per machine)" >&2
        [[ -d $base_dir/src ]] || git worktree add -f --detach "$base_dir/src" "$baseline" >/dev/null
        (cd "$base_dir/src" && CARGO_TARGET_DIR=$base_dir/target cargo build --release -q -p ferrotel)
    fi
    base_bin=$base_dir/target/release
fi
out=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$out"
work=$(mktemp -d)

# The BPF statistics cost two clock reads per program run, so they are on only while ferrotel runs;
# whatever the setting was before is put back on exit, however the script ends.
stats_sysctl=/proc/sys/kernel/bpf_stats_enabled
stats_before=$(cat "$stats_sysctl" 2>/dev/null || true)
bpf_stats() { [[ -z $stats_before ]] || echo "$1" >"$stats_sysctl"; }
trap 'kill $(jobs -p) 2>/dev/null || true; bpf_stats "$stats_before"; rm -rf "$work"' EXIT
url=http://127.0.0.1:18080/index.html

"$bin/ferrotel-sink" --listen 127.0.0.1:14399 >"$work/sink.log" 2>&1 &
sink_pid=$!
# $1: the pipelines the receiver feeds. "traces, metrics": a span per exchange and the metrics;
# "metrics": the metrics alone (every exchange still counted and timed). $3: more of the l7 section.
write_config() {
    {
        printf 'receivers:\n  ebpf:\n    l7:\n      payload_size: 1024\n%b' "${3:-}"
        printf 'exporters:\n  otlp:\n    endpoint: 127.0.0.1:14399\n    tls:\n      insecure: true\n'
        printf 'processors:\n  batch:\nservice:\n  pipelines:\n'
        for signal in $1; do
            printf '    %s:\n      receivers: [ebpf]\n      processors: [batch]\n      exporters: [otlp]\n' "$signal"
        done
    } >"$2"
}
write_config "traces metrics" "$work/spans.yaml"
write_config "metrics" "$work/metrics.yaml"
# the spans row without the in-process L7 semantics: the difference is what parsing costs
write_config "traces metrics" "$work/unparsed.yaml" '      semantics: false\n'


# utime+stime of process $1 in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The whole machine's busy and total time in clock ticks, from /proc/stat's aggregate "cpu" line:
# user nice system idle iowait irq softirq steal (guest time is already inside user). Busy is all
# but idle and iowait: it holds nginx, wrk, ferrotel, the sink and the eBPF programs they trigger.
system_ticks() {
    awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# wrk, flat out: "req/s p99-ms requests system-busy-ticks system-total-ticks sink-ticks". The sink
# stands in for a remote backend, so its CPU is counted apart to be taken out of the machine's.
run_wrk() {
    local sys_before sys_after sink_before
    sys_before=$(system_ticks)
    sink_before=$(cpu_ticks "$sink_pid")
    wrk -t1 -c"$connections" -d"${duration}s" --latency "$url" >"$work/wrk.txt"
    sys_after=$(system_ticks)
    local rps p99 total busy all
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.txt")
    total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    read -r busy all < <(echo "$sys_before $sys_after" | awk '{print $3 - $1, $4 - $2}')
    echo "$rps $p99 $total $busy $all $(( $(cpu_ticks "$sink_pid") - sink_before ))"
}

# spans the sink has received so far
sink_spans() { curl -fsS http://127.0.0.1:14399/count | grep -o '"traces":{[^}]*}' | grep -o '"items":[0-9]*' | cut -d: -f2; }

# The BPF programs process $1 holds, one "id run_time_ns run_cnt" line each. They are found through
# its file descriptors: the fdinfo of a bpf-prog fd carries the program's counters; a bpf_link fd's
# only the program's id, which covers a loader that keeps the links and closes the programs — such
# a program's counters come from bpftool. Nothing here knows the programs' names or number.
bpf_prog_counters() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        case $(readlink "$fd" 2>/dev/null || true) in
            anon_inode:bpf-prog | anon_inode:bpf_link) ;;
            *) continue ;;
        esac
        awk '$1 == "prog_id:" {id = $2} $1 == "run_time_ns:" {ns = $2} $1 == "run_cnt:" {n = $2}
             END {if (id != "") print id, ns, n}' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null || true
    done | awk '
        NF == 3 {counters[$1] = $0; next}
        {linked[$1] = 1}
        END {
            for (id in counters) print counters[id]
            for (id in linked) if (!(id in counters)) print id
        }' | sort -n | while read -r id ns n; do
        if [[ -z ${n:-} ]]; then
            command -v bpftool >/dev/null || continue
            bpftool prog show id "$id" --json 2>/dev/null | awk -v id="$id" '{
                # bpftool leaves out run_time_ns and run_cnt while they are zero
                ns = 0; n = 0
                if (match($0, /"run_time_ns":[0-9]+/)) ns = substr($0, RSTART + 14, RLENGTH - 14)
                if (match($0, /"run_cnt":[0-9]+/)) n = substr($0, RSTART + 10, RLENGTH - 10)
                print id, ns, n }' || true
        else
            echo "$id $ns $n"
        fi
    done
}

# "id name (type)" for each program id in file $1's first column, named while ferrotel still holds
# them: a program's id outlives nothing once its last fd and link are gone.
bpf_prog_names() {
    local id rest json name type
    while read -r id rest; do
        json=$(bpftool prog show id "$id" --json 2>/dev/null || true)
        name=$(grep -o '"name":"[^"]*"' <<<"$json" | head -n1 | cut -d'"' -f4 || true)
        type=$(grep -o '"type":"[^"]*"' <<<"$json" | head -n1 | cut -d'"' -f4 || true)
        if [[ -n $name ]]; then
            echo "$id $name ($type)"
        else
            echo "$id id $id"
        fi
    done <"$1"
}

# wrk with ferrotel running config $1; $2 names the run's files; $3 = 1 turns the kernel's BPF
# statistics on for the run. Prints run_wrk's fields, then "ferrotel-cpu-ticks peak-rss-kB
# spans-delivered $2". The BPF counters before and after wrk go to $work/$2.before and .after, the
# programs' names to $work/$2.names.
run_with() {
    local spans_before
    spans_before=$(sink_spans)
    bpf_stats "${3:-0}"
    "${ferrotel_bin:-$bin}/ferrotel" --config "$1" >"$work/ferrotel.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q "ebpf programs attached" "$work/ferrotel.log" && break; sleep 0.1; done
    grep -q "ebpf programs attached" "$work/ferrotel.log" || { cat "$work/ferrotel.log" >&2; exit 1; }
    local before after rss wrk_fields
    # counters over the wrk run only, not the loading and attaching before it
    bpf_prog_counters "$pid" >"$work/$2.before"
    before=$(cpu_ticks "$pid")
    wrk_fields=$(run_wrk)
    after=$(cpu_ticks "$pid")
    bpf_prog_counters "$pid" >"$work/$2.after"
    bpf_prog_names "$work/$2.after" >"$work/$2.names"
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    # SIGTERM flushes what the receiver and the exporter still hold before the count is read
    kill -TERM "$pid"; wait "$pid" || true
    bpf_stats 0
    echo "$wrk_fields $((after - before)) $rss $(( $(sink_spans) - spans_before )) $2"
}

# /proc/stat counts every process on the machine: what it shows busy before any run (a build, other
# tests) would inflate the system CPU columns, so the header reports it
read -r idle_busy idle_all < <(system_ticks)
sleep 2
background=$(system_ticks | awk -v b="$idle_busy" -v a="$idle_all" '{printf "%.0f", ($1 - b) / ($2 - a) * 100}')

base=() spans=() metrics=() unparsed=() before=()
for round in $(seq "$rounds"); do
    base+=("$(run_wrk)")
    spans+=("$(run_with "$work/spans.yaml" "spans-$round")")
    metrics+=("$(run_with "$work/metrics.yaml" "metrics-$round")")
    unparsed+=("$(run_with "$work/unparsed.yaml" "unparsed-$round")")
    echo "bench-ebpf: round $round: without ${base[-1]%% *} req/s, spans+metrics ${spans[-1]%% *} req/s, metrics only ${metrics[-1]%% *} req/s, spans unparsed ${unparsed[-1]%% *} req/s" >&2
    if [[ -n $baseline ]]; then
        before+=("$(ferrotel_bin=$base_bin run_with "$work/spans.yaml" "before-$round")")
        echo "bench-ebpf: round $round: spans+metrics at $baseline ${before[-1]%% *} req/s" >&2
    fi
done
# The statistics add two clock reads to every program run: the rounds above run without them, and
# one more run of each configuration with them gives the per-program table.
if [[ -n $stats_before ]]; then
    spans_stats=$(run_with "$work/spans.yaml" spans-stats 1)
    metrics_stats=$(run_with "$work/metrics.yaml" metrics-stats 1)
fi

# the median round of each configuration, by req/s
median() { printf '%s\n' "$@" | sort -n -k1 | sed -n "$(( ($# + 1) / 2 ))p"; }
hz=$(getconf CLK_TCK)
# The per-program table of run $1 ("spans-2"), over $2 requests: what each program added between
# the counters before and after wrk, busiest first, and their sum.
prog_table() {
    echo "| eBPF program (type) | runs per request | ns per run | ns per request |"
    echo "|---|---:|---:|---:|"
    awk -v req="$2" '
        FILENAME ~ /\.names$/ {id = $1; $1 = ""; name[id] = substr($0, 2); next}
        FILENAME ~ /\.before$/ {ns0[$1] = $2; n0[$1] = $3; next}
        {
            ns = $2 - ns0[$1]; n = $3 - n0[$1]
            # loaded but not attached (or attached where nothing ran): nothing to show
            if (n <= 0) next
            printf "%s|%.2f|%.0f|%.0f\n", ($1 in name ? name[$1] : "id " $1), n / req, ns / n, ns / req
            total_n += n; total_ns += ns
        }
        END { if (total_n > 0) printf "~total|%.2f|%.0f|%.0f\n", total_n / req, total_ns / total_n, total_ns / req }' \
        "$work/$1.names" "$work/$1.before" "$work/$1.after" |
        sort -t'|' -k4,4nr | awk -F'|' '{
            if ($1 == "~total") {total = $0; next}
            printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }
            END { if (total == "") print "| (no program ran) | | | |"
                  else { split(total, t, "|"); printf "| **all programs** | %s | %s | **%s** |\n", t[2], t[3], t[4] } }'
}
{
    echo "nginx on loopback, wrk -t1 -c$connections, $duration s per run, median of $rounds rounds; ferrotel exports over OTLP (batch, gzip) to a sink"
    echo "$(nproc) CPUs shared by nginx, wrk, ferrotel and the sink; kernel $(uname -r); CPUs busy before the runs (others' load): $background%"
    echo
    echo "| configuration | req/s | p99 ms | req/s lost | ferrotel CPU-s per 100k req | % of a core per 10k req/s | ferrotel peak RSS MB | spans at the sink per request | machine busy | system CPU-µs per request | added CPU-µs per request | of which outside ferrotel |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    read -r brps bp99 btotal bbusy ball bsink < <(median "${base[@]}")
    # system CPU per request leaves out the sink's share: it stands in for a remote backend
    bsys=$(awk -v b="$bbusy" -v s="$bsink" -v n="$btotal" -v hz="$hz" 'BEGIN {printf "%.3f", (b - s) / hz * 1e6 / n}')
    awk -v r="$brps" -v p="$bp99" -v b="$bbusy" -v a="$ball" -v u="$bsys" 'BEGIN {
        printf "| without the receiver | %.0f | %.2f | | | | | | %.0f%% | %.2f | | |\n", r, p, b / a * 100, u }'
    for name in spans unparsed ${baseline:+before} metrics; do
        case $name in
            spans) label="receiver: a span per exchange + metrics"; rows=("${spans[@]}") ;;
            unparsed) label="receiver: the same, spans unparsed (l7.semantics: false)"; rows=("${unparsed[@]}") ;;
            before) label="receiver: a span per exchange + metrics, ferrotel at $baseline"; rows=("${before[@]}") ;;
            *) label="receiver: metrics only"; rows=("${metrics[@]}") ;;
        esac
        read -r rps p99 total busy all sink ticks rss delivered _ < <(median "${rows[@]}")
        awk -v l="$label" -v r="$rps" -v p="$p99" -v n="$total" -v t="$ticks" -v m="$rss" -v s="$delivered" -v b="$brps" -v hz="$hz" -v d="$duration" \
            -v busy="$busy" -v all="$all" -v sink="$sink" -v bsys="$bsys" 'BEGIN {
            cpu = t / hz; req = r * d
            sys = (busy - sink) / hz * 1e6 / n
            printf "| %s | %.0f | %.2f | %.1f%% | %.2f | %.1f%% | %.1f | %.2f | %.0f%% | %.2f | %.2f | %.2f |\n", l, r, p, (b - r) / b * 100, cpu / req * 100000, cpu / d / (r / 10000) * 100, m / 1024, s / n,
                busy / all * 100, sys, sys - bsys, sys - bsys - t / hz * 1e6 / n }'
    done
    # parsing's share: ferrotel's CPU per request with and without the in-process semantics. Its
    # CPU per request moves between rounds more than the req/s do: the median of each round's
    # figure, not the figure of the median round, and every round's shown.
    echo
    us_per_request() {
        printf '%s\n' "$@" | awk -v hz="$hz" '{printf "%.2f\n", $7 / hz * 1e6 / $3}' | sort -n | paste -sd' '
    }
    middle() { awk '{print $((NF + 1) / 2)}' <<<"$1"; }
    s=$(us_per_request "${spans[@]}") u=$(us_per_request "${unparsed[@]}")
    echo "ferrotel CPU-µs per request, each round (sorted): spans $s; spans unparsed $u"
    awk -v s="$(middle "$s")" -v u="$(middle "$u")" 'BEGIN {
        printf "L7 semantics (parsing each request in ferrotel): ferrotel CPU-µs per request %.2f with, %.2f without (medians): %+.1f%%\n", s, u, (s - u) / u * 100 }'
    if [[ -n $baseline ]]; then
        b=$(us_per_request "${before[@]}")
        echo "ferrotel CPU-µs per request, each round (sorted): spans at $baseline $b"
        awk -v s="$(middle "$s")" -v b="$(middle "$b")" -v c="$baseline" 'BEGIN {
            printf "The spans row against ferrotel at %s: ferrotel CPU-µs per request %.2f now, %.2f then (medians): %+.1f%%\n", c, s, b, (s - b) / b * 100 }'
    fi
    echo
    echo "spans at the sink per request: each request is two exchanges (wrk's client side, nginx's server side), so 2.00 means every exchange arrived as a span"
    echo "machine busy: all CPUs' non-idle time (user+nice+system+irq+softirq+steal in /proc/stat) over the wrk run; system CPU-µs per request: that time, less the sink's, per completed request"
    echo "added CPU-µs per request: against the run without the receiver; of which outside ferrotel: less ferrotel's own CPU, i.e. the eBPF programs, the kernel's traced-syscall path and whatever else the receiver makes nginx and wrk spend"
    if [[ -z $stats_before ]]; then
        echo
        echo "(no kernel.bpf_stats_enabled on this kernel: no per-program run times)"
    else
        for name in spans metrics; do
            if [[ $name == spans ]]; then label="a span per exchange + metrics"; row=$spans_stats; else label="metrics only"; row=$metrics_stats; fi
            read -r rps _ total _ _ _ _ _ _ run <<<"$row"
            echo
            echo "eBPF programs, receiver: $label (one more run with kernel.bpf_stats_enabled, at $rps req/s; programs that never ran are left out):"
            echo
            prog_table "$run" "$total"
        done
        echo
        echo "ns per request: run_time_ns / requests. The programs run for every process on the machine, so runs by others (a build, other tests) count too. The statistics themselves add two clock reads to each run; they were on for these runs only, not for the table above"
    fi
} | tee "$out/ebpf.txt"
