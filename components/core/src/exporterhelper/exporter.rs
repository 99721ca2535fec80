//! The [`Exporter`] wrapper: queue, workers, timeout, retry, self-metrics and a draining shutdown
//! around an exporter's [`Sender`].

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::batcher::Former;
use super::config::{QueueConfig, RetryConfig};
use super::persistent::{self, PersistentOptions, PersistentQueue};
use super::queue::{MemoryQueue, OfferError, Queue, QueuedRequest};
use super::retry::{GaveUp, Phase, with_retry};
use super::{Delivered, SendError, Sender};
use crate::component::{ComponentId, CreateSettings, Kind, Lifecycle};
use crate::config::Validate;
use crate::consumer::{ConsumeError, Consumer};
use crate::signal::{Signal, Telemetry};
use crate::storage::Storage;
use crate::telemetry::{ExporterMetrics, SelfTelemetry};

/// Batches at least this large (encoded) are prepared off the async workers: compressing 64 KiB
/// takes a few hundred microseconds, past which a worker would keep other clients waiting.
const BLOCKING_PREPARE_BYTES: usize = 64 << 10;

/// What the wrapper needs from the exporter's config.
#[derive(Debug, Clone)]
pub struct ExporterSettings {
    /// Per attempt; zero means no limit.
    pub timeout: Duration,
    pub queue: QueueConfig,
    pub retry: RetryConfig,
    /// How long `shutdown` lets the workers drain the queue (one attempt per batch, no retries)
    /// before it abandons what is in flight and counts the rest as failed. Keep it well under the
    /// collector's shutdown budget, which every exporter shares.
    pub drain_timeout: Duration,
}

