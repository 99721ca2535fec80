//! The sending queue behind a small trait, so a persistent queue (the `file_storage` extension)
//! can take the in-memory one's place.
//!
//! Capacity is held from `offer` until `done`: a batch being sent or retried still counts, as in
//! otelcol ("the maximum data size allowed for concurrent storage and processing").

use async_trait::async_trait;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::consumer::ConsumeError;
use crate::signal::Telemetry;

/// A batch in the queue. `reply` is set when the producer waits for the outcome (`wait_for_result`).
pub struct QueuedRequest {
    pub data: Telemetry,
    /// In the queue's sizer units.
    pub size: usize,
    /// The queue's own handle for the request (a persistent queue's storage key); the memory
    /// queue does not use it.
    pub ticket: u64,
    pub reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
}

impl std::fmt::Debug for QueuedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedRequest")
            .field("signal", &self.data.signal())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl QueuedRequest {
    pub fn new(data: Telemetry, size: usize) -> Self {
        QueuedRequest {
            data,
            size,
            ticket: 0,
            reply: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferError {
    /// No room now (and the caller did not want to wait).
    Full,
    /// The batch is larger than the whole queue: it can never fit.
    TooLarge,
    /// The queue is closed for shutdown.
    Closed,
    /// A persistent queue could not write the request (disk full, I/O error); it logged why.
    Storage,
}

/// What [`Queue::take_until`] found.
#[derive(Debug)]
pub enum Taken {
    Request(QueuedRequest),
    /// Nothing came before the deadline.
    TimedOut,
    /// The queue is closed and empty.
    Closed,
}

/// Waits for `wakeup` until `deadline`; false when the deadline passed first. Only the wait is
/// cancelled, never a take that already popped a request, so a timed take loses nothing.
pub(crate) async fn wait_until(
    wakeup: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    deadline: Option<Instant>,
) -> bool {
    match deadline {
        None => {
            wakeup.await;
            true
        }
        Some(deadline) => tokio::time::timeout_at(deadline, wakeup).await.is_ok(),
    }
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Adds a request. When there is no room it is handed back, unless `wait` asks to wait for
    /// room (which still fails once the queue closes).
    async fn offer(
        &self,
        request: QueuedRequest,
        wait: bool,
    ) -> Result<(), (QueuedRequest, OfferError)>;

    /// The oldest request, waiting for one until `deadline` (forever with `None`).
    async fn take_until(&self, deadline: Option<Instant>) -> Taken;

    /// The oldest request; `None` once the queue is closed and empty.
    async fn take(&self) -> Option<QueuedRequest> {
        match self.take_until(None).await {
            Taken::Request(request) => Some(request),
            Taken::TimedOut | Taken::Closed => None,
        }
    }

    /// Releases a request that was taken, once it was sent or dropped (its `ticket` and `size`).
    fn done(&self, ticket: u64, size: usize);

    /// Stops accepting; takers drain what is left, then see `None`.
    fn close(&self);

    /// Removes and returns what is still queued (releasing its capacity), for a forced shutdown.
    fn drain(&self) -> Vec<QueuedRequest>;

    /// Used capacity, in sizer units.
    fn size(&self) -> usize;

    fn capacity(&self) -> usize;
}

struct State {
    items: VecDeque<QueuedRequest>,
    used: usize,
    closed: bool,
}

/// A bounded in-memory queue: a mutex-guarded deque and two wake-up signals.
pub struct MemoryQueue {
    state: Mutex<State>,
    capacity: usize,
    not_empty: Notify,
    has_room: Notify,
    size_gauge: Gauge,
}

impl MemoryQueue {
    /// `size_gauge` follows the used capacity (otelcol's `otelcol_exporter_queue_size`).
    pub fn new(capacity: usize, size_gauge: Gauge) -> Self {
        MemoryQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                used: 0,
                closed: false,
            }),
            capacity,
            not_empty: Notify::new(),
            has_room: Notify::new(),
            size_gauge,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_gauge(&self, used: usize) {
        self.size_gauge.set(used as i64);
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn offer(
        &self,
        request: QueuedRequest,
        wait: bool,
    ) -> Result<(), (QueuedRequest, OfferError)> {
        if request.size > self.capacity {
            return Err((request, OfferError::TooLarge));
        }
        loop {
            // Registered before the check, so room freed in between is not missed.
            let room = self.has_room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Err((request, OfferError::Closed));
                }
                if state.used + request.size <= self.capacity {
                    state.used += request.size;
                    state.items.push_back(request);
                    self.set_gauge(state.used);
                    drop(state);
                    self.not_empty.notify_one();
                    return Ok(());
                }
            }
            if !wait {
                return Err((request, OfferError::Full));
            }
            room.await;
        }
    }

    async fn take_until(&self, deadline: Option<Instant>) -> Taken {
        loop {
            let filled = self.not_empty.notified();
            tokio::pin!(filled);
            filled.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(request) = state.items.pop_front() {
                    return Taken::Request(request);
                }
                if state.closed {
                    return Taken::Closed;
                }
            }
            if !wait_until(filled, deadline).await {
                return Taken::TimedOut;
            }
        }
    }

    fn done(&self, _ticket: u64, size: usize) {
        let mut state = self.lock();
        state.used = state.used.saturating_sub(size);
        self.set_gauge(state.used);
        drop(state);
        self.has_room.notify_waiters();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_waiters();
        self.has_room.notify_waiters();
    }

    fn drain(&self) -> Vec<QueuedRequest> {
        let mut state = self.lock();
        let drained: Vec<QueuedRequest> = state.items.drain(..).collect();
        let released: usize = drained.iter().map(|r| r.size).sum();
        state.used = state.used.saturating_sub(released);
        self.set_gauge(state.used);
        drained
    }

    fn size(&self) -> usize {
        self.lock().used
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Signal;
    use std::sync::Arc;
    use std::time::Duration;

    fn request(size: usize) -> QueuedRequest {
        QueuedRequest::new(
            Telemetry::from_encoded(Signal::Logs, bytes::Bytes::new()).unwrap(),
            size,
        )
    }

    #[tokio::test]
    async fn capacity_is_held_until_done() {
        let gauge = Gauge::default();
        let q = MemoryQueue::new(3, gauge.clone());
        q.offer(request(2), false).await.unwrap();
        assert_eq!(
            q.offer(request(2), false).await.unwrap_err().1,
            OfferError::Full
        );
        assert_eq!(
            q.offer(request(4), true).await.unwrap_err().1,
            OfferError::TooLarge
        );
        let taken = q.take().await.unwrap();
        assert_eq!(gauge.get(), 2, "a taken request still counts");
        assert_eq!(
            q.offer(request(2), false).await.unwrap_err().1,
            OfferError::Full
        );
        q.done(taken.ticket, taken.size);
        assert_eq!(gauge.get(), 0);
        q.offer(request(2), false).await.unwrap();
        assert_eq!(q.size(), 2);
    }

    #[tokio::test]
    async fn a_waiting_offer_gets_in_when_room_frees() {
        let q = Arc::new(MemoryQueue::new(1, Gauge::default()));
        q.offer(request(1), false).await.unwrap();
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.offer(request(1), true).await.map_err(|e| e.1) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        let first = q.take().await.unwrap();
        q.done(first.ticket, first.size);
        waiting.await.unwrap().unwrap();
        assert_eq!(q.size(), 1);
    }

    #[tokio::test]
    async fn close_lets_takers_drain_then_stop_and_wakes_waiters() {
        let q = Arc::new(MemoryQueue::new(1, Gauge::default()));
        q.offer(request(1), false).await.unwrap();
        let blocked = tokio::spawn({
            let q = q.clone();
            async move { q.offer(request(1), true).await.map_err(|e| e.1) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        q.close();
        assert_eq!(blocked.await.unwrap().unwrap_err(), OfferError::Closed);
        assert!(q.take().await.is_some());
        assert!(q.take().await.is_none());
        let idle = Arc::new(MemoryQueue::new(1, Gauge::default()));
        let taker = tokio::spawn({
            let idle = idle.clone();
            async move { idle.take().await.is_none() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        idle.close();
        assert!(taker.await.unwrap());
    }
}
