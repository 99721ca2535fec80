//! The otlp_grpc exporter against a real tonic server on 127.0.0.1: data, headers, compression,
//! status handling, the queue and shutdown.

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_core::consumer::ConsumeError;
use ferrotel_core::exporterhelper::{Exporter, ExporterSettings};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlp::{GrpcSender, OtlpGrpcConfig};
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn every_signal_arrives_byte_identical_with_headers_and_each_compression() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    for (compression, encoding) in [
        ("gzip", Some("gzip")),
        ("zstd", Some("zstd")),
        ("deflate", Some("deflate")),
        ("none", None),
    ] {
        let before = backend.records().len();
        let (exporter, telemetry) = exporter(&format!(
            "endpoint: {addr}\ntls:\n  insecure: true\ncompression: {compression}\nheaders:\n  x-tenant: blue\n  authorization: Bearer s3cret\n"
        ))
        .await;
        let mut sent = Vec::new();
        for (signal, n) in [(Signal::Traces, 3), (Signal::Metrics, 4), (Signal::Logs, 5)] {
            let (bytes, telemetry) = batch(signal, n);
            sent.push((signal, bytes));
            exporter.consume(telemetry).await.unwrap();
        }
        eventually("three requests", || backend.records().len() == before + 3).await;
        let mut records = backend.records().split_off(before);
        records.sort_by_key(|r| r.signal);
        for (record, (signal, bytes)) in records.iter().zip(&sent) {
            assert_eq!(record.signal, *signal);
            assert_eq!(
                record.bytes,
                bytes.to_vec(),
                "{signal} body changed on the way ({compression})"
            );
            assert_eq!(record.metadata.get("x-tenant").unwrap(), "blue");
            assert_eq!(
                record.metadata.get("authorization").unwrap(),
                "Bearer s3cret"
            );
            assert_eq!(
                record
                    .metadata
                    .get("grpc-encoding")
                    .map(|v| v.to_str().unwrap().to_string()),
                encoding.map(str::to_string)
            );
            assert!(
                record
                    .metadata
                    .get("user-agent")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .contains("ferrotel/")
            );
        }
        eventually("sent counters", || {
            metric(&telemetry, "otelcol_exporter_sent_spans_total") == 3.0
        })
        .await;
        eventually("sent counters", || {
            metric(&telemetry, "otelcol_exporter_sent_metric_points_total") == 4.0
        })
        .await;
        eventually("sent counters", || {
            metric(&telemetry, "otelcol_exporter_sent_log_records_total") == 5.0
        })
        .await;
        exporter.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_retryable_status_is_retried_then_delivered_once() {
    let backend = Backend::default();
    backend.script([
        Reply::Fail(Code::Unavailable, None),
        Reply::Fail(Code::Aborted, None),
    ]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n{FAST_RETRY}")).await;
    exporter.consume(batch(Signal::Traces, 2).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 2.0
    })
    .await;
    exporter.shutdown().await.unwrap();
    assert_eq!(
        backend.records().len(),
        3,
        "two failures, then one delivery"
    );
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_spans_total"),
        0.0
    );
}

#[tokio::test]
async fn a_permanent_status_is_not_retried() {
    let backend = Backend::default();
    backend.script([
        Reply::Fail(Code::InvalidArgument, None),
        Reply::Fail(Code::ResourceExhausted, None),
    ]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n{FAST_RETRY}")).await;
    exporter.consume(batch(Signal::Logs, 3).1).await.unwrap();
    eventually("drop", || {
        metric(&telemetry, "otelcol_exporter_send_failed_log_records_total") == 3.0
    })
    .await;
    // RESOURCE_EXHAUSTED without RetryInfo is permanent too.
    exporter.consume(batch(Signal::Logs, 1).1).await.unwrap();
    eventually("drop", || {
        metric(&telemetry, "otelcol_exporter_send_failed_log_records_total") == 4.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(backend.records().len(), 2);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_sent_log_records_total"),
        0.0
    );
}

#[tokio::test]
async fn retry_info_sets_the_least_wait() {
    let backend = Backend::default();
    let delay = Duration::from_millis(600);
    backend.script([Reply::Fail(Code::ResourceExhausted, Some(delay))]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n{FAST_RETRY}")).await;
    exporter.consume(batch(Signal::Metrics, 2).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_metric_points_total") == 2.0
    })
    .await;
    let records = backend.records();
    assert_eq!(records.len(), 2);
    let waited = records[1].at - records[0].at;
    assert!(
        waited >= delay,
        "retried after {waited:?}, before the server's {delay:?}"
    );
}

#[tokio::test]
async fn partial_success_counts_the_rejected_items() {
    let backend = Backend::default();
    backend.script([Reply::Partial(2, "spans too old")]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n")).await;
    exporter.consume(batch(Signal::Traces, 5).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 3.0
    })
    .await;
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_spans_total"),
        2.0
    );
}

#[tokio::test]
async fn a_full_queue_refuses_with_a_retryable_error() {
    // The one worker keeps retrying the first batch against a closed port; it holds the only slot.
    let yaml = format!(
        "endpoint: http://127.0.0.1:{}\nsending_queue:\n  queue_size: 1\n  num_consumers: 1\nretry_on_failure:\n  initial_interval: 5s\n",
        dead_port()
    );
    let (exporter, telemetry) = exporter(&yaml).await;
    exporter.consume(batch(Signal::Traces, 1).1).await.unwrap();
    let refused = exporter
        .consume(batch(Signal::Traces, 4).1)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ConsumeError::Refused { reason, .. } if reason.contains("queue is full")),
        "{refused:?}"
    );
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_enqueue_failed_spans_total"),
        4.0
    );
    assert_eq!(metric(&telemetry, "otelcol_exporter_queue_size"), 1.0);
    assert_eq!(metric(&telemetry, "otelcol_exporter_queue_capacity"), 1.0);
}

