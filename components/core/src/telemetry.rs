//! The collector's own metrics, under otelcol's names, served in the Prometheus text format on
//! `service.telemetry.metrics` (localhost:8888 by default).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::component::ComponentId;
use crate::signal::Signal;

pub type Labels = Vec<(String, String)>;

/// One counter family per signal, e.g. `otelcol_receiver_accepted_{spans,metric_points,log_records}`.
#[derive(Clone, Default)]
struct PerSignal {
    families: [Family<Labels, Counter>; 3],
}

impl PerSignal {
    fn register(registry: &mut Registry, prefix: &str, help: &str) -> Self {
        let per = PerSignal::default();
        for signal in Signal::ALL {
            registry.register(
                format!("{prefix}_{}", signal.item_name()),
                format!("{help} ({})", signal.item_name().replace('_', " ")),
                per.families[signal as usize].clone(),
            );
        }
        per
    }

    fn inc(&self, signal: Signal, labels: &Labels, n: usize) {
        self.families[signal as usize]
            .get_or_create(labels)
            .inc_by(n as u64);
    }
}

pub struct SelfTelemetry {
    registry: Mutex<Registry>,
    started: Instant,
    receiver_accepted: PerSignal,
    receiver_refused: PerSignal,
    receiver_failed: PerSignal,
    exporter_sent: PerSignal,
    exporter_send_failed: PerSignal,
    exporter_enqueue_failed: PerSignal,
    exporter_queue_size: Family<Labels, Gauge>,
    exporter_queue_capacity: Family<Labels, Gauge>,
    processor_incoming: Family<Labels, Counter>,
    processor_outgoing: Family<Labels, Counter>,
    processor_dropped: PerSignal,
    processor_accepted: PerSignal,
    processor_refused: PerSignal,
    batch_send_size: Family<Labels, Histogram>,
    batch_size_trigger: Family<Labels, Counter>,
    batch_timeout_trigger: Family<Labels, Counter>,
}

fn histogram() -> Histogram {
    Histogram::new([
        10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0,
        6000.0, 7000.0, 8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
    ])
}

impl SelfTelemetry {
    /// `resource` labels go on every series (otelcol adds service_name, service_instance_id, service_version).
    pub fn new(resource: &[(String, String)]) -> Arc<SelfTelemetry> {
        let labels: Vec<(Cow<'static, str>, Cow<'static, str>)> = resource
            .iter()
            .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
            .collect();
        let mut root = Registry::default();
        let registry = root.sub_registry_with_labels(labels.into_iter());
        let r = registry;
        let batch_send_size =
            Family::<Labels, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        let telemetry = SelfTelemetry {
            receiver_accepted: PerSignal::register(
                r,
                "otelcol_receiver_accepted",
                "Items successfully pushed into the pipeline",
            ),
            receiver_refused: PerSignal::register(
                r,
                "otelcol_receiver_refused",
                "Items that could not be pushed into the pipeline",
            ),
            receiver_failed: PerSignal::register(
                r,
                "otelcol_receiver_failed",
                "Items that failed to be decoded or processed",
            ),
            exporter_sent: PerSignal::register(
                r,
                "otelcol_exporter_sent",
                "Items successfully sent to destination",
            ),
            exporter_send_failed: PerSignal::register(
                r,
                "otelcol_exporter_send_failed",
                "Items that failed to be sent to destination",
            ),
            exporter_enqueue_failed: PerSignal::register(
                r,
                "otelcol_exporter_enqueue_failed",
                "Items that failed to be added to the sending queue",
            ),
            exporter_queue_size: Family::default(),
            exporter_queue_capacity: Family::default(),
            processor_incoming: Family::default(),
            processor_outgoing: Family::default(),
            processor_dropped: PerSignal::register(
                r,
                "otelcol_processor_dropped",
                "Items dropped by a processor and reported here rather than lost silently",
            ),
            processor_accepted: PerSignal::register(
                r,
                "otelcol_processor_accepted",
                "Items successfully pushed into the next component in the pipeline",
            ),
            processor_refused: PerSignal::register(
                r,
                "otelcol_processor_refused",
                "Items that were rejected by the next component in the pipeline",
            ),
            batch_send_size: batch_send_size.clone(),
            batch_size_trigger: Family::default(),
            batch_timeout_trigger: Family::default(),
            registry: Mutex::new(Registry::default()),
            started: Instant::now(),
        };
        r.register(
            "otelcol_exporter_queue_size",
            "Current size of the retry queue (in batches)",
            telemetry.exporter_queue_size.clone(),
        );
        r.register(
            "otelcol_exporter_queue_capacity",
            "Fixed capacity of the retry queue (in batches)",
            telemetry.exporter_queue_capacity.clone(),
        );
        r.register(
            "otelcol_processor_incoming_items",
            "Items passed to the processor",
            telemetry.processor_incoming.clone(),
        );
        r.register(
            "otelcol_processor_outgoing_items",
            "Items emitted from the processor",
            telemetry.processor_outgoing.clone(),
        );
        r.register(
            "otelcol_processor_batch_batch_send_size",
            "Number of items in the batch that was sent",
            batch_send_size,
        );
        r.register(
            "otelcol_processor_batch_batch_size_trigger_send",
            "Number of times the batch was sent due to a size trigger",
            telemetry.batch_size_trigger.clone(),
        );
        r.register(
            "otelcol_processor_batch_timeout_trigger_send",
            "Number of times the batch was sent due to a timeout trigger",
            telemetry.batch_timeout_trigger.clone(),
        );
        *telemetry.registry.lock().expect("registry lock") = root;
        Arc::new(telemetry)
    }

