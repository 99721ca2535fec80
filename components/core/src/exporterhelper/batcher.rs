//! Batches formed as the sending queue is read (otelcol's `sending_queue.batch`).
//!
//! A client is answered once its request is in the queue; the workers then take requests and join
//! them, by byte concatenation, into batches per partition: the exporter's own `sending_queue.batch`
//! settings when it has them, else those a `batch` processor upstream attached to the data
//! ([`BatchHint`]), else none (each request leaves as it came). A partition's batch leaves once it
//! holds `min_size`, or when its first request has waited `flush_timeout`; no batch holds more than
//! `max_size` (a request is split across two batches if need be).
//!
//! Each queued request becomes a [`Member`] of the batches that carry its items; it is marked done
//! in the queue (and its waiting caller answered) when the last of them settles. A request whose
//! batch was interrupted by shutdown is not marked done: a persistent queue keeps it on disk.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::config::{QueueConfig, Sizer};
use super::queue::{Queue, QueuedRequest, Taken};
use crate::batching::{BatchHint, BatchSettings, Partitioner};
use crate::consumer::ConsumeError;
use crate::signal::{Signal, Telemetry};

/// One queued request, shared by the batches that carry its items.
struct Member {
    queue: Arc<dyn Queue>,
    ticket: u64,
    size: usize,
    /// A persistent queue keeps an interrupted request for the next start.
    persistent: bool,
    state: Mutex<MemberState>,
}

struct MemberState {
    reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
    error: Option<ConsumeError>,
    interrupted: bool,
}

impl Drop for Member {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if state.interrupted && self.persistent {
            return;
        }
        self.queue.done(self.ticket, self.size);
        let result = if state.interrupted {
            Err(ConsumeError::refused("the exporter stopped before sending"))
        } else {
            state.error.take().map_or(Ok(()), Err)
        };
        if let Some(reply) = state.reply.take() {
            let _ = reply.send(result);
        }
    }
}

/// Some of a member's items, in one batch. Dropped unsettled, it marks its member interrupted.
struct Part {
    member: Arc<Member>,
    settled: bool,
}

impl Part {
    fn of(member: &Arc<Member>) -> Part {
        Part {
            member: member.clone(),
            settled: false,
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.settled {
            let mut state = self.member.state.lock().unwrap_or_else(|p| p.into_inner());
            state.interrupted = true;
        }
    }
}

/// What a worker sends: one or more requests joined.
pub(crate) struct Batch {
    pub data: Telemetry,
    parts: Vec<Part>,
}

impl Batch {
    /// The batch was delivered, or failed for good (`result` goes to every waiting caller).
    pub fn settle(mut self, result: Result<(), ConsumeError>) {
        for part in &mut self.parts {
            if let Err(error) = &result {
                let mut state = part.member.state.lock().unwrap_or_else(|p| p.into_inner());
                state.error.get_or_insert_with(|| error.clone());
            }
            part.settled = true;
        }
    }

    /// Shutdown stopped the send: a persistent queue keeps these requests for the next start.
    pub fn interrupt(self) {
        drop(self);
    }
}

/// Requests that may be joined: same batch processor (or the exporter's own settings), same
/// metadata partition.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PartitionKey {
    origin: Option<Arc<str>>,
    partition: Option<Arc<str>>,
}

struct Pending {
    settings: BatchSettings,
    /// The processor that asked for these batches, told of each one formed.
    hint: Option<Arc<BatchHint>>,
    parts: VecDeque<(Telemetry, Part)>,
    size: usize,
    first_at: Instant,
}

impl Pending {
    fn deadline(&self) -> Instant {
        self.first_at + self.settings.flush_timeout
    }

    fn full(&self) -> bool {
        self.size >= self.settings.min_size.max(1)
    }
}

fn measure(data: &Telemetry, bytes: bool) -> usize {
    if bytes {
        data.encoded_len()
    } else {
        data.item_count()
    }
}

#[derive(Default)]
struct Forming {
    pending: HashMap<PartitionKey, Pending>,
    closed: bool,
}

impl Forming {
    /// The partition whose batch should leave now, if any.
    fn due(&self, now: Instant) -> Option<PartitionKey> {
        self.pending
            .iter()
            .find(|(_, p)| self.closed || p.full() || p.deadline() <= now)
            .map(|(key, _)| key.clone())
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(Pending::deadline).min()
    }

    /// Cuts up to `max_size` off the front of a partition.
    fn cut(&mut self, key: &PartitionKey, signal: Signal, now: Instant) -> Batch {
        let pending = self.pending.get_mut(key).expect("a due partition exists");
        let by_size = pending.full();
        let (max, bytes) = (pending.settings.max_size, pending.settings.bytes);
        let mut room = if max == 0 { usize::MAX } else { max };
        let (mut joined, mut parts) = (Vec::new(), Vec::new());
        while let Some((data, part)) = pending.parts.pop_front() {
            let size = measure(&data, bytes);
            if size <= room || (joined.is_empty() && bytes) {
                room = room.saturating_sub(size);
                pending.size -= size;
                joined.push(data);
                parts.push(part);
                continue;
            }
            // Only item counts can be cut at an exact point; bytes batches hold whole requests.
            if !bytes && room > 0 {
                match data.clone().split_at(room) {
                    Ok((head, tail)) => {
                        pending.size -= head.item_count();
                        let tail_part = Part::of(&part.member);
                        joined.push(head);
                        parts.push(part);
                        pending.parts.push_front((tail, tail_part));
                        break;
                    }
                    Err(_) if joined.is_empty() => {
                        // Unsplittable: it leaves whole and the sender reports what it finds.
                        pending.size -= size;
                        joined.push(data);
                        parts.push(part);
                        break;
                    }
                    Err(_) => {}
                }
            }
            pending.parts.push_front((data, part));
            break;
        }
        let data = Telemetry::concat(signal, joined);
        if let Some(hint) = &pending.hint {
            hint.metrics.batch_sent(data.item_count(), !by_size);
        }
        if pending.parts.is_empty() {
            self.pending.remove(key);
        } else {
            // What is left starts a fresh wait, as otelcol's batcher resets its timer.
            pending.first_at = now;
        }
        Batch { data, parts }
    }
}

