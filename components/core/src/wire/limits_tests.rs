use super::*;
use crate::wire::{LOGS, METRICS, TRACES, count_items};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    self as pm, Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint, metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const SMALL: Limits = Limits {
    max_value_depth: 3,
    max_attributes: 4,
    max_value_length: 16,
};

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

fn attrs(n: usize) -> Vec<KeyValue> {
    (0..n).map(|i| kv(&format!("k{i}"), string("v"))).collect()
}

/// A value with `depth` kvlists inside one another (0: a plain string).
fn nested_kvlist(depth: usize) -> AnyValue {
    (0..depth).fold(string("leaf"), |inner, _| AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![kv("k", inner)],
        })),
    })
}

fn nested_array(depth: usize) -> AnyValue {
    (0..depth).fold(string("leaf"), |inner, _| AnyValue {
        value: Some(Value::ArrayValue(ArrayValue {
            values: vec![inner],
        })),
    })
}

fn traces_with(span: Span) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn logs_with(record: LogRecord) -> Vec<u8> {
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

fn metrics_with(data: Data) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "m".into(),
                    data: Some(data),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn exceeded(result: Result<usize, CheckError>) -> LimitExceeded {
    match result {
        Err(CheckError::Limit(e)) => e,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

fn span_attrs(attributes: Vec<KeyValue>) -> Vec<u8> {
    traces_with(Span {
        attributes,
        ..Default::default()
    })
}

#[test]
fn depth_at_the_limit_passes_and_one_more_names_the_limit() {
    for nested in [nested_kvlist, nested_array] {
        let ok = span_attrs(vec![kv("a", nested(3))]);
        assert_eq!(check(&ok, Signal::Traces, &SMALL), Ok(1));
        let deep = span_attrs(vec![kv("a", nested(4))]);
        let e = exceeded(check(&deep, Signal::Traces, &SMALL));
        assert_eq!((e.limit, e.found, e.max), (Limit::ValueDepth, 4, 3));
        assert_eq!(
            CheckError::Limit(e).to_string(),
            "limit exceeded: a value in a span is nested at least 4 levels deep, over max_value_depth (3)"
        );
    }
    // A log body is a value too.
    let body = |depth| {
        logs_with(LogRecord {
            body: Some(nested_kvlist(depth)),
            ..Default::default()
        })
    };
    assert_eq!(check(&body(3), Signal::Logs, &SMALL), Ok(1));
    let e = exceeded(check(&body(4), Signal::Logs, &SMALL));
    assert_eq!((e.limit, e.place), (Limit::ValueDepth, "a log record"));
}

#[test]
fn attributes_at_the_limit_pass_on_every_element_and_one_more_fails() {
    let on_every_element = |n: usize| {
        let attributes = attrs(n);
        traces_with(Span {
            attributes: attributes.clone(),
            events: vec![Event {
                attributes: attributes.clone(),
                ..Default::default()
            }],
            links: vec![Link {
                attributes: attributes.clone(),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    assert_eq!(check(&on_every_element(4), Signal::Traces, &SMALL), Ok(1));
    let e = exceeded(check(&on_every_element(5), Signal::Traces, &SMALL));
    assert_eq!((e.limit, e.found, e.max), (Limit::Attributes, 5, 4));
    assert_eq!(
        e.to_string(),
        "a span event has 5 attributes, over max_attributes (4)"
    );

    let placed = |resource: usize, scope: usize, link: usize| {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs(resource),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        attributes: attrs(scope),
                        ..Default::default()
                    }),
                    spans: vec![Span {
                        links: vec![Link {
                            attributes: attrs(link),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    };
    for (bytes, place) in [
        (placed(5, 0, 0), "a resource"),
        (placed(0, 5, 0), "a scope"),
        (placed(0, 0, 5), "a span link"),
    ] {
        let e = exceeded(check(&bytes, Signal::Traces, &SMALL));
        assert_eq!((e.limit, e.place), (Limit::Attributes, place));
    }
    let log = |n| {
        logs_with(LogRecord {
            attributes: attrs(n),
            ..Default::default()
        })
    };
    assert_eq!(check(&log(4), Signal::Logs, &SMALL), Ok(1));
    assert_eq!(
        exceeded(check(&log(5), Signal::Logs, &SMALL)).place,
        "a log record"
    );
}

#[test]
fn every_kind_of_data_point_and_exemplar_is_checked() {
    let exemplar = |n| Exemplar {
        filtered_attributes: attrs(n),
        ..Default::default()
    };
    let kinds = |points: usize, exemplars: usize| -> Vec<Data> {
        vec![
            Data::Gauge(pm::Gauge {
                data_points: vec![NumberDataPoint {
                    attributes: attrs(points),
                    exemplars: vec![exemplar(exemplars)],
                    ..Default::default()
                }],
            }),
            Data::Sum(pm::Sum {
                data_points: vec![NumberDataPoint {
                    attributes: attrs(points),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            Data::Histogram(pm::Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: attrs(points),
                    exemplars: vec![exemplar(exemplars)],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: attrs(points),
                    exemplars: vec![exemplar(exemplars)],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            Data::Summary(pm::Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: attrs(points),
                    ..Default::default()
                }],
            }),
        ]
    };
    for data in kinds(4, 4) {
        assert_eq!(
            check(&metrics_with(data), Signal::Metrics, &SMALL),
            Ok(1),
            "at the limit"
        );
    }
    for data in kinds(5, 0) {
        let e = exceeded(check(&metrics_with(data), Signal::Metrics, &SMALL));
        assert_eq!((e.limit, e.place), (Limit::Attributes, "a data point"));
    }
    for data in kinds(0, 5).into_iter().filter(|d| {
        !matches!(d, Data::Sum(_) | Data::Summary(_)) // built without exemplars above
    }) {
        let e = exceeded(check(&metrics_with(data), Signal::Metrics, &SMALL));
        assert_eq!((e.limit, e.place), (Limit::Attributes, "an exemplar"));
    }
}

#[test]
fn kvlist_entries_count_against_max_attributes() {
    let kvlist = |n: usize| AnyValue {
        value: Some(Value::KvlistValue(KeyValueList { values: attrs(n) })),
    };
    assert_eq!(
        check(
            &span_attrs(vec![kv("m", kvlist(4))]),
            Signal::Traces,
            &SMALL
        ),
        Ok(1)
    );
    let e = exceeded(check(
        &span_attrs(vec![kv("m", kvlist(5))]),
        Signal::Traces,
        &SMALL,
    ));
    assert_eq!(
        e.to_string(),
        "a kvlist value in a span has 5 entries, over max_attributes (4)"
    );
}

#[test]
fn long_strings_and_bytes_are_refused_wherever_they_are() {
    let at = "x".repeat(16);
    let over = "x".repeat(17);
    let bytes_value = |n: usize| AnyValue {
        value: Some(Value::BytesValue(vec![1; n])),
    };
    let ok = traces_with(Span {
        name: at.clone(),
        attributes: vec![kv(&at, string(&at)), kv("b", bytes_value(16))],
        ..Default::default()
    });
    assert_eq!(check(&ok, Signal::Traces, &SMALL), Ok(1));
    for span in [
        Span {
            name: over.clone(),
            ..Default::default()
        },
        Span {
            attributes: vec![kv(&over, string("v"))],
            ..Default::default()
        },
        Span {
            attributes: vec![kv("k", string(&over))],
            ..Default::default()
        },
        Span {
            attributes: vec![kv("k", bytes_value(17))],
            ..Default::default()
        },
    ] {
        let e = exceeded(check(&traces_with(span), Signal::Traces, &SMALL));
        assert_eq!((e.limit, e.found, e.max), (Limit::ValueLength, 17, 16));
        assert_eq!(
            e.to_string(),
            "a string or bytes field in a span is 17 bytes long, over max_value_length (16)"
        );
    }
    let body = logs_with(LogRecord {
        body: Some(string(&over)),
        ..Default::default()
    });
    assert_eq!(
        exceeded(check(&body, Signal::Logs, &SMALL)).place,
        "a log record"
    );
}

#[test]
fn counts_agree_with_the_framing_walk() {
    let traces = ExportTraceServiceRequest {
        resource_spans: (0..3)
            .map(|_| ResourceSpans {
                scope_spans: (0..2)
                    .map(|_| ScopeSpans {
                        spans: (0..5)
                            .map(|_| Span {
                                attributes: attrs(3),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
    .encode_to_vec();
    assert_eq!(check(&traces, Signal::Traces, &Limits::DEFAULT), Ok(30));
    assert_eq!(count_items(&traces, TRACES), Ok(30));
    let metrics = [
        metrics_with(Data::Gauge(pm::Gauge {
            data_points: vec![NumberDataPoint::default(); 3],
        })),
        metrics_with(Data::Summary(pm::Summary {
            data_points: vec![SummaryDataPoint::default(); 2],
        })),
    ]
    .concat();
    assert_eq!(check(&metrics, Signal::Metrics, &Limits::DEFAULT), Ok(5));
    assert_eq!(count_items(&metrics, METRICS), Ok(5));
    let logs = [
        logs_with(LogRecord::default()),
        logs_with(LogRecord::default()),
    ]
    .concat();
    assert_eq!(check(&logs, Signal::Logs, &Limits::DEFAULT), Ok(2));
    assert_eq!(count_items(&logs, LOGS), Ok(2));
}

#[test]
fn a_metric_with_two_kinds_of_data_is_malformed() {
    // One metric whose payload holds a gauge of 2 points and then a sum of 1: prost keeps the last
    // member of the oneof, so the gauge's points would be counted but never seen by a decoder.
    let gauge = Metric {
        data: Some(Data::Gauge(pm::Gauge {
            data_points: vec![NumberDataPoint::default(); 2],
        })),
        ..Default::default()
    };
    let sum = Metric {
        data: Some(Data::Sum(pm::Sum {
            data_points: vec![NumberDataPoint::default()],
            ..Default::default()
        })),
        ..Default::default()
    };
    let metric = [gauge.encode_to_vec(), sum.encode_to_vec()].concat();
    let scope = [vec![0x12], varint(metric.len()), metric].concat();
    let resource = [vec![0x12], varint(scope.len()), scope].concat();
    let bytes = [vec![0x0a], varint(resource.len()), resource].concat();
    let decoded = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.resource_metrics[0].scope_metrics[0].metrics[0], sum);
    let error = WireError("a metric holds more than one kind of data");
    assert_eq!(
        check(&bytes, Signal::Metrics, &Limits::DEFAULT),
        Err(error.clone().into())
    );
    assert_eq!(count_items(&bytes, METRICS), Err(error));
}

fn varint(mut v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

#[test]
fn small_payloads_are_entered_too() {
    // A 2-byte span holding its name (5) as a varint: too small to break any limit, yet prost
    // refuses it, so the walk enters it (the framing walk, which stops at the items, does not).
    let span = vec![0x28, 0x01];
    let scope = [vec![0x12], varint(span.len()), span].concat();
    let resource = [vec![0x12], varint(scope.len()), scope].concat();
    let request = [vec![0x0a], varint(resource.len()), resource].concat();
    assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_err());
    assert_eq!(
        check(&request, Signal::Traces, &Limits::DEFAULT)
            .unwrap_err()
            .to_string(),
        "invalid data: a span's name has wire type 0 (varint), not 2 (length-delimited)"
    );
    assert_eq!(count_items(&request, TRACES), Ok(1));
    // The smallest value nested one level too deep is refused as before.
    let deep = span_attrs(vec![kv("", nested_array(MAX_SUPPORTED_VALUE_DEPTH + 1))]);
    assert_eq!(
        exceeded(check(&deep, Signal::Traces, &Limits::DEFAULT)).limit,
        Limit::ValueDepth
    );
}

#[test]
fn a_string_field_sent_as_a_number_is_invalid() {
    // Span.name (5) as a varint after a 126-byte trace_state: prost refuses it, and so does the
    // walk, naming the field.
    let span = [vec![0x1a, 126], vec![b's'; 126], vec![0x28, 0x01]].concat();
    let scope = [vec![0x12], varint(span.len()), span].concat();
    let resource = [vec![0x12], varint(scope.len()), scope].concat();
    let request = [vec![0x0a], varint(resource.len()), resource].concat();
    assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_err());
    assert_eq!(
        check(&request, Signal::Traces, &Limits::DEFAULT),
        Err(CheckError::Invalid(InvalidField {
            problem: Problem::WireType {
                found: 0,
                expected: "2 (length-delimited)"
            },
            field: "name",
            place: "a span",
        }))
    );
}

/// The deepest nesting the walk follows must decode with prost at the deepest place a value can
/// start (an exemplar's filtered attributes), and one level more must not: the bound is exact.
#[test]
fn the_supported_depth_is_what_prost_decodes_at_the_deepest_place() {
    let request = |depth: usize| {
        metrics_with(Data::Histogram(pm::Histogram {
            data_points: vec![HistogramDataPoint {
                exemplars: vec![Exemplar {
                    filtered_attributes: vec![kv("k", nested_kvlist(depth))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }))
    };
    let deepest = request(MAX_SUPPORTED_VALUE_DEPTH);
    ExportMetricsServiceRequest::decode(deepest.as_slice()).expect("prost decodes it");
    let unlimited = Limits {
        max_value_depth: usize::MAX,
        ..Limits::DEFAULT
    };
    assert_eq!(check(&deepest, Signal::Metrics, &unlimited), Ok(1));
    let deeper = request(MAX_SUPPORTED_VALUE_DEPTH + 1);
    assert!(ExportMetricsServiceRequest::decode(deeper.as_slice()).is_err());
    // A configured limit above the supported one is capped, never followed into a stack overflow.
    let e = exceeded(check(&deeper, Signal::Metrics, &unlimited));
    assert_eq!((e.found, e.max), (31, MAX_SUPPORTED_VALUE_DEPTH));
}

#[test]
fn a_value_nested_far_past_any_limit_is_refused_without_recursing_into_it() {
    // Hand-built: 5,000 arrays inside one another, which prost could not decode either.
    let mut value = vec![0x0a, 0x00]; // AnyValue { string_value: "" }
    for _ in 0..5_000 {
        let array = [vec![0x0a], varint(value.len()), value].concat(); // ArrayValue.values
        value = [vec![0x2a], varint(array.len()), array].concat(); // AnyValue.array_value
    }
    let attribute = [vec![0x12], varint(value.len()), value].concat(); // KeyValue.value
    let span = [vec![0x4a], varint(attribute.len()), attribute].concat(); // Span.attributes
    let scope = [vec![0x12], varint(span.len()), span].concat();
    let resource = [vec![0x12], varint(scope.len()), scope].concat();
    let request = [vec![0x0a], varint(resource.len()), resource].concat();
    let e = exceeded(check(&request, Signal::Traces, &Limits::DEFAULT));
    assert_eq!(e.limit, Limit::ValueDepth);
    assert!(ExportTraceServiceRequest::decode(request.as_slice()).is_err());
}
