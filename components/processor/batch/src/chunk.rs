//! Cutting the next batch off the front of the queued parts: whole parts while they fit, then the
//! head of the part that does not, so every batch but the last holds exactly the maximum. Parts
//! stay encoded; a cut copies only the bytes of the part being cut, once.

use ferrotel_core::signal::{DecodeError, Signal, Telemetry};
use std::collections::VecDeque;

/// A part that could not be split; it has been taken out of the queue.
pub(crate) struct Unsplittable {
    pub error: DecodeError,
    pub items: usize,
}

/// Joins up to `max` items (0: all of them) from the front of `parts` into one batch.
pub(crate) fn next_chunk(
    signal: Signal,
    parts: &mut VecDeque<Telemetry>,
    max: usize,
) -> Result<Telemetry, Unsplittable> {
    if max == 0 {
        return Ok(Telemetry::concat(signal, parts.drain(..).collect()));
    }
    let mut taken = Vec::new();
    let mut room = max;
    while room > 0 {
        let Some(part) = parts.pop_front() else { break };
        let items = part.item_count();
        if items <= room {
            room -= items;
            taken.push(part);
            continue;
        }
        // Cut once: the head fills the batch, the tail keeps one copy of its resource and scope.
        match part.split_at(room) {
            Ok((head, tail)) => {
                room -= head.item_count().min(room);
                taken.push(head);
                parts.push_front(tail);
            }
            Err(error) => {
                for part in taken.into_iter().rev() {
                    parts.push_front(part);
                }
                return Err(Unsplittable { error, items });
            }
        }
    }
    Ok(Telemetry::concat(signal, taken))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    /// One request with a resource per entry of `resources`, each holding that many spans.
    fn request(first: usize, resources: &[usize]) -> Telemetry {
        let mut next = first;
        let resource_spans = resources
            .iter()
            .map(|n| ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..*n)
                        .map(|_| {
                            next += 1;
                            Span {
                                name: format!("s{}", next - 1),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        let bytes = ExportTraceServiceRequest { resource_spans }.encode_to_vec();
        Telemetry::from_encoded(Signal::Traces, bytes.into()).unwrap()
    }

    fn names(mut batch: Telemetry) -> Vec<String> {
        let request = batch.traces().unwrap();
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn batches_are_filled_to_the_maximum_across_parts_and_resources() {
        let mut parts = VecDeque::from([request(0, &[4]), request(4, &[3, 8]), request(15, &[10])]);
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while !parts.is_empty() {
            let chunk =
                next_chunk(Signal::Traces, &mut parts, 10).unwrap_or_else(|_| panic!("splittable"));
            sizes.push(chunk.item_count());
            let chunk_names = names(chunk);
            assert_eq!(
                chunk_names.len(),
                *sizes.last().unwrap(),
                "the count matches the content"
            );
            all.extend(chunk_names);
        }
        assert_eq!(sizes, vec![10, 10, 5]);
        assert_eq!(all, (0..25).map(|i| format!("s{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn without_a_maximum_everything_is_one_batch_of_the_original_bytes() {
        let a = request(0, &[2]);
        let b = request(2, &[3]);
        let expected = [a.to_encoded(), b.to_encoded()].concat();
        let mut parts = VecDeque::from([a, b]);
        let chunk =
            next_chunk(Signal::Traces, &mut parts, 0).unwrap_or_else(|_| panic!("no split needed"));
        assert!(parts.is_empty());
        assert_eq!(chunk.to_encoded(), expected);
    }

    #[test]
    fn metrics_are_cut_at_data_points() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
        use opentelemetry_proto::tonic::metrics::v1::{
            Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
        };
        let gauge = |name: &str| Metric {
            name: name.into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(); 3],
            })),
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![gauge("a"), gauge("b")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let batch =
            Telemetry::from_encoded(Signal::Metrics, request.encode_to_vec().into()).unwrap();
        let mut parts = VecDeque::from([batch]);
        let mut cut = Vec::new();
        while !parts.is_empty() {
            let mut chunk =
                next_chunk(Signal::Metrics, &mut parts, 4).unwrap_or_else(|_| panic!("splittable"));
            let points: Vec<(String, usize)> = chunk
                .metrics()
                .unwrap()
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(metric::Data::Gauge(g)) => (m.name.clone(), g.data_points.len()),
                    _ => (m.name.clone(), 0),
                })
                .collect();
            cut.push((chunk.item_count(), points));
        }
        assert_eq!(
            cut,
            vec![
                (4, vec![("a".into(), 3), ("b".into(), 1)]),
                (2, vec![("b".into(), 2)])
            ],
            "a metric is cut between its data points and keeps its name in both pieces"
        );
    }
}
