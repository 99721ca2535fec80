//! `verbosity: detailed` for one metric: its descriptor, then every data point with its exemplars.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exemplar::Value as ExemplarValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, Metric, NumberDataPoint,
};

use crate::detailed::Buffer;
use crate::values::{go_f, hex_id, temporality, timestamp};

fn data_type(data: Option<&Data>) -> &'static str {
    match data {
        None => "Empty",
        Some(Data::Gauge(_)) => "Gauge",
        Some(Data::Sum(_)) => "Sum",
        Some(Data::Histogram(_)) => "Histogram",
        Some(Data::ExponentialHistogram(_)) => "ExponentialHistogram",
        Some(Data::Summary(_)) => "Summary",
    }
}

pub(crate) fn metric(buf: &mut Buffer, metric: &Metric) {
    buf.line("Descriptor:");
    buf.line(format!("     -> Name: {}", metric.name));
    buf.line(format!("     -> Description: {}", metric.description));
    buf.line(format!("     -> Unit: {}", metric.unit));
    buf.line(format!(
        "     -> DataType: {}",
        data_type(metric.data.as_ref())
    ));
    buf.attributes("     -> Metadata", &metric.metadata);
    match &metric.data {
        None => {}
        Some(Data::Gauge(gauge)) => number_points(buf, &gauge.data_points),
        Some(Data::Sum(sum)) => {
            buf.line(format!("     -> IsMonotonic: {}", sum.is_monotonic));
            buf.line(format!(
                "     -> AggregationTemporality: {}",
                temporality(sum.aggregation_temporality)
            ));
            number_points(buf, &sum.data_points);
        }
        Some(Data::Histogram(histogram)) => {
            buf.line(format!(
                "     -> AggregationTemporality: {}",
                temporality(histogram.aggregation_temporality)
            ));
            for (i, point) in histogram.data_points.iter().enumerate() {
                buf.line(format!("HistogramDataPoints #{i}"));
                point_header(
                    buf,
                    &point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                );
                buf.line(format!("Count: {}", point.count));
                statistics(buf, point.sum, point.min, point.max);
                for (j, bound) in point.explicit_bounds.iter().enumerate() {
                    buf.line(format!("ExplicitBounds #{j}: {}", go_f(*bound)));
                }
                for (j, count) in point.bucket_counts.iter().enumerate() {
                    buf.line(format!("Buckets #{j}, Count: {count}"));
                }
                exemplars(buf, &point.exemplars);
            }
        }
        Some(Data::ExponentialHistogram(histogram)) => {
            buf.line(format!(
                "     -> AggregationTemporality: {}",
                temporality(histogram.aggregation_temporality)
            ));
            for (i, point) in histogram.data_points.iter().enumerate() {
                buf.line(format!("ExponentialHistogramDataPoints #{i}"));
                exponential_point(buf, point);
            }
        }
        Some(Data::Summary(summary)) => {
            for (i, point) in summary.data_points.iter().enumerate() {
                buf.line(format!("SummaryDataPoints #{i}"));
                point_header(
                    buf,
                    &point.attributes,
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                );
                buf.line(format!("Count: {}", point.count));
                buf.line(format!("Sum: {}", go_f(point.sum)));
                for (j, quantile) in point.quantile_values.iter().enumerate() {
                    buf.line(format!(
                        "QuantileValue #{j}: Quantile {}, Value {}",
                        go_f(quantile.quantile),
                        go_f(quantile.value)
                    ));
                }
            }
        }
    }
}

fn point_header(buf: &mut Buffer, attributes: &[KeyValue], start: u64, time: u64) {
    buf.attributes("Data point attributes", attributes);
    buf.line(format!("StartTimestamp: {}", timestamp(start)));
    buf.line(format!("Timestamp: {}", timestamp(time)));
}

fn statistics(buf: &mut Buffer, sum: Option<f64>, min: Option<f64>, max: Option<f64>) {
    for (name, value) in [("Sum", sum), ("Min", min), ("Max", max)] {
        if let Some(value) = value {
            buf.line(format!("{name}: {}", go_f(value)));
        }
    }
}

fn number_points(buf: &mut Buffer, points: &[NumberDataPoint]) {
    for (i, point) in points.iter().enumerate() {
        buf.line(format!("NumberDataPoints #{i}"));
        point_header(
            buf,
            &point.attributes,
            point.start_time_unix_nano,
            point.time_unix_nano,
        );
        match point.value {
            Some(NumberValue::AsInt(v)) => buf.line(format!("Value: {v}")),
            Some(NumberValue::AsDouble(v)) => buf.line(format!("Value: {}", go_f(v))),
            None => {}
        }
        exemplars(buf, &point.exemplars);
    }
}

/// Bucket bounds as otelcol derives them: base 2^(2^-scale), index from the offset.
fn exponential_point(buf: &mut Buffer, point: &ExponentialHistogramDataPoint) {
    point_header(
        buf,
        &point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
    );
    buf.line(format!("Count: {}", point.count));
    statistics(buf, point.sum, point.min, point.max);
    let factor = std::f64::consts::LN_2 * 2f64.powi(-point.scale);
    let bounds = |offset: i32, position: usize| {
        let index = f64::from(offset) + position as f64;
        ((index * factor).exp(), ((index + 1.0) * factor).exp())
    };
    if let Some(negative) = &point.negative {
        for position in (0..negative.bucket_counts.len()).rev() {
            let (lower, upper) = bounds(negative.offset, position);
            buf.line(format!(
                "Bucket [{}, {}), Count: {}",
                go_f(-upper),
                go_f(-lower),
                negative.bucket_counts[position]
            ));
        }
    }
    if point.zero_count != 0 {
        buf.line(format!("Bucket [0, 0], Count: {}", point.zero_count));
    }
    if let Some(positive) = &point.positive {
        for (position, count) in positive.bucket_counts.iter().enumerate() {
            let (lower, upper) = bounds(positive.offset, position);
            buf.line(format!(
                "Bucket ({}, {}], Count: {count}",
                go_f(lower),
                go_f(upper)
            ));
        }
    }
    exemplars(buf, &point.exemplars);
}

fn exemplars(buf: &mut Buffer, exemplars: &[Exemplar]) {
    if exemplars.is_empty() {
        return;
    }
    buf.line("Exemplars:");
    for (i, exemplar) in exemplars.iter().enumerate() {
        buf.line(format!("Exemplar #{i}"));
        buf.line(format!("     -> Trace ID: {}", hex_id(&exemplar.trace_id)));
        buf.line(format!("     -> Span ID: {}", hex_id(&exemplar.span_id)));
        buf.line(format!(
            "     -> Timestamp: {}",
            timestamp(exemplar.time_unix_nano)
        ));
        match exemplar.value {
            Some(ExemplarValue::AsInt(v)) => buf.line(format!("     -> Value: {v}")),
            Some(ExemplarValue::AsDouble(v)) => buf.line(format!("     -> Value: {}", go_f(v))),
            None => {}
        }
        buf.attributes("     -> FilteredAttributes", &exemplar.filtered_attributes);
    }
}
