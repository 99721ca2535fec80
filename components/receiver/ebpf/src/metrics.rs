//! Cumulative metric series kept between collections, rendered as OTLP. A series is a metric, the
//! process it belongs to (its resource; `None` for the host) and its attributes.

// looked up for every traced exchange: std's SipHash took ~8% of the receiver's CPU (perf)
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};

use crate::otlp::{attribute, process_resource, scope};
use crate::procinfo::ProcessInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic cumulative counter.
    Counter,
    /// A value that goes up and down (an UpDownCounter: non-monotonic cumulative sum).
    UpDown,
    /// A current value (set by adding deltas), reported as a gauge.
    Gauge,
    /// Seconds, in explicit buckets.
    Histogram,
}

pub struct Definition {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
}

/// Latency buckets in seconds: 0.5 ms to 10 s, as Coroot's agent uses.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub type Attributes = Vec<(&'static str, String)>;

#[derive(Default)]
struct Value {
    number: i64,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Hash, PartialEq, Eq)]
struct SeriesKey {
    metric: &'static str,
    pid: Option<u32>,
    attributes: Attributes,
}

pub struct MetricStore {
    definitions: HashMap<&'static str, &'static Definition>,
    series: HashMap<SeriesKey, Value>,
    resources: HashMap<u32, Arc<ProcessInfo>>,
    exited: Vec<u32>,
    max_series: usize,
    /// Observations refused because the store was full.
    pub dropped: u64,
}

impl MetricStore {
    pub fn new(definitions: &'static [Definition], max_series: usize) -> Self {
        MetricStore {
            definitions: definitions.iter().map(|d| (d.name, d)).collect(),
            series: HashMap::new(),
            resources: HashMap::new(),
            exited: Vec::new(),
            max_series,
            dropped: 0,
        }
    }

    fn value(
        &mut self,
        metric: &'static str,
        process: Option<&Arc<ProcessInfo>>,
        attributes: Attributes,
    ) -> Option<&mut Value> {
        debug_assert!(self.definitions.contains_key(metric), "{metric}");
        let key = SeriesKey {
            metric,
            pid: process.map(|p| p.pid),
            attributes,
        };
        if !self.series.contains_key(&key) && self.series.len() >= self.max_series {
            self.dropped += 1;
            return None;
        }
        if let Some(p) = process {
            self.resources.entry(p.pid).or_insert_with(|| p.clone());
        }
        Some(self.series.entry(key).or_default())
    }

    pub fn add(
        &mut self,
        metric: &'static str,
        process: Option<&Arc<ProcessInfo>>,
        attributes: Attributes,
        delta: i64,
    ) {
        if let Some(value) = self.value(metric, process, attributes) {
            value.number += delta;
        }
    }

    pub fn record(
        &mut self,
        metric: &'static str,
        process: Option<&Arc<ProcessInfo>>,
        attributes: Attributes,
        seconds: f64,
    ) {
        if let Some(value) = self.value(metric, process, attributes) {
            if value.counts.is_empty() {
                value.counts = vec![0; BUCKETS.len() + 1];
            }
            let bucket = BUCKETS.partition_point(|&bound| bound < seconds);
            value.counts[bucket] += 1;
            value.sum += seconds;
            value.count += 1;
        }
    }

    /// Adds a histogram counted elsewhere (the kernel's L7 statistics), bucketed with `BUCKETS`.
    pub fn merge_histogram(
        &mut self,
        metric: &'static str,
        process: Option<&Arc<ProcessInfo>>,
        attributes: Attributes,
        buckets: &[u64],
        sum_seconds: f64,
    ) {
        debug_assert_eq!(buckets.len(), BUCKETS.len() + 1);
        if let Some(value) = self.value(metric, process, attributes) {
            if value.counts.is_empty() {
                value.counts = vec![0; BUCKETS.len() + 1];
            }
            for (count, add) in value.counts.iter_mut().zip(buckets) {
                *count += add;
            }
            value.sum += sum_seconds;
            value.count += buckets.iter().sum::<u64>();
        }
    }

