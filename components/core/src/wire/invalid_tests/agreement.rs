//! The walk against prost on every field of every element, and a large realistic request.

use super::*;

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
    use crate::wire::schema::{Kind, Msg, field_name, kind, lookup};
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