#[tokio::test]
async fn shutdown_drains_the_queue_to_a_live_server() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nsending_queue:\n  num_consumers: 1\n"
    ))
    .await;
    for _ in 0..20 {
        exporter.consume(batch(Signal::Logs, 2).1).await.unwrap();
    }
    exporter.shutdown().await.unwrap();
    assert_eq!(backend.records().len(), 20);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_sent_log_records_total"),
        40.0
    );
    assert!(
        exporter
            .consume(batch(Signal::Logs, 1).1)
            .await
            .unwrap_err()
            .is_retryable()
    );
}

#[tokio::test]
async fn shutdown_with_a_server_that_never_answers_reports_the_rest_as_failed() {
    // Accepts connections and never answers: every attempt hangs until the drain deadline.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = blackhole.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = blackhole.accept().await {
            held.push(stream);
        }
    });
    let yaml = format!(
        "endpoint: http://127.0.0.1:{port}\nsending_queue:\n  num_consumers: 2\n{FAST_RETRY}"
    );
    let config: OtlpGrpcConfig = ferrotel_core::config::decode_validated(
        &ferrotel_core::config::Node::parse(&yaml, "t.yaml").unwrap(),
    )
    .unwrap();
    let telemetry = SelfTelemetry::new(&[]);
    let settings = ExporterSettings {
        drain_timeout: Duration::from_millis(300),
        ..ExporterSettings::from_config(
            config.timeout,
            &config.sending_queue,
            &config.retry_on_failure,
        )
    };
    let exporter = Exporter::new(
        &common::settings(&telemetry),
        settings,
        GrpcSender::new(&config, None).unwrap(),
    )
    .unwrap();
    use ferrotel_core::component::Lifecycle;
    use ferrotel_core::consumer::Consumer;
    exporter.start().await.unwrap();
    for _ in 0..6 {
        exporter.consume(batch(Signal::Metrics, 3).1).await.unwrap();
    }
    let started = Instant::now();
    exporter.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_send_failed_metric_points_total"
        ),
        18.0
    );
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_sent_metric_points_total"),
        0.0
    );
}

#[tokio::test]
async fn without_a_queue_consume_returns_the_send_outcome() {
    let backend = Backend::default();
    backend.script([Reply::Fail(Code::PermissionDenied, None)]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nsending_queue:\n  enabled: false\n"
    ))
    .await;
    let err = exporter
        .consume(batch(Signal::Traces, 1).1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConsumeError::Permanent(m) if m.contains("PermissionDenied")),
        "{err:?}"
    );
    exporter.consume(batch(Signal::Traces, 2).1).await.unwrap();
    assert_eq!(metric(&telemetry, "otelcol_exporter_sent_spans_total"), 2.0);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_spans_total"),
        1.0
    );
}

#[tokio::test]
async fn the_deprecated_alias_and_auth_are_handled() {
    use ferrotel_core::component::{ExporterFactory, Factory};
    let factory = ferrotel_exporter_otlp::OtlpExporterFactory;
    assert_eq!(factory.type_name(), "otlp_grpc");
    assert_eq!(factory.aliases(), ["otlp"]);
    let node = ferrotel_core::config::Node::parse(
        "endpoint: localhost:4317\nauth:\n  authenticator: oauth2client\n",
        "t.yaml",
    )
    .unwrap();
    factory.validate(&node).unwrap();
    let err = factory
        .create(common::settings(&SelfTelemetry::new(&[])), &node)
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("failed to resolve authenticator \"oauth2client\""),
        "{err:#}"
    );
}

#[tokio::test]
async fn wait_for_ready_waits_for_the_server_to_come_up() {
    let port = dead_port();
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://127.0.0.1:{port}\nwait_for_ready: true\nsending_queue:\n  enabled: false\nretry_on_failure:\n  enabled: false\n"
    ))
    .await;
    let backend = Backend::default();
    let late = backend.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        late.serve_at(port, None).await;
    });
    // Without wait_for_ready this single attempt would fail at once (connection refused).
    exporter.consume(batch(Signal::Logs, 2).1).await.unwrap();
    assert_eq!(backend.records().len(), 1);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_sent_log_records_total"),
        2.0
    );
}
