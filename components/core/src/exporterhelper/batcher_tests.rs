use super::*;
use crate::batching::{BatchSettings, Context};
use crate::exporterhelper::config::{BatchConfig, PartitionConfig};
use crate::exporterhelper::queue::MemoryQueue;
use crate::telemetry::SelfTelemetry;
use crate::{ComponentId, batching::ClientMetadata};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prometheus_client::metrics::gauge::Gauge;
use prost::Message;
use std::time::Duration;

fn spans(n: usize) -> Telemetry {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
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
    Telemetry::from_encoded(Signal::Traces, request.encode_to_vec().into()).unwrap()
}

fn memory_queue() -> Arc<dyn Queue> {
    Arc::new(MemoryQueue::new(1000, Gauge::default()))
}

fn queue_config(batch: Option<BatchConfig>) -> QueueConfig {
    QueueConfig {
        sizer: Sizer::Items,
        queue_size: 1000,
        batch,
        ..QueueConfig::default()
    }
}

fn own(min_size: i64, max_size: i64, flush_timeout: Duration) -> QueueConfig {
    queue_config(Some(BatchConfig {
        min_size,
        max_size,
        flush_timeout: flush_timeout.into(),
        ..BatchConfig::default()
    }))
}

/// Offers `data`, returning the receiver of its outcome.
async fn offer(
    queue: &Arc<dyn Queue>,
    data: Telemetry,
) -> oneshot::Receiver<Result<(), ConsumeError>> {
    let (tx, rx) = oneshot::channel();
    let size = data.item_count();
    let mut request = QueuedRequest::new(data, size);
    request.reply = Some(tx);
    queue.offer(request, false).await.unwrap();
    rx
}

#[tokio::test]
async fn without_batch_settings_each_request_leaves_as_it_came() {
    let queue = memory_queue();
    let former = Former::new(Signal::Traces, &queue_config(None), false);
    let first = offer(&queue, spans(3)).await;
    let _second = offer(&queue, spans(4)).await;
    let batch = former.next(&queue).await.unwrap();
    assert_eq!(batch.data.item_count(), 3);
    batch.settle(Ok(()));
    assert_eq!(first.await.unwrap(), Ok(()));
    assert_eq!(former.next(&queue).await.unwrap().data.item_count(), 4);
}

