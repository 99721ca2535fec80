//! Every string field must be UTF-8, and the error names it.

use super::*;

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
