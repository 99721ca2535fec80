//! A quick measure of the persistent sending queue: producers offer while consumers take and
//! acknowledge, as an exporter's workers do; then a reopen replays a backlog.
//!
//! `cargo run --release -p ferrotel-extension-file-storage --example queue_throughput [dir]`

use bytes::Bytes;
use ferrotel_core::exporterhelper::Sizer;
use ferrotel_core::exporterhelper::persistent::{PersistentOptions, PersistentQueue};
use ferrotel_core::exporterhelper::queue::{Queue, QueuedRequest};
use ferrotel_core::storage::StorageLocation;
use ferrotel_core::{Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 8;
const CONSUMERS: usize = 4;

fn batch(records: usize, body: usize) -> Bytes {
    let record = LogRecord {
        time_unix_nano: 1,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("x".repeat(body))),
        }),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record; records],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
    .into()
}

fn options(dir: &Path, fsync: bool) -> PersistentOptions {
    let location = StorageLocation {
        directory: dir.to_owned(),
        fsync,
        timeout: Duration::from_secs(1),
    };
    PersistentOptions::new(location, Signal::Logs, 100_000, Sizer::Requests)
}

/// Offers `total` copies of `payload` from several producers while consumers drain the queue.
async fn steady(dir: &Path, payload: Bytes, total: usize, fsync: bool) -> Duration {
    let q = Arc::new(PersistentQueue::open(options(dir, fsync)).await.unwrap());
    let started = Instant::now();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                while let Some(r) = q.take().await {
                    q.done(r.ticket, r.size);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let (q, payload) = (q.clone(), payload.clone());
            tokio::spawn(async move {
                for _ in 0..total / PRODUCERS {
                    let data = Telemetry::from_encoded(Signal::Logs, payload.clone()).unwrap();
                    q.offer(QueuedRequest::new(data, 1), true).await.unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    q.close();
    for c in consumers {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();
    q.shutdown().await;
    elapsed
}

/// Offers `total` requests with nobody taking, stops, and times the reopen and the full replay.
async fn backlog(dir: &Path, payload: Bytes, total: usize) -> (Duration, Duration) {
    let q = PersistentQueue::open(options(dir, false)).await.unwrap();
    for _ in 0..total {
        let data = Telemetry::from_encoded(Signal::Logs, payload.clone()).unwrap();
        q.offer(QueuedRequest::new(data, 1), false).await.unwrap();
    }
    q.shutdown().await;
    let started = Instant::now();
    let q = PersistentQueue::open(options(dir, false)).await.unwrap();
    let opened = started.elapsed();
    q.close();
    let mut n = 0;
    while let Some(r) = q.take().await {
        q.done(r.ticket, r.size);
        n += 1;
    }
    assert_eq!(n, total);
    let replayed = started.elapsed();
    q.shutdown().await;
    (opened, replayed)
}

fn report(what: &str, records: usize, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<44} {:>9.0} records/s {:>8.1} MB/s  ({records} records in {secs:.2}s)",
        records as f64 / secs,
        (records * bytes) as f64 / secs / 1e6
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let base = std::env::args().nth(1).map(std::path::PathBuf::from);
    let tmp = match &base {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let cases = [
        ("1 KiB requests (10 log records)", batch(10, 60), 200_000),
        ("16 KiB requests (100 log records)", batch(100, 120), 50_000),
        (
            "256 KiB requests (1000 log records)",
            batch(1000, 220),
            4_000,
        ),
    ];
    for (i, (name, payload, total)) in cases.iter().enumerate() {
        let len = payload.len();
        let dir = tmp.path().join(format!("steady-{i}"));
        std::fs::create_dir(&dir).unwrap();
        let elapsed = steady(&dir, payload.clone(), *total, false).await;
        report(
            &format!("{name}, fsync off ({len} B)"),
            *total,
            len,
            elapsed,
        );
        let dir = tmp.path().join(format!("fsync-{i}"));
        std::fs::create_dir(&dir).unwrap();
        let n = total / 10;
        let elapsed = steady(&dir, payload.clone(), n, true).await;
        report(&format!("{name}, fsync on"), n, len, elapsed);
    }
    let payload = batch(100, 120);
    let dir = tmp.path().join("backlog");
    std::fs::create_dir(&dir).unwrap();
    let total = 20_000;
    let (opened, replayed) = backlog(&dir, payload.clone(), total).await;
    report(
        "reopen a 16 KiB x 20000 backlog (recovery)",
        total,
        payload.len(),
        opened,
    );
    report(
        "reopen + take every request",
        total,
        payload.len(),
        replayed,
    );
}