/// The exporter's own `sending_queue.batch`, which overrides any batch processor's.
struct OwnBatching {
    settings: BatchSettings,
    partitioner: Option<Partitioner>,
}

/// Forms batches for one signal's queue; shared by its workers, one forming at a time.
pub(crate) struct Former {
    signal: Signal,
    persistent: bool,
    own: Option<OwnBatching>,
    forming: tokio::sync::Mutex<Forming>,
    /// The cardinality limit was passed (logged once).
    over_cardinality: AtomicBool,
}

impl Former {
    pub fn new(signal: Signal, queue: &QueueConfig, persistent: bool) -> Former {
        let own = queue.batch.as_ref().map(|batch| {
            let sizer = batch.sizer.unwrap_or(queue.sizer);
            OwnBatching {
                settings: BatchSettings {
                    min_size: usize::try_from(batch.min_size).unwrap_or(0),
                    max_size: usize::try_from(batch.max_size).unwrap_or(0),
                    flush_timeout: batch.flush_timeout.as_duration(),
                    bytes: sizer == Sizer::Bytes,
                },
                partitioner: batch.partition.as_ref().and_then(|p| {
                    Partitioner::new(
                        &p.metadata_keys,
                        usize::try_from(p.cardinality_limit).unwrap_or(0),
                    )
                }),
            }
        });
        Former {
            signal,
            persistent,
            own,
            forming: tokio::sync::Mutex::new(Forming::default()),
            over_cardinality: AtomicBool::new(false),
        }
    }

    /// The next batch to send; `None` once the queue is closed and everything taken has left.
    pub async fn next(&self, queue: &Arc<dyn Queue>) -> Option<Batch> {
        let mut forming = self.forming.lock().await;
        loop {
            let now = Instant::now();
            if let Some(key) = forming.due(now) {
                return Some(forming.cut(&key, self.signal, now));
            }
            if forming.closed {
                return None;
            }
            match queue.take_until(forming.next_deadline()).await {
                Taken::Request(request) => {
                    if let Some(batch) = self.add(&mut forming, queue, request, now) {
                        return Some(batch);
                    }
                }
                Taken::TimedOut => {}
                Taken::Closed => forming.closed = true,
            }
        }
    }

    /// Files a request under its partition; a request nobody asked to batch leaves at once.
    fn add(
        &self,
        forming: &mut Forming,
        queue: &Arc<dyn Queue>,
        request: QueuedRequest,
        now: Instant,
    ) -> Option<Batch> {
        let QueuedRequest {
            data,
            size,
            ticket,
            reply,
        } = request;
        let member = Arc::new(Member {
            queue: queue.clone(),
            ticket,
            size,
            persistent: self.persistent,
            state: Mutex::new(MemberState {
                reply,
                error: None,
                interrupted: false,
            }),
        });
        let part = Part::of(&member);
        let (key, settings, hint) = match (&self.own, &data.context().batch) {
            (Some(own), _) => {
                let partition = match &own.partitioner {
                    None => None,
                    Some(partitioner) => {
                        match partitioner.partition(data.context().metadata.as_deref()) {
                            Ok(partition) => Some(partition),
                            Err(error) => {
                                // Past the cardinality limit: this request leaves on its own,
                                // said once rather than for every request.
                                if !self.over_cardinality.swap(true, Ordering::Relaxed) {
                                    tracing::warn!(error = %error, "sending_queue::batch::partition: requests of new metadata combinations are sent unbatched");
                                }
                                return Some(Batch {
                                    data,
                                    parts: vec![part],
                                });
                            }
                        }
                    }
                };
                let key = PartitionKey {
                    origin: None,
                    partition,
                };
                (key, own.settings, None)
            }
            (None, Some(hint)) => {
                let key = PartitionKey {
                    origin: Some(hint.origin.clone()),
                    partition: hint.partition.clone(),
                };
                (key, hint.settings, Some(hint.clone()))
            }
            (None, None) => {
                return Some(Batch {
                    data,
                    parts: vec![part],
                });
            }
        };
        let pending = forming.pending.entry(key).or_insert_with(|| Pending {
            settings,
            hint,
            parts: VecDeque::new(),
            size: 0,
            first_at: now,
        });
        pending.size += measure(&data, settings.bytes);
        pending.parts.push_back((data, part));
        None
    }
}

#[cfg(test)]
#[path = "batcher_tests.rs"]
mod tests;
