//! Identifiable items: every span, data point and log record of a tracked run carries its run id
//! and its item number, so a sink can tell exactly which acknowledged items arrived.
//!
//! Item number = request sequence × batch size + index in the request. Spans and log records carry
//! it in `trace_id` (`"rel1"`, run id, item number, big-endian); data points in two int
//! attributes. Reading them back uses prost messages that declare only the id fields: prost skips
//! everything else without allocating, so a sink keeps up with what it checks.

use ferrotel_core::Signal;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;

const MAGIC: [u8; 4] = *b"rel1";
const RUN_KEY: &str = "reliability.run";
const ITEM_KEY: &str = "reliability.item";

/// A set of item numbers: one bit each, grown on demand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdSet {
    words: Vec<u64>,
    len: u64,
}

impl IdSet {
    /// Adds `item`; true when it was not there yet.
    pub fn insert(&mut self, item: u64) -> bool {
        let (word, bit) = ((item / 64) as usize, item % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & (1 << bit) == 0;
        self.words[word] |= 1 << bit;
        self.len += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, item: u64) -> bool {
        self.words
            .get((item / 64) as usize)
            .is_some_and(|word| word & (1 << (item % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Items in `self` that are not in `other`.
    pub fn missing_from(&self, other: &IdSet) -> u64 {
        self.words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                let theirs = other.words.get(i).copied().unwrap_or(0);
                u64::from((word & !theirs).count_ones())
            })
            .sum()
    }

    /// Up to `limit` items in `self` that are not in `other`, smallest first (for diagnostics).
    pub fn first_missing(&self, other: &IdSet, limit: usize) -> Vec<u64> {
        (0..self.words.len() as u64 * 64)
            .filter(|&item| self.contains(item) && !other.contains(item))
            .take(limit)
            .collect()
    }
}

/// What one tracked request carries.
#[derive(Clone, Copy, Debug)]
pub struct TrackedShape {
    pub signal: Signal,
    pub run: u32,
    /// Items per request.
    pub batch_size: usize,
    /// Extra string attributes per item, to give items a realistic (or a heavy) size.
    pub attributes: usize,
    /// Length of each extra attribute's value.
    pub attribute_bytes: usize,
}

impl TrackedShape {
    /// The item numbers request `seq` carries.
    pub fn items_of(&self, seq: u64) -> std::ops::Range<u64> {
        let batch = self.batch_size as u64;
        seq * batch..(seq + 1) * batch
    }
}

fn trace_id(run: u32, item: u64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&MAGIC);
    id.extend_from_slice(&run.to_be_bytes());
    id.extend_from_slice(&item.to_be_bytes());
    id
}

fn parse_trace_id(id: &[u8]) -> Option<(u32, u64)> {
    if id.len() != 16 || id[..4] != MAGIC {
        return None;
    }
    let run = u32::from_be_bytes(id[4..8].try_into().ok()?);
    let item = u64::from_be_bytes(id[8..16].try_into().ok()?);
    Some((run, item))
}

fn kv(key: impl Into<String>, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn padding(shape: &TrackedShape, item: u64) -> Vec<KeyValue> {
    (0..shape.attributes)
        .map(|i| {
            let mut value = format!("{item:016x}-{i}-");
            let fill = shape.attribute_bytes.saturating_sub(value.len());
            value.extend(std::iter::repeat_n('x', fill));
            kv(
                format!("app.attr.{i}"),
                any_value::Value::StringValue(value),
            )
        })
        .collect()
}

fn resource(run: u32) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv(
                "service.name",
                any_value::Value::StringValue("reliability".into()),
            ),
            kv(RUN_KEY, any_value::Value::IntValue(i64::from(run))),
        ],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "ferrotel-reliability".into(),
        ..Default::default()
    })
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The encoded export request number `seq` of a tracked run.
pub fn encode_request(shape: &TrackedShape, seq: u64) -> Vec<u8> {
    let now = now_nanos();
    let items = shape.items_of(seq);
    match shape.signal {
        Signal::Traces => ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(shape.run),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: items
                        .map(|item| Span {
                            trace_id: trace_id(shape.run, item),
                            span_id: (item + 1).to_be_bytes().to_vec(),
                            name: "GET /api/v1/items/{id}".into(),
                            kind: span::SpanKind::Server as i32,
                            start_time_unix_nano: now - 1_000_000,
                            end_time_unix_nano: now,
                            attributes: padding(shape, item),
                            ..Default::default()
                        })
                        .collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
        Signal::Logs => ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(shape.run),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: items
                        .map(|item| LogRecord {
                            time_unix_nano: now,
                            observed_time_unix_nano: now,
                            severity_number: 9,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(format!(
                                    "tracked log record {item}"
                                ))),
                            }),
                            attributes: padding(shape, item),
                            trace_id: trace_id(shape.run, item),
                            span_id: (item + 1).to_be_bytes().to_vec(),
                            ..Default::default()
                        })
                        .collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(shape.run),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics: vec![Metric {
                        name: "reliability.tracked".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: items
                                .map(|item| {
                                    let mut attributes = vec![
                                        kv(
                                            RUN_KEY,
                                            any_value::Value::IntValue(i64::from(shape.run)),
                                        ),
                                        kv(ITEM_KEY, any_value::Value::IntValue(item as i64)),
                                    ];
                                    attributes.extend(padding(shape, item));
                                    NumberDataPoint {
                                        attributes,
                                        time_unix_nano: now,
                                        value: Some(number_data_point::Value::AsInt(item as i64)),
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                        })),
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec(),
    }
}

