//! The batch processor in front of a real exporterhelper `Exporter` (queue, batcher, workers) with
//! a sender that records what it is given, and alone in front of a recording consumer.

use async_trait::async_trait;
use bytes::Bytes;
use ferrotel_core::batching::ClientMetadata;
use ferrotel_core::component::{ComponentId, CreateSettings, Kind, PipeRef, ProcessorFactory};
use ferrotel_core::config::Node;
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::exporterhelper::{
    Delivered, Exporter, ExporterSettings, QueueConfig, SendError, Sender,
};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::BatchProcessorFactory;

/// An encoded export request whose spans are named `s<i>` for each `i` in `names`, in one resource.
fn encoded(names: Range<usize>) -> Bytes {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: names
                    .map(|i| Span {
                        name: format!("s{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    request.encode_to_vec().into()
}

fn traces(names: Range<usize>) -> Telemetry {
    Telemetry::from_encoded(Signal::Traces, encoded(names)).unwrap()
}

fn span_names(batch: &Telemetry) -> Vec<String> {
    let mut batch = batch.clone();
    let request = batch.traces().unwrap();
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

fn names(range: Range<usize>) -> Vec<String> {
    range.map(|i| format!("s{i}")).collect()
}

/// Records what reaches it, as a consumer (after the processor) or as an exporter's sender.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Telemetry>>,
}

impl Recorder {
    fn batches(&self) -> Vec<Telemetry> {
        self.received.lock().unwrap().clone()
    }

    fn sizes(&self) -> Vec<usize> {
        self.batches().iter().map(Telemetry::item_count).collect()
    }

    fn all_names(&self) -> Vec<String> {
        self.batches().iter().flat_map(span_names).collect()
    }
}

#[async_trait]
impl Consumer for Recorder {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        self.received.lock().unwrap().push(data);
        Ok(())
    }
}

impl ferrotel_core::component::Lifecycle for Recorder {}

/// The exporter's sender: records each batch it is asked to deliver.
struct RecordingSender(Arc<Recorder>);

#[async_trait]
impl Sender for RecordingSender {
    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        self.0.received.lock().unwrap().push(data.clone());
        Ok(Delivered::all())
    }
}

struct Harness {
    batch: PipeRef,
    recorder: Arc<Recorder>,
    telemetry: Arc<SelfTelemetry>,
}

impl Harness {
    fn processor(config: &str, telemetry: &Arc<SelfTelemetry>, next: PipeRef) -> PipeRef {
        let set = CreateSettings::new(
            ComponentId::new("batch", None),
            Kind::Processor,
            telemetry.clone(),
        );
        let node = Node::parse(config, "batch.yaml").unwrap();
        BatchProcessorFactory
            .create(set, &node, Signal::Traces, next)
            .unwrap()
    }

    /// batch → a recording consumer.
    async fn alone(config: &str) -> Harness {
        let telemetry = SelfTelemetry::new(&[]);
        let recorder = Arc::new(Recorder::default());
        let batch = Self::processor(config, &telemetry, recorder.clone());
        batch.start().await.unwrap();
        Harness {
            batch,
            recorder,
            telemetry,
        }
    }

    /// batch → an exporter (memory queue of `queue`, its batcher and workers) → a recording sender.
    async fn with_exporter(config: &str, queue: QueueConfig) -> Harness {
        let telemetry = SelfTelemetry::new(&[]);
        let recorder = Arc::new(Recorder::default());
        let set = CreateSettings::new(
            ComponentId::new("otlp", None),
            Kind::Exporter,
            telemetry.clone(),
        );
        let settings = ExporterSettings {
            queue,
            ..ExporterSettings::default()
        };
        let exporter: PipeRef =
            Arc::new(Exporter::new(&set, settings, RecordingSender(recorder.clone())).unwrap());
        exporter.start().await.unwrap();
        let batch = Self::processor(config, &telemetry, exporter);
        batch.start().await.unwrap();
        Harness {
            batch,
            recorder,
            telemetry,
        }
    }

    /// The value of the self-metric series whose text starts with `series`.
    fn metric(&self, series: &str) -> f64 {
        let text = self.telemetry.encode();
        text.lines()
            .find(|line| line.starts_with(series))
            .and_then(|line| line.rsplit(' ').next())
            .map_or(0.0, |value| value.parse().unwrap())
    }
}

const LABELS: &str = "{processor=\"batch\",pipeline=\"batch\"}";

async fn wait_for_batches(recorder: &Recorder, count: usize) {
    for _ in 0..500 {
        if recorder.batches().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {count} batches, got {:?}", recorder.sizes());
}

#[tokio::test]
async fn callers_are_answered_once_queued_and_the_exporter_joins_their_requests() {
    let h =
        Harness::with_exporter("send_batch_size: 10\ntimeout: 1h\n", QueueConfig::default()).await;
    // Each consume returns while no batch has left: nobody waits for the batch to fill.
    for i in 0..3 {
        h.batch.consume(traces(i * 3..i * 3 + 3)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.recorder.batches().is_empty(), "9 items < send_batch_size");
    h.batch.consume(traces(9..12)).await.unwrap();
    wait_for_batches(&h.recorder, 1).await;
    assert_eq!(h.recorder.sizes(), [12], "one batch of the four requests");
    assert_eq!(h.recorder.all_names(), names(0..12), "in arrival order");
    let labels = LABELS;
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_batch_size_trigger_send_total{labels}"
        )),
        1.0
    );
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_batch_send_size_count{labels}"
        )),
        1.0
    );
    let text = h.telemetry.encode();
    assert!(
        text.lines()
            .any(|l| l.starts_with("otelcol_processor_outgoing_items_total")
                && l.contains("processor=\"batch\"")
                && l.ends_with(" 12")),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_leaves_after_the_timeout_and_is_counted_as_such() {
    let h = Harness::with_exporter(
        "send_batch_size: 100\ntimeout: 200ms\n",
        QueueConfig::default(),
    )
    .await;
    h.batch.consume(traces(0..3)).await.unwrap();
    h.batch.consume(traces(3..5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(h.recorder.batches().is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    wait_for_batches(&h.recorder, 1).await;
    assert_eq!(h.recorder.sizes(), [5]);
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_timeout_trigger_send_total{LABELS}"
        )),
        1.0
    );
}

#[tokio::test]
async fn the_exporters_own_sending_queue_batch_takes_precedence() {
    let queue = QueueConfig {
        batch: Some(ferrotel_core::exporterhelper::BatchConfig {
            min_size: 4,
            flush_timeout: Duration::from_secs(3600).into(),
            ..Default::default()
        }),
        ..QueueConfig::default()
    };
    let h = Harness::with_exporter("send_batch_size: 1000\ntimeout: 1h\n", queue).await;
    for i in 0..2 {
        h.batch.consume(traces(i * 2..i * 2 + 2)).await.unwrap();
    }
    wait_for_batches(&h.recorder, 1).await;
    assert_eq!(h.recorder.sizes(), [4]);
}

#[tokio::test]
async fn requests_over_send_batch_max_size_are_split_before_they_go_on() {
    let h = Harness::alone("send_batch_size: 10\nsend_batch_max_size: 10\n").await;
    h.batch.consume(traces(0..25)).await.unwrap();
    assert_eq!(h.recorder.sizes(), [10, 10, 5]);
    assert_eq!(h.recorder.all_names(), names(0..25));
    // Every piece asks the exporters after it for the processor's batching.
    for piece in h.recorder.batches() {
        let hint = piece.context().batch.clone().expect("a batch hint");
        assert_eq!(hint.settings.min_size, 10);
        assert_eq!(hint.settings.max_size, 10);
        assert_eq!(&*hint.origin, "batch");
    }
}

fn from_tenant(names: Range<usize>, tenant: &str) -> Telemetry {
    let mut data = traces(names);
    let mut metadata = ClientMetadata::new();
    metadata.insert("X-Tenant", tenant);
    data.context_mut().metadata = Some(Arc::new(metadata));
    data
}

#[tokio::test]
async fn metadata_keys_keep_tenants_apart_and_the_limit_refuses_new_ones() {
    let h = Harness::with_exporter(
        "send_batch_size: 4\ntimeout: 1h\nmetadata_keys: [x-tenant]\nmetadata_cardinality_limit: 2\n",
        QueueConfig::default(),
    )
    .await;
    h.batch.consume(from_tenant(0..2, "a")).await.unwrap();
    h.batch.consume(from_tenant(2..4, "b")).await.unwrap();
    h.batch.consume(from_tenant(4..6, "a")).await.unwrap();
    wait_for_batches(&h.recorder, 1).await;
    assert_eq!(h.recorder.sizes(), [4]);
    assert_eq!(h.recorder.all_names(), ["s0", "s1", "s4", "s5"]);
    let error = h.batch.consume(from_tenant(6..8, "c")).await.unwrap_err();
    assert!(
        matches!(&error, ConsumeError::Permanent(m) if m.contains("too many batcher metadata-value combinations")),
        "{error:?}"
    );
    h.batch.consume(from_tenant(8..10, "b")).await.unwrap();
    wait_for_batches(&h.recorder, 2).await;
    assert_eq!(
        span_names(&h.recorder.batches()[1]),
        ["s2", "s3", "s8", "s9"]
    );
}

#[tokio::test]
async fn a_full_queue_is_the_callers_retryable_error() {
    let queue = QueueConfig {
        queue_size: 1,
        num_consumers: 1,
        ..QueueConfig::default()
    };
    let h = Harness::with_exporter("send_batch_size: 1000\ntimeout: 1h\n", queue).await;
    h.batch.consume(traces(0..2)).await.unwrap();
    let error = h.batch.consume(traces(2..4)).await.unwrap_err();
    assert!(matches!(error, ConsumeError::Refused { .. }), "{error:?}");
}

#[tokio::test]
async fn other_signals_and_empty_batches() {
    let h = Harness::alone("").await;
    let logs = Telemetry::from_encoded(Signal::Logs, Bytes::new()).unwrap();
    assert!(h.batch.consume(logs).await.is_err());
    h.batch.consume(traces(0..0)).await.unwrap();
    assert!(h.recorder.batches().is_empty());
}
