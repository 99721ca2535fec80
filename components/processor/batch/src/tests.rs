//! The batcher driven through its factory with real prost-encoded requests and a recording consumer.

use async_trait::async_trait;
use bytes::Bytes;
use ferrotel_core::component::{ComponentId, CreateSettings, Kind, PipeRef, ProcessorFactory};
use ferrotel_core::config::Node;
use ferrotel_core::consumer::{ConsumeError, Consumer};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::SelfTelemetry;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

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

/// Records what reaches it; can refuse everything, or hold each send until a permit is given.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Telemetry>>,
    failing: AtomicBool,
    gate: Option<Semaphore>,
}

impl Recorder {
    fn gated() -> Recorder {
        Recorder {
            gate: Some(Semaphore::new(0)),
            ..Default::default()
        }
    }

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
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(ConsumeError::refused("exporter down"));
        }
        self.received.lock().unwrap().push(data);
        Ok(())
    }
}

struct Harness {
    batch: PipeRef,
    recorder: Arc<Recorder>,
    telemetry: Arc<SelfTelemetry>,
}

impl Harness {
    async fn start(config: &str, recorder: Recorder) -> Harness {
        let telemetry = SelfTelemetry::new(&[]);
        let recorder = Arc::new(recorder);
        let set = CreateSettings::new(
            ComponentId::new("batch", None),
            Kind::Processor,
            telemetry.clone(),
        );
        let node = Node::parse(config, "batch.yaml").unwrap();
        let batch = BatchProcessorFactory
            .create(set, &node, Signal::Traces, recorder.clone())
            .unwrap();
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

type Pending = tokio::task::JoinHandle<Result<(), ConsumeError>>;

/// A consume running on its own: it finishes only once its data has been handed on.
fn spawn_consume(h: &Harness, data: Telemetry) -> Pending {
    let batch = h.batch.clone();
    tokio::spawn(async move { batch.consume(data).await })
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

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
async fn a_full_batch_is_sent_by_the_consume_that_fills_it_as_the_bytes_that_came_in() {
    let h = Harness::start("send_batch_size: 10\ntimeout: 1h\n", Recorder::default()).await;
    let inputs: Vec<Bytes> = (0..4).map(|i| encoded(i * 3..i * 3 + 3)).collect();
    let waiting: Vec<Pending> = inputs[..3]
        .iter()
        .map(|input| {
            spawn_consume(
                &h,
                Telemetry::from_encoded(Signal::Traces, input.clone()).unwrap(),
            )
        })
        .collect();
    settle().await;
    assert!(
        h.recorder.batches().is_empty(),
        "9 items stay below the size of 10"
    );
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "no caller is acknowledged while its data only sits in the batch"
    );
    h.batch
        .consume(Telemetry::from_encoded(Signal::Traces, inputs[3].clone()).unwrap())
        .await
        .unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }

    assert_eq!(h.recorder.sizes(), vec![12]);
    assert_eq!(h.recorder.all_names(), names(0..12));
    // Joined by byte concatenation: exactly the bytes that came in, in order, never re-encoded.
    assert_eq!(h.recorder.batches()[0].to_encoded(), inputs.concat());
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_batch_size_trigger_send_total{LABELS}"
        )),
        1.0
    );
    assert_eq!(h.metric("otelcol_processor_incoming_items_total{processor=\"batch\",pipeline=\"batch\",otel_signal=\"traces\"}"), 12.0);
    assert_eq!(h.metric("otelcol_processor_outgoing_items_total{processor=\"batch\",pipeline=\"batch\",otel_signal=\"traces\"}"), 12.0);
    h.batch.shutdown().await.unwrap();
    assert_eq!(
        h.recorder.sizes(),
        vec![12],
        "nothing was pending at shutdown"
    );
}

