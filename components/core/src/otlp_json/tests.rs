use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

use super::*;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn attributes() -> Vec<KeyValue> {
    vec![
        kv("s", Value::StringValue("é \"quoted\"\n".into())),
        kv("b", Value::BoolValue(false)),
        kv("i", Value::IntValue(-9_007_199_254_740_993)),
        kv("zero", Value::IntValue(0)),
        kv("d", Value::DoubleValue(0.5)),
        kv("bytes", Value::BytesValue(vec![0, 255, 1])),
        kv(
            "arr",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(Value::IntValue(1)),
                    },
                    AnyValue { value: None },
                ],
            }),
        ),
        kv(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![kv("inner", Value::StringValue("x".into()))],
            }),
        ),
    ]
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", Value::StringValue("svc".into()))],
        dropped_attributes_count: 2,
        ..Default::default()
    })
}

fn traces() -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        parent_span_id: vec![0xab; 8],
        trace_state: "k=v".into(),
        flags: 0x301,
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: u64::MAX,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: attributes(),
        events: vec![span::Event {
            time_unix_nano: 5,
            name: "ev".into(),
            attributes: attributes(),
            dropped_attributes_count: 1,
        }],
        links: vec![span::Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            flags: 256,
            ..Default::default()
        }],
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        dropped_links_count: 3,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1".into(),
                    ..Default::default()
                }),
                spans: vec![
                    span.clone(),
                    Span {
                        name: "second".into(),
                        ..span
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.0.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn number_point(value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        value: Some(value),
        exemplars: vec![Exemplar {
            time_unix_nano: 3,
            span_id: vec![1; 8],
            trace_id: vec![2; 16],
            value: Some(exemplar::Value::AsInt(-4)),
            ..Default::default()
        }],
        flags: 1,
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        description: "d".into(),
        unit: "1".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn metrics() -> ExportMetricsServiceRequest {
    let metrics = vec![
        metric(
            "gauge",
            Data::Gauge(Gauge {
                data_points: vec![number_point(number_data_point::Value::AsDouble(0.0))],
            }),
        ),
        metric(
            "sum",
            Data::Sum(Sum {
                data_points: vec![number_point(number_data_point::Value::AsInt(0))],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "histogram",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    count: 6,
                    sum: Some(0.0),
                    bucket_counts: vec![1, 0, 5],
                    explicit_bounds: vec![-1.5, f64::INFINITY],
                    min: Some(f64::NAN),
                    max: Some(9.25),
                    ..Default::default()
                }],
                aggregation_temporality: 1,
            }),
        ),
        metric(
            "exp",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    count: 3,
                    scale: -3,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: -2,
                        bucket_counts: vec![1, u64::MAX],
                    }),
                    negative: Some(Buckets::default()),
                    zero_threshold: 1e-9,
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "summary",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    count: 2,
                    sum: 3.5,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.99,
                        value: 3.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs() -> ExportLogsServiceRequest {
    let record = LogRecord {
        time_unix_nano: 1,
        observed_time_unix_nano: 2,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue {
            value: Some(Value::StringValue("it broke".into())),
        }),
        attributes: attributes(),
        flags: 1,
        trace_id: vec![0xfe; 16],
        span_id: vec![0xdc; 8],
        event_name: "ev".into(),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// protobuf → JSON → protobuf must give back the same message.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(
    message: OtlpMessage,
    original: &M,
) -> String {
    let json = protobuf_to_json(message, &original.encode_to_vec()).unwrap();
    let back = json_to_protobuf(message, &json).unwrap();
    let decoded = M::decode(back.as_slice()).unwrap();
    let text = String::from_utf8(json).unwrap();
    // NaN != NaN, so compare the debug forms.
    assert_eq!(format!("{decoded:?}"), format!("{original:?}"), "{text}");
    text
}

#[test]
fn every_signal_round_trips_through_json() {
    let t = round_trip(OtlpMessage::Request(Signal::Traces), &traces());
    assert!(
        t.contains(r#""traceId":"0102030405060708090a0b0c0d0e0f10""#),
        "{t}"
    );
    assert!(
        t.contains(r#""startTimeUnixNano":"18446744073709551615""#),
        "{t}"
    );
    assert!(t.contains(r#""intValue":"-9007199254740993""#), "{t}");
    assert!(
        t.contains(r#""intValue":"0""#),
        "oneof members keep their defaults: {t}"
    );
    assert!(
        t.contains(r#""kind":2"#) && t.contains(r#""code":2"#),
        "enums are integers: {t}"
    );
    assert!(t.contains(r#""bytesValue":"AP8B""#), "{t}");
    assert!(t.contains(r#""flags":769"#), "{t}");
    assert!(
        !t.contains("null")
            && !t.contains(r#""schemaUrl":"""#)
            && !t.contains("droppedEventsCount"),
        "no defaults: {t}"
    );

    let m = round_trip(OtlpMessage::Request(Signal::Metrics), &metrics());
    assert!(
        m.contains(r#""asDouble":0.0"#) && m.contains(r#""asInt":"0""#),
        "{m}"
    );
    assert!(m.contains(r#""bucketCounts":["1","0","5"]"#), "{m}");
    assert!(
        m.contains(r#""explicitBounds":[-1.5,"Infinity"]"#) && m.contains(r#""min":"NaN""#),
        "{m}"
    );
    assert!(
        m.contains(r#""scale":-3"#) && m.contains(r#""offset":-2"#),
        "{m}"
    );
    assert!(m.contains(r#""negative":{}"#), "{m}");

    let l = round_trip(OtlpMessage::Request(Signal::Logs), &logs());
    assert!(
        l.contains(r#""severityNumber":17"#) && l.contains(r#""spanId":"dcdcdcdcdcdcdcdc""#),
        "{l}"
    );
}

#[test]
fn telemetry_helpers_count_items() {
    let t = decode_json(
        Signal::Metrics,
        &protobuf_to_json(
            OtlpMessage::Request(Signal::Metrics),
            &metrics().encode_to_vec(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(t.item_count(), 5);
    let json = encode_json(&Telemetry::from_logs(logs())).unwrap();
    assert_eq!(decode_json(Signal::Logs, &json).unwrap().item_count(), 1);
}

const SPEC_TRACE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
 "scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},
 "spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173",
 "name":"I'm a server span","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","kind":2,
 "attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"#;

#[test]
fn spec_example_decodes() {
    let bytes =
        json_to_protobuf(OtlpMessage::Request(Signal::Traces), SPEC_TRACE.as_bytes()).unwrap();
    let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        hex::encode(&span.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(
        span.parent_span_id,
        hex::decode("EEE19B7EC3C1B173").unwrap()
    );
    assert_eq!(
        (span.start_time_unix_nano, span.kind),
        (1_544_712_660_000_000_000, 2)
    );
    assert_eq!(
        req.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .unwrap()
            .version,
        "1.0.0"
    );
}

#[test]
fn lenient_input_is_accepted() {
    let json = r#"{"resource_spans":[{"scope_spans":[{"spans":[{
        "trace_id":"5b8efff798038103d269b633813fc60c","spanId":null,"kind":"SPAN_KIND_CLIENT",
        "startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"1","droppedAttributesCount":"4",
        "status":{"code":"STATUS_CODE_ERROR"},"unknownField":{"deep":[1,{"x":null}]},"traceState":null,
        "attributes":[{"key":"k","value":{"intValue":7,"futureValue":true}},{"key":"e","value":{}}]}]}],
        "resource":null}],"extra":42}"#;
    let bytes = json_to_protobuf(OtlpMessage::Request(Signal::Traces), json.as_bytes()).unwrap();
    let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.kind, 3);
    assert_eq!(span.status.as_ref().unwrap().code, 2);
    assert_eq!(
        (
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.dropped_attributes_count
        ),
        (1_544_712_660_000_000_000, 1, 4)
    );
    assert!(span.span_id.is_empty() && req.resource_spans[0].resource.is_none());
    assert_eq!(
        span.attributes[0].value.as_ref().unwrap().value,
        Some(Value::IntValue(7))
    );
    assert_eq!(span.attributes[1].value.as_ref().unwrap().value, None);
    let empty = json_to_protobuf(OtlpMessage::Request(Signal::Logs), b"{}").unwrap();
    assert!(empty.is_empty());
    let url_safe =
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"_-8"}}]}]}]}"#;
    let logs = ExportLogsServiceRequest::decode(
        json_to_protobuf(OtlpMessage::Request(Signal::Logs), url_safe.as_bytes())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        logs.resource_logs[0].scope_logs[0].log_records[0]
            .body
            .as_ref()
            .unwrap()
            .value,
        Some(Value::BytesValue(vec![0xff, 0xef]))
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cases = [
        ("", "EOF"),
        ("{", "EOF"),
        ("[]", "JSON object"),
        (r#"{"resourceSpans":{}}"#, "expected an array"),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}"#,
            "invalid hex",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"0102"}]}]}]}"#,
            "16 hex digits",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]}"#,
            "unknown enum value",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":-1}]}]}]}"#,
            "out of range",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
            "invalid integer",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}"#,
            "unexpected number",
        ),
        (r#"{"resourceSpans":[]} trailing"#, "trailing"),
    ];
    for (json, want) in cases {
        let err = json_to_protobuf(OtlpMessage::Request(Signal::Traces), json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{json}: {err}");
    }
}

#[test]
fn responses_and_status_transcode() {
    let response = ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: 3,
            error_message: "bad points".into(),
        }),
    };
    let json = round_trip(OtlpMessage::Response(Signal::Metrics), &response);
    assert_eq!(
        json,
        r#"{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"bad points"}}"#
    );
    assert_eq!(
        protobuf_to_json(OtlpMessage::Response(Signal::Traces), &[]).unwrap(),
        b"{}"
    );
    let status = json_to_protobuf(
        OtlpMessage::RpcStatus,
        br#"{"code":14,"message":"later","details":[{"@type":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(
        protobuf_to_json(OtlpMessage::RpcStatus, &status).unwrap(),
        br#"{"code":14,"message":"later"}"#
    );
}

#[test]
fn malformed_protobuf_is_an_error_not_a_panic() {
    let bytes = traces().encode_to_vec();
    assert!(
        protobuf_to_json(
            OtlpMessage::Request(Signal::Traces),
            &bytes[..bytes.len() - 3]
        )
        .is_err()
    );
    // A string field carrying a varint.
    assert!(protobuf_to_json(OtlpMessage::RpcStatus, &[0x10, 0x01]).is_err());
}

#[test]
fn concatenated_batches_encode_as_one_request() {
    let a = Telemetry::from_traces(traces());
    let joined = Telemetry::concat(Signal::Traces, vec![a.clone(), a]);
    let json = encode_json(&joined).unwrap();
    let back = ExportTraceServiceRequest::decode(
        json_to_protobuf(OtlpMessage::Request(Signal::Traces), &json)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(back.resource_spans.len(), 2);
}
