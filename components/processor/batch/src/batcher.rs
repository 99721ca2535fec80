//! The batcher: encoded batches are queued as they come, joined by byte concatenation and sent when
//! the queue reaches `send_batch_size` (by the consume that filled it) or when its first item has
//! waited `timeout` (by the timer task). Nothing here decodes: joining and splitting work on the
//! protobuf bytes.
//!
//! Sends are serialised by an async lock so batches leave in the order their items arrived, and the
//! consume that triggers a send awaits it, so a slow exporter slows its senders. A failed send is
//! reported to the caller only when the failed batch was that caller's data alone (it will retry
//! all of it); otherwise the items are counted as dropped and logged.

use async_trait::async_trait;
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ProcessorMetrics;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};
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

/// One consume's data, tagged so a flush can tell whether it holds the caller's data alone.
struct Part {
    seq: u64,
    data: Telemetry,
}

#[derive(Default)]
struct Pending {
    parts: VecDeque<Part>,
    items: usize,
    /// When the oldest pending item arrived; the timeout counts from here.
    first_at: Option<Instant>,
    next_seq: u64,
    /// After shutdown, data is passed straight on instead of being held.
    closed: bool,
}

impl Pending {
    fn push(&mut self, data: Telemetry) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items += data.item_count();
        self.first_at.get_or_insert_with(Instant::now);
        self.parts.push_back(Part { seq, data });
        seq
    }

    fn take(&mut self) -> Vec<Part> {
        self.items = 0;
        self.first_at = None;
        self.parts.drain(..).collect()
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

    /// Sends what is due. `caller` is the sequence number of the consume that asked, if any.
    async fn flush(&self, trigger: Trigger, caller: Option<u64>) -> Result<(), ConsumeError> {
        let _sending = self.send_lock.lock().await;
        let parts = {
            let mut pending = self.pending();
            if !self.due(&pending, trigger) {
                return Ok(());
            }
            pending.take()
        };
        let alone = caller.is_some() && parts.len() == 1 && Some(parts[0].seq) == caller;
        let parts = parts.into_iter().map(|p| p.data).collect();
        // A size trigger sends only while a full batch remains; the rest waits for more data.
        let keep_below = (trigger == Trigger::Size && !self.limits.immediate())
            .then_some(self.limits.send_batch_size);
        let leftover = self
            .send_parts(parts, alone, trigger != Trigger::Size, keep_below)
            .await?;
        if leftover.is_empty() {
            return Ok(());
        }
        let mut pending = self.pending();
        let was_empty = pending.items == 0;
        for data in leftover.into_iter().rev() {
            let seq = pending.next_seq;
            pending.next_seq += 1;
            pending.items += data.item_count();
            pending.parts.push_front(Part { seq, data });
        }
        // The leftover starts a fresh wait, as otelcol resets its timer after a size send.
        pending.first_at.get_or_insert_with(Instant::now);
        drop(pending);
        if was_empty {
            self.batch_started.notify_one();
        }
        Ok(())
    }

    /// Sends `parts` in batches of at most `send_batch_max_size`, in order. Returns the parts held
    /// back by `keep_below`, or the first error when `alone` and nothing was delivered yet (the
    /// caller retries all of it, so nothing is dropped).
    async fn send_parts(
        &self,
        mut parts: VecDeque<Telemetry>,
        alone: bool,
        by_timeout: bool,
        keep_below: Option<usize>,
    ) -> Result<VecDeque<Telemetry>, ConsumeError> {
        let mut remaining: usize = parts.iter().map(Telemetry::item_count).sum();
        let mut delivered_any = false;
        while remaining > 0 {
            if keep_below.is_some_and(|size| remaining < size) {
                return Ok(parts);
            }
            let chunk = match next_chunk(self.signal, &mut parts, self.limits.send_batch_max_size) {
                Ok(chunk) => chunk,
                Err(Unsplittable { error, items }) => {
                    remaining -= items;
                    let error =
                        ConsumeError::Permanent(format!("batch could not be split: {error}"));
                    self.fail(error, items, alone && !delivered_any)?;
                    delivered_any = true;
                    continue;
                }
            };
            let n = chunk.item_count();
            remaining -= n;
            match self.next.consume(chunk).await {
                Ok(()) => {
                    self.metrics.outgoing(self.signal, n);
                    self.metrics.batch_sent(n, by_timeout);
                }
                Err(e) => self.fail(e, n, alone && !delivered_any)?,
            }
            delivered_any = true;
        }
        Ok(VecDeque::new())
    }

    /// A failed send: the caller's own error when `alone`, else counted as dropped and logged.
    fn fail(&self, error: ConsumeError, items: usize, alone: bool) -> Result<(), ConsumeError> {
        if alone {
            return Err(error);
        }
        self.metrics.dropped(self.signal, items);
        tracing::warn!(
            processor = %self.id,
            signal = %self.signal,
            items,
            error = %error,
            "Sender failed; the batch was dropped"
        );
        Ok(())
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
                    _ = tokio::time::sleep_until(deadline) => {
                        // Nobody waits on a timed flush: its failures are counted in `fail`.
                        let _ = self.flush(Trigger::Timeout, None).await;
                    }
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
        let queued = {
            let mut pending = shared.pending();
            if pending.closed {
                Err(data)
            } else {
                let first = pending.items == 0;
                let seq = pending.push(data);
                Ok((seq, first, shared.due(&pending, Trigger::Size)))
            }
        };
        let (seq, first, size_reached) = match queued {
            Ok(queued) => queued,
            Err(data) => {
                return shared
                    .send_parts(VecDeque::from([data]), true, false, None)
                    .await
                    .map(drop);
            }
        };
        if first {
            shared.batch_started.notify_one();
        }
        if size_reached {
            shared.flush(Trigger::Size, Some(seq)).await
        } else {
            Ok(())
        }
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
        // Failures are counted as dropped inside; shutdown itself goes on.
        let _ = self.shared.flush(Trigger::Shutdown, None).await;
        Ok(())
    }
}
