//! ferrotel-bench: the relay benchmark behind `make bench`.
//!
//! For each load setting (--concurrency) and each collector (ferrotel, rotel, and the reference otelcol
//! that scripts/reference-otelcol.sh builds with OCB) in one run: ferrotel-loadgen → collector (OTLP
//! gRPC in → batch → OTLP gRPC out with gzip) → ferrotel-sink. The load runs flat out (or at --rate); after a
//! warm-up, a window of --duration seconds is measured from /proc for the collector process only
//! (utime+stime delta, VmHWM) and at the sink (spans relayed). On two or more cores the collector is
//! pinned to one core and the load generator and sink to another, the same way for every collector.

use anyhow::{Context, bail};
use clap::Parser;
use ferrotel_integration_tests::bench_report::{self, Measured, Section};
use ferrotel_integration_tests::procs::{self, Proc, free_addr, http_get};
use ferrotel_integration_tests::sink::Snapshot;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel-bench",
    about = "Relay benchmark: ferrotel against rotel and otelcol, same load, same pinning"
)]
struct Args {
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Spans per second offered; 0 is flat out.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    #[arg(long, default_value_t = 10)]
    attributes: usize,
    /// Requests in flight from the load generator, one setting or a comma list; every collector runs
    /// at each. 4 is what one SDK-like client with a few exporters keeps in flight; 512 is a
    /// gateway's many agents.
    #[arg(long, value_delimiter = ',', default_value = "4,512")]
    concurrency: Vec<usize>,
    /// Compression from the load generator to the collector (the collector always exports with gzip).
    #[arg(long, default_value = "gzip")]
    compression: String,
    /// Rounds; each runs every collector at every concurrency in turn, and the tables show each
    /// figure's median.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Collectors to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "ferrotel,rotel,otelcol")]
    collectors: Vec<String>,
    /// Core for the collector; the load generator and the sink get the others.
    #[arg(long, default_value_t = 0)]
    collector_cpu: usize,
    #[arg(long)]
    ferrotel_bin: Option<PathBuf>,
    #[arg(long)]
    rotel_bin: Option<PathBuf>,
    /// The reference otelcol; defaults to the one scripts/reference-otelcol.sh builds (or has cached).
    #[arg(long)]
    otelcol_bin: Option<PathBuf>,
    /// Folder holding ferrotel-loadgen and ferrotel-sink; defaults to this binary's folder.
    #[arg(long)]
    tools_dir: Option<PathBuf>,
    /// Where the table is written.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn clock_ticks_per_second() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output();
    output
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in seconds.
fn cpu_seconds(pid: u32, ticks: f64) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/PID/stat")?;
    let after = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / ticks)
}

/// VmHWM: the peak resident set size.
fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmHWM")?
        .parse()?;
    Ok(kb * 1024)
}

fn sink_spans(addr: SocketAddr) -> anyhow::Result<u64> {
    let (status, body) = http_get(addr, "/count")?;
    anyhow::ensure!(status == 200, "sink /count answered {status}");
    Ok(serde_json::from_str::<Snapshot>(&body)?.traces.items)
}

/// Wraps a command in `taskset -c CPUS` when pinning is on.
fn pinned(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn version_of(program: &Path) -> String {
    let output = Command::new(program).arg("--version").output();
    output
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

struct Setup<'a> {
    args: &'a Args,
    tools: PathBuf,
    work: PathBuf,
    collector_cpus: Option<String>,
    load_cpus: Option<String>,
    ticks: f64,
    /// The reference otelcol, when `otelcol` is among the collectors.
    otelcol_bin: Option<PathBuf>,
}

fn ferrotel_config(receiver: SocketAddr, sink: SocketAddr, metrics_port: u16) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {receiver}\n\
         processors:\n  batch: {{}}\n\
         exporters:\n  otlp:\n    endpoint: {sink}\n    compression: gzip\n    tls:\n      insecure: true\n\
         service:\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: {metrics_port}\n\
         \x20 pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp]\n"
    )
}

/// otelcol's config: the same pipeline with the batch processor's defaults; its own metrics are off
/// so that nothing listens on :8888.
fn otelcol_config(receiver: SocketAddr, sink: SocketAddr) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {receiver}\n\
         processors:\n  batch: {{}}\n\
         exporters:\n  otlp_grpc:\n    endpoint: {sink}\n    compression: gzip\n    tls:\n      insecure: true\n\
         service:\n  telemetry:\n    metrics:\n      level: none\n\
         \x20 pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp_grpc]\n"
    )
}