#[tokio::test]
async fn batches_over_the_max_size_are_split_and_the_short_rest_waits() {
    let h = Harness::start(
        "send_batch_size: 10\nsend_batch_max_size: 10\ntimeout: 1h\n",
        Recorder::default(),
    )
    .await;
    let first = spawn_consume(&h, traces(0..4));
    settle().await;
    let second = spawn_consume(&h, traces(4..25));
    settle().await;
    assert_eq!(
        h.recorder.sizes(),
        vec![10, 10],
        "5 items are below the size and wait"
    );
    first.await.unwrap().unwrap();
    assert!(
        !second.is_finished(),
        "the caller whose last 5 items wait is not acknowledged yet"
    );
    let third = spawn_consume(&h, traces(25..27));
    settle().await;
    assert_eq!(h.recorder.sizes(), vec![10, 10]);
    h.batch.shutdown().await.unwrap();
    assert_eq!(h.recorder.sizes(), vec![10, 10, 7]);
    second.await.unwrap().unwrap();
    third.await.unwrap().unwrap();
    assert_eq!(h.recorder.all_names(), names(0..27));
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_batch_size_trigger_send_total{LABELS}"
        )),
        2.0
    );
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_timeout_trigger_send_total{LABELS}"
        )),
        1.0
    );
}

#[tokio::test(start_paused = true)]
async fn the_timer_sends_a_batch_once_its_first_item_has_waited_the_timeout() {
    let h = Harness::start("send_batch_size: 100\ntimeout: 1s\n", Recorder::default()).await;
    let first = spawn_consume(&h, traces(0..3));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = spawn_consume(&h, traces(3..5));
    tokio::time::sleep(Duration::from_millis(499)).await;
    assert!(
        h.recorder.batches().is_empty(),
        "the first item has waited 999ms of 1s"
    );
    wait_for_batches(&h.recorder, 1).await;
    assert_eq!(h.recorder.sizes(), vec![5]);
    assert_eq!(h.recorder.all_names(), names(0..5));
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_timeout_trigger_send_total{LABELS}"
        )),
        1.0
    );

    // The next batch gets its own full wait, counted from its own first item.
    let third = spawn_consume(&h, traces(5..6));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(h.recorder.sizes(), vec![5]);
    wait_for_batches(&h.recorder, 2).await;
    third.await.unwrap().unwrap();
    assert_eq!(h.recorder.all_names(), names(0..6));
    h.batch.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_sends_what_is_pending_and_later_data_passes_straight_on() {
    let h = Harness::start(
        "send_batch_size: 1000\ntimeout: 1h\nsend_batch_max_size: 1000\n",
        Recorder::default(),
    )
    .await;
    let waiting = [
        spawn_consume(&h, traces(0..3)),
        spawn_consume(&h, traces(3..7)),
    ];
    settle().await;
    assert!(h.recorder.batches().is_empty());
    h.batch.shutdown().await.unwrap();
    assert_eq!(h.recorder.sizes(), vec![7]);
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    h.batch.consume(traces(7..9)).await.unwrap();
    assert_eq!(h.recorder.sizes(), vec![7, 2]);
    assert_eq!(h.recorder.all_names(), names(0..9));
}

