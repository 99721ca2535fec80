//! Real export requests for the formatting tests: every AnyValue kind, spans with events and links,
//! a log record with a map body, and a metric of every type.

use ferrotel_core::signal::{Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary as SummaryData, SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets,
    metric::Data, number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

const START: u64 = 1_581_452_772_000_000_321;
const END: u64 = 1_581_452_773_000_000_789;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// One attribute of every AnyValue kind, and an empty one.
fn every_kind() -> Vec<KeyValue> {
    vec![
        kv("str", Value::StringValue("text".into())),
        kv("bool", Value::BoolValue(true)),
        kv("int", Value::IntValue(-42)),
        kv("double", Value::DoubleValue(2.5)),
        kv("bytes", Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
        kv(
            "slice",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(Value::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(Value::IntValue(1)),
                    },
                ],
            }),
        ),
        kv(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("z", Value::BoolValue(false)),
                    kv("k", Value::StringValue("v".into())),
                ],
            }),
        ),
        KeyValue {
            key: "empty".into(),
            value: Some(AnyValue { value: None }),
            ..Default::default()
        },
    ]
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", Value::StringValue("checkout".into()))],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "lib".into(),
        version: "1.2".into(),
        ..Default::default()
    })
}

pub fn traces() -> Telemetry {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: (17..=24).collect(),
        name: "GET /cart".into(),
        kind: 2,
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        attributes: every_kind(),
        events: vec![span::Event {
            name: "retry".into(),
            time_unix_nano: END,
            attributes: vec![kv("attempt", Value::IntValue(2))],
            ..Default::default()
        }],
        links: vec![span::Link {
            trace_id: vec![0xaa; 16],
            span_id: vec![0xbb; 8],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        dropped_links_count: 3,
        ..Default::default()
    };
    let plain = Span {
        name: "child".into(),
        span_id: vec![9; 8],
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![span, plain],
                schema_url: "https://s/1".into(),
            }],
            schema_url: "https://r/1".into(),
        }],
    };
    Telemetry::from_encoded(Signal::Traces, request.encode_to_vec().into()).unwrap()
}

pub fn logs() -> Telemetry {
    let record = LogRecord {
        time_unix_nano: END,
        severity_number: 10,
        severity_text: "INFO2".into(),
        event_name: "cart.checked_out".into(),
        body: Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![kv("msg", Value::StringValue("done".into()))],
            })),
        }),
        attributes: vec![kv("user", Value::StringValue("u1".into()))],
        flags: 1,
        ..Default::default()
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: vec![record],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Telemetry::from_encoded(Signal::Logs, request.encode_to_vec().into()).unwrap()
}

fn number(value: number_data_point::Value, label: &str) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("label", Value::StringValue(label.into()))],
        start_time_unix_nano: START,
        time_unix_nano: END,
        value: Some(value),
        ..Default::default()
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: "1".into(),
        data: Some(data),
        ..Default::default()
    }
}

pub fn metrics() -> Telemetry {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let metrics = vec![
        metric(
            "gauge-int",
            Data::Gauge(Gauge {
                data_points: vec![number(number_data_point::Value::AsInt(123), "a")],
            }),
        ),
        metric(
            "sum-double",
            Data::Sum(Sum {
                data_points: vec![number(number_data_point::Value::AsDouble(1.23), "b")],
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
        ),
        metric(
            "histogram",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    count: 1,
                    sum: Some(15.0),
                    bucket_counts: vec![0, 1],
                    explicit_bounds: vec![1.0],
                    exemplars: vec![Exemplar {
                        trace_id: (1..=16).collect(),
                        span_id: (17..=24).collect(),
                        value: Some(exemplar::Value::AsDouble(15.0)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                aggregation_temporality: cumulative,
            }),
        ),
        metric(
            "exponential",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    count: 3,
                    scale: 1,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: 1,
                        bucket_counts: vec![1],
                    }),
                    negative: Some(Buckets {
                        offset: 0,
                        bucket_counts: vec![1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        ),
        metric(
            "summary",
            Data::Summary(SummaryData {
                data_points: vec![SummaryDataPoint {
                    count: 1,
                    sum: 15.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.01,
                        value: 15.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
    ];
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Telemetry::from_encoded(Signal::Metrics, request.encode_to_vec().into()).unwrap()
}
