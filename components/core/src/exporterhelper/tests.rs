//! The wrapper's behaviour with a scripted sender: queueing, retries, metrics and shutdown.
//! Real network senders are tested in the otlp and otlphttp exporter crates.

use super::*;
use crate::component::{ComponentId, CreateSettings, Kind, Lifecycle};
use crate::config::GoDuration;
use crate::consumer::{ConsumeError, Consumer};
use crate::telemetry::SelfTelemetry;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Answers each attempt with the next scripted result (then `fallback`), after an optional gate.
struct Scripted {
    script: Mutex<VecDeque<Result<Delivered, SendError>>>,
    fallback: Result<Delivered, SendError>,
    attempts: Mutex<Vec<(usize, Instant)>>,
    gate: Option<Arc<Notify>>,
    delay: Duration,
}

impl Scripted {
    fn new(
        script: Vec<Result<Delivered, SendError>>,
        fallback: Result<Delivered, SendError>,
    ) -> Self {
        Scripted {
            script: Mutex::new(script.into()),
            fallback,
            attempts: Mutex::default(),
            gate: None,
            delay: Duration::ZERO,
        }
    }

    fn ok() -> Self {
        Scripted::new(vec![], Ok(Delivered::all()))
    }

    fn attempts(&self) -> Vec<(usize, Instant)> {
        self.attempts.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Sender for Scripted {
    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        tokio::time::sleep(self.delay).await;
        self.attempts
            .lock()
            .unwrap()
            .push((data.item_count(), Instant::now()));
        self.script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

fn logs(n: usize) -> Telemetry {
    Telemetry::from_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); n],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_interval: GoDuration::from_millis(10),
        randomization_factor: 0.0,
        max_interval: GoDuration::from_millis(20),
        max_elapsed_time: GoDuration::from_secs(5),
        ..RetryConfig::default()
    }
}

fn settings() -> ExporterSettings {
    ExporterSettings {
        retry: fast_retry(),
        drain_timeout: Duration::from_secs(5),
        ..ExporterSettings::default()
    }
}

fn exporter(
    sender: Scripted,
    settings: ExporterSettings,
) -> (Exporter<Scripted>, Arc<SelfTelemetry>) {
    let telemetry = SelfTelemetry::new(&[]);
    let set = CreateSettings::new(
        ComponentId::parse("otlp/test").unwrap(),
        Kind::Exporter,
        telemetry.clone(),
    );
    (Exporter::new(&set, settings, sender).unwrap(), telemetry)
}

/// The value of a metric series of this exporter, or 0 if it was never written.
fn metric(telemetry: &SelfTelemetry, name: &str) -> f64 {
    telemetry
        .encode()
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains("exporter=\"otlp/test\""))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Waits up to 5 s for `check` to hold (shared with the persistent queue's tests).
pub(crate) async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5s");
}

#[tokio::test]
async fn queued_batches_are_sent_and_counted() {
    let (e, t) = exporter(Scripted::ok(), settings());
    e.start().await.unwrap();
    e.consume(logs(3)).await.unwrap();
    e.consume(logs(2)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == 5.0).await;
    assert_eq!(metric(&t, "otelcol_exporter_queue_capacity"), 1000.0);
    eventually(|| metric(&t, "otelcol_exporter_queue_size") == 0.0).await;
    e.shutdown().await.unwrap();
    assert_eq!(e.sender().attempts().len(), 2);
}

