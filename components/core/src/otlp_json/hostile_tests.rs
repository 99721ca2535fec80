//! Hostile input, and what the fuzz targets (components/core/fuzz) found. The transcoders
//! recurse, so each must refuse deep input with an error, on a thread no bigger than a tokio
//! worker's (2 MiB), in a debug build where frames are largest.

use super::*;
use crate::signal::Signal;

const WORKER_STACK: usize = 2 << 20;

fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow")
}

/// A trace request whose one attribute value is `depth` arrays deep, in OTLP/JSON.
fn nested_json(depth: usize) -> Vec<u8> {
    let mut json = String::from(
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","attributes":[{"key":"k","value":"#,
    );
    json.push_str(&r#"{"arrayValue":{"values":["#.repeat(depth));
    json.push_str(r#"{"stringValue":"leaf"}"#);
    json.push_str(&"]}}".repeat(depth));
    json.push_str("}]}]}]}]}");
    json.into_bytes()
}

#[test]
fn json_nested_past_serde_json_limit_is_an_error() {
    let result = on_worker_stack(|| {
        json_to_protobuf(OtlpMessage::Request(Signal::Traces), &nested_json(10_000)).map(|_| ())
    });
    let err = result.unwrap_err().to_string();
    assert!(err.contains("recursion limit exceeded"), "{err}");
    // Unknown keys are skipped by serde_json without recursion, however deep.
    let ignored = format!(
        r#"{{"unknown":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let skipped = on_worker_stack(move || {
        json_to_protobuf(OtlpMessage::Request(Signal::Logs), ignored.as_bytes())
            .map_err(|e| e.to_string())
    });
    assert_eq!(skipped, Ok(Vec::new()));
}

#[test]
fn json_nested_as_deep_as_serde_json_allows_transcodes_both_ways() {
    // 10 JSON levels lead to the value; each array level takes 3 more, and serde_json allows 128.
    let (protobuf, json) = on_worker_stack(|| {
        let protobuf =
            json_to_protobuf(OtlpMessage::Request(Signal::Traces), &nested_json(39)).unwrap();
        let json = protobuf_to_json(OtlpMessage::Request(Signal::Traces), &protobuf).unwrap();
        (protobuf, json)
    });
    assert_eq!(
        json,
        nested_json(39)
            .iter()
            .copied()
            .filter(|b| *b != b' ')
            .collect::<Vec<_>>()
    );
    assert!(crate::signal::Telemetry::from_encoded(Signal::Traces, protobuf.into()).is_ok());
}

#[test]
fn protobuf_nested_past_the_transcoder_limit_is_an_error() {
    fn varint(mut v: usize, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn wrap(tag: u8, inner: Vec<u8>) -> Vec<u8> {
        let mut out = vec![tag];
        varint(inner.len(), &mut out);
        out.extend(inner);
        out
    }
    let mut value = vec![0x0a, 0x00];
    for _ in 0..5_000 {
        value = wrap(0x2a, wrap(0x0a, value)); // AnyValue.array_value { values: [value] }
    }
    let request = wrap(0x0a, wrap(0x12, wrap(0x12, wrap(0x4a, wrap(0x12, value)))));
    let err = on_worker_stack(move || {
        protobuf_to_json(OtlpMessage::Request(Signal::Traces), &request).map(|_| ())
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed protobuf: message nesting too deep"
    );
}

/// Found by the otlp_protobuf fuzz target: serde_json's default float parser may land one ULP off,
/// so a gauge of 10.000000000000181 came back from JSON as 10.00000000000018 (the workspace now
/// enables serde_json's `float_roundtrip`, as Go's parser is exact).
#[test]
fn doubles_round_trip_through_json_exactly() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
        number_data_point::Value,
    };
    use prost::Message;
    for value in [
        10.000000000000181,
        0.1 + 0.2,
        1e-300,
        f64::MAX,
        5e-324,
        2.2250738585072014e-308,
    ] {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                value: Some(Value::AsDouble(value)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let message = OtlpMessage::Request(Signal::Metrics);
        let json = protobuf_to_json(message, &request.encode_to_vec()).unwrap();
        let back = json_to_protobuf(message, &json).unwrap();
        let decoded = ExportMetricsServiceRequest::decode(back.as_slice()).unwrap();
        let Some(Data::Gauge(gauge)) =
            &decoded.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("not a gauge")
        };
        let Some(Value::AsDouble(back)) = gauge.data_points[0].value else {
            panic!("not a double")
        };
        assert_eq!(
            back.to_bits(),
            value.to_bits(),
            "{}",
            String::from_utf8_lossy(&json)
        );
    }
}

/// Found by the otlp_json fuzz target: a metric with both `gauge` and `histogram` was taken,
/// written as a metric holding two kinds of data (which the framing walk then refused). protojson
/// refuses a second member of a oneof, and so does the decoder now, naming both.
#[test]
fn a_second_oneof_member_in_json_is_refused() {
    let refused = [
        (
            Signal::Metrics,
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{},"histogram":{}}]}]}]}"#,
            "fields gauge and histogram are members of one oneof",
        ),
        (
            Signal::Logs,
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a","intValue":"1"}}]}]}]}"#,
            "fields string_value and int_value are members of one oneof",
        ),
        (
            Signal::Metrics,
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":"1","asDouble":0}]}}]}]}]}"#,
            "fields as_int and as_double are members of one oneof",
        ),
    ];
    for (signal, json, words) in refused {
        let err = json_to_protobuf(OtlpMessage::Request(signal), json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(words), "{err}");
    }
    // A member given as null is not set; the same member twice is one member.
    let fine = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":null,"intValue":"1","intValue":"2"}}]}]}]}"#;
    assert!(json_to_protobuf(OtlpMessage::Request(Signal::Logs), fine.as_bytes()).is_ok());
}