// The id-only views of the export requests. Field tags are those of the OTLP protos.

#[derive(Clone, PartialEq, Message)]
struct TracesView {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpansView>,
}
#[derive(Clone, PartialEq, Message)]
struct ResourceSpansView {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpansView>,
}
#[derive(Clone, PartialEq, Message)]
struct ScopeSpansView {
    #[prost(message, repeated, tag = "2")]
    spans: Vec<TraceIdView>,
}
/// A span (`trace_id` = 1) or, with tag 9, a log record.
#[derive(Clone, PartialEq, Message)]
struct TraceIdView {
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
}
#[derive(Clone, PartialEq, Message)]
struct LogsView {
    #[prost(message, repeated, tag = "1")]
    resource_logs: Vec<ResourceLogsView>,
}
#[derive(Clone, PartialEq, Message)]
struct ResourceLogsView {
    #[prost(message, repeated, tag = "2")]
    scope_logs: Vec<ScopeLogsView>,
}
#[derive(Clone, PartialEq, Message)]
struct ScopeLogsView {
    #[prost(message, repeated, tag = "2")]
    log_records: Vec<LogRecordView>,
}
#[derive(Clone, PartialEq, Message)]
struct LogRecordView {
    #[prost(bytes = "vec", tag = "9")]
    trace_id: Vec<u8>,
}
#[derive(Clone, PartialEq, Message)]
struct MetricsView {
    #[prost(message, repeated, tag = "1")]
    resource_metrics: Vec<ResourceMetricsView>,
}
#[derive(Clone, PartialEq, Message)]
struct ResourceMetricsView {
    #[prost(message, repeated, tag = "2")]
    scope_metrics: Vec<ScopeMetricsView>,
}
#[derive(Clone, PartialEq, Message)]
struct ScopeMetricsView {
    #[prost(message, repeated, tag = "2")]
    metrics: Vec<MetricView>,
}
/// Tracked metrics are gauges (tag 5); sums (tag 7) share the data point layout.
#[derive(Clone, PartialEq, Message)]
struct MetricView {
    #[prost(message, optional, tag = "5")]
    gauge: Option<PointsView>,
    #[prost(message, optional, tag = "7")]
    sum: Option<PointsView>,
}
#[derive(Clone, PartialEq, Message)]
struct PointsView {
    #[prost(message, repeated, tag = "1")]
    data_points: Vec<PointView>,
}
#[derive(Clone, PartialEq, Message)]
struct PointView {
    #[prost(message, repeated, tag = "7")]
    attributes: Vec<KeyIntView>,
}
#[derive(Clone, PartialEq, Message)]
struct KeyIntView {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<IntValueView>,
}
#[derive(Clone, PartialEq, Message)]
struct IntValueView {
    #[prost(int64, optional, tag = "3")]
    int_value: Option<i64>,
}

