//! The writer thread: the only owner of the segment being filled and of the acknowledgement log.
//! It takes every job waiting at that moment and handles them together (group commit): one
//! `writev` for the records and one `fdatasync` when `fsync` is on, one write for the
//! acknowledgements (never synced: losing one only means a request is sent twice), then wakes
//! every producer whose record is now written.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

use super::record::{self, HEADER_LEN, RecordMeta};
use super::recovery::{self, ACKS_FILE, SegmentBook};
use super::{Entry, Held, Shared};
use crate::consumer::ConsumeError;
use crate::signal::Telemetry;

/// A batch stops growing at this many records (two iovecs each; IOV_MAX is 1024) or bytes.
const MAX_BATCH_RECORDS: usize = 500;
const MAX_BATCH_BYTES: usize = 16 << 20;
/// The acknowledgement log is rewritten once it holds this many records and four times more than
/// the live segments still need.
const ACK_REWRITE_MIN: usize = 16_384;

type Reply = Option<oneshot::Sender<Result<(), ConsumeError>>>;
/// Tells a producer its record is written, or hands its request back.
type Written = oneshot::Sender<Result<(), (Telemetry, Reply)>>;

pub(super) struct Append {
    pub data: Telemetry,
    pub payload: Bytes,
    pub payload_crc: crc32fast::Hasher,
    pub items: u64,
    pub size: usize,
    pub reply: Reply,
    /// `Ok` once written; on failure the request comes back (its capacity already released).
    pub written: Written,
}

pub(super) enum Job {
    Append(Append),
    Ack(u64),
    Stop(oneshot::Sender<()>),
}

struct Active {
    first: u64,
    file: File,
    len: u64,
}

/// A record on its way to disk, with the header that will precede it.
struct Pending {
    append: Append,
    header: [u8; HEADER_LEN],
    ticket: u64,
}

