//! For the receivers' unit tests: a builder with chosen metrics switched on, and its output
//! flattened to `(metric, attributes, value)` rows that assertions can search.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

use super::{MetricDef, MetricsBuilder, Toggle, Toggles};

/// A builder with otelcol's defaults plus `enable` switched on.
pub fn builder(scope: &'static str, defs: &'static [MetricDef], enable: &[&str]) -> MetricsBuilder {
    let mut toggles = Toggles::new();
    for name in enable {
        toggles.insert(name.to_string(), Toggle { enabled: true });
    }
    MetricsBuilder::new(scope, defs, &toggles, &Toggles::new(), 1, 2)
}

/// (metric name, attributes as text, value) for every number data point.
pub type Points = Vec<(String, Vec<(String, String)>, f64)>;

pub fn points(request: ExportMetricsServiceRequest) -> Points {
    let mut out = Vec::new();
    for rm in request.resource_metrics {
        for m in rm.scope_metrics.into_iter().flat_map(|s| s.metrics) {
            let dps = match m.data {
                Some(metric::Data::Sum(s)) => s.data_points,
                Some(metric::Data::Gauge(g)) => g.data_points,
                _ => vec![],
            };
            for p in dps {
                let attrs = p
                    .attributes
                    .iter()
                    .map(|kv| {
                        let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                            Some(any_value::Value::StringValue(s)) => s.clone(),
                            Some(any_value::Value::IntValue(i)) => i.to_string(),
                            other => format!("{other:?}"),
                        };
                        (kv.key.clone(), v)
                    })
                    .collect();
                let value = match p.value {
                    Some(number_data_point::Value::AsInt(i)) => i as f64,
                    Some(number_data_point::Value::AsDouble(d)) => d,
                    None => f64::NAN,
                };
                out.push((m.name.clone(), attrs, value));
            }
        }
    }
    out
}

/// The first point of `name` whose attributes include all of `attrs`.
pub fn value(points: &Points, name: &str, attrs: &[(&str, &str)]) -> Option<f64> {
    points
        .iter()
        .find(|(n, a, _)| {
            n == name
                && attrs
                    .iter()
                    .all(|(k, v)| a.iter().any(|(ak, av)| ak == k && av == v))
        })
        .map(|(_, _, v)| *v)
}
