//! The batcher: encoded batches are queued as they come, joined by byte concatenation and sent when
//! the queue reaches `send_batch_size` (by the consume that filled it) or when its first item has
//! waited `timeout` (by the timer task). Nothing here decodes: joining and splitting work on the
//! protobuf bytes.
//!
//! Sends are serialised by an async lock so batches leave in the order their items arrived. Unlike
//! otelcol's batch processor, a consume returns only once its items have been handed on: an item
//! acknowledged to a client is in an exporter's queue (persistent, if so configured), so a crash
//! loses nothing that was acknowledged. A caller waits at most `timeout` for a partial batch; one
//! whose items failed in any batch gets the error and sends again (a duplicate at worst, never a
//! silent loss). A slow exporter slows its senders.

use async_trait::async_trait;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ProcessorMetrics;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::chunk::{Unsplittable, next_chunk};
use crate::config::BatchConfig;

/// What the batcher needs from its config, in the units it works in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub send_batch_size: usize,
    pub send_batch_max_size: usize,
    pub timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &BatchConfig) -> Limits {
        Limits {
            send_batch_size: config.send_batch_size as usize,
            send_batch_max_size: config.send_batch_max_size as usize,
            timeout: config.timeout.as_duration(),
        }
    }

    /// Without a timeout or a size there is nothing to wait for: every batch is sent on arrival.
    fn immediate(&self) -> bool {
        self.timeout.is_zero() || self.send_batch_size == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Size,
    Timeout,
    Shutdown,
}

/// Whoever is waiting for one part's outcome, and how many of its items are still unsent. Parts
/// leave in order, so the ledger settles front to back as batches go out.
struct Waiter {
    items: usize,
    /// Items of this part in batches that failed.
    failed: usize,
    reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
    /// The first failure among the batches that carried this part's items.
    error: Option<ConsumeError>,
}

#[derive(Default)]
struct Pending {
    parts: VecDeque<Telemetry>,
    /// One entry per part, in the same order.
    waiters: VecDeque<Waiter>,
    items: usize,
    /// When the oldest pending item arrived; the timeout counts from here.
    first_at: Option<Instant>,
    /// After shutdown, data is passed straight on instead of being held.
    closed: bool,
}

impl Pending {
    fn push(&mut self, data: Telemetry, reply: oneshot::Sender<Result<(), ConsumeError>>) {
        self.items += data.item_count();
        self.first_at.get_or_insert_with(Instant::now);
        self.waiters.push_back(Waiter {
            items: data.item_count(),
            failed: 0,
            reply: Some(reply),
            error: None,
        });
        self.parts.push_back(data);
    }

    fn take(&mut self) -> (VecDeque<Telemetry>, VecDeque<Waiter>) {
        self.items = 0;
        self.first_at = None;
        (
            std::mem::take(&mut self.parts),
            std::mem::take(&mut self.waiters),
        )
    }
}

struct Shared {
    signal: Signal,
    limits: Limits,
    next: ConsumerRef,
    metrics: ProcessorMetrics,
    id: String,
    pending: Mutex<Pending>,
    /// Held for the whole of a send so batches leave in arrival order.
    send_lock: tokio::sync::Mutex<()>,
    /// Wakes the timer when a batch starts.
    batch_started: Notify,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock leaves plain counters behind: keep going with them.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn due(&self, pending: &Pending, trigger: Trigger) -> bool {
        if pending.items == 0 {
            return false;
        }
        match trigger {
            Trigger::Size => {
                self.limits.immediate() || pending.items >= self.limits.send_batch_size
            }
            Trigger::Timeout => pending
                .first_at
                .is_some_and(|t| t.elapsed() >= self.limits.timeout),
            Trigger::Shutdown => true,
        }
    }

    /// Sends what is due; every caller whose data went out hears how it went.
    async fn flush(&self, trigger: Trigger) {
        let _sending = self.send_lock.lock().await;
        let (mut parts, mut waiters) = {
            let mut pending = self.pending();
            if !self.due(&pending, trigger) {
                return;
            }
            pending.take()
        };
        // A size trigger sends only while a full batch remains; the rest waits for more data.
        let keep_below = (trigger == Trigger::Size && !self.limits.immediate())
            .then_some(self.limits.send_batch_size);
        self.send_parts(
            &mut parts,
            &mut waiters,
            trigger != Trigger::Size,
            keep_below,
        )
        .await;
        if parts.is_empty() {
            return;
        }
        let mut pending = self.pending();
        let was_empty = pending.items == 0;
        pending.items += parts.iter().map(Telemetry::item_count).sum::<usize>();
        for part in parts.into_iter().rev() {
            pending.parts.push_front(part);
        }
        for waiter in waiters.into_iter().rev() {
            pending.waiters.push_front(waiter);
        }
        // The leftover starts a fresh wait, as otelcol resets its timer after a size send.
        pending.first_at.get_or_insert_with(Instant::now);
        drop(pending);
        if was_empty {
            self.batch_started.notify_one();
        }
    }

