//! What `check` refuses besides framing and limits: what prost refuses when decoding (strings not
//! UTF-8, known fields with a wrong wire type, malformed packed fields, varints past 64 bits) and
//! what otelcol's pdata refuses (ids of the wrong length). Requests are encoded by prost from real
//! structs, then mutated.

use super::*;
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

/// The items prost decodes, or its error.
fn decoded(signal: Signal, bytes: &[u8]) -> Result<usize, prost::DecodeError> {
    Ok(match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes)?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes)?
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum(),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes)?
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum(),
    })
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

/// Every string field of every element, each holding the mark in one request: (signal, request,
/// field, place).
fn string_fields(text: &str) -> Vec<(Signal, Vec<u8>, &'static str, &'static str)> {
    let s = || text.to_string();
    let attr_key = || vec![kv(text, string("v"))];
    let attr_value = || vec![kv("k", string(text))];
    let resource = |r: Resource| traces(r, InstrumentationScope::default(), Span::default());
    let scope = |s: InstrumentationScope| traces(Resource::default(), s, Span::default());
    let entity = |e: EntityRef| {
        resource(Resource {
            entity_refs: vec![e],
            ..Default::default()
        })
    };
    let point_attr = |data: Data| metrics(metric(data));
    let t = Signal::Traces;
    let l = Signal::Logs;
    let m = Signal::Metrics;
    vec![
        (
            t,
            span(Span {
                name: s(),
                ..Default::default()
            }),
            "name",
            "a span",
        ),
        (
            t,
            span(Span {
                trace_state: s(),
                ..Default::default()
            }),
            "trace_state",
            "a span",
        ),
        (
            t,
            span(Span {
                attributes: attr_key(),
                ..Default::default()
            }),
            "attribute key",
            "a span",
        ),
        (
            t,
            span(Span {
                attributes: attr_value(),
                ..Default::default()
            }),
            "attribute value",
            "a span",
        ),
        (
            t,
            span(Span {
                attributes: vec![kv("k", kvlist(vec![kv(text, string("v"))]))],
                ..Default::default()
            }),
            "attribute key",
            "a span",
        ),
        (
            t,
            span(Span {
                attributes: vec![kv("k", array(vec![string("a"), array(vec![string(text)])]))],
                ..Default::default()
            }),
            "attribute value",
            "a span",
        ),
        (
            t,
            span(Span {
                events: vec![Event {
                    name: s(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "name",
            "a span event",
        ),
        (
            t,
            span(Span {
                events: vec![Event {
                    attributes: attr_key(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "attribute key",
            "a span event",
        ),
        (
            t,
            span(Span {
                links: vec![Link {
                    trace_state: s(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "trace_state",
            "a span link",
        ),
        (
            t,
            span(Span {
                links: vec![Link {
                    attributes: attr_value(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "attribute value",
            "a span link",
        ),
        (
            t,
            span(Span {
                status: Some(Status {
                    message: s(),
                    code: 2,
                }),
                ..Default::default()
            }),
            "status.message",
            "a span",
        ),
        (
            t,
            resource(Resource {
                attributes: attr_key(),
                ..Default::default()
            }),
            "attribute key",
            "a resource",
        ),
        (
            t,
            entity(EntityRef {
                r#type: s(),
                ..Default::default()
            }),
            "type",
            "an entity ref",
        ),
        (
            t,
            entity(EntityRef {
                schema_url: s(),
                ..Default::default()
            }),
            "schema_url",
            "an entity ref",
        ),
        (
            t,
            entity(EntityRef {
                id_keys: vec!["a".into(), s()],
                ..Default::default()
            }),
            "id_keys",
            "an entity ref",
        ),
        (
            t,
            entity(EntityRef {
                description_keys: vec![s()],
                ..Default::default()
            }),
            "description_keys",
            "an entity ref",
        ),
        (
            t,
            scope(InstrumentationScope {
                name: s(),
                ..Default::default()
            }),
            "name",
            "a scope",
        ),
        (
            t,
            scope(InstrumentationScope {
                version: s(),
                ..Default::default()
            }),
            "version",
            "a scope",
        ),
        (
            t,
            scope(InstrumentationScope {
                attributes: attr_value(),
                ..Default::default()
            }),
            "attribute value",
            "a scope",
        ),
        (
            t,
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    schema_url: s(),
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            "schema_url",
            "a resource",
        ),
        (
            t,
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        schema_url: s(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            "schema_url",
            "a scope",
        ),
        (
            l,
            logs(LogRecord {
                severity_text: s(),
                ..Default::default()
            }),
            "severity_text",
            "a log record",
        ),
        (
            l,
            logs(LogRecord {
                event_name: s(),
                ..Default::default()
            }),
            "event_name",
            "a log record",
        ),
        (
            l,
            logs(LogRecord {
                body: Some(string(text)),
                ..Default::default()
            }),
            "body",
            "a log record",
        ),
        (
            l,
            logs(LogRecord {
                body: Some(kvlist(vec![kv(text, string("v"))])),
                ..Default::default()
            }),
            "body key",
            "a log record",
        ),
        (
            l,
            logs(LogRecord {
                attributes: attr_key(),
                ..Default::default()
            }),
            "attribute key",
            "a log record",
        ),
        (
            l,
            ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    schema_url: s(),
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            "schema_url",
            "a resource",
        ),
        (
            m,
            metrics(Metric {
                name: s(),
                ..Default::default()
            }),
            "name",
            "a metric",
        ),
        (
            m,
            metrics(Metric {
                description: s(),
                ..Default::default()
            }),
            "description",
            "a metric",
        ),
        (
            m,
            metrics(Metric {
                unit: s(),
                ..Default::default()
            }),
            "unit",
            "a metric",
        ),
        (
            m,
            metrics(Metric {
                metadata: attr_key(),
                ..Default::default()
            }),
            "metadata key",
            "a metric",
        ),
        (
            m,
            point_attr(Data::Gauge(pm::Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: attr_value(),
                    ..Default::default()
                }],
            })),
            "attribute value",
            "a data point",
        ),
        (
            m,
            point_attr(Data::Sum(pm::Sum {
                data_points: vec![NumberDataPoint {
                    attributes: attr_key(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            "attribute key",
            "a data point",
        ),
        (
            m,
            point_attr(Data::Histogram(pm::Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: attr_value(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            "attribute value",
            "a data point",
        ),
        (
            m,
            point_attr(Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: attr_value(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            "attribute value",
            "a data point",
        ),
        (
            m,
            point_attr(Data::Summary(pm::Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: attr_key(),
                    ..Default::default()
                }],
            })),
            "attribute key",
            "a data point",
        ),
        (
            m,
            point_attr(Data::Histogram(pm::Histogram {
                data_points: vec![HistogramDataPoint {
                    exemplars: vec![Exemplar {
                        filtered_attributes: attr_key(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })),
            "attribute key",
            "an exemplar",
        ),
        (
            m,
            ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(InstrumentationScope {
                            name: s(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            "name",
            "a scope",
        ),
    ]
}

#[test]
fn every_string_field_must_be_utf8_and_the_error_names_it() {
    for (signal, bytes, field, place) in string_fields(MARK) {
        assert!(decoded(signal, &bytes).is_ok());
        assert!(
            check(&bytes, signal, &Limits::DEFAULT).is_ok(),
            "{field} in {place}"
        );
        let bad = spoil(bytes);
        assert!(
            decoded(signal, &bad).is_err(),
            "prost refuses {field} in {place}"
        );
        let e = invalid(check(&bad, signal, &Limits::DEFAULT));
        assert_eq!(
            (e.problem, e.field, e.place),
            (Problem::NotUtf8, field, place)
        );
        // The framing is intact: items are still counted, for self-telemetry.
        let good_count = count_items(&spoil_undo(&bad), signal_path(signal));
        assert_eq!(count_items(&bad, signal_path(signal)), good_count);
    }
    let bad = spoil(span(Span {
        attributes: vec![kv(MARK, string("v"))],
        ..Default::default()
    }));
    assert_eq!(
        check(&bad, Signal::Traces, &Limits::DEFAULT)
            .unwrap_err()
            .to_string(),
        "invalid data: a string field (attribute key) in a span is not valid UTF-8"
    );
}

/// Undoes [`spoil`].
fn spoil_undo(bytes: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let at = bytes
        .windows(MARK.len() - 1)
        .position(|w| w == &MARK.as_bytes()[1..])
        .unwrap();
    bytes[at - 1] = MARK.as_bytes()[0];
    bytes
}

fn signal_path(signal: Signal) -> crate::wire::ItemPath {
    match signal {
        Signal::Traces => TRACES,
        Signal::Logs => LOGS,
        Signal::Metrics => METRICS,
    }
}

#[test]
fn utf8_beyond_ascii_is_accepted_everywhere() {
    for text in [
        "héllo wörld",
        "✓ 🚀 日本語",
        &"é".repeat(100),
        &"ü".repeat(64),
    ] {
        for (signal, bytes, field, place) in string_fields(text) {
            assert!(decoded(signal, &bytes).is_ok());
            assert!(
                check(&bytes, signal, &Limits::DEFAULT).is_ok(),
                "{text:?} as {field} in {place}"
            );
        }
    }
}

#[test]
fn a_string_cut_inside_a_character_is_refused_at_any_length_and_place() {
    // Around the lengths where the walk's ASCII check changes strategy (4, 8, 16 bytes), and
    // where attributes leave its fast path (128).
    for len in 1..140 {
        let run = "Z".repeat(len);
        for attributes in [
            vec![kv(&run, string("v"))],
            vec![kv("k", string(&run))],
            vec![kv("k", kvlist(vec![kv(&run, string("v"))]))],
            vec![kv(
                &run,
                AnyValue {
                    value: Some(Value::IntValue(-1)),
                },
            )],
        ] {
            let good = span(Span {
                attributes,
                ..Default::default()
            });
            assert_eq!(check(&good, Signal::Traces, &Limits::DEFAULT), Ok(1));
            // The last window: a length byte of 90 ('Z') may stand before the run.
            let start = good
                .windows(len)
                .rposition(|w| w == run.as_bytes())
                .unwrap();
            for at in 0..len {
                let mut bad = good.clone();
                bad[start + at] = 0xc3; // the first byte of a 2-byte character, never completed
                assert!(decoded(Signal::Traces, &bad).is_err());
                assert_eq!(
                    invalid(check(&bad, Signal::Traces, &Limits::DEFAULT)).problem,
                    Problem::NotUtf8,
                    "len {len}, bad byte at {at}"
                );
            }
        }
    }
}

#[test]
fn the_ascii_check_sees_a_high_byte_anywhere() {
    for len in 0..70 {
        let ascii = vec![b'a'; len];
        assert!(is_ascii(&ascii) && is_utf8(&ascii));
        for at in 0..len {
            let mut high = ascii.clone();
            high[at] = 0x80;
            assert!(!is_ascii(&high), "len {len}, high byte at {at}");
            assert!(!is_utf8(&high));
            high[at] = 0xc3;
            high.insert(at + 1, 0xa9); // é
            assert!(!is_ascii(&high) && is_utf8(&high));
        }
    }
}

/// Every trace and span id field: (signal, request with `id` in that field, field, place, length).
fn id_fields(id: &[u8]) -> Vec<(Signal, Vec<u8>, &'static str, &'static str, usize)> {
    let v = || id.to_vec();
    let exemplar = |e: Exemplar| {
        vec![
            metrics(metric(Data::Gauge(pm::Gauge {
                data_points: vec![NumberDataPoint {
                    exemplars: vec![e.clone()],
                    ..Default::default()
                }],
            }))),
            metrics(metric(Data::Histogram(pm::Histogram {
                data_points: vec![HistogramDataPoint {
                    exemplars: vec![e.clone()],
                    ..Default::default()
                }],
                ..Default::default()
            }))),
            metrics(metric(Data::ExponentialHistogram(
                pm::ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        exemplars: vec![e],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ))),
        ]
    };
    let (t, l, m) = (Signal::Traces, Signal::Logs, Signal::Metrics);
    let mut fields = vec![
        (
            t,
            span(Span {
                trace_id: v(),
                ..Default::default()
            }),
            "trace_id",
            "a span",
            16,
        ),
        (
            t,
            span(Span {
                span_id: v(),
                ..Default::default()
            }),
            "span_id",
            "a span",
            8,
        ),
        (
            t,
            span(Span {
                parent_span_id: v(),
                ..Default::default()
            }),
            "parent_span_id",
            "a span",
            8,
        ),
        (
            t,
            span(Span {
                links: vec![Link {
                    trace_id: v(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "trace_id",
            "a span link",
            16,
        ),
        (
            t,
            span(Span {
                links: vec![Link {
                    span_id: v(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "span_id",
            "a span link",
            8,
        ),
        (
            l,
            logs(LogRecord {
                trace_id: v(),
                ..Default::default()
            }),
            "trace_id",
            "a log record",
            16,
        ),
        (
            l,
            logs(LogRecord {
                span_id: v(),
                ..Default::default()
            }),
            "span_id",
            "a log record",
            8,
        ),
    ];
    for bytes in exemplar(Exemplar {
        trace_id: v(),
        ..Default::default()
    }) {
        fields.push((m, bytes, "trace_id", "an exemplar", 16));
    }
    for bytes in exemplar(Exemplar {
        span_id: v(),
        ..Default::default()
    }) {
        fields.push((m, bytes, "span_id", "an exemplar", 8));
    }
    fields
}

#[test]
fn ids_must_be_empty_or_of_their_length() {
    for len in [0, 1, 7, 8, 9, 15, 16, 17, 32] {
        let id: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
        for (signal, bytes, field, place, expected) in id_fields(&id) {
            // prost takes any length: the lengths are otelcol's (pdata's) rule.
            assert!(decoded(signal, &bytes).is_ok());
            let result = check(&bytes, signal, &Limits::DEFAULT);
            if len == 0 || len == expected {
                assert!(result.is_ok(), "{len} bytes as {field} in {place}");
            } else {
                let e = invalid(result);
                assert_eq!(
                    (e.problem, e.field, e.place),
                    (
                        Problem::IdLength {
                            found: len,
                            expected
                        },
                        field,
                        place
                    )
                );
            }
        }
    }
    let bad = span(Span {
        trace_id: vec![1; 15],
        ..Default::default()
    });
    assert_eq!(
        check(&bad, Signal::Traces, &Limits::DEFAULT)
            .unwrap_err()
            .to_string(),
        "invalid data: a span's trace_id is 15 bytes; must be 16 or empty"
    );
    let bad = logs(LogRecord {
        span_id: vec![1; 4],
        ..Default::default()
    });
    assert_eq!(
        check(&bad, Signal::Logs, &Limits::DEFAULT)
            .unwrap_err()
            .to_string(),
        "invalid data: a log record's span_id is 4 bytes; must be 8 or empty"
    );
}

/// A request whose one element (a span, a log record or a histogram data point, encoded by prost)
/// gets `extra` appended: a later field, as a decoder would read it.
fn with_extra(element: &str, extra: &[u8]) -> (Signal, Vec<u8>) {
    match element {
        "span" => {
            let span = Span {
                name: "s".into(),
                attributes: vec![kv("k", string("v"))],
                ..Default::default()
            };
            let bytes = [span.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2], bytes))
        }
        "attribute" => {
            let bytes = [kv("k", string("v")).encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2, 9], bytes))
        }
        "value" => {
            let bytes = [string("v").encode_to_vec(), extra.to_vec()].concat();
            (Signal::Traces, wrap(&[1, 2, 2, 9, 2], bytes))
        }
        "log record" => {
            let record = LogRecord {
                severity_text: "INFO".into(),
                ..Default::default()
            };
            let bytes = [record.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Logs, wrap(&[1, 2, 2], bytes))
        }
        "histogram point" => {
            let point = HistogramDataPoint {
                count: 3,
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![1.5],
                ..Default::default()
            };
            let bytes = [point.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Metrics, wrap(&[1, 2, 2, 9, 1], bytes))
        }
        "buckets" => {
            let buckets = Buckets {
                offset: -3,
                bucket_counts: vec![1, 300, 70_000, u64::MAX],
            };
            let bytes = [buckets.encode_to_vec(), extra.to_vec()].concat();
            (Signal::Metrics, wrap(&[1, 2, 2, 10, 1, 8], bytes))
        }
        _ => unreachable!(),
    }
}

#[test]
fn known_fields_with_a_wrong_wire_type_are_refused_naming_the_field() {
    for (element, extra, message) in [
        (
            "span",
            vec![0x38, 0x01], // start_time_unix_nano (7) as a varint
            "a span's start_time_unix_nano has wire type 0 (varint), not 1 (64-bit)",
        ),
        (
            "span",
            vec![0x0d, 0, 0, 0, 0], // trace_id (1) as 32 bits
            "a span's trace_id has wire type 5 (32-bit), not 2 (length-delimited)",
        ),
        (
            "span",
            vec![0x78, 0x01], // status (15) as a varint
            "a span's status has wire type 0 (varint), not 2 (length-delimited)",
        ),
        (
            "span",
            vec![0x31, 0, 0, 0, 0, 0, 0, 0, 0], // kind (6) as 64 bits
            "a span's kind has wire type 1 (64-bit), not 0 (varint)",
        ),
        (
            "attribute",
            vec![0x08, 0x01], // key (1) as a varint
            "a span's attribute key has wire type 0 (varint), not 2 (length-delimited)",
        ),
        (
            "value",
            vec![0x12, 0x00], // bool_value (2) length-delimited
            "a span's attribute value (bool_value) has wire type 2 (length-delimited), not 0 (varint)",
        ),
        (
            "value",
            vec![0x19, 0, 0, 0, 0, 0, 0, 0, 0], // int_value (3) as 64 bits
            "a span's attribute value (int_value) has wire type 1 (64-bit), not 0 (varint)",
        ),
        (
            "log record",
            vec![0x40, 0x01], // flags (8) as a varint
            "a log record's flags has wire type 0 (varint), not 5 (32-bit)",
        ),
        (
            "histogram point",
            vec![0x30, 0x01], // bucket_counts (6) as a varint
            "a data point's bucket_counts has wire type 0 (varint), not 1 (64-bit) or 2 (packed)",
        ),
        (
            "buckets",
            vec![0x11, 0, 0, 0, 0, 0, 0, 0, 0], // bucket_counts (2) as 64 bits
            "a data point's buckets.bucket_counts has wire type 1 (64-bit), not 0 (varint) or 2 (packed)",
        ),
    ] {
        let (signal, bytes) = with_extra(element, &[]);
        assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1));
        let (signal, bytes) = with_extra(element, &extra);
        assert!(decoded(signal, &bytes).is_err(), "prost refuses: {message}");
        assert_eq!(
            check(&bytes, signal, &Limits::DEFAULT)
                .unwrap_err()
                .to_string(),
            format!("invalid data: {message}")
        );
    }
}

#[test]
fn packed_fields_hold_whole_values_and_unpacked_ones_pass() {
    // Unpacked (one value per field) as well as packed: prost takes both.
    let fine: [(&str, Vec<u8>); 5] = [
        (
            "histogram point",
            [vec![0x31], 7u64.to_le_bytes().to_vec()].concat(),
        ),
        (
            "histogram point",
            [vec![0x39], 2.5f64.to_le_bytes().to_vec()].concat(),
        ),
        ("histogram point", len_field(7, &[])),
        ("buckets", [vec![0x10], varint(u64::MAX)].concat()),
        (
            "buckets",
            len_field(2, &[varint(1), varint(1 << 40)].concat()),
        ),
    ];
    for (element, extra) in fine {
        let (signal, bytes) = with_extra(element, &extra);
        assert_eq!(decoded(signal, &bytes), Ok(1));
        assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1), "{extra:?}");
    }
    for (element, extra, message) in [
        (
            "histogram point",
            len_field(6, &[0; 13]),
            "a data point's bucket_counts is a packed field of 13 bytes, not a whole number of 8-byte values",
        ),
        (
            "histogram point",
            len_field(7, &[0; 4]),
            "a data point's explicit_bounds is a packed field of 4 bytes, not a whole number of 8-byte values",
        ),
        (
            "buckets",
            len_field(2, &[0x01, 0x80, 0x80]), // ends inside a varint
            "a data point's buckets.bucket_counts is a packed field holding a malformed varint",
        ),
        (
            "buckets",
            len_field(2, &[[0xff; 9].as_slice(), &[0x02]].concat()), // past 64 bits
            "a data point's buckets.bucket_counts is a packed field holding a malformed varint",
        ),
    ] {
        let (signal, bytes) = with_extra(element, &extra);
        assert!(decoded(signal, &bytes).is_err(), "prost refuses: {message}");
        assert_eq!(
            check(&bytes, signal, &Limits::DEFAULT)
                .unwrap_err()
                .to_string(),
            format!("invalid data: {message}")
        );
    }
}

#[test]
fn varints_past_64_bits_and_keys_past_32_bits_are_malformed() {
    // kind (6) = u64::MAX: a 10th byte of 1 holds bit 63; 2 or more overflow, and prost refuses.
    let max = [vec![0x30], vec![0xff; 9], vec![0x01]].concat();
    let (signal, bytes) = with_extra("span", &max);
    assert_eq!(decoded(signal, &bytes), Ok(1));
    assert_eq!(check(&bytes, signal, &Limits::DEFAULT), Ok(1));
    for extra in [
        [vec![0x30], vec![0xff; 9], vec![0x02]].concat(),
        [vec![0xf8, 0x07], vec![0xff; 9], vec![0x7f]].concat(), // unknown field 127
        // A key past 32 bits: field number 2^29 as prost reads the low 32 bits, but refused.
        vec![0x80, 0x80, 0x80, 0x80, 0x10, 0x00],
    ] {
        let (signal, bytes) = with_extra("span", &extra);
        assert!(decoded(signal, &bytes).is_err());
        assert!(
            matches!(
                check(&bytes, signal, &Limits::DEFAULT),
                Err(CheckError::Wire(_))
            ),
            "{extra:?}"
        );
        let request = [vec![0x0a, 0x00], extra].concat(); // also at the top level
        assert!(decoded(Signal::Traces, &request).is_err());
        assert!(count_items(&request, TRACES).is_err());
        assert!(check(&request, Signal::Traces, &Limits::DEFAULT).is_err());
    }
}

/// Every element of the three requests, with the path of field numbers that leads to it.
const ELEMENTS: &[(&str, Signal, &[u32])] = &[
    ("traces request", Signal::Traces, &[]),
    ("resource spans", Signal::Traces, &[1]),
    ("resource", Signal::Traces, &[1, 1]),
    ("entity ref", Signal::Traces, &[1, 1, 3]),
    ("scope spans", Signal::Traces, &[1, 2]),
    ("scope", Signal::Traces, &[1, 2, 1]),
    ("span", Signal::Traces, &[1, 2, 2]),
    ("span event", Signal::Traces, &[1, 2, 2, 11]),
    ("span link", Signal::Traces, &[1, 2, 2, 13]),
    ("span status", Signal::Traces, &[1, 2, 2, 15]),
    ("attribute", Signal::Traces, &[1, 2, 2, 9]),
    ("attribute value", Signal::Traces, &[1, 2, 2, 9, 2]),
    ("array value", Signal::Traces, &[1, 2, 2, 9, 2, 5]),
    ("kvlist value", Signal::Traces, &[1, 2, 2, 9, 2, 6]),
    ("kvlist entry", Signal::Traces, &[1, 2, 2, 9, 2, 6, 1]),
    ("event attribute", Signal::Traces, &[1, 2, 2, 11, 3]),
    ("logs request", Signal::Logs, &[]),
    ("resource logs", Signal::Logs, &[1]),
    ("scope logs", Signal::Logs, &[1, 2]),
    ("log record", Signal::Logs, &[1, 2, 2]),
    ("log body", Signal::Logs, &[1, 2, 2, 5]),
    ("metrics request", Signal::Metrics, &[]),
    ("resource metrics", Signal::Metrics, &[1]),
    ("scope metrics", Signal::Metrics, &[1, 2]),
    ("metric", Signal::Metrics, &[1, 2, 2]),
    ("metadata", Signal::Metrics, &[1, 2, 2, 12]),
    ("gauge", Signal::Metrics, &[1, 2, 2, 5]),
    ("sum", Signal::Metrics, &[1, 2, 2, 7]),
    ("histogram", Signal::Metrics, &[1, 2, 2, 9]),
    ("exponential histogram", Signal::Metrics, &[1, 2, 2, 10]),
    ("summary", Signal::Metrics, &[1, 2, 2, 11]),
    ("number point", Signal::Metrics, &[1, 2, 2, 5, 1]),
    ("histogram point", Signal::Metrics, &[1, 2, 2, 9, 1]),
    (
        "exponential histogram point",
        Signal::Metrics,
        &[1, 2, 2, 10, 1],
    ),
    ("buckets", Signal::Metrics, &[1, 2, 2, 10, 1, 9]),
    ("summary point", Signal::Metrics, &[1, 2, 2, 11, 1]),
    ("quantile", Signal::Metrics, &[1, 2, 2, 11, 1, 6]),
    ("exemplar", Signal::Metrics, &[1, 2, 2, 9, 1, 8]),
    (
        "number point exemplar",
        Signal::Metrics,
        &[1, 2, 2, 7, 1, 5],
    ),
    (
        "exponential exemplar",
        Signal::Metrics,
        &[1, 2, 2, 10, 1, 11],
    ),
    ("point attribute", Signal::Metrics, &[1, 2, 2, 11, 1, 7]),
];

/// The id fields, where a 1-byte payload is fine for prost and refused for otelcol's sake.
const IDS: &[(&str, u32)] = &[
    ("span", 1),
    ("span", 2),
    ("span", 4),
    ("span link", 1),
    ("span link", 2),
    ("log record", 9),
    ("log record", 10),
    ("exemplar", 4),
    ("exemplar", 5),
    ("number point exemplar", 4),
    ("number point exemplar", 5),
    ("exponential exemplar", 4),
    ("exponential exemplar", 5),
];

/// For every element, every field number up to 20 (known or not) and every wire type, with
/// payloads prost takes and ones it refuses: the walk accepts exactly what prost decodes (but for
/// ids, which otelcol refuses), and counts what prost decodes.
#[test]
fn the_walk_and_prost_agree_on_every_field_of_every_element() {
    let mut checked = 0;
    for &(element, signal, path) in ELEMENTS {
        for number in 1..=20u32 {
            let payloads: [(u8, Vec<u8>); 8] = [
                (0, vec![0x01]),
                (0, [vec![0xff; 9], vec![0x01]].concat()),
                (0, [vec![0xff; 9], vec![0x02]].concat()),
                (1, vec![0; 8]),
                (2, vec![0x00]), // empty: a string, bytes, message or packed field
                (2, vec![0x01, 0xff]), // one byte: not UTF-8, nor a message, nor a varint
                (2, vec![0x08, 0x30, 0x01, 0x08, 0x07, 0x0a, 0x00, 0x10]),
                (5, vec![0; 4]),
            ];
            for (wire_type, payload) in payloads {
                let key = varint(u64::from(number << 3 | u32::from(wire_type)));
                let request = wrap(path, [key, payload.clone()].concat());
                let walked = check(&request, signal, &Limits::DEFAULT);
                let prost = decoded(signal, &request);
                let what = format!("{element} field {number}, wire type {wire_type}, {payload:?}");
                match (&walked, &prost) {
                    (Ok(items), Ok(decoded)) => assert_eq!(items, decoded, "{what}"),
                    (Err(_), Err(_)) => {}
                    (Err(CheckError::Invalid(e)), Ok(_))
                        if IDS.contains(&(element, number))
                            && matches!(e.problem, Problem::IdLength { .. }) => {}
                    _ => panic!("{what}: the walk says {walked:?}, prost {prost:?}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, ELEMENTS.len() * 20 * 8);
}

#[test]
fn every_known_field_has_a_name_for_errors() {
    use super::super::schema::{Kind, Msg, field_name, kind, lookup};
    for msg in Msg::ALL {
        for number in 0..=40 {
            let known = kind(msg, number);
            assert_eq!(lookup(msg, number), known);
            if known != Kind::Unknown {
                assert_ne!(field_name(msg, number), "unknown field", "{msg:?} {number}");
            }
        }
    }
}

/// Ten attributes of the kinds SDKs send (as `integration-tests/src/workload.rs` makes them), with
/// some non-ASCII text and a nested value.
fn realistic_attributes(seed: u64) -> Vec<KeyValue> {
    let int = |i: i64| AnyValue {
        value: Some(Value::IntValue(i)),
    };
    vec![
        kv("http.request.method", string("GET")),
        kv("http.route", string("/api/v1/cart/{id}")),
        kv(
            "url.full",
            string(&format!(
                "https://shop.example.com/api/v1/cart/{seed}?q=café"
            )),
        ),
        kv("http.response.status_code", int(200 + (seed % 4) as i64)),
        kv("server.address", string("shop.example.com")),
        kv("server.port", int(443)),
        kv(
            "user_agent.original",
            string("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"),
        ),
        kv("network.peer.address", string("10.1.2.3")),
        kv("http.request.body.size", int(-((seed % 4096) as i64))),
        kv(
            "app.tags",
            array(vec![
                string("ü"),
                AnyValue {
                    value: Some(Value::BoolValue(true)),
                },
                AnyValue {
                    value: Some(Value::DoubleValue(0.5)),
                },
                kvlist(vec![kv("nested", string("x"))]),
            ]),
        ),
    ]
}

#[test]
fn a_large_realistic_request_is_accepted_and_counted_as_before() {
    let spans: Vec<Span> = (0..100u64)
        .map(|i| Span {
            trace_id: [i.to_be_bytes(), (!i).to_be_bytes()].concat(),
            span_id: (i * 7 + 1).to_be_bytes().to_vec(),
            parent_span_id: if i % 3 == 0 {
                Vec::new()
            } else {
                i.to_be_bytes().to_vec()
            },
            trace_state: "rojo=00f067aa0ba902b7".into(),
            flags: 1,
            name: format!("GET /api/v1/cart/{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_100_000_000 + i,
            attributes: realistic_attributes(i),
            events: vec![Event {
                time_unix_nano: 1,
                name: "exception".into(),
                attributes: vec![kv("exception.message", string("délai dépassé"))],
                dropped_attributes_count: 0,
            }],
            links: vec![Link {
                trace_id: vec![9; 16],
                span_id: vec![8; 8],
                trace_state: String::new(),
                attributes: vec![kv("link.kind", string("follows"))],
                dropped_attributes_count: 0,
                flags: 0x100,
            }],
            status: Some(Status {
                message: if i % 20 == 0 {
                    "upstream timed out".into()
                } else {
                    String::new()
                },
                code: 1,
            }),
            ..Default::default()
        })
        .collect();
    let resource = Resource {
        attributes: vec![
            kv("service.name", string("checkout")),
            kv("host.name", string("node-01.eu-west-1.compute.internal")),
        ],
        dropped_attributes_count: 0,
        entity_refs: vec![EntityRef {
            schema_url: String::new(),
            r#type: "service".into(),
            id_keys: vec!["service.name".into()],
            description_keys: vec!["host.name".into()],
        }],
    };
    let scope = InstrumentationScope {
        name: "ferrotel-loadgen".into(),
        version: "0.1.0".into(),
        attributes: vec![kv("scope.attr", string("x"))],
        dropped_attributes_count: 0,
    };
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope.clone()),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec();

    let records: Vec<LogRecord> = (0..100u64)
        .map(|i| LogRecord {
            time_unix_nano: i,
            observed_time_unix_nano: i + 1,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(if i % 2 == 0 {
                string(&format!("request {i} served in {} ms — ok", i % 250))
            } else {
                kvlist(vec![
                    kv("msg", string("structured")),
                    kv(
                        "n",
                        AnyValue {
                            value: Some(Value::IntValue(i as i64)),
                        },
                    ),
                ])
            }),
            attributes: realistic_attributes(i),
            dropped_attributes_count: 0,
            flags: 1,
            trace_id: vec![7; 16],
            span_id: vec![6; 8],
            event_name: if i % 10 == 0 {
                "app.start".into()
            } else {
                String::new()
            },
        })
        .collect();
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope.clone()),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec();

    let exemplar = |i: u64| Exemplar {
        filtered_attributes: vec![kv("user", string("ü"))],
        time_unix_nano: i,
        span_id: vec![1; 8],
        trace_id: vec![2; 16],
        value: Some(pm::exemplar::Value::AsInt(i as i64)),
    };
    let data = |i: u64| -> Data {
        let attributes = realistic_attributes(i);
        match i % 5 {
            0 => Data::Gauge(pm::Gauge {
                data_points: vec![NumberDataPoint {
                    attributes,
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    exemplars: vec![exemplar(i)],
                    flags: 0,
                    value: Some(pm::number_data_point::Value::AsDouble(i as f64)),
                }],
            }),
            1 => Data::Sum(pm::Sum {
                data_points: vec![NumberDataPoint {
                    attributes,
                    value: Some(pm::number_data_point::Value::AsInt(-(i as i64))),
                    ..Default::default()
                }],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
            2 => Data::Histogram(pm::Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes,
                    count: 10,
                    sum: Some(12.5),
                    bucket_counts: vec![1, 2, 3, 4],
                    explicit_bounds: vec![0.1, 1.0, 10.0],
                    exemplars: vec![exemplar(i)],
                    min: Some(0.01),
                    max: Some(99.0),
                    ..Default::default()
                }],
                aggregation_temporality: 1,
            }),
            3 => Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes,
                    count: 10,
                    sum: Some(1.0),
                    scale: -2,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: -5,
                        bucket_counts: vec![1, 300, 70_000],
                    }),
                    negative: Some(Buckets {
                        offset: 2,
                        bucket_counts: vec![u64::MAX],
                    }),
                    exemplars: vec![exemplar(i)],
                    zero_threshold: 1e-9,
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            }),
            _ => Data::Summary(pm::Summary {
                data_points: vec![SummaryDataPoint {
                    attributes,
                    count: 4,
                    sum: 2.0,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 1.0,
                        },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 3.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        }
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope),
                metrics: (0..100u64)
                    .map(|i| Metric {
                        name: format!("metric.{i}"),
                        description: "Ünits served".into(),
                        unit: "{request}".into(),
                        metadata: vec![kv("m", string("n"))],
                        data: Some(data(i)),
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec();

    for (signal, bytes, path) in [
        (Signal::Traces, traces, TRACES),
        (Signal::Logs, logs, LOGS),
        (Signal::Metrics, metrics, METRICS),
    ] {
        assert!(bytes.len() > 40_000, "{signal:?}: {} bytes", bytes.len());
        assert_eq!(decoded(signal, &bytes), Ok(100));
        assert_eq!(count_items(&bytes, path), Ok(100));
        assert_eq!(
            check(&bytes, signal, &Limits::DEFAULT),
            Ok(100),
            "{signal:?}"
        );
        // Twice over, as the batch processor joins requests.
        let joined = [bytes.clone(), bytes].concat();
        assert_eq!(check(&joined, signal, &Limits::DEFAULT), Ok(200));
    }
}
