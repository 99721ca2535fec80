//! The otlp_http exporter against a real hyper server on 127.0.0.1: URLs, encodings,
//! compression, headers, status handling, Retry-After, the queue, shutdown and a proxy.

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::exporterhelper::{Exporter, ExporterSettings};
use ferrotel_core::otlp_json::{OtlpMessage, json_to_protobuf, protobuf_to_json};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlphttp::{HttpSender, OtlpHttpConfig};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use std::time::{Duration, Instant};

#[tokio::test]
async fn every_signal_is_posted_to_its_path_unchanged_with_headers_and_each_compression() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    for (compression, encoding) in [
        ("gzip", Some("gzip")),
        ("zstd", Some("zstd")),
        ("deflate", Some("deflate")),
        ("none", None),
    ] {
        let before = backend.records().len();
        let (exporter, telemetry) =
            exporter(&format!("endpoint: http://{addr}\ncompression: {compression}\nheaders:\n  x-scope-orgid: tenant-7\n")).await;
        let mut sent = Vec::new();
        for (signal, n) in [(Signal::Traces, 2), (Signal::Metrics, 3), (Signal::Logs, 4)] {
            let (bytes, batch) = batch(signal, n);
            sent.push((format!("/v1/{signal}"), bytes));
            exporter.consume(batch).await.unwrap();
        }
        eventually("three requests", || backend.records().len() == before + 3).await;
        let mut records = backend.records().split_off(before);
        records.sort_by(|a, b| a.path.cmp(&b.path));
        sent.sort();
        for (record, (path, bytes)) in records.iter().zip(&sent) {
            assert_eq!(&record.path, path);
            assert_eq!(
                record.decoded_body(),
                bytes.to_vec(),
                "{path} body changed ({compression})"
            );
            assert_eq!(record.headers["content-type"], "application/x-protobuf");
            assert_eq!(
                record
                    .headers
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap().to_string()),
                encoding.map(str::to_string)
            );
            assert_eq!(record.headers["x-scope-orgid"], "tenant-7");
            assert!(
                record.headers["user-agent"]
                    .to_str()
                    .unwrap()
                    .starts_with("ferrotel/")
            );
        }
        eventually("sent counters", || {
            metric(&telemetry, "otelcol_exporter_sent_log_records_total") == 4.0
        })
        .await;
        assert_eq!(metric(&telemetry, "otelcol_exporter_sent_spans_total"), 2.0);
        assert_eq!(
            metric(&telemetry, "otelcol_exporter_sent_metric_points_total"),
            3.0
        );
        exporter.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn json_encoding_and_per_signal_urls() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    let (exporter, _) = exporter(&format!("endpoint: http://{addr}/base/\ntraces_endpoint: http://{addr}/custom/spans\nencoding: json\n")).await;
    let (traces, batch_t) = batch(Signal::Traces, 3);
    let (logs, batch_l) = batch(Signal::Logs, 1);
    exporter.consume(batch_t).await.unwrap();
    exporter.consume(batch_l).await.unwrap();
    eventually("two requests", || backend.records().len() == 2).await;
    exporter.shutdown().await.unwrap();
    let mut records = backend.records();
    records.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(records[0].path, "/base/v1/logs");
    assert_eq!(records[1].path, "/custom/spans");
    for (record, (signal, bytes)) in records
        .iter()
        .zip([(Signal::Logs, logs), (Signal::Traces, traces)])
    {
        assert_eq!(record.headers["content-type"], "application/json");
        let json = record.decoded_body();
        serde_json_check(&json);
        let back = json_to_protobuf(OtlpMessage::Request(signal), &json).unwrap();
        let expected = protobuf_to_json(OtlpMessage::Request(signal), &bytes).unwrap();
        assert_eq!(json, expected);
        assert_eq!(
            same_request(signal, &back, &bytes),
            Ok(true),
            "the JSON carries the whole batch"
        );
    }
}

fn same_request(signal: Signal, a: &[u8], b: &[u8]) -> Result<bool, prost::DecodeError> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    Ok(match signal {
        Signal::Traces => {
            ExportTraceServiceRequest::decode(a)? == ExportTraceServiceRequest::decode(b)?
        }
        Signal::Logs => {
            ExportLogsServiceRequest::decode(a)? == ExportLogsServiceRequest::decode(b)?
        }
        Signal::Metrics => unreachable!("not sent in this test"),
    })
}

/// The body is JSON text with OTLP/JSON's camelCase keys.
fn serde_json_check(json: &[u8]) {
    let text = std::str::from_utf8(json).unwrap();
    assert!(
        text.starts_with('{')
            && (text.contains("\"resourceSpans\"") || text.contains("\"resourceLogs\"")),
        "{text}"
    );
}

#[tokio::test]
async fn retryable_statuses_are_retried_then_delivered_once() {
    let backend = Backend::default();
    backend.script([
        Reply::Fail(503, None, None),
        Reply::Fail(502, None, None),
        Reply::Fail(504, None, None),
    ]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n{FAST_RETRY}")).await;
    exporter.consume(batch(Signal::Metrics, 5).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_metric_points_total") == 5.0
    })
    .await;
    exporter.shutdown().await.unwrap();
    assert_eq!(backend.records().len(), 4);
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_send_failed_metric_points_total"
        ),
        0.0
    );
}