#[tokio::test]
async fn retryable_failures_are_retried_then_delivered_once() {
    let sender = Scripted::new(
        vec![
            Err(SendError::retryable("busy")),
            Err(SendError::retryable("busy")),
        ],
        Ok(Delivered::all()),
    );
    let (e, t) = exporter(sender, settings());
    e.consume(logs(4)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == 4.0).await;
    assert_eq!(e.sender().attempts().len(), 3);
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        0.0
    );
    e.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_servers_retry_delay_is_a_floor() {
    let delay = Duration::from_millis(300);
    let sender = Scripted::new(
        vec![Err(SendError::Retryable {
            msg: "slow down".into(),
            retry_after: Some(delay),
        })],
        Ok(Delivered::all()),
    );
    let (e, t) = exporter(sender, settings());
    e.consume(logs(1)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == 1.0).await;
    let attempts = e.sender().attempts();
    assert!(
        attempts[1].1 - attempts[0].1 >= delay,
        "retried after {:?}",
        attempts[1].1 - attempts[0].1
    );
}

#[tokio::test]
async fn permanent_errors_are_dropped_at_once_and_counted() {
    let (e, t) = exporter(
        Scripted::new(vec![], Err(SendError::permanent("bad"))),
        settings(),
    );
    e.consume(logs(2)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_send_failed_log_records_total") == 2.0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(e.sender().attempts().len(), 1);
    assert_eq!(metric(&t, "otelcol_exporter_sent_log_records_total"), 0.0);
}

#[tokio::test]
async fn retries_stop_at_max_elapsed_time() {
    let mut s = settings();
    s.retry.max_elapsed_time = GoDuration::from_millis(100);
    s.retry.max_interval = GoDuration::from_millis(50);
    let (e, t) = exporter(Scripted::new(vec![], Err(SendError::retryable("down"))), s);
    e.consume(logs(3)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_send_failed_log_records_total") == 3.0).await;
    assert!(e.sender().attempts().len() >= 2);
}

#[tokio::test]
async fn partial_success_counts_rejected_items_as_failed() {
    let (e, t) = exporter(
        Scripted::new(vec![], Ok(Delivered::partial(2, "too old"))),
        settings(),
    );
    e.consume(logs(5)).await.unwrap();
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == 3.0).await;
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        2.0
    );
}

#[tokio::test]
async fn a_full_queue_refuses_and_counts() {
    let gate = Arc::new(Notify::new());
    let sender = Scripted {
        gate: Some(gate.clone()),
        ..Scripted::ok()
    };
    let mut s = settings();
    s.queue.queue_size = 2;
    s.queue.num_consumers = 1;
    let (e, t) = exporter(sender, s);
    e.consume(logs(1)).await.unwrap();
    e.consume(logs(1)).await.unwrap();
    let refused = e.consume(logs(7)).await.unwrap_err();
    assert!(
        matches!(&refused, ConsumeError::Refused { reason, .. } if reason.contains("sending queue is full")),
        "{refused:?}"
    );
    assert_eq!(
        metric(&t, "otelcol_exporter_enqueue_failed_log_records_total"),
        7.0
    );
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 2.0);
    gate.notify_waiters();
    gate.notify_one();
    eventually(|| {
        gate.notify_one();
        metric(&t, "otelcol_exporter_sent_log_records_total") == 2.0
    })
    .await;
}

#[tokio::test]
async fn block_on_overflow_waits_for_room() {
    let mut s = settings();
    s.queue.queue_size = 1;
    s.queue.num_consumers = 1;
    s.queue.block_on_overflow = true;
    let (e, t) = exporter(
        Scripted {
            delay: Duration::from_millis(30),
            ..Scripted::ok()
        },
        s,
    );
    for _ in 0..4 {
        e.consume(logs(1)).await.unwrap();
    }
    eventually(|| metric(&t, "otelcol_exporter_sent_log_records_total") == 4.0).await;
    assert_eq!(
        metric(&t, "otelcol_exporter_enqueue_failed_log_records_total"),
        0.0
    );
}