/// The protobuf side of the same: prost keeps the last member on the wire (merging repeats of it
/// that follow the last other member), so the JSON written says just that one.
#[test]
fn only_the_oneof_member_prost_keeps_is_written() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    fn wrap(tag: u8, inner: &[u8]) -> Vec<u8> {
        assert!(inner.len() < 128);
        [&[tag, inner.len() as u8][..], inner].concat()
    }
    // LogRecord.body = AnyValue { int_value: 7, string_value: "x" } in that order.
    let body = [&[0x18, 0x07][..], &wrap(0x0a, b"x")].concat();
    let request = wrap(0x0a, &wrap(0x12, &wrap(0x12, &wrap(0x2a, &body))));
    let decoded = ExportLogsServiceRequest::decode(request.as_slice()).unwrap();
    let json = protobuf_to_json(OtlpMessage::Request(Signal::Logs), &request).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.contains(r#""body":{"stringValue":"x"}"#), "{text}");
    let back = json_to_protobuf(OtlpMessage::Request(Signal::Logs), &json).unwrap();
    assert_eq!(
        ExportLogsServiceRequest::decode(back.as_slice()).unwrap(),
        decoded
    );

    // Metric: gauge (1 point), sum (1 point), gauge (2 points): prost keeps the last gauge only.
    let point = wrap(0x0a, &[0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]); // data point, as_double 1.0
    let gauge = |points: usize| wrap(0x2a, &point.repeat(points));
    let sum = wrap(0x3a, &point);
    let metric = [gauge(1), sum, gauge(2)].concat();
    let request = wrap(0x0a, &wrap(0x12, &wrap(0x12, &metric)));
    let decoded = ExportMetricsServiceRequest::decode(request.as_slice()).unwrap();
    let json = protobuf_to_json(OtlpMessage::Request(Signal::Metrics), &request).unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(!text.contains("\"sum\""), "{text}");
    let back = json_to_protobuf(OtlpMessage::Request(Signal::Metrics), &json).unwrap();
    assert_eq!(
        ExportMetricsServiceRequest::decode(back.as_slice()).unwrap(),
        decoded
    );
}
