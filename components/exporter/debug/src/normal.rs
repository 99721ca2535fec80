//! `verbosity: normal`: about one line per span, data point or log record, after a line per
//! resource and per scope, as otelcol's debug exporter writes them.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{Metric, NumberDataPoint};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::fmt::Write;

use crate::values::{as_string, go_f, go_v, hex_id, key_values};

/// ` k=v k2=v2`, or nothing without attributes.
fn attributes_suffix(attributes: &[KeyValue]) -> String {
    let pairs = key_values(attributes);
    if pairs.is_empty() {
        String::new()
    } else {
        format!(" {}", pairs.join(" "))
    }
}

fn resource_line(
    out: &mut String,
    label: &str,
    index: usize,
    schema_url: &str,
    resource: Option<&Resource>,
) {
    let schema = if schema_url.is_empty() {
        String::new()
    } else {
        format!(" [{schema_url}]")
    };
    let attributes = attributes_suffix(resource.map_or(&[], |r| &r.attributes));
    let _ = writeln!(out, "{label} #{index}{schema}{attributes}");
}

fn scope_line(
    out: &mut String,
    label: &str,
    index: usize,
    schema_url: &str,
    scope: Option<&InstrumentationScope>,
) {
    let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
    let mut details = String::from(name);
    if !version.is_empty() {
        details.push('@');
        details.push_str(version);
    }
    if !schema_url.is_empty() {
        if !details.is_empty() {
            details.push(' ');
        }
        let _ = write!(details, "[{schema_url}]");
    }
    let details = if details.is_empty() {
        details
    } else {
        format!(" {details}")
    };
    let attributes = attributes_suffix(scope.map_or(&[], |s| &s.attributes));
    let _ = writeln!(out, "{label} #{index}{details}{attributes}");
}

pub fn traces(request: &ExportTraceServiceRequest) -> String {
    let mut out = String::new();
    for (i, resource) in request.resource_spans.iter().enumerate() {
        resource_line(
            &mut out,
            "ResourceTraces",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_spans.iter().enumerate() {
            scope_line(
                &mut out,
                "ScopeTraces",
                j,
                &scope.schema_url,
                scope.scope.as_ref(),
            );
            for span in &scope.spans {
                let attributes = attributes_suffix(&span.attributes);
                let _ = writeln!(
                    out,
                    "{} {} {}{attributes}",
                    span.name,
                    hex_id(&span.trace_id),
                    hex_id(&span.span_id)
                );
            }
        }
    }
    out
}

pub fn logs(request: &ExportLogsServiceRequest) -> String {
    let mut out = String::new();
    for (i, resource) in request.resource_logs.iter().enumerate() {
        resource_line(
            &mut out,
            "ResourceLog",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_logs.iter().enumerate() {
            scope_line(
                &mut out,
                "ScopeLog",
                j,
                &scope.schema_url,
                scope.scope.as_ref(),
            );
            for record in &scope.log_records {
                let body = as_string(record.body.as_ref());
                let _ = writeln!(out, "{body} {}", key_values(&record.attributes).join(" "));
            }
        }
    }
    out
}

pub fn metrics(request: &ExportMetricsServiceRequest) -> String {
    let mut out = String::new();
    for (i, resource) in request.resource_metrics.iter().enumerate() {
        resource_line(
            &mut out,
            "ResourceMetrics",
            i,
            &resource.schema_url,
            resource.resource.as_ref(),
        );
        for (j, scope) in resource.scope_metrics.iter().enumerate() {
            scope_line(
                &mut out,
                "ScopeMetrics",
                j,
                &scope.schema_url,
                scope.scope.as_ref(),
            );
            for metric in &scope.metrics {
                data_point_lines(&mut out, metric);
            }
        }
    }
    out
}

fn point_line(out: &mut String, metric: &Metric, attributes: &[KeyValue], value: &str) {
    let _ = writeln!(
        out,
        "{}{{{}}} {value}",
        metric.name,
        key_values(attributes).join(",")
    );
}

fn number_value(point: &NumberDataPoint) -> String {
    match point.value {
        Some(NumberValue::AsInt(i)) => i.to_string(),
        Some(NumberValue::AsDouble(d)) => go_v(d),
        None => String::new(),
    }
}

fn data_point_lines(out: &mut String, metric: &Metric) {
    let optional = |value: &mut String, name: &str, field: Option<f64>| {
        if let Some(field) = field {
            let _ = write!(value, " {name}={}", go_v(field));
        }
    };
    match &metric.data {
        None => {}
        Some(Data::Gauge(gauge)) => {
            for point in &gauge.data_points {
                point_line(out, metric, &point.attributes, &number_value(point));
            }
        }
        Some(Data::Sum(sum)) => {
            for point in &sum.data_points {
                point_line(out, metric, &point.attributes, &number_value(point));
            }
        }
        Some(Data::Histogram(histogram)) => {
            for point in &histogram.data_points {
                let mut value = format!("count={}", point.count);
                optional(&mut value, "sum", point.sum);
                optional(&mut value, "min", point.min);
                optional(&mut value, "max", point.max);
                for (index, count) in point.bucket_counts.iter().enumerate() {
                    match point.explicit_bounds.get(index) {
                        Some(bound) => {
                            let _ = write!(value, " le{}={count}", go_v(*bound));
                        }
                        None => {
                            let _ = write!(value, " {count}");
                        }
                    }
                }
                point_line(out, metric, &point.attributes, &value);
            }
        }
        Some(Data::ExponentialHistogram(histogram)) => {
            for point in &histogram.data_points {
                let mut value = format!("count={}", point.count);
                optional(&mut value, "sum", point.sum);
                optional(&mut value, "min", point.min);
                optional(&mut value, "max", point.max);
                point_line(out, metric, &point.attributes, &value);
            }
        }
        Some(Data::Summary(summary)) => {
            for point in &summary.data_points {
                let mut value = format!("count={} sum={}", point.count, go_f(point.sum));
                for quantile in &point.quantile_values {
                    let _ = write!(
                        value,
                        " q{}={}",
                        go_v(quantile.quantile),
                        go_v(quantile.value)
                    );
                }
                point_line(out, metric, &point.attributes, &value);
            }
        }
    }
}
