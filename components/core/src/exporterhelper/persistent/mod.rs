//! The persistent sending queue (`sending_queue.storage: file_storage/x`): a write-ahead log in
//! the directory a storage extension gives each exporter and signal, so that what a client was
//! told is accepted survives a restart or a crash of the collector.
//!
//! - `offer` returns `Ok` once the request is written to the current segment (and synced to the
//!   device with `fsync: true`); a crash after that point loses nothing but what the kernel had
//!   not written yet on a power loss without `fsync`.
//! - One writer thread per queue owns the files. It takes every request waiting at that moment
//!   and writes them with one `writev` (and one `fdatasync`), so many producers share a sync.
//! - `done` appends the ticket to an acknowledgement log; a segment whose records are all
//!   acknowledged is deleted, so the directory holds only what is still to be sent (plus at most
//!   one segment being filled) and there is nothing to compact.
//! - Opening replays the directory: unacknowledged requests are delivered first, in the order they
//!   were offered; a torn or damaged tail is cut away, logged and counted in
//!   `otelcol_exporter_persistent_queue_corrupt_records`.
//! - Requests stay in memory up to a budget (`resident_bytes`); beyond it they are read back from
//!   disk when taken, so a long outage costs disk, not memory.
//!
//! Capacity is held from `offer` to `done`, in the sizer's units, as in the memory queue.

mod options;
mod record;
mod recovery;
mod writer;

pub use options::{
    DEFAULT_RESIDENT_BYTES, DEFAULT_SEGMENT_BYTES, PersistentOptions, corrupt_records_counter,
};

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use tokio::sync::{Notify, oneshot};

use super::config::Sizer;
use super::queue::{OfferError, Queue, QueuedRequest, Taken, wait_until};
use crate::batching::Context;
use crate::consumer::ConsumeError;
use crate::signal::Telemetry;
use tokio::time::Instant;
use writer::{Append, Job, Writer};

/// Where a queued request's data is now.
enum Held {
    Resident(Telemetry),
    /// Recovered bytes, not yet checked as OTLP.
    Encoded(Bytes),
    OnDisk,
}

struct Entry {
    ticket: u64,
    segment: u64,
    offset: u64,
    len: u64,
    items: u64,
    size: usize,
    held: Held,
    /// Kept in memory only: what a restart recovers carries no client metadata or batch hint.
    context: Context,
    reply: Option<oneshot::Sender<Result<(), ConsumeError>>>,
}

impl Entry {
    fn resident_bytes(&self) -> usize {
        match &self.held {
            Held::Resident(data) => data.encoded_len(),
            Held::Encoded(bytes) => bytes.len(),
            Held::OnDisk => 0,
        }
    }
}

struct State {
    ready: VecDeque<Entry>,
    ready_items: u64,
    /// Taken and not done yet: ticket → items.
    in_flight: HashMap<u64, u64>,
    used: usize,
    resident: usize,
    closed: bool,
}

/// What the queue handle, its takers and the writer thread share.
struct Shared {
    state: Mutex<State>,
    not_empty: Notify,
    has_room: Notify,
    options: PersistentOptions,
    /// Read handles on segments, for requests that are no longer held in memory.
    readers: Mutex<HashMap<u64, Arc<File>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dir(&self) -> &PathBuf {
        &self.options.location.directory
    }

    /// Gives back capacity held by a request that was refused or is done.
    fn release(&self, size: usize) {
        let mut state = self.lock();
        state.used = state.used.saturating_sub(size);
        self.options.size_gauge.set(state.used as i64);
        drop(state);
        self.has_room.notify_waiters();
    }

    /// Appends written requests (in ticket order) for the takers.
    fn publish(&self, entries: impl IntoIterator<Item = Entry>) {
        let mut state = self.lock();
        let mut added = 0;
        for mut entry in entries {
            let bytes = entry.resident_bytes();
            if state.resident + bytes > self.options.resident_bytes {
                entry.held = Held::OnDisk;
            } else {
                state.resident += bytes;
            }
            state.ready_items += entry.items;
            state.ready.push_back(entry);
            added += 1;
        }
        drop(state);
        for _ in 0..added {
            self.not_empty.notify_one();
        }
    }

    fn reader(&self, segment: u64) -> std::io::Result<Arc<File>> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = readers.get(&segment) {
            return Ok(file.clone());
        }
        let file = Arc::new(File::open(
            self.dir().join(recovery::segment_name(segment)),
        )?);
        readers.insert(segment, file.clone());
        Ok(file)
    }

    fn forget_reader(&self, segment: u64) {
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&segment);
    }

    fn count_corrupt(&self) {
        self.options.corrupt_records.inc();
    }
}