    /// Sends `parts` in batches of at most `send_batch_max_size`, in order, settling `waiters` as
    /// their items go out. Stops early, leaving the rest in `parts`, once fewer than `keep_below`
    /// items remain.
    async fn send_parts(
        &self,
        parts: &mut VecDeque<Telemetry>,
        waiters: &mut VecDeque<Waiter>,
        by_timeout: bool,
        keep_below: Option<usize>,
    ) {
        let mut remaining: usize = parts.iter().map(Telemetry::item_count).sum();
        while remaining > 0 {
            if keep_below.is_some_and(|size| remaining < size) {
                return;
            }
            let (items, outcome) =
                match next_chunk(self.signal, parts, self.limits.send_batch_max_size) {
                    Ok(chunk) => {
                        let n = chunk.item_count();
                        let outcome = self.next.consume(chunk).await;
                        if outcome.is_ok() {
                            self.metrics.outgoing(self.signal, n);
                            self.metrics.batch_sent(n, by_timeout);
                        }
                        (n, outcome)
                    }
                    Err(Unsplittable { error, items }) => (
                        items,
                        Err(ConsumeError::Permanent(format!(
                            "batch could not be split: {error}"
                        ))),
                    ),
                };
            remaining -= items;
            self.settle(waiters, items, outcome);
        }
    }

    /// Records that the next `items` items went out with `outcome`, and answers every caller whose
    /// items have now all gone. A caller whose data failed in any batch gets that error, so it
    /// sends again: a duplicate at worst, never a loss.
    fn settle(
        &self,
        waiters: &mut VecDeque<Waiter>,
        mut items: usize,
        outcome: Result<(), ConsumeError>,
    ) {
        while items > 0 {
            let Some(front) = waiters.front_mut() else {
                return;
            };
            let taken = front.items.min(items);
            front.items -= taken;
            items -= taken;
            if let Err(error) = &outcome {
                front.failed += taken;
                front.error.get_or_insert_with(|| error.clone());
            }
            if front.items == 0 {
                let waiter = waiters.pop_front().expect("front exists");
                self.answer(waiter);
            }
        }
    }

    fn answer(&self, mut waiter: Waiter) {
        let result = waiter.error.take().map_or(Ok(()), Err);
        let Some(reply) = waiter.reply.take() else {
            return;
        };
        if let Err(Err(error)) = reply.send(result) {
            // The caller went away (its client hung up): nobody will send these items again.
            tracing::warn!(
                processor = %self.id,
                signal = %self.signal,
                items = waiter.failed,
                error = %error,
                "Sender failed and the client that sent this data is gone; the items were dropped"
            );
            self.metrics.dropped(self.signal, waiter.failed);
        }
    }

    async fn run_timer(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let deadline = self.pending().first_at.map(|t| t + self.limits.timeout);
            match deadline {
                None => tokio::select! {
                    _ = self.batch_started.notified() => {}
                    changed = stop.changed() => if changed.is_err() { return },
                },
                Some(deadline) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => self.flush(Trigger::Timeout).await,
                    changed = stop.changed() => if changed.is_err() { return },
                },
            }
        }
    }
}

pub struct BatchProcessor {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl BatchProcessor {
    pub(crate) fn new(
        signal: Signal,
        limits: Limits,
        next: ConsumerRef,
        metrics: ProcessorMetrics,
        id: String,
    ) -> Self {
        let shared = Shared {
            signal,
            limits,
            next,
            metrics,
            id,
            pending: Mutex::new(Pending::default()),
            send_lock: tokio::sync::Mutex::new(()),
            batch_started: Notify::new(),
        };
        BatchProcessor {
            shared: Arc::new(shared),
            stop: watch::channel(false).0,
            timer: Mutex::new(None),
        }
    }

    fn timer(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.timer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Consumer for BatchProcessor {
    /// Returns once this data has been handed on (or failed): an acknowledged item is already in
    /// an exporter's queue, never only in this processor's memory.
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let shared = &self.shared;
        if data.signal() != shared.signal {
            return Err(ConsumeError::Permanent(format!(
                "batch processor of a {} pipeline was handed {} data",
                shared.signal,
                data.signal()
            )));
        }
        let items = data.item_count();
        shared.metrics.incoming(shared.signal, items);
        if items == 0 {
            return Ok(());
        }
        let (reply, outcome) = oneshot::channel();
        let queued = {
            let mut pending = shared.pending();
            if pending.closed {
                Err(data)
            } else {
                let first = pending.items == 0;
                pending.push(data, reply);
                Ok((first, shared.due(&pending, Trigger::Size)))
            }
        };
        let (first, size_reached) = match queued {
            Ok(queued) => queued,
            Err(data) => {
                return shared.next.consume(data).await.inspect(|()| {
                    shared.metrics.outgoing(shared.signal, items);
                });
            }
        };
        if first {
            shared.batch_started.notify_one();
        }
        if size_reached {
            shared.flush(Trigger::Size).await;
        }
        outcome.await.unwrap_or_else(|_| {
            Err(ConsumeError::refused(
                "the batch processor stopped before sending",
            ))
        })
    }
}

#[async_trait]
impl Lifecycle for BatchProcessor {
    async fn start(&self) -> anyhow::Result<()> {
        let mut timer = self.timer();
        if timer.is_none() && !self.shared.limits.immediate() && !*self.stop.borrow() {
            *timer = Some(tokio::spawn(
                self.shared.clone().run_timer(self.stop.subscribe()),
            ));
        }
        Ok(())
    }

    /// Stops the timer, then sends what is pending; later data is passed straight on.
    async fn shutdown(&self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        let timer = self.timer().take();
        if let Some(timer) = timer {
            timer.await?;
        }
        self.shared.pending().closed = true;
        // Every waiting caller hears the outcome of this last send.
        self.shared.flush(Trigger::Shutdown).await;
        Ok(())
    }
}