    /// Registers a component's own metric (a receiver's scrape errors, a queue's bytes, …).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .lock()
            .expect("registry lock")
            .register(name, help, metric);
    }

    pub fn receiver(self: &Arc<Self>, id: &ComponentId, transport: &str) -> ReceiverMetrics {
        ReceiverMetrics {
            telemetry: self.clone(),
            labels: vec![
                ("receiver".into(), id.to_string()),
                ("transport".into(), transport.into()),
            ],
        }
    }

    pub fn exporter(self: &Arc<Self>, id: &ComponentId) -> ExporterMetrics {
        ExporterMetrics {
            telemetry: self.clone(),
            id: id.to_string(),
        }
    }

    pub fn processor(self: &Arc<Self>, id: &ComponentId, pipeline: &str) -> ProcessorMetrics {
        ProcessorMetrics {
            telemetry: self.clone(),
            labels: vec![
                ("processor".into(), id.to_string()),
                ("pipeline".into(), pipeline.into()),
            ],
        }
    }

    /// The Prometheus text exposition, process metrics included.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry.lock().expect("registry lock"))
            .expect("writing to a String cannot fail");
        let eof = out.rfind("# EOF").unwrap_or(out.len());
        out.truncate(eof);
        let process = crate::process::ProcessStats::read();
        out.push_str(&format!(
            "# HELP otelcol_process_uptime_seconds Uptime of the process\n# TYPE otelcol_process_uptime_seconds counter\notelcol_process_uptime_seconds_total {}\n",
            self.started.elapsed().as_secs_f64()
        ));
        out.push_str(&format!(
            "# HELP otelcol_process_memory_rss_bytes Total physical memory (resident set size)\n# TYPE otelcol_process_memory_rss_bytes gauge\notelcol_process_memory_rss_bytes {}\n",
            process.rss_bytes
        ));
        out.push_str(&format!(
            "# HELP otelcol_process_cpu_seconds Total CPU user and system time in seconds\n# TYPE otelcol_process_cpu_seconds counter\notelcol_process_cpu_seconds_total {}\n",
            process.cpu_seconds
        ));
        out.push_str("# EOF\n");
        out
    }
}

#[derive(Clone)]
pub struct ReceiverMetrics {
    telemetry: Arc<SelfTelemetry>,
    labels: Labels,
}

impl ReceiverMetrics {
    pub fn accepted(&self, signal: Signal, items: usize) {
        self.telemetry
            .receiver_accepted
            .inc(signal, &self.labels, items);
    }
    pub fn refused(&self, signal: Signal, items: usize) {
        self.telemetry
            .receiver_refused
            .inc(signal, &self.labels, items);
    }
    pub fn failed(&self, signal: Signal, items: usize) {
        self.telemetry
            .receiver_failed
            .inc(signal, &self.labels, items);
    }
}

