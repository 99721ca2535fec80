//! Trace and span ids: empty or of their length, as otelcol's pdata requires.

use super::*;

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
