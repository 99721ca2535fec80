//! Looking things up in recorded OTLP data: spans, metric data points and log records with their
//! resource, found by attribute values.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::recorder::Recorded;

/// An attribute value as text (ints and bools printed, bytes as lossy UTF-8).
pub fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

pub fn get(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(text)
}

pub fn bytes(attributes: &[KeyValue], key: &str) -> Option<Vec<u8>> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::BytesValue(b)) => Some(b.clone()),
            _ => None,
        })
}

/// Whether every (key, value) of `wanted` is among `attributes`.
pub fn has(attributes: &[KeyValue], wanted: &[(&str, &str)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| get(attributes, k).as_deref() == Some(*v))
}

/// Every span with its resource's attributes.
pub fn spans(recorded: &Recorded) -> Vec<(Vec<KeyValue>, Span)> {
    let mut out = Vec::new();
    for request in &recorded.traces {
        for rs in &request.resource_spans {
            let resource = rs.resource.clone().unwrap_or_default().attributes;
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    out.push((resource.clone(), span.clone()));
                }
            }
        }
    }
    out
}

pub fn logs(recorded: &Recorded) -> Vec<(Vec<KeyValue>, LogRecord)> {
    let mut out = Vec::new();
    for request in &recorded.logs {
        for rl in &request.resource_logs {
            let resource = rl.resource.clone().unwrap_or_default().attributes;
            for sl in &rl.scope_logs {
                for record in &sl.log_records {
                    out.push((resource.clone(), record.clone()));
                }
            }
        }
    }
    out
}

/// One data point of a sum, gauge or histogram: (resource, point attributes, value). A histogram's
/// value is its count.
pub type Point = (Vec<KeyValue>, Vec<KeyValue>, f64);

fn points_of(metric: &Metric, resource: &[KeyValue], out: &mut Vec<Point>) {
    let number = |v: &Option<number_data_point::Value>| match v {
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        Some(number_data_point::Value::AsDouble(d)) => *d,
        None => 0.0,
    };
    match &metric.data {
        Some(metric::Data::Sum(sum)) => {
            for p in &sum.data_points {
                out.push((resource.to_vec(), p.attributes.clone(), number(&p.value)));
            }
        }
        Some(metric::Data::Gauge(gauge)) => {
            for p in &gauge.data_points {
                out.push((resource.to_vec(), p.attributes.clone(), number(&p.value)));
            }
        }
        Some(metric::Data::Histogram(h)) => {
            for p in &h.data_points {
                out.push((resource.to_vec(), p.attributes.clone(), p.count as f64));
            }
        }
        _ => {}
    }
}

/// Every data point of the metric `name`, across all requests recorded (cumulative series appear
/// once per collection: the largest value is the latest).
pub fn points(recorded: &Recorded, name: &str) -> Vec<Point> {
    let mut out = Vec::new();
    for request in &recorded.metrics {
        for rm in &request.resource_metrics {
            let resource = rm.resource.clone().unwrap_or_default().attributes;
            for sm in &rm.scope_metrics {
                for metric in sm.metrics.iter().filter(|m| m.name == name) {
                    points_of(metric, &resource, &mut out);
                }
            }
        }
    }
    out
}

/// The largest value among the points of `name` whose resource and attributes match.
pub fn max_value(
    recorded: &Recorded,
    name: &str,
    resource: &[(&str, &str)],
    attributes: &[(&str, &str)],
) -> Option<f64> {
    points(recorded, name)
        .into_iter()
        .filter(|(r, a, _)| has(r, resource) && has(a, attributes))
        .map(|(_, _, v)| v)
        .reduce(f64::max)
}