impl Default for ExporterSettings {
    fn default() -> Self {
        ExporterSettings {
            timeout: Duration::from_secs(5),
            queue: QueueConfig::default(),
            retry: RetryConfig::default(),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// An exporter as the pipeline sees it. Cheap to share: clones refer to the same queues.
pub struct Exporter<S: Sender> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    id: String,
    component: ComponentId,
    sender: S,
    metrics: ExporterMetrics,
    telemetry: Arc<SelfTelemetry>,
    settings: ExporterSettings,
    /// One queue and worker pool per signal (otelcol has one per signal too): in memory, made on
    /// first use; persistent, opened at start so that what the last run left is sent at once.
    queues: [OnceLock<Arc<dyn Queue>>; 3],
    /// The storage extension behind a persistent queue (`sending_queue::storage`).
    storage: Option<Arc<dyn Storage>>,
    persistent: Mutex<Vec<Arc<PersistentQueue>>>,
    /// Guards `closed` together with the worker list, so no queue is born after shutdown began.
    workers: Mutex<Vec<JoinHandle<()>>>,
    closed: AtomicBool,
    /// Draining from the start of shutdown (no more retries), aborted at the drain deadline.
    phase: watch::Sender<Phase>,
}

impl<S: Sender> Exporter<S> {
    pub fn new(
        set: &CreateSettings,
        settings: ExporterSettings,
        sender: S,
    ) -> anyhow::Result<Self> {
        settings.queue.validate().map_err(anyhow::Error::msg)?;
        settings.retry.validate().map_err(anyhow::Error::msg)?;
        let id = set.id.to_string();
        let mut storage = None;
        if settings.queue.enabled
            && let Some(name) = &settings.queue.storage
        {
            storage = Some(
                set.host
                    .storage(name)
                    .map_err(|e| anyhow::anyhow!("sending_queue::storage {name:?}: {e}"))?,
            );
        }
        let (phase, _) = watch::channel(Phase::Running);
        Ok(Exporter {
            inner: Arc::new(Inner {
                id,
                component: set.id.clone(),
                sender,
                metrics: set.telemetry.exporter(&set.id),
                telemetry: set.telemetry.clone(),
                settings,
                queues: Default::default(),
                storage,
                persistent: Mutex::new(Vec::new()),
                workers: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                phase,
            }),
        })
    }

    pub fn sender(&self) -> &S {
        &self.inner.sender
    }

    /// Used capacity of a signal's queue (0 before the first batch of that signal).
    pub fn queue_size(&self, signal: Signal) -> usize {
        self.inner.queues[signal as usize]
            .get()
            .map_or(0, |q| q.size())
    }
}

impl<S: Sender> Inner<S> {
    /// The signal's queue; `None` when it is persistent and not opened (before `start`).
    fn queue(self: &Arc<Self>, signal: Signal) -> Option<Arc<dyn Queue>> {
        if self.storage.is_some() {
            return self.queues[signal as usize].get().cloned();
        }
        let queue = self.queues[signal as usize].get_or_init(|| {
            let (size, capacity) = self.metrics.queue_gauges(signal);
            capacity.set(self.settings.queue.queue_size);
            let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(self.queue_size(), size));
            self.spawn_workers(signal, &queue);
            queue
        });
        Some(queue.clone())
    }

    fn queue_size(&self) -> usize {
        usize::try_from(self.settings.queue.queue_size).unwrap_or(usize::MAX)
    }

    fn spawn_workers(self: &Arc<Self>, signal: Signal, queue: &Arc<dyn Queue>) {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        if self.closed.load(Ordering::SeqCst) {
            queue.close();
        } else {
            let former = Arc::new(Former::new(
                signal,
                &self.settings.queue,
                self.storage.is_some(),
            ));
            for _ in 0..self.settings.queue.num_consumers {
                let work = self.clone().work(queue.clone(), former.clone());
                workers.push(tokio::spawn(work));
            }
        }
    }

    /// Opens a persistent queue per signal in the storage extension's directories (waiting for
    /// their locks) and starts sending what the last run left.
    async fn open_persistent(self: &Arc<Self>, storage: Arc<dyn Storage>) -> anyhow::Result<()> {
        for signal in Signal::ALL {
            let location = {
                let (storage, component) = (storage.clone(), self.component.clone());
                tokio::task::spawn_blocking(move || {
                    storage.location(Kind::Exporter, &component, signal.as_str())
                })
                .await??
            };
            let (size, capacity) = self.metrics.queue_gauges(signal);
            capacity.set(self.settings.queue.queue_size);
            let options = PersistentOptions {
                size_gauge: size,
                corrupt_records: persistent::corrupt_records_counter(
                    &self.telemetry,
                    &self.id,
                    signal,
                ),
                owner: self.id.clone(),
                ..PersistentOptions::new(
                    location,
                    signal,
                    self.queue_size(),
                    self.settings.queue.sizer,
                )
            };
            let queue = Arc::new(PersistentQueue::open(options).await?);
            self.persistent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(queue.clone());
            let queue: Arc<dyn Queue> = queue;
            if self.queues[signal as usize].set(queue.clone()).is_ok() {
                self.spawn_workers(signal, &queue);
            }
        }
        Ok(())
    }

    async fn work(self: Arc<Self>, queue: Arc<dyn Queue>, former: Arc<Former>) {
        if self.storage.is_some() {
            return self.work_persistent(queue, former).await;
        }
        while let Some(batch) = former.next(&queue).await {
            let result = if *self.phase.borrow() == Phase::Aborted {
                Err(self.give_up(
                    &batch.data,
                    SendError::retryable("the exporter is stopping"),
                    GaveUp::Shutdown,
                ))
            } else {
                self.deliver(&batch.data).await
            };
            batch.settle(result);
        }
    }

    /// A persistent queue's worker: a request interrupted by shutdown is neither dropped nor
    /// counted as failed, and not marked done: it stays on disk and is sent after the next start.
    /// While draining, a failure stops the worker: the rest waits on disk rather than being tried
    /// against a destination that is failing.
    async fn work_persistent(self: Arc<Self>, queue: Arc<dyn Queue>, former: Arc<Former>) {
        while *self.phase.borrow() != Phase::Aborted {
            let Some(batch) = former.next(&queue).await else {
                break;
            };
            let result = match self.send_with_retry(&batch.data).await {
                Err((_, GaveUp::Shutdown)) => {
                    batch.interrupt();
                    break;
                }
                Ok(delivered) => {
                    self.count_delivered(&batch.data, delivered);
                    Ok(())
                }
                Err((error, why)) => Err(self.give_up(&batch.data, error, why)),
            };
            batch.settle(result);
        }
    }

    async fn send_with_retry(
        self: &Arc<Self>,
        data: &Telemetry,
    ) -> Result<Delivered, (SendError, GaveUp)> {
        let body = self
            .prepare(data)
            .await
            .map_err(|error| (error, GaveUp::Permanent))?;
        let mut phase = self.phase.subscribe();
        with_retry(&self.settings.retry, &mut phase, &self.id, || {
            self.attempt(data, body.as_ref())
        })
        .await
    }

    /// The sender's request body, made once for every attempt; a large batch is encoded and
    /// compressed on a blocking thread, so the async workers keep answering clients meanwhile.
    async fn prepare(self: &Arc<Self>, data: &Telemetry) -> Result<Option<Bytes>, SendError> {
        if data.encoded_len() < BLOCKING_PREPARE_BYTES {
            return self.sender.prepare(data);
        }
        let (inner, data) = (self.clone(), data.clone());
        tokio::task::spawn_blocking(move || inner.sender.prepare(&data))
            .await
            .unwrap_or_else(|e| Err(SendError::permanent(format!("preparing the batch: {e}"))))
    }

    /// Sends with timeout and retries; counts the outcome. Errors are what a caller waiting for
    /// the result should see.
    async fn deliver(self: &Arc<Self>, data: &Telemetry) -> Result<(), ConsumeError> {
        match self.send_with_retry(data).await {
            Ok(delivered) => {
                self.count_delivered(data, delivered);
                Ok(())
            }
            Err((error, why)) => Err(self.give_up(data, error, why)),
        }
    }

    async fn attempt(
        &self,
        data: &Telemetry,
        body: Option<&Bytes>,
    ) -> Result<Delivered, SendError> {
        let send = async {
            match body {
                Some(body) => self.sender.send_prepared(data, body).await,
                None => self.sender.send(data).await,
            }
        };
        let timeout = self.settings.timeout;
        if timeout.is_zero() {
            return send.await;
        }
        match tokio::time::timeout(timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(SendError::retryable(format!(
                "request timed out after {timeout:?}"
            ))),
        }
    }

    fn count_delivered(&self, data: &Telemetry, delivered: Delivered) {
        let items = data.item_count();
        let rejected = delivered.rejected.min(items);
        if rejected > 0 {
            tracing::warn!(
                exporter = %self.id,
                rejected_items = rejected,
                accepted_items = items - rejected,
                message = %delivered.message,
                "Partial success response: the destination rejected part of the batch"
            );
            self.metrics.send_failed(data.signal(), rejected);
        }
        self.metrics.sent(data.signal(), items - rejected);
    }

    fn give_up(&self, data: &Telemetry, error: SendError, why: GaveUp) -> ConsumeError {
        let items = data.item_count();
        self.metrics.send_failed(data.signal(), items);
        tracing::error!(
            exporter = %self.id,
            error = %error,
            reason = why.describe(),
            dropped_items = items,
            "Exporting failed. Dropping data."
        );
        match error {
            SendError::Permanent(msg) => ConsumeError::Permanent(msg),
            SendError::Retryable { msg, retry_after } => ConsumeError::Refused {
                reason: msg,
                retry_after,
            },
        }
    }

    fn refuse(&self, data: &Telemetry, why: OfferError) -> ConsumeError {
        let items = data.item_count();
        self.metrics.enqueue_failed(data.signal(), items);
        match why {
            OfferError::Full => {
                tracing::error!(exporter = %self.id, dropped_items = items, "Dropping data because sending_queue is full. Try increasing queue_size.");
                ConsumeError::refused("sending queue is full")
            }
            OfferError::TooLarge => {
                tracing::error!(exporter = %self.id, dropped_items = items, "Dropping data: the batch is larger than the whole sending_queue. Try increasing queue_size.");
                ConsumeError::Permanent(
                    "the batch is larger than the sending queue's capacity".into(),
                )
            }
            OfferError::Closed => ConsumeError::refused("the exporter is shutting down"),
            OfferError::Storage => {
                tracing::error!(exporter = %self.id, dropped_items = items, "Dropping data: the persistent sending queue could not store it.");
                ConsumeError::refused("the persistent sending queue could not store the data")
            }
        }
    }
}

#[async_trait]
impl<S: Sender> Consumer for Exporter<S> {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let inner = &self.inner;
        if data.is_empty() {
            return Ok(());
        }
        if inner.closed.load(Ordering::SeqCst) {
            return Err(inner.refuse(&data, OfferError::Closed));
        }
        let queue_config = &inner.settings.queue;
        if !queue_config.enabled {
            return inner.deliver(&data).await;
        }
        let Some(queue) = inner.queue(data.signal()) else {
            return Err(inner.refuse(&data, OfferError::Closed));
        };
        let size = queue_config.sizer.size(&data);
        let mut request = QueuedRequest::new(data, size);
        let outcome = queue_config.wait_for_result.then(|| {
            let (tx, rx) = oneshot::channel();
            request.reply = Some(tx);
            rx
        });
        match queue.offer(request, queue_config.block_on_overflow).await {
            Ok(()) => match outcome {
                Some(rx) => rx.await.unwrap_or_else(|_| {
                    Err(ConsumeError::refused("the exporter stopped before sending"))
                }),
                None => Ok(()),
            },
            Err((request, why)) => Err(inner.refuse(&request.data, why)),
        }
    }
}