#[tokio::test]
async fn retry_after_is_a_floor_for_the_next_attempt() {
    let backend = Backend::default();
    backend.script([Reply::Fail(429, Some("1"), None)]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!("endpoint: http://{addr}\n{FAST_RETRY}")).await;
    exporter.consume(batch(Signal::Logs, 1).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_log_records_total") == 1.0
    })
    .await;
    let records = backend.records();
    let waited = records[1].at - records[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before Retry-After: 1"
    );
}

#[tokio::test]
async fn other_errors_are_permanent_and_carry_the_servers_message() {
    let status = |message: &str| {
        // google.rpc.Status { code = 3, message }
        let mut body = vec![0x08, 0x03, 0x12, message.len() as u8];
        body.extend_from_slice(message.as_bytes());
        body
    };
    let backend = Backend::default();
    backend.script([
        Reply::Fail(
            400,
            None,
            Some(("application/x-protobuf", status("span 3 has no trace id"))),
        ),
        Reply::Fail(
            500,
            None,
            Some((
                "application/json",
                br#"{"code":13,"message":"disk full"}"#.to_vec(),
            )),
        ),
    ]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nsending_queue:\n  enabled: false\n{FAST_RETRY}"
    ))
    .await;
    let err = exporter
        .consume(batch(Signal::Traces, 2).1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConsumeError::Permanent(m) if m.contains("HTTP Status Code 400") && m.contains("span 3 has no trace id")),
        "{err:?}"
    );
    let err = exporter
        .consume(batch(Signal::Traces, 1).1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConsumeError::Permanent(m) if m.contains("500") && m.contains("disk full")),
        "{err:?}"
    );
    assert_eq!(backend.records().len(), 2, "nothing was retried");
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_spans_total"),
        3.0
    );
}

#[tokio::test]
async fn partial_success_counts_the_rejected_items() {
    let response = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "span too large".into(),
        }),
    };
    let backend = Backend::default();
    backend.script([
        Reply::OkWith(response.encode_to_vec(), "application/x-protobuf"),
        Reply::OkWith(
            br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"late"}}"#.to_vec(),
            "application/json",
        ),
    ]);
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nsending_queue:\n  enabled: false\n"
    ))
    .await;
    exporter.consume(batch(Signal::Traces, 4).1).await.unwrap();
    exporter.consume(batch(Signal::Traces, 4).1).await.unwrap();
    assert_eq!(metric(&telemetry, "otelcol_exporter_sent_spans_total"), 5.0);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_spans_total"),
        3.0
    );
}

#[tokio::test]
async fn a_full_queue_refuses_with_a_retryable_error() {
    let yaml = format!(
        "endpoint: http://127.0.0.1:{}\nsending_queue:\n  queue_size: 1\n  num_consumers: 1\nretry_on_failure:\n  initial_interval: 5s\n",
        dead_port()
    );
    let (exporter, telemetry) = exporter(&yaml).await;
    exporter.consume(batch(Signal::Logs, 1).1).await.unwrap();
    let refused = exporter
        .consume(batch(Signal::Logs, 3).1)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ConsumeError::Refused { reason, .. } if reason.contains("queue is full")),
        "{refused:?}"
    );
    assert_eq!(
        metric(
            &telemetry,
            "otelcol_exporter_enqueue_failed_log_records_total"
        ),
        3.0
    );
}

#[tokio::test]
async fn shutdown_drains_the_queue_to_a_live_server() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nsending_queue:\n  num_consumers: 2\n"
    ))
    .await;
    for _ in 0..25 {
        exporter.consume(batch(Signal::Traces, 2).1).await.unwrap();
    }
    exporter.shutdown().await.unwrap();
    assert_eq!(backend.records().len(), 25);
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_sent_spans_total"),
        50.0
    );
}

#[tokio::test]
async fn shutdown_with_a_dead_server_reports_the_rest_as_failed() {
    let yaml = format!("endpoint: http://127.0.0.1:{}\n{FAST_RETRY}", dead_port());
    let config: OtlpHttpConfig = ferrotel_core::config::decode_validated(
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
        HttpSender::new(&config, None).unwrap(),
    )
    .unwrap();
    exporter.start().await.unwrap();
    for _ in 0..5 {
        exporter.consume(batch(Signal::Logs, 2).1).await.unwrap();
    }
    let started = Instant::now();
    exporter.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        metric(&telemetry, "otelcol_exporter_send_failed_log_records_total"),
        10.0
    );
}

#[tokio::test]
async fn requests_can_go_through_a_connect_proxy() {
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    let (proxy, heads) = connect_proxy().await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: http://{addr}\nproxy_url: http://ops:pa55@{proxy}\n"
    ))
    .await;
    exporter.consume(batch(Signal::Metrics, 2).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_metric_points_total") == 2.0
    })
    .await;
    let heads = heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with(&format!("CONNECT {addr} HTTP/1.1")),
        "{heads:?}"
    );
    assert!(
        heads[0]
            .to_lowercase()
            .contains("proxy-authorization: basic b3bzonbhntu="),
        "{heads:?}"
    );
    assert_eq!(backend.records().len(), 1);
}
