//! The load generator's engine: pre-encoded OTLP requests sent over gRPC (h2c) or HTTP/1.1 by a
//! pool of workers, paced to a rate or flat out, with every outcome counted.
//!
//! Requests are built, compressed and framed once (`workload::VARIANTS` of them); the hot loop only
//! clones `Bytes` handles, so nearly all of the generator's CPU goes to the transport.

use crate::codec::{self, Compression};
use crate::transport::{Connection, Outcome, Protocol};
use crate::workload::{self, Shape};
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When to stop sending.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// Stop starting requests after this long.
    Duration(Duration),
    /// Send this many items, rounded up to whole requests.
    Items(u64),
}

#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// `host:port`, optionally with an `http://` scheme.
    pub endpoint: String,
    pub protocol: Protocol,
    pub shape: Shape,
    /// Items per second across all workers; `None` sends flat out.
    pub rate: Option<f64>,
    pub concurrency: usize,
    /// gRPC connections the workers share (HTTP/1.1 uses one per worker).
    pub connections: usize,
    pub limit: Limit,
    pub compression: Compression,
    pub request_timeout: Duration,
    /// How long to keep retrying the first connection while the target starts.
    pub connect_timeout: Duration,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub signal: String,
    pub protocol: String,
    pub compression: String,
    pub batch_size: usize,
    pub request_bytes: usize,
    pub requests_sent: u64,
    pub items_sent: u64,
    pub requests_acknowledged: u64,
    /// Items in acknowledged requests minus those a partial success rejected.
    pub items_acknowledged: u64,
    pub items_rejected: u64,
    /// Requests answered "try later" (gRPC UNAVAILABLE/RESOURCE_EXHAUSTED, HTTP 429/502/503/504).
    pub requests_refused: u64,
    /// Requests that failed otherwise: other statuses, transport errors, timeouts.
    pub requests_failed: u64,
    pub elapsed_seconds: f64,
    pub items_per_second: f64,
    pub requests_per_second: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// Each distinct error message with how often it was seen.
    pub errors: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    acknowledged: AtomicU64,
    items_acknowledged: AtomicU64,
    rejected: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn record(&self, outcome: &Outcome, batch_size: u64) {
        match outcome {
            Outcome::Acknowledged { rejected } => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
                self.items_acknowledged
                    .fetch_add(batch_size.saturating_sub(*rejected), Ordering::Relaxed);
                self.rejected.fetch_add(*rejected, Ordering::Relaxed);
            }
            Outcome::Refused(message) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.note(message);
            }
            Outcome::Failed(message) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.note(message);
            }
        }
    }

    fn note(&self, message: &str) {
        let mut errors = self
            .errors
            .lock()
            .expect("no panics while holding the lock");
        if errors.len() < 32 || errors.contains_key(message) {
            *errors.entry(message.to_string()).or_default() += 1;
        }
    }
}

/// Turns `host:port` or `http://host:port[/]` into `host:port`.
pub fn authority(endpoint: &str) -> anyhow::Result<String> {
    let rest = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    anyhow::ensure!(
        !rest.starts_with("https://"),
        "TLS endpoints are not supported by the load generator"
    );
    let authority = rest.trim_end_matches('/');
    anyhow::ensure!(
        authority.contains(':') && !authority.contains('/'),
        "endpoint {endpoint:?} must be host:port or http://host:port"
    );
    Ok(authority.to_string())
}

/// The bodies to send, ready for the wire: compressed, and framed for gRPC.
fn prepare_bodies(config: &LoadConfig) -> Vec<Bytes> {
    workload::encoded_requests(config.shape)
        .into_iter()
        .map(|request| {
            let body = config.compression.compress(&request);
            match config.protocol {
                Protocol::Grpc => codec::grpc_frame(&body, config.compression != Compression::None),
                Protocol::Http => Bytes::from(body),
            }
        })
        .collect()
}