#[tokio::test]
async fn wait_for_result_and_the_synchronous_mode_return_the_outcome() {
    let mut s = settings();
    s.queue.wait_for_result = true;
    let (e, t) = exporter(
        Scripted::new(vec![], Err(SendError::permanent("rejected: bad data"))),
        s,
    );
    let err = e.consume(logs(1)).await.unwrap_err();
    assert_eq!(err, ConsumeError::Permanent("rejected: bad data".into()));
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        1.0
    );

    let mut s = settings();
    s.queue.enabled = false;
    s.retry.enabled = false;
    let (e, t) = exporter(
        Scripted::new(
            vec![Err(SendError::retryable("down"))],
            Ok(Delivered::all()),
        ),
        s,
    );
    assert!(e.consume(logs(2)).await.unwrap_err().is_retryable());
    e.consume(logs(2)).await.unwrap();
    assert_eq!(metric(&t, "otelcol_exporter_sent_log_records_total"), 2.0);
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        2.0
    );
}

#[tokio::test]
async fn each_attempt_is_bounded_by_the_timeout() {
    let mut s = settings();
    s.timeout = Duration::from_millis(20);
    s.retry.enabled = false;
    s.queue.enabled = false;
    let (e, t) = exporter(
        Scripted {
            delay: Duration::from_secs(5),
            ..Scripted::ok()
        },
        s,
    );
    let err = e.consume(logs(1)).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        1.0
    );
}

#[tokio::test]
async fn shutdown_drains_the_queue() {
    let mut s = settings();
    s.queue.num_consumers = 1;
    let (e, t) = exporter(
        Scripted {
            delay: Duration::from_millis(20),
            ..Scripted::ok()
        },
        s,
    );
    for _ in 0..5 {
        e.consume(logs(2)).await.unwrap();
    }
    e.shutdown().await.unwrap();
    assert_eq!(metric(&t, "otelcol_exporter_sent_log_records_total"), 10.0);
    let late = e.consume(logs(1)).await.unwrap_err();
    assert!(late.is_retryable());
    assert_eq!(
        metric(&t, "otelcol_exporter_enqueue_failed_log_records_total"),
        1.0
    );
}

#[tokio::test]
async fn shutdown_stops_retrying_and_counts_the_failures() {
    let mut s = settings();
    s.queue.num_consumers = 2;
    s.retry.initial_interval = GoDuration::from_secs(30);
    s.retry.max_interval = GoDuration::from_secs(30);
    s.retry.max_elapsed_time = GoDuration::from_secs(300);
    let (e, t) = exporter(Scripted::new(vec![], Err(SendError::retryable("down"))), s);
    for _ in 0..6 {
        e.consume(logs(1)).await.unwrap();
    }
    let started = Instant::now();
    e.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited for a backoff: {:?}",
        started.elapsed()
    );
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        6.0
    );
    assert_eq!(
        e.sender().attempts().len(),
        6,
        "one attempt per queued batch, no retries"
    );
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 0.0);
}

#[tokio::test]
async fn shutdown_past_the_deadline_counts_the_rest_as_failed() {
    let mut s = settings();
    s.queue.num_consumers = 2;
    s.timeout = Duration::ZERO;
    s.drain_timeout = Duration::from_millis(200);
    let (e, t) = exporter(
        Scripted {
            delay: Duration::from_secs(60),
            ..Scripted::ok()
        },
        s,
    );
    for _ in 0..6 {
        e.consume(logs(1)).await.unwrap();
    }
    let started = Instant::now();
    e.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        metric(&t, "otelcol_exporter_send_failed_log_records_total"),
        6.0
    );
    assert_eq!(metric(&t, "otelcol_exporter_sent_log_records_total"), 0.0);
    assert_eq!(metric(&t, "otelcol_exporter_queue_size"), 0.0);
}

#[test]
fn a_persistent_queue_needs_its_storage_extension() {
    let mut s = settings();
    s.queue.storage = Some("file_storage".into());
    let set = CreateSettings::new(
        ComponentId::parse("otlp").unwrap(),
        Kind::Exporter,
        SelfTelemetry::new(&[]),
    );
    let err = Exporter::new(&set, s, Scripted::ok()).err().unwrap();
    assert!(
        err.to_string()
            .contains("storage extension \"file_storage\" not found"),
        "{err}"
    );
}