/// A [`Queue`] kept in a storage location; see the module docs.
pub struct PersistentQueue {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl PersistentQueue {
    /// Replays the directory and starts the writer. Fails when the directory cannot be read or
    /// holds data of a newer format; damage is repaired and reported, not an error.
    pub async fn open(options: PersistentOptions) -> anyhow::Result<PersistentQueue> {
        let dir = options.location.directory.clone();
        let (signal, resident, fsync) = (
            options.signal,
            options.resident_bytes,
            options.location.fsync,
        );
        let recovered =
            tokio::task::spawn_blocking(move || recovery::recover(&dir, signal, resident, fsync))
                .await?
                .map_err(|e| {
                    anyhow::anyhow!(
                        "persistent queue in {}: {e}",
                        options.location.directory.display()
                    )
                })?;
        for damage in &recovered.damage {
            tracing::warn!(
                exporter = %options.owner,
                data_type = %signal,
                file = %damage.file.display(),
                offset = damage.offset,
                dropped_bytes = damage.dropped_bytes,
                reason = %damage.reason,
                "persistent queue: dropped a torn or damaged tail while recovering"
            );
            options.corrupt_records.inc();
        }
        let mut state = State {
            ready: VecDeque::with_capacity(recovered.records.len()),
            ready_items: 0,
            in_flight: HashMap::new(),
            used: 0,
            resident: 0,
            closed: false,
        };
        for record in recovered.records {
            let meta = record.meta;
            let size = match options.sizer {
                Sizer::Requests => 1,
                Sizer::Items => meta.items as usize,
                Sizer::Bytes => (record.len as usize).saturating_sub(record::HEADER_LEN),
            };
            let held = match record.payload {
                Some(bytes) => {
                    state.resident += bytes.len();
                    Held::Encoded(bytes)
                }
                None => Held::OnDisk,
            };
            state.used += size;
            state.ready_items += meta.items;
            state.ready.push_back(Entry {
                ticket: meta.ticket,
                segment: record.segment,
                offset: record.offset,
                len: record.len,
                items: meta.items,
                size,
                held,
                context: Context::default(),
                reply: None,
            });
        }
        if !state.ready.is_empty() {
            tracing::info!(
                exporter = %options.owner,
                data_type = %signal,
                requests = state.ready.len(),
                items = state.ready_items,
                directory = %options.location.directory.display(),
                "persistent queue: resuming requests left from the last run"
            );
        }
        if state.used > options.capacity {
            tracing::warn!(
                exporter = %options.owner,
                data_type = %signal,
                used = state.used,
                capacity = options.capacity,
                "persistent queue: the recovered requests exceed queue_size; new data is refused until they are sent"
            );
        }
        options.size_gauge.set(state.used as i64);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            not_empty: Notify::new(),
            has_room: Notify::new(),
            options,
            readers: Mutex::new(HashMap::new()),
        });
        let (jobs, rx) = mpsc::channel();
        let writer = Writer::new(
            shared.clone(),
            recovered.segments,
            recovered.next_ticket,
            recovered.ack_records,
        )?;
        let handle = std::thread::Builder::new()
            .name(format!("ferrotel-queue-{signal}"))
            .spawn(move || writer.run(rx))?;
        Ok(PersistentQueue {
            shared,
            jobs,
            writer: Mutex::new(Some(handle)),
        })
    }

    pub fn directory(&self) -> &PathBuf {
        self.shared.dir()
    }

    /// Items queued or being sent: what stays on disk if the collector stops now.
    pub fn pending_items(&self) -> u64 {
        let state = self.shared.lock();
        state.ready_items + state.in_flight.values().sum::<u64>()
    }

    /// Writes out pending acknowledgements, closes the files and stops the writer. Requests not
    /// done stay on disk for the next start. Call after the takers have stopped.
    pub async fn shutdown(&self) {
        self.close();
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        self.shared
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Turns a taken entry into a request, reading it back from disk if needed. A record that
    /// can no longer be read or decoded is dropped, logged and counted; `None` then.
    async fn materialize(&self, entry: Entry) -> Option<QueuedRequest> {
        let signal = self.shared.options.signal;
        let context = entry.context;
        let data = match entry.held {
            Held::Resident(data) => Ok(data),
            Held::Encoded(bytes) => {
                Telemetry::from_encoded(signal, bytes).map_err(|e| format!("not valid OTLP: {e}"))
            }
            Held::OnDisk => {
                let shared = self.shared.clone();
                let (segment, offset, len, ticket) =
                    (entry.segment, entry.offset, entry.len, entry.ticket);
                tokio::task::spawn_blocking(move || {
                    writer::read_back(&shared, segment, offset, len, ticket)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
                .and_then(|bytes| {
                    Telemetry::from_encoded(signal, bytes)
                        .map_err(|e| format!("not valid OTLP: {e}"))
                })
            }
        };
        match data {
            Ok(mut data) => Some(QueuedRequest {
                data: {
                    data.set_context(context);
                    data
                },
                size: entry.size,
                ticket: entry.ticket,
                reply: entry.reply,
            }),
            Err(reason) => {
                tracing::error!(
                    exporter = %self.shared.options.owner,
                    data_type = %signal,
                    segment = %recovery::segment_name(entry.segment),
                    offset = entry.offset,
                    dropped_items = entry.items,
                    reason = %reason,
                    "persistent queue: dropping a request that can no longer be read"
                );
                self.shared.count_corrupt();
                self.done(entry.ticket, entry.size);
                if let Some(reply) = entry.reply {
                    let _ = reply.send(Err(ConsumeError::Permanent(reason)));
                }
                None
            }
        }
    }
}

impl Drop for PersistentQueue {
    fn drop(&mut self) {
        // The writer finishes what it was sent and exits once the channel is closed.
        self.close();
    }
}

#[async_trait]
impl Queue for PersistentQueue {
    async fn offer(
        &self,
        request: QueuedRequest,
        wait: bool,
    ) -> Result<(), (QueuedRequest, OfferError)> {
        let shared = &self.shared;
        if request.size > shared.options.capacity {
            return Err((request, OfferError::TooLarge));
        }
        let QueuedRequest {
            data, size, reply, ..
        } = request;
        let signal = data.signal();
        // Encode once; the worker then sends these very bytes.
        let payload = data.to_encoded();
        let context = data.context().clone();
        let data = match Telemetry::from_encoded(signal, payload.clone()) {
            Ok(mut encoded) => {
                encoded.set_context(context);
                encoded
            }
            Err(_) => data,
        };
        let request = |data: Telemetry, reply| QueuedRequest {
            data,
            size,
            ticket: 0,
            reply,
        };
        if payload.len() > record::MAX_PAYLOAD_LEN {
            return Err((request(data, reply), OfferError::TooLarge));
        }
        loop {
            let room = shared.has_room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = shared.lock();
                if state.closed {
                    return Err((request(data, reply), OfferError::Closed));
                }
                if state.used + size <= shared.options.capacity {
                    state.used += size;
                    shared.options.size_gauge.set(state.used as i64);
                    break;
                }
            }
            if !wait {
                return Err((request(data, reply), OfferError::Full));
            }
            room.await;
        }
        let (written, outcome) = oneshot::channel();
        let append = Append {
            items: data.item_count() as u64,
            payload_crc: record::payload_crc(&payload),
            payload: payload.clone(),
            data,
            size,
            reply,
            written,
        };
        if let Err(mpsc::SendError(job)) = self.jobs.send(Job::Append(append)) {
            shared.release(size);
            let Job::Append(append) = job else {
                unreachable!("the job sent was an append")
            };
            return Err((request(append.data, append.reply), OfferError::Storage));
        }
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((data, reply))) => Err((request(data, reply), OfferError::Storage)),
            // The writer died with the request (it released nothing): give the capacity back.
            Err(_) => {
                shared.release(size);
                let data = Telemetry::from_encoded(signal, payload)
                    .expect("these bytes were checked when the request was offered");
                Err((request(data, None), OfferError::Storage))
            }
        }
    }

    async fn take_until(&self, deadline: Option<Instant>) -> Taken {
        loop {
            let filled = self.shared.not_empty.notified();
            tokio::pin!(filled);
            filled.as_mut().enable();
            let entry = {
                let mut state = self.shared.lock();
                match state.ready.pop_front() {
                    Some(entry) => {
                        state.resident -= entry.resident_bytes();
                        state.ready_items -= entry.items;
                        state.in_flight.insert(entry.ticket, entry.items);
                        Some(entry)
                    }
                    None if state.closed => return Taken::Closed,
                    None => None,
                }
            };
            match entry {
                Some(entry) => {
                    if let Some(request) = self.materialize(entry).await {
                        return Taken::Request(request);
                    }
                }
                None => {
                    if !wait_until(filled, deadline).await {
                        return Taken::TimedOut;
                    }
                }
            }
        }
    }

    fn done(&self, ticket: u64, size: usize) {
        let mut state = self.shared.lock();
        state.in_flight.remove(&ticket);
        state.used = state.used.saturating_sub(size);
        self.shared.options.size_gauge.set(state.used as i64);
        drop(state);
        self.shared.has_room.notify_waiters();
        // Lost only if the writer is gone; the request is then sent again after a restart.
        let _ = self.jobs.send(Job::Ack(ticket));
    }

    fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.not_empty.notify_waiters();
        self.shared.has_room.notify_waiters();
    }

    /// A persistent queue hands nothing back: what is queued stays on disk for the next start.
    fn drain(&self) -> Vec<QueuedRequest> {
        Vec::new()
    }

    fn size(&self) -> usize {
        self.shared.lock().used
    }

    fn capacity(&self) -> usize {
        self.shared.options.capacity
    }
}

#[cfg(test)]
mod tests;