#[derive(Clone)]
pub struct ExporterMetrics {
    telemetry: Arc<SelfTelemetry>,
    id: String,
}

impl ExporterMetrics {
    fn labels(&self) -> Labels {
        vec![("exporter".into(), self.id.clone())]
    }
    pub fn sent(&self, signal: Signal, items: usize) {
        self.telemetry
            .exporter_sent
            .inc(signal, &self.labels(), items);
    }
    pub fn send_failed(&self, signal: Signal, items: usize) {
        self.telemetry
            .exporter_send_failed
            .inc(signal, &self.labels(), items);
    }
    pub fn enqueue_failed(&self, signal: Signal, items: usize) {
        self.telemetry
            .exporter_enqueue_failed
            .inc(signal, &self.labels(), items);
    }
    /// Queue gauges carry the data type too, as otelcol's do.
    pub fn queue_gauges(&self, signal: Signal) -> (Gauge, Gauge) {
        let labels = vec![
            ("exporter".into(), self.id.clone()),
            ("data_type".into(), signal.as_str().into()),
        ];
        (
            self.telemetry
                .exporter_queue_size
                .get_or_create(&labels)
                .clone(),
            self.telemetry
                .exporter_queue_capacity
                .get_or_create(&labels)
                .clone(),
        )
    }
}

#[derive(Clone)]
pub struct ProcessorMetrics {
    telemetry: Arc<SelfTelemetry>,
    labels: Labels,
}

impl ProcessorMetrics {
    fn with_signal(&self, signal: Signal) -> Labels {
        let mut labels = self.labels.clone();
        labels.push(("otel_signal".into(), signal.as_str().into()));
        labels
    }
    pub fn incoming(&self, signal: Signal, items: usize) {
        self.telemetry
            .processor_incoming
            .get_or_create(&self.with_signal(signal))
            .inc_by(items as u64);
    }
    pub fn outgoing(&self, signal: Signal, items: usize) {
        self.telemetry
            .processor_outgoing
            .get_or_create(&self.with_signal(signal))
            .inc_by(items as u64);
    }
    /// Data a processor accepted but could not pass on: counted, never lost silently.
    pub fn dropped(&self, signal: Signal, items: usize) {
        self.telemetry
            .processor_dropped
            .inc(signal, &self.labels, items);
    }
    /// Items a processor passed on (otelcol's memory_limiter counts these), labelled by processor only.
    pub fn accepted(&self, signal: Signal, items: usize) {
        self.telemetry
            .processor_accepted
            .inc(signal, &self.labels[..1].to_vec(), items);
    }
    /// Items a processor turned away with a retryable refusal (the memory_limiter over its limit).
    pub fn refused(&self, signal: Signal, items: usize) {
        self.telemetry
            .processor_refused
            .inc(signal, &self.labels[..1].to_vec(), items);
    }
    pub fn batch_sent(&self, items: usize, by_timeout: bool) {
        self.telemetry
            .batch_send_size
            .get_or_create(&self.labels)
            .observe(items as f64);
        let trigger = if by_timeout {
            &self.telemetry.batch_timeout_trigger
        } else {
            &self.telemetry.batch_size_trigger
        };
        trigger.get_or_create(&self.labels).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_otelcol_names_with_labels() {
        let t = SelfTelemetry::new(&[("service_name".into(), "ferrotel".into())]);
        let id = ComponentId::parse("otlp/2").unwrap();
        t.receiver(&id, "grpc").accepted(Signal::Traces, 7);
        t.exporter(&id).send_failed(Signal::Logs, 2);
        let text = t.encode();
        assert!(
            text.contains("otelcol_receiver_accepted_spans_total{service_name=\"ferrotel\",receiver=\"otlp/2\",transport=\"grpc\"} 7"),
            "{text}"
        );
        assert!(text.contains("otelcol_exporter_send_failed_log_records_total{service_name=\"ferrotel\",exporter=\"otlp/2\"} 2"), "{text}");
        assert!(text.contains("otelcol_process_memory_rss_bytes "), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