#[tokio::test]
async fn requests_are_joined_until_min_size_and_done_once_sent() {
    let queue = memory_queue();
    let former = Former::new(
        Signal::Traces,
        &own(10, 0, Duration::from_secs(3600)),
        false,
    );
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(offer(&queue, spans(4)).await);
    }
    let batch = former.next(&queue).await.unwrap();
    assert_eq!(batch.data.item_count(), 12, "three requests joined");
    // The joined bytes decode as one request holding every span.
    let mut data = batch.data.clone();
    let decoded: usize = data
        .traces()
        .unwrap()
        .resource_spans
        .iter()
        .map(|r| r.scope_spans[0].spans.len())
        .sum();
    assert_eq!(decoded, 12);
    assert_eq!(queue.size(), 12, "capacity is held until the batch settles");
    batch.settle(Ok(()));
    assert_eq!(queue.size(), 0);
    for reply in replies {
        assert_eq!(reply.await.unwrap(), Ok(()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_leaves_after_flush_timeout() {
    let queue = memory_queue();
    let former = Former::new(
        Signal::Traces,
        &own(100, 0, Duration::from_millis(200)),
        false,
    );
    let _a = offer(&queue, spans(2)).await;
    let _b = offer(&queue, spans(3)).await;
    let started = Instant::now();
    let batch = former.next(&queue).await.unwrap();
    assert_eq!(batch.data.item_count(), 5);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn max_size_splits_a_request_and_its_caller_hears_every_part() {
    let queue = memory_queue();
    let former = Former::new(Signal::Traces, &own(5, 5, Duration::from_secs(3600)), false);
    let first = offer(&queue, spans(7)).await;
    let second = offer(&queue, spans(3)).await;
    let one = former.next(&queue).await.unwrap();
    let two = former.next(&queue).await.unwrap();
    assert_eq!((one.data.item_count(), two.data.item_count()), (5, 5));
    one.settle(Ok(()));
    assert_eq!(
        queue.size(),
        10,
        "the split request is not done before its tail is sent"
    );
    two.settle(Err(ConsumeError::Permanent("refused".into())));
    assert_eq!(queue.size(), 0);
    assert!(
        first.await.unwrap().is_err(),
        "a failed part fails the request"
    );
    assert!(second.await.unwrap().is_err());
}

#[tokio::test]
async fn an_interrupted_batch_stays_in_a_persistent_queue() {
    let queue = memory_queue();
    let former = Former::new(Signal::Traces, &queue_config(None), true);
    let _reply = offer(&queue, spans(2)).await;
    former.next(&queue).await.unwrap().interrupt();
    assert_eq!(queue.size(), 2, "not marked done: kept for the next start");
}

#[tokio::test]
async fn closing_the_queue_flushes_what_is_forming() {
    let queue = memory_queue();
    let former = Former::new(
        Signal::Traces,
        &own(100, 0, Duration::from_secs(3600)),
        false,
    );
    let _reply = offer(&queue, spans(2)).await;
    queue.close();
    assert_eq!(former.next(&queue).await.unwrap().data.item_count(), 2);
    assert!(former.next(&queue).await.is_none());
}

fn hinted(data: Telemetry, origin: &str, partition: Option<&str>) -> Telemetry {
    let telemetry = SelfTelemetry::new(&[]);
    let id = ComponentId::parse("batch").unwrap();
    let mut data = data;
    data.set_context(Context {
        metadata: None,
        batch: Some(Arc::new(BatchHint {
            settings: BatchSettings {
                min_size: 4,
                max_size: 0,
                flush_timeout: Duration::from_secs(3600),
                bytes: false,
            },
            origin: origin.into(),
            partition: partition.map(Into::into),
            metrics: telemetry.processor(&id, "batch"),
        })),
    });
    data
}

#[tokio::test]
async fn a_batch_processors_hint_batches_per_origin_and_partition() {
    let queue = memory_queue();
    let former = Former::new(Signal::Traces, &queue_config(None), false);
    let _r = [
        offer(&queue, hinted(spans(2), "batch", Some("tenant=a"))).await,
        offer(&queue, hinted(spans(2), "batch", Some("tenant=b"))).await,
        offer(&queue, hinted(spans(2), "batch/2", Some("tenant=a"))).await,
        offer(&queue, hinted(spans(2), "batch", Some("tenant=a"))).await,
    ];
    let batch = former.next(&queue).await.unwrap();
    assert_eq!(batch.data.item_count(), 4);
    let partition = batch
        .data
        .context()
        .batch
        .as_ref()
        .unwrap()
        .partition
        .clone();
    assert_eq!(partition.as_deref(), Some("tenant=a"));
    queue.close();
    let rest: Vec<usize> = [
        former.next(&queue).await.unwrap(),
        former.next(&queue).await.unwrap(),
    ]
    .iter()
    .map(|b| b.data.item_count())
    .collect();
    assert_eq!(
        rest,
        [2, 2],
        "other partitions and origins are never joined"
    );
}

#[tokio::test]
async fn the_exporters_own_partitions_follow_client_metadata() {
    let queue = memory_queue();
    let mut config = own(4, 0, Duration::from_secs(3600));
    config.batch.as_mut().unwrap().partition = Some(PartitionConfig {
        metadata_keys: vec!["x-tenant".into()],
        cardinality_limit: 0,
    });
    let former = Former::new(Signal::Traces, &config, false);
    let from = |tenant: &str| {
        let mut metadata = ClientMetadata::new();
        metadata.insert("X-Tenant", tenant);
        let mut data = spans(2);
        data.context_mut().metadata = Some(Arc::new(metadata));
        data
    };
    let _r = [
        offer(&queue, from("a")).await,
        offer(&queue, from("b")).await,
        offer(&queue, from("a")).await,
    ];
    let batch = former.next(&queue).await.unwrap();
    assert_eq!(batch.data.item_count(), 4);
    let metadata = batch.data.context().metadata.clone().unwrap();
    assert_eq!(metadata.get("x-tenant"), ["a".to_string()]);
}
