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
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn due(&self, pending: &Pending, trigger: Trigger) -> bool {
        if pending.items == 0 {
            return false;
        }
        match trigger {
            Trigger::Size => self.limits.immediate() || pending.items >= self.limits.send_batch_size,
            Trigger::Timeout => pending.first_at.is_some_and(|t| t.elapsed() >= self.limits.timeout),
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
        let items: usize = parts.iter().map(|p| p.data.item_count()).sum();
        let joined = Telemetry::concat(self.signal, parts.into_iter().map(|p| p.data).collect());
        let chunks = match joined.split(self.limits.send_batch_max_size) {
            Ok(chunks) => chunks,
            Err(e) => {
                let error = ConsumeError::Permanent(format!("batch could not be split: {e}"));
                return self.fail(error, items, alone);
            }
        };
        // A size trigger sends only while a full batch remains; the rest waits for more data.
        let keep_below = (trigger == Trigger::Size && !self.limits.immediate()).then_some(self.limits.send_batch_size);
        let leftover = self.send_chunks(chunks, items, alone, trigger != Trigger::Size, keep_below).await?;
        if !leftover.is_empty() {
            let mut pending = self.pending();
            let was_empty = pending.items == 0;
            let rest = Telemetry::concat(self.signal, leftover);
            let seq = pending.next_seq;
            pending.next_seq += 1;
            pending.items += rest.item_count();
            // The leftover starts a fresh wait, as otelcol resets its timer after a size send.
            pending.first_at = Some(pending.first_at.map_or_else(Instant::now, |t| t.min(Instant::now())));
            pending.parts.push_front(Part { seq, data: rest });
            drop(pending);
            if was_empty {
                self.batch_started.notify_one();
            }
        }
        Ok(())
    }

    /// Sends chunks in order. Returns the chunks held back by `keep_below`, or the first error when
    /// `alone` and nothing was delivered yet (the caller retries all of it, so nothing is dropped).
    async fn send_chunks(
        &self,
        chunks: Vec<Telemetry>,
        mut remaining: usize,
        alone: bool,
        by_timeout: bool,
        keep_below: Option<usize>,
    ) -> Result<Vec<Telemetry>, ConsumeError> {
        let mut chunks = chunks.into_iter();
        let mut delivered_any = false;
        while let Some(chunk) = chunks.next() {
            if keep_below.is_some_and(|size| remaining < size) {
                return Ok(std::iter::once(chunk).chain(chunks).collect());
            }
            let n = chunk.item_count();
            remaining -= n;
            match self.next.consume(chunk).await {
                Ok(()) => {
                    delivered_any = true;
                    self.metrics.outgoing(self.signal, n);
                    self.metrics.batch_sent(n, by_timeout);
                }
                Err(e) if alone && !delivered_any => return Err(e),
                Err(e) => {
                    self.fail(e, n, false)?;
                    delivered_any = true;
                }
            }
        }
        Ok(Vec::new())
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
                    _ = stop.changed() => {}
                },
                Some(deadline) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {
                        // Nobody waits on a timed flush: its failures are counted in `fail`.
                        let _ = self.flush(Trigger::Timeout, None).await;
                    }
                    _ = stop.changed() => {}
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
    pub(crate) fn new(signal: Signal, limits: Limits, next: ConsumerRef, metrics: ProcessorMetrics, id: String) -> Self {
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
        BatchProcessor { shared: Arc::new(shared), stop: watch::channel(false).0, timer: Mutex::new(None) }
    }

    fn timer(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.timer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let (seq, first, closed) = {
            let mut pending = shared.pending();
            if pending.closed {
                (None, false, Some(data))
            } else {
                let first = pending.items == 0;
                (Some(pending.push(data)), first, None)
            }
        };
        if let Some(data) = closed {
            let chunks = data.split(shared.limits.send_batch_max_size).map_err(|e| ConsumeError::Permanent(e.to_string()))?;
            return shared.send_chunks(chunks, items, true, true, None).await.map(drop);
        }
        if first {
            shared.batch_started.notify_one();
        }
        let size_reached = {
            let pending = shared.pending();
            shared.due(&pending, Trigger::Size)
        };
        if size_reached { shared.flush(Trigger::Size, seq).await } else { Ok(()) }
    }
}

#[async_trait]
impl Lifecycle for BatchProcessor {
    async fn start(&self) -> anyhow::Result<()> {
        let mut timer = self.timer();
        if timer.is_none() && !self.shared.limits.immediate() && !*self.stop.borrow() {
            *timer = Some(tokio::spawn(self.shared.clone().run_timer(self.stop.subscribe())));
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