#[tokio::test]
async fn a_failed_send_of_the_callers_own_data_is_the_callers_error() {
    let h = Harness::start("send_batch_size: 5\ntimeout: 1h\n", Recorder::default()).await;
    h.recorder.failing.store(true, Ordering::SeqCst);
    let err = h.batch.consume(traces(0..6)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // The caller retries it all, so nothing counts as dropped and nothing stays pending.
    assert_eq!(h.metric("otelcol_processor_dropped_spans_total"), 0.0);
    h.recorder.failing.store(false, Ordering::SeqCst);
    h.batch.consume(traces(0..6)).await.unwrap();
    assert_eq!(h.recorder.all_names(), names(0..6));
    h.batch.shutdown().await.unwrap();
    assert_eq!(h.recorder.sizes(), vec![6]);
}

#[tokio::test]
async fn a_failed_send_reaches_every_caller_whose_data_it_carried() {
    let h = Harness::start("send_batch_size: 5\ntimeout: 1h\n", Recorder::default()).await;
    let first = spawn_consume(&h, traces(0..3));
    settle().await;
    h.recorder.failing.store(true, Ordering::SeqCst);
    // This caller's data goes out with the first caller's: both hear of the failure.
    let err = h.batch.consume(traces(3..6)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(first.await.unwrap().unwrap_err().is_retryable());
    // Both will send again, so nothing was dropped here.
    assert_eq!(
        h.metric("otelcol_processor_dropped_spans_total{processor=\"batch\",pipeline=\"batch\"}"),
        0.0
    );
    assert!(h.recorder.batches().is_empty());
    assert_eq!(
        h.metric(&format!(
            "otelcol_processor_batch_batch_size_trigger_send_total{LABELS}"
        )),
        0.0
    );
}

#[tokio::test]
async fn a_failure_nobody_hears_of_is_counted_as_dropped() {
    let h = Harness::start("send_batch_size: 5\ntimeout: 1h\n", Recorder::default()).await;
    let gone = spawn_consume(&h, traces(0..3));
    settle().await;
    // The client hung up while its data waited in the batch.
    gone.abort();
    let _ = gone.await;
    h.recorder.failing.store(true, Ordering::SeqCst);
    assert!(h.batch.consume(traces(3..5)).await.is_err());
    assert_eq!(
        h.metric("otelcol_processor_dropped_spans_total{processor=\"batch\",pipeline=\"batch\"}"),
        3.0
    );
}

#[tokio::test]
async fn a_partly_delivered_split_is_still_the_callers_error() {
    let h = Harness::start(
        "send_batch_size: 4\nsend_batch_max_size: 4\ntimeout: 1h\n",
        Recorder::gated(),
    )
    .await;
    let send = spawn_consume(&h, traces(0..8));
    h.recorder.gate.as_ref().unwrap().add_permits(1);
    wait_for_batches(&h.recorder, 1).await;
    h.recorder.failing.store(true, Ordering::SeqCst);
    h.recorder.gate.as_ref().unwrap().add_permits(1);
    // Half was delivered; the caller sends all of it again: a duplicate, never a loss.
    assert!(send.await.unwrap().unwrap_err().is_retryable());
    assert_eq!(h.recorder.all_names(), names(0..4));
    assert_eq!(
        h.metric("otelcol_processor_dropped_spans_total{processor=\"batch\",pipeline=\"batch\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_slow_exporter_holds_back_the_consume_that_triggered_the_send() {
    let h = Harness::start("send_batch_size: 2\ntimeout: 1h\n", Recorder::gated()).await;
    let first = spawn_consume(&h, traces(0..1));
    settle().await;
    let batch = h.batch.clone();
    let send = tokio::spawn(async move { batch.consume(traces(1..2)).await });
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(!send.is_finished(), "the consume waits for the exporter");
    h.recorder.gate.as_ref().unwrap().add_permits(1);
    send.await.unwrap().unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(h.recorder.all_names(), names(0..2));
}

#[tokio::test]
async fn without_timeout_every_batch_is_sent_on_arrival_split_by_max_size() {
    let h = Harness::start(
        "timeout: 0s\nsend_batch_size: 3\nsend_batch_max_size: 3\n",
        Recorder::default(),
    )
    .await;
    h.batch.consume(traces(0..1)).await.unwrap();
    h.batch.consume(traces(1..8)).await.unwrap();
    assert_eq!(h.recorder.sizes(), vec![1, 3, 3, 1]);
    assert_eq!(h.recorder.all_names(), names(0..8));
    h.batch.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_lose_and_duplicate_nothing() {
    let h = Harness::start(
        "send_batch_size: 50\nsend_batch_max_size: 64\ntimeout: 5ms\n",
        Recorder::default(),
    )
    .await;
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let batch = h.batch.clone();
            tokio::spawn(async move {
                for round in 0..25 {
                    let start = p * 1000 + round * 7;
                    batch.consume(traces(start..start + 7)).await.unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    h.batch.shutdown().await.unwrap();
    assert!(
        h.recorder.sizes().iter().all(|n| *n <= 64),
        "{:?}",
        h.recorder.sizes()
    );
    let received: Vec<usize> = h
        .recorder
        .all_names()
        .iter()
        .map(|n| n[1..].parse().unwrap())
        .collect();
    assert_eq!(received.len(), 8 * 25 * 7);
    for p in 0..8 {
        let own: Vec<usize> = received.iter().copied().filter(|n| n / 1000 == p).collect();
        let expected: Vec<usize> = (0..25 * 7).map(|i| p * 1000 + i).collect();
        assert_eq!(
            own, expected,
            "producer {p}'s spans arrive once each, in its order"
        );
    }
}

#[tokio::test]
async fn other_signals_and_empty_batches() {
    let h = Harness::start("send_batch_size: 1\n", Recorder::default()).await;
    let logs = Telemetry::from_encoded(Signal::Logs, Bytes::new()).unwrap();
    assert!(matches!(
        h.batch.consume(logs).await,
        Err(ConsumeError::Permanent(_))
    ));
    h.batch.consume(traces(0..0)).await.unwrap();
    h.batch.shutdown().await.unwrap();
    assert!(h.recorder.batches().is_empty());
}