/// One item found in a delivered request: `Some((run, item))` when it is tracked, `None` when not.
pub type FoundItem = Option<(u32, u64)>;

/// Every item of an encoded export request, tracked or not; `Err` when it does not decode.
pub fn items_in(signal: Signal, payload: &[u8]) -> Result<Vec<FoundItem>, prost::DecodeError> {
    Ok(match signal {
        Signal::Traces => TracesView::decode(payload)?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|span| parse_trace_id(&span.trace_id))
            .collect(),
        Signal::Logs => LogsView::decode(payload)?
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|record| parse_trace_id(&record.trace_id))
            .collect(),
        Signal::Metrics => MetricsView::decode(payload)?
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .flat_map(|m| m.gauge.iter().chain(m.sum.iter()))
            .flat_map(|points| &points.data_points)
            .map(|point| {
                let int = |key: &str| {
                    point
                        .attributes
                        .iter()
                        .find(|kv| kv.key == key)
                        .and_then(|kv| kv.value.as_ref()?.int_value)
                };
                Some((
                    u32::try_from(int(RUN_KEY)?).ok()?,
                    u64::try_from(int(ITEM_KEY)?).ok()?,
                ))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ferrotel_core::Telemetry;

    #[test]
    fn id_sets_count_once_and_compare() {
        let mut a = IdSet::default();
        assert!(a.insert(3) && a.insert(200) && !a.insert(3));
        assert_eq!(a.len(), 2);
        let mut b = IdSet::default();
        b.insert(200);
        assert_eq!(a.missing_from(&b), 1);
        assert_eq!(a.first_missing(&b, 10), vec![3]);
        assert_eq!(b.missing_from(&a), 0);
        assert!(!b.contains(3) && b.contains(200) && !b.contains(1 << 40));
    }

    #[test]
    fn every_signal_round_trips_its_ids() {
        for signal in Signal::ALL {
            let shape = TrackedShape {
                signal,
                run: 0xdead_beef,
                batch_size: 7,
                attributes: 3,
                attribute_bytes: 40,
            };
            let payload = encode_request(&shape, 5);
            let found = items_in(signal, &payload).expect("decodes");
            let expected: Vec<FoundItem> = (35..42).map(|i| Some((0xdead_beef, i))).collect();
            assert_eq!(found, expected, "{signal}");
            let telemetry = Telemetry::from_encoded(signal, Bytes::from(payload)).unwrap();
            assert_eq!(telemetry.item_count(), 7, "{signal}");
        }
    }

    #[test]
    fn foreign_items_are_seen_but_not_tracked() {
        let shape = crate::workload::Shape {
            signal: Signal::Traces,
            batch_size: 4,
            attributes: 2,
        };
        let payload = crate::workload::encode(shape, 1);
        assert_eq!(items_in(Signal::Traces, &payload).unwrap(), vec![None; 4]);
        assert!(items_in(Signal::Traces, &[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn batches_joined_by_concatenation_still_yield_every_id() {
        let shape = TrackedShape {
            signal: Signal::Logs,
            run: 1,
            batch_size: 2,
            attributes: 0,
            attribute_bytes: 0,
        };
        let joined = [encode_request(&shape, 0), encode_request(&shape, 1)].concat();
        let found = items_in(Signal::Logs, &joined).unwrap();
        assert_eq!(found, (0..4).map(|i| Some((1, i))).collect::<Vec<_>>());
    }
}