/// Runs the load to completion and reports what happened.
pub async fn run(config: LoadConfig) -> anyhow::Result<Report> {
    anyhow::ensure!(config.concurrency > 0, "concurrency must be at least 1");
    anyhow::ensure!(config.shape.batch_size > 0, "batch size must be at least 1");
    let authority = authority(&config.endpoint)?;
    let bodies = Arc::new(prepare_bodies(&config));
    let batch = config.shape.batch_size as u64;
    let max_requests = match config.limit {
        Limit::Items(items) => Some(items.div_ceil(batch)),
        Limit::Duration(_) => None,
    };
    let interval = config
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(batch as f64 / rate));

    // Connect before starting the clock, so a target that is still starting does not skew the rate.
    let mut shared = Vec::new();
    if config.protocol == Protocol::Grpc {
        for _ in 0..config.connections.clamp(1, config.concurrency) {
            shared.push(
                Connection::open_retrying(
                    Protocol::Grpc,
                    &authority,
                    config.compression,
                    config.connect_timeout,
                )
                .await?,
            );
        }
    }
    let mut connections = Vec::with_capacity(config.concurrency);
    for worker in 0..config.concurrency {
        connections.push(match config.protocol {
            Protocol::Grpc => shared[worker % shared.len()]
                .share()
                .expect("an open h2 connection"),
            Protocol::Http => {
                Connection::open_retrying(
                    Protocol::Http,
                    &authority,
                    config.compression,
                    config.connect_timeout,
                )
                .await?
            }
        });
    }

    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now();
    let deadline = match config.limit {
        Limit::Duration(duration) => Some(start + duration),
        Limit::Items(_) => None,
    };
    let mut workers = Vec::new();
    for mut connection in connections {
        let (bodies, tally, next) = (bodies.clone(), tally.clone(), next.clone());
        let (signal, timeout) = (config.shape.signal, config.request_timeout);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if max_requests.is_some_and(|max| i >= max) {
                    break;
                }
                if let Some(interval) = interval {
                    let due = start + interval.mul_f64(i as f64);
                    if deadline.is_some_and(|deadline| due >= deadline) {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                } else if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
                    break;
                }
                let body = bodies[i as usize % bodies.len()].clone();
                tally.sent.fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                let outcome =
                    match tokio::time::timeout(timeout, connection.export(signal, body)).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            // The abandoned call may still hold the connection; start afresh.
                            connection.reset();
                            Outcome::Failed(format!("no answer within {timeout:?}"))
                        }
                    };
                latencies.push(began.elapsed().as_micros().min(u32::MAX as u128) as u32);
                tally.record(&outcome, batch);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(report(&config, &bodies, &tally, latencies, elapsed))
}

fn report(
    config: &LoadConfig,
    bodies: &[Bytes],
    tally: &Tally,
    mut latencies: Vec<u32>,
    elapsed: f64,
) -> Report {
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(latencies[index]) / 1000.0
    };
    let sent = tally.sent.load(Ordering::Relaxed);
    let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
    let items_acknowledged = tally.items_acknowledged.load(Ordering::Relaxed);
    Report {
        signal: config.shape.signal.to_string(),
        protocol: config.protocol.as_str().to_string(),
        compression: config
            .compression
            .header_value()
            .unwrap_or("none")
            .to_string(),
        batch_size: config.shape.batch_size,
        request_bytes: bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len().max(1),
        requests_sent: sent,
        items_sent: sent * config.shape.batch_size as u64,
        requests_acknowledged: acknowledged,
        items_acknowledged,
        items_rejected: tally.rejected.load(Ordering::Relaxed),
        requests_refused: tally.refused.load(Ordering::Relaxed),
        requests_failed: tally.failed.load(Ordering::Relaxed),
        elapsed_seconds: elapsed,
        items_per_second: items_acknowledged as f64 / elapsed.max(1e-9),
        requests_per_second: acknowledged as f64 / elapsed.max(1e-9),
        latency_ms_p50: percentile(0.50),
        latency_ms_p99: percentile(0.99),
        latency_ms_max: percentile(1.0),
        errors: tally.errors.lock().expect("workers are done").clone(),
    }
}

impl Report {
    /// The human-readable summary.
    pub fn text(&self, items: &str) -> String {
        let mut out = String::new();
        let mut line = |label: &str, value: String| out.push_str(&format!("{label:<10} {value}\n"));
        line(
            "sent",
            format!(
                "{} requests, {} {items}",
                self.requests_sent, self.items_sent
            ),
        );
        line(
            "acked",
            format!(
                "{} requests, {} {items}",
                self.requests_acknowledged, self.items_acknowledged
            ),
        );
        line(
            "rejected",
            format!("{} {items} (partial success)", self.items_rejected),
        );
        line(
            "refused",
            format!("{} requests (try later)", self.requests_refused),
        );
        line("failed", format!("{} requests", self.requests_failed));
        line("elapsed", format!("{:.2} s", self.elapsed_seconds));
        line(
            "rate",
            format!(
                "{:.0} {items}/s acknowledged ({:.0} requests/s)",
                self.items_per_second, self.requests_per_second
            ),
        );
        line(
            "latency",
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                self.latency_ms_p50, self.latency_ms_p99, self.latency_ms_max
            ),
        );
        for (message, count) in &self.errors {
            line("error", format!("{count}× {message}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_reduce_to_authorities() {
        assert_eq!(authority("127.0.0.1:4317").unwrap(), "127.0.0.1:4317");
        assert_eq!(
            authority("http://localhost:4318/").unwrap(),
            "localhost:4318"
        );
        assert!(authority("https://localhost:4318").is_err());
        assert!(authority("localhost").is_err());
        assert!(authority("http://localhost:4318/v1/traces").is_err());
    }
}
