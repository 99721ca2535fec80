//! What every scraping receiver's `metrics:` and `resource_attributes:` sections mean (otelcol's
//! mdatagen `MetricsBuilderConfig`), and a builder that turns scraped numbers into an OTLP request,
//! keeping only the enabled metrics and resource attributes.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::config::did_you_mean;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A cumulative monotonic sum (a counter since the server started).
    Counter,
    /// A cumulative non-monotonic sum.
    UpDownCounter,
    Gauge,
}

/// One metric of a receiver's metadata: name, unit and type as otelcol's `metadata.yaml` has them.
#[derive(Debug)]
pub struct MetricDef {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: MetricKind,
    /// Enabled when the config says nothing about it.
    pub enabled: bool,
}

impl MetricDef {
    /// In `metadata.yaml`'s order: name, unit, type, enabled, description.
    pub const fn new(
        name: &'static str,
        unit: &'static str,
        kind: MetricKind,
        enabled: bool,
        description: &'static str,
    ) -> Self {
        MetricDef {
            name,
            description,
            unit,
            kind,
            enabled,
        }
    }
}

/// Every name a receiver's `metrics:`, `resource_attributes:` and `events:` sections may toggle.
pub struct Catalog {
    pub metrics: &'static [MetricDef],
    /// otelcol metrics ferrotel accepts in `metrics:` but does not produce.
    pub accepted_only: &'static [&'static str],
    /// (name, enabled by default).
    pub resource_attributes: &'static [(&'static str, bool)],
    pub events: &'static [&'static str],
}

impl Catalog {
    /// Checks the toggles against the catalog, naming the nearest name for a typo.
    pub fn validate(
        &self,
        metrics: &Toggles,
        resource_attributes: &Toggles,
        events: &Toggles,
    ) -> Result<(), String> {
        let accepted_only = self.accepted_only.iter().copied();
        validate_toggles(
            "metrics",
            metrics,
            self.metrics.iter().map(|d| d.name).chain(accepted_only),
        )?;
        validate_toggles(
            "resource_attributes",
            resource_attributes,
            self.resource_attributes.iter().map(|(n, _)| *n),
        )?;
        validate_toggles("events", events, self.events.iter().copied())
    }

    /// A metric name listed twice (among the metrics and the accepted-only names), if any: each
    /// receiver's tests check its catalogue with this.
    pub fn repeated_name(&self) -> Option<&'static str> {
        let mut names: Vec<&'static str> = self.metrics.iter().map(|d| d.name).collect();
        names.extend(self.accepted_only);
        names.sort_unstable();
        names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }

    /// Whether the resource attribute `name` is on when the config says nothing about it.
    pub fn resource_default(&self, name: &str) -> bool {
        self.resource_attributes
            .iter()
            .any(|(n, on)| *n == name && *on)
    }

    /// Whether the metric `name` is on under `metrics`.
    pub fn metric_enabled(&self, metrics: &Toggles, name: &str) -> bool {
        metrics.get(name).map_or_else(
            || self.metrics.iter().any(|d| d.name == name && d.enabled),
            |t| t.enabled,
        )
    }
}

/// `metrics::<name>::enabled` / `resource_attributes::<name>::enabled`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

pub type Toggles = BTreeMap<String, Toggle>;

/// Checks that every toggled name is one the receiver knows, naming the nearest one if not.
pub fn validate_toggles(
    section: &str,
    toggles: &Toggles,
    known: impl Iterator<Item = &'static str> + Clone,
) -> Result<(), String> {
    for name in toggles.keys() {
        if !known.clone().any(|k| k == name) {
            let hint = did_you_mean(name, known.clone())
                .map(|n| format!(" (did you mean {n:?}?)"))
                .unwrap_or_default();
            return Err(format!("{section}: has invalid keys: {name}{hint}"));
        }
    }
    Ok(())
}

/// An attribute value of a data point or resource.
pub enum Value {
    Str(String),
    Int(i64),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

pub fn key_value(key: &str, value: Value) -> KeyValue {
    let value = match value {
        Value::Str(s) => any_value::Value::StringValue(s),
        Value::Int(i) => any_value::Value::IntValue(i),
    };
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A number scraped: integers stay integers on the wire, as otelcol's builders write them.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Int(i64),
    Double(f64),
}

/// Collects one scrape's data points, grouped by resource, for the enabled metrics only.
pub struct MetricsBuilder {
    defs: HashMap<&'static str, &'static MetricDef>,
    enabled: HashMap<&'static str, bool>,
    resource_enabled: HashMap<String, bool>,
    scope: &'static str,
    start_ns: u64,
    now_ns: u64,
    resources: Vec<(Vec<KeyValue>, Vec<Metric>)>,
    current: Option<usize>,
}

impl MetricsBuilder {
    pub fn new(
        scope: &'static str,
        defs: &'static [MetricDef],
        metrics: &Toggles,
        resource_attributes: &Toggles,
        start_ns: u64,
        now_ns: u64,
    ) -> Self {
        let enabled = defs
            .iter()
            .map(|d| (d.name, metrics.get(d.name).map_or(d.enabled, |t| t.enabled)))
            .collect();
        MetricsBuilder {
            defs: defs.iter().map(|d| (d.name, d)).collect(),
            enabled,
            resource_enabled: resource_attributes
                .iter()
                .map(|(k, t)| (k.clone(), t.enabled))
                .collect(),
            scope,
            start_ns,
            now_ns,
            resources: Vec::new(),
            current: None,
        }
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.get(name).copied().unwrap_or(false)
    }

