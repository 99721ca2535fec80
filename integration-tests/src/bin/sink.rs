//! ferrotel-sink: an OTLP server (gRPC and HTTP on one port) that counts received items per signal
//! without decoding them (with `--strict`, decoding each in full and refusing what a strict backend
//! refuses). Counts are served as JSON at `GET /count` and, with `--report-file`,
//! written to a file every `--report-interval` seconds and on exit (SIGTERM or SIGINT).

use clap::Parser;
use ferrotel_integration_tests::sink::{self, Counts, SinkOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel-sink",
    version,
    about = "Counts OTLP items received over gRPC and HTTP"
)]
struct Args {
    /// Address to listen on; gRPC (h2c) and OTLP/HTTP share it.
    #[arg(long, default_value = "127.0.0.1:4317")]
    listen: SocketAddr,
    /// Write the counts as JSON to this file periodically and on exit.
    #[arg(long)]
    report_file: Option<PathBuf>,
    /// Seconds between report-file writes.
    #[arg(long, default_value_t = 1.0)]
    report_interval: f64,
    /// Largest request accepted, in MiB after decompression.
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
    /// Refuse every Nth export request with "try later" (gRPC UNAVAILABLE, HTTP 503); 0 refuses none.
    #[arg(long, default_value_t = 0)]
    refuse_every: u64,
    /// Behave as a strict backend: decode every request in full (prost) and refuse the whole request,
    /// as a permanent error (gRPC INVALID_ARGUMENT, HTTP 400), when it does not decode (invalid
    /// protobuf, strings not UTF-8) or carries a trace id other than 16 bytes or a span id other
    /// than 8; refused requests are counted as `rejected`.
    #[arg(long)]
    strict: bool,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn write_report(path: &Path, counts: &Counts) -> std::io::Result<()> {
    // Write then rename, so a reader never sees half a file.
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(&counts.snapshot())?)?;
    std::fs::rename(&temporary, path)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let options = SinkOptions {
            max_body_bytes: args.max_body_mib << 20,
            refuse_every: args.refuse_every,
            strict: args.strict,
        };
        let handle = sink::start(args.listen, options).await?;
        eprintln!(
            "ferrotel-sink: listening on {} (gRPC and HTTP); GET /count for counts",
            handle.addr
        );
        let counts: Arc<Counts> = handle.counts.clone();
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut tick = tokio::time::interval(Duration::try_from_secs_f64(args.report_interval)?);
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = tick.tick() => {
                    if let Some(path) = &args.report_file {
                        write_report(path, &counts)?;
                    }
                }
            }
        }
        if let Some(path) = &args.report_file {
            write_report(path, &counts)?;
        }
        let snapshot = counts.snapshot();
        eprintln!(
            "ferrotel-sink: received {} spans, {} metric points, {} log records; rejected {} trace, {} metric, {} log requests",
            snapshot.traces.items,
            snapshot.metrics.items,
            snapshot.logs.items,
            snapshot.traces.rejected,
            snapshot.metrics.rejected,
            snapshot.logs.rejected
        );
        anyhow::Ok(())
    })
}