/// The reference otelcol that scripts/reference-otelcol.sh builds once per machine: the last line
/// it prints is the binary's path.
fn reference_otelcol() -> anyhow::Result<PathBuf> {
    let script = procs::workspace_root().join("scripts/reference-otelcol.sh");
    eprintln!(
        "bench: {} (builds otelcol with OCB once per machine)",
        script.display()
    );
    let output = Command::new(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed ({}); or pass --otelcol-bin",
        script.display(),
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .last()
        .context("reference-otelcol.sh printed no path")?;
    Ok(PathBuf::from(path.trim()))
}

fn start_collector(
    setup: &Setup,
    name: &str,
    receiver: SocketAddr,
    sink: SocketAddr,
) -> anyhow::Result<(Proc, String)> {
    let cpus = setup.collector_cpus.as_deref();
    match name {
        "ferrotel" => {
            let bin = setup
                .args
                .ferrotel_bin
                .clone()
                .unwrap_or_else(|| procs::target_dir().join("release/ferrotel"));
            anyhow::ensure!(
                bin.is_file(),
                "{} not found: cargo build --release -p ferrotel",
                bin.display()
            );
            let config = setup.work.join("ferrotel-relay.yaml");
            std::fs::write(&config, ferrotel_config(receiver, sink, procs::free_port()))?;
            let mut command = pinned(&bin, cpus);
            command.arg("--config").arg(&config);
            Ok((Proc::spawn("ferrotel", command), version_of(&bin)))
        }
        "rotel" => {
            let bin = setup
                .args
                .rotel_bin
                .clone()
                .unwrap_or_else(procs::rotel_agent);
            let mut command = pinned(&bin, cpus);
            command
                .arg("start")
                .args(["--otlp-grpc-endpoint", &receiver.to_string()])
                .args(["--otlp-http-endpoint", &free_addr().to_string()])
                .args(["--exporter", "otlp", "--otlp-exporter-protocol", "grpc"])
                .args(["--otlp-exporter-endpoint", &format!("http://{sink}")])
                .args(["--otlp-exporter-compression", "gzip"])
                // Batching as otelcol's batch processor defaults (and rotel's own): 8192 items or 200 ms.
                .args(["--batch-max-size", "8192", "--batch-timeout", "200ms"])
                .arg("--pid-file")
                .arg(setup.work.join("rotel-agent.pid"));
            Ok((Proc::spawn("rotel", command), version_of(&bin)))
        }
        "otelcol" => {
            let bin = setup
                .otelcol_bin
                .clone()
                .context("no otelcol binary (--otelcol-bin)")?;
            anyhow::ensure!(bin.is_file(), "{} not found", bin.display());
            let config = setup.work.join("otelcol-relay.yaml");
            std::fs::write(&config, otelcol_config(receiver, sink))?;
            let mut command = pinned(&bin, cpus);
            command.arg("--config").arg(&config);
            Ok((Proc::spawn("otelcol", command), version_of(&bin)))
        }
        other => bail!("unknown collector {other:?} (ferrotel, rotel or otelcol)"),
    }
}

fn run_one(setup: &Setup, name: &str, concurrency: usize) -> anyhow::Result<Measured> {
    let args = setup.args;
    let sink_addr = free_addr();
    let mut sink_command = pinned(
        &setup.tools.join("ferrotel-sink"),
        setup.load_cpus.as_deref(),
    );
    sink_command
        .arg("--listen")
        .arg(sink_addr.to_string())
        .args(["--threads", "1"]);
    let mut sink = Proc::spawn("ferrotel-sink", sink_command);
    sink.wait_for_port(sink_addr, Duration::from_secs(10));

    let receiver = free_addr();
    let (mut collector, version) = start_collector(setup, name, receiver, sink_addr)?;
    collector.wait_for_port(receiver, Duration::from_secs(30));
    // taskset execs the collector, so the pid is the collector's own.
    let pid = collector.pid();

    // The load outlasts the window by a second so the window never sees the load winding down.
    let total = args.warmup + args.duration + 1.0;
    let mut loadgen = pinned(
        &setup.tools.join("ferrotel-loadgen"),
        setup.load_cpus.as_deref(),
    );
    loadgen
        .args([
            "--endpoint",
            &receiver.to_string(),
            "--protocol",
            "grpc",
            "--signal",
            "traces",
            "--json",
        ])
        .args([
            "--batch-size",
            &args.batch_size.to_string(),
            "--attributes",
            &args.attributes.to_string(),
        ])
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--compression",
            &args.compression,
        ])
        .args([
            "--rate",
            &args.rate.to_string(),
            "--duration",
            &total.to_string(),
        ]);
    loadgen
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let loadgen = loadgen.spawn().context("starting ferrotel-loadgen")?;

    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    collector.assert_running();
    let (spans_before, cpu_before, t_before) = (
        sink_spans(sink_addr)?,
        cpu_seconds(pid, setup.ticks)?,
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs_f64(args.duration));
    collector.assert_running();
    let (spans_after, cpu_after, seconds) = (
        sink_spans(sink_addr)?,
        cpu_seconds(pid, setup.ticks)?,
        t_before.elapsed(),
    );
    let peak_rss = peak_rss_bytes(pid)?;

    let output = loadgen.wait_with_output()?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "loadgen printed no report: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let field = |key: &str| {
        report
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    match collector.terminate(Duration::from_secs(15)) {
        Some(status) if !status.success() => {
            eprintln!("note: {name} exited with {status} on SIGTERM")
        }
        None => eprintln!("note: {name} did not exit within 15 s of SIGTERM"),
        _ => {}
    }
    drop(sink);
    Ok(Measured {
        name: name.to_string(),
        version,
        spans: spans_after - spans_before,
        seconds: seconds.as_secs_f64(),
        cpu_seconds: cpu_after - cpu_before,
        peak_rss_bytes: peak_rss,
        loadgen_refused: field("requests_refused"),
        loadgen_failed: field("requests_failed"),
    })
}