#[async_trait]
impl<S: Sender> Lifecycle for Exporter<S> {
    async fn start(&self) -> anyhow::Result<()> {
        self.inner.sender.start().await?;
        if let Some(storage) = &self.inner.storage
            && let Err(error) = self.inner.open_persistent(storage.clone()).await
        {
            // Stop at once what did open: nothing is sent, nothing is lost.
            self.inner.phase.send_replace(Phase::Aborted);
            let _ = self.shutdown().await;
            return Err(error);
        }
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let inner = &self.inner;
        let mut workers = {
            let mut workers = inner.workers.lock().unwrap_or_else(|p| p.into_inner());
            inner.closed.store(true, Ordering::SeqCst);
            std::mem::take(&mut *workers)
        };
        let queues: Vec<Arc<dyn Queue>> = inner
            .queues
            .iter()
            .filter_map(|q| q.get().cloned())
            .collect();
        queues.iter().for_each(|q| q.close());
        // From here each queued batch gets one attempt: failures are no longer retried.
        inner.phase.send_if_modified(|phase| {
            let running = *phase == Phase::Running;
            if running {
                *phase = Phase::Draining;
            }
            running
        });
        let deadline = inner.settings.drain_timeout;
        let drained = tokio::time::timeout(deadline, futures::future::join_all(workers.iter_mut()))
            .await
            .is_ok();
        let persistent = inner.storage.is_some();
        if !drained && !persistent {
            let left: usize = queues.iter().map(|q| q.size()).sum();
            tracing::warn!(
                exporter = %inner.id,
                queued = left,
                "the sending queue did not drain within {deadline:?}; dropping what is left"
            );
        }
        // Workers still running now give up on what they hold and on the rest of the queue.
        inner.phase.send_replace(Phase::Aborted);
        futures::future::join_all(workers.iter_mut().filter(|w| !w.is_finished())).await;
        let stored =
            std::mem::take(&mut *inner.persistent.lock().unwrap_or_else(|p| p.into_inner()));
        for queue in stored {
            let items = queue.pending_items();
            queue.shutdown().await;
            if items > 0 {
                tracing::info!(
                    exporter = %inner.id,
                    queued_items = items,
                    directory = %queue.directory().display(),
                    "the persistent sending queue keeps what was not sent for the next start"
                );
            }
        }
        for queue in &queues {
            for request in queue.drain() {
                let error = inner.give_up(
                    &request.data,
                    SendError::retryable("the exporter stopped"),
                    GaveUp::Shutdown,
                );
                if let Some(reply) = request.reply {
                    let _ = reply.send(Err(error));
                }
            }
        }
        inner.sender.shutdown().await
    }
}