    /// Starts the data points of a resource. Attributes given as (name, value, enabled by default).
    pub fn resource(&mut self, attributes: Vec<(&'static str, Value, bool)>) {
        let attributes = attributes
            .into_iter()
            .filter(|(k, _, default)| self.resource_enabled.get(*k).copied().unwrap_or(*default))
            .map(|(k, v, _)| key_value(k, v))
            .collect();
        self.resources.push((attributes, Vec::new()));
        self.current = Some(self.resources.len() - 1);
    }

    /// Records one data point of `name` under the current resource (a resource with no
    /// attributes if none was started). Disabled metrics are skipped.
    pub fn record(&mut self, name: &'static str, value: Number, attributes: &[(&str, Value)]) {
        let Some(def) = self.defs.get(name).copied() else {
            debug_assert!(false, "unknown metric {name}");
            return;
        };
        if !self.is_enabled(name) {
            return;
        }
        let index = match self.current {
            Some(i) => i,
            None => {
                self.resource(Vec::new());
                self.resources.len() - 1
            }
        };
        let point = NumberDataPoint {
            attributes: attributes
                .iter()
                .map(|(k, v)| {
                    key_value(
                        k,
                        match v {
                            Value::Str(s) => Value::Str(s.clone()),
                            Value::Int(i) => Value::Int(*i),
                        },
                    )
                })
                .collect(),
            start_time_unix_nano: if def.kind == MetricKind::Gauge {
                0
            } else {
                self.start_ns
            },
            time_unix_nano: self.now_ns,
            value: Some(match value {
                Number::Int(i) => number_data_point::Value::AsInt(i),
                Number::Double(d) => number_data_point::Value::AsDouble(d),
            }),
            ..Default::default()
        };
        let metrics = &mut self.resources[index].1;
        let metric = match metrics.iter_mut().position(|m| m.name == name) {
            Some(i) => &mut metrics[i],
            None => {
                metrics.push(new_metric(def));
                metrics.last_mut().expect("just pushed")
            }
        };
        match &mut metric.data {
            Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
            _ => {}
        }
    }

    pub fn record_int(&mut self, name: &'static str, value: i64, attributes: &[(&str, Value)]) {
        self.record(name, Number::Int(value), attributes);
    }

    pub fn record_double(&mut self, name: &'static str, value: f64, attributes: &[(&str, Value)]) {
        self.record(name, Number::Double(value), attributes);
    }

    pub fn point_count(&self) -> usize {
        self.resources
            .iter()
            .flat_map(|(_, metrics)| metrics)
            .map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                _ => 0,
            })
            .sum()
    }

    pub fn finish(self) -> ExportMetricsServiceRequest {
        let scope = InstrumentationScope {
            name: self.scope.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: self
                .resources
                .into_iter()
                .filter(|(_, metrics)| !metrics.is_empty())
                .map(|(attributes, metrics)| ResourceMetrics {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope.clone()),
                        metrics,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        }
    }
}

fn new_metric(def: &MetricDef) -> Metric {
    let data = match def.kind {
        MetricKind::Gauge => metric::Data::Gauge(Gauge {
            data_points: Vec::new(),
        }),
        kind => metric::Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: kind == MetricKind::Counter,
        }),
    };
    Metric {
        name: def.name.to_string(),
        description: def.description.to_string(),
        unit: def.unit.to_string(),
        data: Some(data),
        metadata: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEFS: [MetricDef; 2] = [
        MetricDef {
            name: "db.commits",
            description: "",
            unit: "1",
            kind: MetricKind::Counter,
            enabled: true,
        },
        MetricDef {
            name: "db.optional",
            description: "",
            unit: "1",
            kind: MetricKind::Gauge,
            enabled: false,
        },
    ];

    #[test]
    fn a_name_listed_twice_is_found() {
        let catalog = |accepted_only| Catalog {
            metrics: &DEFS,
            accepted_only,
            resource_attributes: &[],
            events: &[],
        };
        assert_eq!(catalog(&["db.other"]).repeated_name(), None);
        assert_eq!(
            catalog(&["db.optional"]).repeated_name(),
            Some("db.optional")
        );
    }

    #[test]
    fn toggles_override_the_defaults_and_unknown_names_are_refused() {
        let mut toggles = Toggles::new();
        toggles.insert("db.optional".into(), Toggle { enabled: true });
        toggles.insert("db.commits".into(), Toggle { enabled: false });
        let mut b = MetricsBuilder::new("s", &DEFS, &toggles, &Toggles::new(), 1, 2);
        b.resource(vec![
            ("db.name", "a".into(), true),
            ("db.hidden", "x".into(), false),
        ]);
        b.record_int("db.commits", 5, &[]);
        b.record_double("db.optional", 0.5, &[("state", "x".into())]);
        assert_eq!(b.point_count(), 1);
        let request = b.finish();
        let rm = &request.resource_metrics[0];
        assert_eq!(rm.resource.as_ref().unwrap().attributes.len(), 1);
        assert_eq!(rm.scope_metrics[0].metrics[0].name, "db.optional");
        let known = DEFS.iter().map(|d| d.name);
        let mut bad = Toggles::new();
        bad.insert("db.comits".into(), Toggle { enabled: true });
        let err = validate_toggles("metrics", &bad, known).unwrap_err();
        assert!(
            err.contains("db.comits") && err.contains("did you mean \"db.commits\""),
            "{err}"
        );
    }
}