    /// The series of an exited process are reported once more, then forgotten.
    pub fn process_exited(&mut self, pid: u32) {
        if self.resources.contains_key(&pid) {
            self.exited.push(pid);
        }
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Every series as OTLP, grouped by resource. `host` are the attributes of the host resource.
    pub fn collect(
        &mut self,
        start_ns: u64,
        now_ns: u64,
        host: &[KeyValue],
    ) -> Vec<ResourceMetrics> {
        let mut by_resource: HashMap<Option<u32>, HashMap<&'static str, Vec<&SeriesKey>>> =
            HashMap::new();
        for key in self.series.keys() {
            by_resource
                .entry(key.pid)
                .or_default()
                .entry(key.metric)
                .or_default()
                .push(key);
        }
        let mut out = Vec::new();
        for (pid, metrics) in by_resource {
            let resource = match pid.and_then(|pid| self.resources.get(&pid)) {
                Some(process) => process_resource(process, host),
                None => crate::otlp::resource(host.to_vec()),
            };
            let metrics = metrics
                .into_iter()
                .map(|(name, keys)| self.render(name, &keys, start_ns, now_ns))
                .collect();
            out.push(ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
        }
        for pid in std::mem::take(&mut self.exited) {
            self.series.retain(|key, _| key.pid != Some(pid));
            self.resources.remove(&pid);
        }
        out
    }

    fn render(&self, name: &'static str, keys: &[&SeriesKey], start: u64, now: u64) -> Metric {
        let definition = self.definitions[name];
        let attributes = |key: &SeriesKey| -> Vec<KeyValue> {
            key.attributes
                .iter()
                .map(|(k, v)| attribute(k, v.clone()))
                .collect()
        };
        let data = match definition.kind {
            Kind::Counter | Kind::UpDown | Kind::Gauge => {
                let data_points = keys
                    .iter()
                    .map(|key| NumberDataPoint {
                        attributes: attributes(key),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsInt(self.series[*key].number)),
                        ..Default::default()
                    })
                    .collect();
                if definition.kind == Kind::Gauge {
                    metric::Data::Gauge(Gauge { data_points })
                } else {
                    metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: definition.kind == Kind::Counter,
                    })
                }
            }
            Kind::Histogram => metric::Data::Histogram(Histogram {
                data_points: keys
                    .iter()
                    .map(|key| {
                        let value = &self.series[*key];
                        HistogramDataPoint {
                            attributes: attributes(key),
                            start_time_unix_nano: start,
                            time_unix_nano: now,
                            count: value.count,
                            sum: Some(value.sum),
                            bucket_counts: value.counts.clone(),
                            explicit_bounds: BUCKETS.to_vec(),
                            ..Default::default()
                        }
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        };
        Metric {
            name: name.to_string(),
            description: definition.description.to_string(),
            unit: definition.unit.to_string(),
            data: Some(data),
            metadata: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEFS: [Definition; 2] = [
        Definition {
            name: "a.count",
            description: "",
            unit: "1",
            kind: Kind::Counter,
        },
        Definition {
            name: "a.duration",
            description: "",
            unit: "s",
            kind: Kind::Histogram,
        },
    ];

    #[test]
    fn accumulates_buckets_and_forgets_exited_processes_after_one_report() {
        let mut store = MetricStore::new(&DEFS, 10);
        let process = Arc::new(ProcessInfo {
            pid: 7,
            executable_name: "x".into(),
            ..Default::default()
        });
        store.add("a.count", Some(&process), vec![("k", "v".into())], 2);
        store.add("a.count", Some(&process), vec![("k", "v".into())], 3);
        store.record("a.duration", None, vec![], 0.003);
        store.record("a.duration", None, vec![], 20.0);
        let out = store.collect(1, 2, &[]);
        assert_eq!(out.len(), 2);
        let all: Vec<&Metric> = out
            .iter()
            .flat_map(|r| &r.scope_metrics[0].metrics)
            .collect();
        let count = all.iter().find(|m| m.name == "a.count").unwrap();
        let Some(metric::Data::Sum(sum)) = &count.data else {
            panic!()
        };
        assert_eq!(
            sum.data_points[0].value,
            Some(number_data_point::Value::AsInt(5))
        );
        let hist = all.iter().find(|m| m.name == "a.duration").unwrap();
        let Some(metric::Data::Histogram(h)) = &hist.data else {
            panic!()
        };
        let counts = &h.data_points[0].bucket_counts;
        assert_eq!(counts[3], 1, "3 ms is in the (2.5 ms, 5 ms] bucket");
        assert_eq!(counts[BUCKETS.len()], 1, "20 s overflows");
        store.process_exited(7);
        assert_eq!(store.collect(1, 3, &[]).len(), 2, "reported once more");
        assert_eq!(store.series_count(), 1);
    }

    #[test]
    fn a_full_store_counts_what_it_refuses() {
        let mut store = MetricStore::new(&DEFS, 1);
        store.add("a.count", None, vec![("k", "1".into())], 1);
        store.add("a.count", None, vec![("k", "2".into())], 1);
        store.add("a.count", None, vec![("k", "1".into())], 1);
        assert_eq!(store.series_count(), 1);
        assert_eq!(store.dropped, 1);
    }
}