pub(super) struct Writer {
    shared: Arc<Shared>,
    dir: PathBuf,
    fsync: bool,
    segment_bytes: u64,
    active: Option<Active>,
    segments: BTreeMap<u64, SegmentBook>,
    next_ticket: u64,
    acks: File,
    ack_records: usize,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        segments: BTreeMap<u64, SegmentBook>,
        next_ticket: u64,
        ack_records: usize,
    ) -> io::Result<Writer> {
        let dir = shared.dir().clone();
        let acks = open_append(&dir.join(ACKS_FILE))?;
        Ok(Writer {
            fsync: shared.options.location.fsync,
            segment_bytes: shared.options.segment_bytes.max(1),
            shared,
            dir,
            active: None,
            segments,
            next_ticket,
            acks,
            ack_records,
        })
    }

    pub(super) fn run(mut self, jobs: mpsc::Receiver<Job>) {
        let mut stop = None;
        while stop.is_none() {
            let Ok(first) = jobs.recv() else { break };
            let mut appends = Vec::new();
            let mut acks = Vec::new();
            let mut bytes = 0;
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Append(append) => {
                        bytes += append.payload.len();
                        appends.push(append);
                    }
                    Job::Ack(ticket) => acks.push(ticket),
                    Job::Stop(reply) => {
                        stop = Some(reply);
                        break;
                    }
                }
                if appends.len() < MAX_BATCH_RECORDS && bytes < MAX_BATCH_BYTES {
                    next = jobs.try_recv().ok();
                }
            }
            self.append(appends);
            self.acknowledge(acks);
        }
        self.finish();
        if let Some(reply) = stop {
            let _ = reply.send(());
        }
    }

    fn append(&mut self, appends: Vec<Append>) {
        let mut pending: Vec<Pending> = Vec::with_capacity(appends.len());
        let mut pending_bytes = 0u64;
        let mut written = Vec::with_capacity(appends.len());
        for append in appends {
            let record_len = (HEADER_LEN + append.payload.len()) as u64;
            let full = self.active.as_ref().is_some_and(|active| {
                active.len > 0 && active.len + pending_bytes + record_len > self.segment_bytes
            });
            if full {
                self.flush(&mut pending, &mut written);
                pending_bytes = 0;
                self.seal();
            }
            if self.active.is_none()
                && let Err(e) = self.open_segment()
            {
                self.fail(append, &e);
                continue;
            }
            let ticket = self.next_ticket;
            self.next_ticket += 1;
            let meta = RecordMeta {
                signal: self.shared.options.signal,
                ticket,
                size: append.size as u64,
                items: append.items,
            };
            let header = record::header(&meta, append.payload.len(), &append.payload_crc);
            pending_bytes += record_len;
            pending.push(Pending {
                append,
                header,
                ticket,
            });
        }
        self.flush(&mut pending, &mut written);
        let mut replies = Vec::with_capacity(written.len());
        let entries: Vec<Entry> = written
            .into_iter()
            .map(|(entry, reply)| {
                replies.push(reply);
                entry
            })
            .collect();
        self.shared.publish(entries);
        for reply in replies {
            let _ = reply.send(Ok(()));
        }
    }

    /// Writes `pending` to the active segment. Written records move to `written`; on failure the
    /// segment is cut back, sealed, and every pending request is refused.
    fn flush(&mut self, pending: &mut Vec<Pending>, written: &mut Vec<(Entry, Written)>) {
        if pending.is_empty() {
            return;
        }
        let active = self
            .active
            .as_mut()
            .expect("a segment is open while records are pending");
        let start = active.len;
        let mut slices: Vec<IoSlice<'_>> = pending
            .iter()
            .flat_map(|p| [IoSlice::new(&p.header), IoSlice::new(&p.append.payload)])
            .collect();
        let total: u64 = pending
            .iter()
            .map(|p| (HEADER_LEN + p.append.payload.len()) as u64)
            .sum();
        let result = write_all_vectored(&mut active.file, &mut slices).and_then(|()| {
            if self.fsync {
                active.file.sync_data()
            } else {
                Ok(())
            }
        });
        drop(slices);
        if let Err(e) = result {
            // Leave no half record behind; if even that fails, recovery will cut it.
            let _ = active.file.set_len(start);
            let _ = active.file.seek(SeekFrom::Start(start));
            self.seal();
            for p in pending.drain(..) {
                self.fail(p.append, &e);
            }
            return;
        }
        active.len += total;
        let segment = active.first;
        let book = self.segments.entry(segment).or_default();
        let mut offset = start;
        for p in pending.drain(..) {
            let len = (HEADER_LEN + p.append.payload.len()) as u64;
            book.unacked += 1;
            written.push((
                Entry {
                    ticket: p.ticket,
                    segment,
                    offset,
                    len,
                    items: p.append.items,
                    size: p.append.size,
                    context: p.append.data.context().clone(),
                    held: Held::Resident(p.append.data),
                    reply: p.append.reply,
                },
                p.append.written,
            ));
            offset += len;
        }
    }

    fn fail(&self, append: Append, error: &io::Error) {
        tracing::error!(
            exporter = %self.shared.options.owner,
            data_type = %self.shared.options.signal,
            directory = %self.dir.display(),
            error = %error,
            "persistent queue: could not write a request"
        );
        self.shared.release(append.size);
        let _ = append.written.send(Err((append.data, append.reply)));
    }

    fn open_segment(&mut self) -> io::Result<()> {
        let first = self.next_ticket;
        let path = self.dir.join(recovery::segment_name(first));
        let file = recovery::create_file(&path)?;
        if self.fsync {
            recovery::sync_dir(&self.dir)?;
        }
        self.active = Some(Active {
            first,
            file,
            len: 0,
        });
        Ok(())
    }

    /// Stops writing to the active segment; it is deleted at once if nothing in it is pending.
    fn seal(&mut self) {
        if let Some(active) = self.active.take()
            && self
                .segments
                .get(&active.first)
                .is_none_or(|book| book.unacked == 0)
        {
            self.delete_segment(active.first);
        }
    }

    fn acknowledge(&mut self, tickets: Vec<u64>) {
        if tickets.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(tickets.len() * record::ACK_LEN);
        for ticket in &tickets {
            buf.extend_from_slice(&record::ack(*ticket));
        }
        // Never synced, even with `fsync`: an acknowledgement lost to a power loss only means
        // the request is sent again, and a sync here would double the cost of every batch.
        match self.acks.write_all(&buf) {
            Ok(()) => self.ack_records += tickets.len(),
            Err(e) => tracing::warn!(
                exporter = %self.shared.options.owner,
                data_type = %self.shared.options.signal,
                error = %e,
                "persistent queue: could not record acknowledgements; those requests may be sent again after a restart"
            ),
        }
        let active = self.active.as_ref().map(|a| a.first);
        let mut emptied = Vec::new();
        for ticket in tickets {
            let Some((&first, book)) = self.segments.range_mut(..=ticket).next_back() else {
                continue;
            };
            book.unacked = book.unacked.saturating_sub(1);
            book.acked.push(ticket);
            if book.unacked == 0 && Some(first) != active {
                emptied.push(first);
            }
        }
        for first in emptied {
            self.delete_segment(first);
        }
    }

    fn delete_segment(&mut self, first: u64) {
        self.segments.remove(&first);
        self.shared.forget_reader(first);
        let path = self.dir.join(recovery::segment_name(first));
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(file = %path.display(), error = %e, "persistent queue: could not delete a sent segment");
        }
        let live: usize = self.segments.values().map(|b| b.acked.len()).sum();
        if self.ack_records >= ACK_REWRITE_MIN && self.ack_records >= 4 * live {
            self.rewrite_acks();
        }
    }

    fn rewrite_acks(&mut self) {
        let tickets = self.segments.values().flat_map(|b| &b.acked);
        let result = recovery::rewrite_acks(&self.dir, tickets, self.fsync)
            .and_then(|records| Ok((records, open_append(&self.dir.join(ACKS_FILE))?)));
        match result {
            Ok((records, file)) => {
                self.ack_records = records;
                self.acks = file;
            }
            Err(e) => tracing::warn!(
                directory = %self.dir.display(),
                error = %e,
                "persistent queue: could not rewrite the acknowledgement log"
            ),
        }
    }

    /// On stop: the active segment goes if everything in it was acknowledged, and the
    /// acknowledgements reach the device (with `fsync`) so a clean stop resends nothing.
    fn finish(&mut self) {
        self.seal();
        if self.fsync {
            let _ = self.acks.sync_data();
        }
    }
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a record back for a taker and checks it is the one expected.
pub(super) fn read_back(
    shared: &Shared,
    segment: u64,
    offset: u64,
    len: u64,
    ticket: u64,
) -> Result<Bytes, String> {
    use std::os::unix::fs::FileExt;
    let file = shared.reader(segment).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| e.to_string())?;
    let frame: [u8; record::FRAME_LEN] = buf[..record::FRAME_LEN].try_into().expect("8 bytes");
    let meta = record::parse(&frame, &buf[record::FRAME_LEN..]).map_err(|e| e.to_string())?;
    if meta.ticket != ticket {
        return Err(format!(
            "found ticket {} where {ticket} was written",
            meta.ticket
        ));
    }
    Ok(Bytes::from(buf).slice(HEADER_LEN..))
}