fn header(setup: &Setup) -> Vec<String> {
    let args = setup.args;
    let pace = if args.rate > 0.0 {
        format!("{} spans/s offered", args.rate)
    } else {
        "flat out".to_string()
    };
    let pinning = match (&setup.collector_cpus, &setup.load_cpus) {
        (Some(c), Some(l)) => {
            format!(
                "pinning: collector on CPU {c} (taskset -c {c}); loadgen and sink on CPU {l} (taskset -c {l})"
            )
        }
        _ => "pinning: none (fewer than 2 CPUs or no taskset); every process shares all cores"
            .to_string(),
    };
    vec![
        "ferrotel relay benchmark: loadgen -> collector (OTLP gRPC in -> batch -> OTLP gRPC out, gzip) -> sink".into(),
        format!(
            "load: traces, {} spans/request, {} attributes/span (~540 B/span), loadgen->collector compression {}, {pace}",
            args.batch_size, args.attributes, args.compression
        ),
        format!(
            "window: {} s measured after {} s warm-up; CPU = utime+stime of the collector process (/proc/PID/stat), peak RSS = VmHWM",
            args.duration, args.warmup
        ),
        pinning,
    ]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tools = match &args.tools_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary folder")?
            .to_path_buf(),
    };
    let work = procs::target_dir().join("bench");
    std::fs::create_dir_all(&work)?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (collector_cpus, load_cpus) =
        if cpus >= 2 && Command::new("taskset").arg("-V").output().is_ok() {
            let others: Vec<String> = (0..cpus)
                .filter(|&c| c != args.collector_cpu)
                .map(|c| c.to_string())
                .collect();
            (Some(args.collector_cpu.to_string()), Some(others.join(",")))
        } else {
            (None, None)
        };
    anyhow::ensure!(
        !args.concurrency.is_empty() && !args.concurrency.contains(&0),
        "--concurrency needs one or more settings above 0"
    );
    let otelcol_bin = match &args.otelcol_bin {
        Some(bin) => Some(bin.clone()),
        None if args.collectors.iter().any(|c| c == "otelcol") => Some(reference_otelcol()?),
        None => None,
    };
    let setup = Setup {
        args: &args,
        tools,
        work,
        collector_cpus,
        load_cpus,
        ticks: clock_ticks_per_second(),
        otelcol_bin,
    };
    // One list of windows per concurrency setting.
    let mut results: Vec<Vec<Measured>> = vec![Vec::new(); args.concurrency.len()];
    for round in 1..=args.rounds.max(1) {
        for (setting, &concurrency) in args.concurrency.iter().enumerate() {
            for name in &args.collectors {
                eprintln!(
                    "bench: round {round}/{}: {name}, {concurrency} in flight ({} s warm-up + {} s measured)",
                    args.rounds, args.warmup, args.duration
                );
                let measured = run_one(&setup, name, concurrency).with_context(|| {
                    format!("benchmarking {name} at {concurrency} requests in flight")
                })?;
                anyhow::ensure!(
                    measured.spans > 0,
                    "{name} relayed no spans to the sink during the window ({concurrency} in flight)"
                );
                results[setting].push(measured);
            }
        }
    }
    let sections: Vec<Section> = args
        .concurrency
        .iter()
        .zip(&results)
        .map(|(concurrency, measured)| Section {
            title: format!("{concurrency} requests in flight:"),
            summaries: bench_report::summarize(measured),
        })
        .collect();
    let text = bench_report::table(&header(&setup), &sections, setup.collector_cpus.is_some());
    print!("{text}");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| setup.work.join("relay.txt"));
    std::fs::write(&out, &text)?;
    eprintln!("bench: table written to {}", out.display());
    Ok(())
}
