//! OTLP requests with `n` items, as clients send them and as receivers hand them on.

use bytes::Bytes;
use ferrotel_core::{Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// `n` spans named `span-0`, `span-1`, … in one resource and scope.
pub fn traces(n: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        name: format!("span-{i}"),
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One gauge `m` with `n` points (timestamps 0, 1, …).
pub fn metrics(n: usize) -> ExportMetricsServiceRequest {
    let points = (0..n)
        .map(|i| NumberDataPoint {
            time_unix_nano: i as u64,
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: points,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` log records with severity texts `r0`, `r1`, ….
pub fn logs(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        severity_text: format!("r{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The protobuf request for `signal` with `n` items.
pub fn request_bytes(signal: Signal, n: usize) -> Vec<u8> {
    match signal {
        Signal::Traces => traces(n).encode_to_vec(),
        Signal::Metrics => metrics(n).encode_to_vec(),
        Signal::Logs => logs(n).encode_to_vec(),
    }
}

/// A batch of `n` items of `signal`, held as encoded bytes (as a receiver hands it on), with
/// those bytes.
pub fn batch(signal: Signal, n: usize) -> (Bytes, Telemetry) {
    let bytes = Bytes::from(request_bytes(signal, n));
    let telemetry = Telemetry::from_encoded(signal, bytes.clone()).unwrap();
    (bytes, telemetry)
}
