//! ferrotel-loadgen: sends OTLP traces, metrics or logs over gRPC or HTTP, at a fixed rate or flat
//! out, re-sending a few pre-encoded requests so that the generator itself costs little CPU.
//!
//! Exits 0 when no request failed (refusals, "try later", are not failures), 1 otherwise.

use clap::Parser;
use ferrotel_core::Signal;
use ferrotel_integration_tests::codec::Compression;
use ferrotel_integration_tests::loadgen::{self, Limit, LoadConfig};
use ferrotel_integration_tests::transport::Protocol;
use ferrotel_integration_tests::workload::Shape;
use std::time::Duration;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SignalArg {
    Traces,
    Metrics,
    Logs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CompressionArg {
    None,
    Gzip,
    Zstd,
}

#[derive(Parser, Debug)]
#[command(
    name = "ferrotel-loadgen",
    version,
    about = "Sends OTLP load to a collector and reports what it acknowledged"
)]
struct Args {
    /// Target `host:port` (or `http://host:port`); defaults to the OTLP port of --protocol.
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    #[arg(long, value_enum, default_value_t = SignalArg::Traces)]
    signal: SignalArg,
    /// Items per second (spans, data points or log records); 0 sends flat out.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Items per request.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Attributes per item.
    #[arg(long, default_value_t = 10)]
    attributes: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// gRPC connections shared by the workers (HTTP/1.1 opens one per worker).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// How long to send, in seconds (ignored with --count).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Send this many items (rounded up to whole requests) instead of running for --duration.
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    compression: CompressionArg,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Seconds to keep retrying the first connection while the target starts.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let signal = match args.signal {
        SignalArg::Traces => Signal::Traces,
        SignalArg::Metrics => Signal::Metrics,
        SignalArg::Logs => Signal::Logs,
    };
    let compression = match args.compression {
        CompressionArg::None => Compression::None,
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
    };
    let endpoint = args.endpoint.unwrap_or_else(|| {
        match args.protocol {
            Protocol::Grpc => "localhost:4317",
            Protocol::Http => "localhost:4318",
        }
        .to_string()
    });
    let limit = match args.count {
        Some(items) => Limit::Items(items),
        None => Limit::Duration(Duration::try_from_secs_f64(args.duration)?),
    };
    let config = LoadConfig {
        endpoint: endpoint.clone(),
        protocol: args.protocol,
        shape: Shape {
            signal,
            batch_size: args.batch_size,
            attributes: args.attributes,
        },
        rate: (args.rate > 0.0).then_some(args.rate),
        concurrency: args.concurrency,
        connections: args.connections,
        limit,
        compression,
        request_timeout: Duration::try_from_secs_f64(args.timeout)?,
        connect_timeout: Duration::try_from_secs_f64(args.connect_timeout)?,
    };
    // Two worker threads keep the generator from taking every core of a small machine.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if !args.json {
        let pace = match config.rate {
            Some(rate) => format!("{rate} {}/s", signal.item_name()),
            None => "flat out".to_string(),
        };
        eprintln!(
            "ferrotel-loadgen: {signal} over {} to {endpoint}, {} {}/request, {} attributes, compression {}, concurrency {}, {pace}",
            args.protocol.as_str(),
            args.batch_size,
            signal.item_name(),
            args.attributes,
            compression.header_value().unwrap_or("none"),
            args.concurrency,
        );
    }
    let report = runtime.block_on(loadgen::run(config))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.text(signal.item_name()));
    }
    std::process::exit(if report.requests_failed > 0 { 1 } else { 0 });
}
