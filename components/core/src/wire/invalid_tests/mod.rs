//! What `check` refuses besides framing and limits: what prost refuses when decoding (strings not
//! UTF-8, known fields with a wrong wire type, malformed packed fields, varints past 64 bits) and
//! what otelcol's pdata refuses (ids of the wrong length). Requests are encoded by prost from real
//! structs, then mutated.

use super::*;
use crate::signal::Telemetry;
use crate::wire::{LOGS, METRICS, TRACES, count_items};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    self as pm, Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint, metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A length-delimited field.
fn len_field(number: u32, payload: &[u8]) -> Vec<u8> {
    [
        varint(u64::from(number) << 3 | 2),
        varint(payload.len() as u64),
        payload.to_vec(),
    ]
    .concat()
}

/// `element` (one encoded message) in a request, each number of `path` one level further up.
fn wrap(path: &[u32], element: Vec<u8>) -> Vec<u8> {
    path.iter()
        .rev()
        .fold(element, |inner, &number| len_field(number, &inner))
}

/// The items prost decodes (counted from the decoded request, not by the walk), or its error.
fn decoded(signal: Signal, bytes: &[u8]) -> Result<usize, prost::DecodeError> {
    let telemetry = match signal {
        Signal::Traces => Telemetry::from_traces(ExportTraceServiceRequest::decode(bytes)?),
        Signal::Logs => Telemetry::from_logs(ExportLogsServiceRequest::decode(bytes)?),
        Signal::Metrics => Telemetry::from_metrics(ExportMetricsServiceRequest::decode(bytes)?),
    };
    Ok(telemetry.item_count())
}

fn invalid(result: Result<usize, CheckError>) -> InvalidField {
    match result {
        Err(CheckError::Invalid(e)) => e,
        other => panic!("expected invalid data, got {other:?}"),
    }
}

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.into())),
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

fn kvlist(entries: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(Value::KvlistValue(KeyValueList { values: entries })),
    }
}

fn array(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(Value::ArrayValue(ArrayValue { values })),
    }
}

fn traces(resource: Resource, scope: InstrumentationScope, span: Span) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans: vec![span],
                schema_url: "https://example/scope".into(),
            }],
            schema_url: "https://example/resource".into(),
        }],
    }
    .encode_to_vec()
}

fn span(span: Span) -> Vec<u8> {
    traces(Resource::default(), InstrumentationScope::default(), span)
}

fn logs(record: LogRecord) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn metrics(metric: Metric) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![metric],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn metric(data: Data) -> Metric {
    Metric {
        name: "m".into(),
        data: Some(data),
        ..Default::default()
    }
}

const MARK: &str = "@@MARK@@";

/// Makes the one `MARK` in `bytes` invalid UTF-8 (0xff never occurs in it), the framing intact.
fn spoil(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes
        .windows(MARK.len())
        .position(|w| w == MARK.as_bytes())
        .expect("the request holds the mark");
    assert!(
        bytes[at + 1..]
            .windows(MARK.len())
            .all(|w| w != MARK.as_bytes()),
        "one mark only"
    );
    bytes[at] = 0xff;
    bytes
}

mod agreement;
mod ids;
mod utf8;
mod wire_types;
