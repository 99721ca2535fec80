//! Opening a queue directory after a stop or a crash: read the acknowledgements, replay every
//! segment in order, keep the records nobody acknowledged, and cut away a torn or damaged tail
//! (a record whose length runs past the end of its file, or whose checksum fails), reporting
//! what was dropped. Fully acknowledged segments are deleted and the acknowledgement log is
//! rewritten with only what the remaining segments still need.

use bytes::Bytes;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::record::{self, ACK_LEN, BODY_HEADER_LEN, FRAME_LEN, RecordError, RecordMeta};
use crate::signal::Signal;

pub(super) const ACKS_FILE: &str = "acks.wal";
const ACKS_TMP: &str = "acks.tmp";
const SEGMENT_PREFIX: &str = "segment-";
const SEGMENT_SUFFIX: &str = ".wal";

/// A segment is named after the first ticket it may hold, so names sort in ticket order.
pub(super) fn segment_name(first_ticket: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_ticket:020}{SEGMENT_SUFFIX}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?
        .parse()
        .ok()
}

/// A request found on disk that still has to be sent.
#[derive(Debug)]
pub(super) struct RecoveredRecord {
    pub segment: u64,
    /// Where the record (its frame) starts in the segment, and its whole length.
    pub offset: u64,
    pub len: u64,
    pub meta: RecordMeta,
    /// The payload, kept while the queue's in-memory budget allows; otherwise it is read again
    /// when the request is taken.
    pub payload: Option<Bytes>,
}

/// Bytes cut from the end of a file because they did not hold whole, intact records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Damage {
    pub file: PathBuf,
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

/// What the writer needs to know about a segment that still holds unacknowledged records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct SegmentBook {
    pub unacked: u64,
    /// Acknowledged tickets of this segment, kept for rewriting the acknowledgement log.
    pub acked: Vec<u64>,
}

#[derive(Debug)]
pub(super) struct Recovered {
    /// In ticket order: the order they were offered in.
    pub records: Vec<RecoveredRecord>,
    pub segments: BTreeMap<u64, SegmentBook>,
    pub next_ticket: u64,
    pub damage: Vec<Damage>,
    /// Records in the rewritten acknowledgement log.
    pub ack_records: usize,
}

/// Replays the queue directory `dir`. `resident_limit` bounds the payload bytes kept in memory.
pub(super) fn recover(
    dir: &Path,
    signal: Signal,
    resident_limit: usize,
    fsync: bool,
) -> io::Result<Recovered> {
    let _ = fs::remove_file(dir.join(ACKS_TMP));
    let mut damage = Vec::new();
    let (acked, ack_damage) = read_acks(&dir.join(ACKS_FILE))?;
    damage.extend(ack_damage);
    let mut max_ticket = acked.iter().copied().max();

    let mut firsts: Vec<u64> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();

    let mut records = Vec::new();
    let mut segments = BTreeMap::new();
    let mut resident = 0usize;
    for first in firsts {
        let path = dir.join(segment_name(first));
        let scan = scan_segment(&path, first, signal, &acked, resident_limit, &mut resident)?;
        damage.extend(scan.damage);
        max_ticket = max_ticket.max(scan.last_ticket).max(Some(first));
        if scan.unacked.is_empty() {
            fs::remove_file(&path)?;
            continue;
        }
        segments.insert(
            first,
            SegmentBook {
                unacked: scan.unacked.len() as u64,
                acked: scan.acked,
            },
        );
        records.extend(scan.unacked);
    }
    let ack_records = rewrite_acks(dir, segments.values().flat_map(|s| &s.acked), fsync)?;
    Ok(Recovered {
        records,
        segments,
        next_ticket: max_ticket.map_or(0, |t| t + 1),
        damage,
        ack_records,
    })
}

/// The acknowledged tickets; a torn or damaged tail of the log is cut away and reported (a lost
/// acknowledgement only means the request is sent again).
fn read_acks(path: &Path) -> io::Result<(HashSet<u64>, Option<Damage>)> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((HashSet::new(), None)),
        Err(e) => return Err(e),
    };
    let mut acked = HashSet::with_capacity(bytes.len() / ACK_LEN);
    let mut good = 0;
    let mut reason = None;
    for chunk in bytes.chunks(ACK_LEN) {
        let Ok(record) = <&[u8; ACK_LEN]>::try_from(chunk) else {
            reason = Some("an acknowledgement record cut short");
            break;
        };
        match record::parse_ack(record) {
            Some(ticket) => {
                acked.insert(ticket);
                good += ACK_LEN;
            }
            None => {
                reason = Some("an acknowledgement record failed its checksum");
                break;
            }
        }
    }
    let damage = match reason {
        Some(reason) => {
            OpenOptions::new()
                .write(true)
                .open(path)?
                .set_len(good as u64)?;
            Some(Damage {
                file: path.to_owned(),
                offset: good as u64,
                dropped_bytes: (bytes.len() - good) as u64,
                reason: reason.into(),
            })
        }
        None => None,
    };
    Ok((acked, damage))
}

#[derive(Debug, Default)]
pub(super) struct SegmentScan {
    pub unacked: Vec<RecoveredRecord>,
    pub acked: Vec<u64>,
    pub last_ticket: Option<u64>,
    pub damage: Option<Damage>,
}

/// Reads one segment front to back, checking every record, and truncates it after the last good
/// one. A record of an unknown format version is an error, not damage: it was written whole by a
/// newer build, and cutting it away would destroy data that build can still send.
pub(super) fn scan_segment(
    path: &Path,
    first: u64,
    signal: Signal,
    acked: &HashSet<u64>,
    resident_limit: usize,
    resident: &mut usize,
) -> io::Result<SegmentScan> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, &file);
    let mut scan = SegmentScan::default();
    let mut scratch = Vec::new();
    let mut pos = 0u64;
    let failure = loop {
        let left = file_len - pos;
        if left == 0 {
            break None;
        }
        if left < FRAME_LEN as u64 {
            break Some(format!("a record frame cut short after {left} bytes"));
        }
        let mut frame = [0u8; FRAME_LEN];
        reader.read_exact(&mut frame)?;
        let body_len = record::body_len(&frame);
        if left - (FRAME_LEN as u64) < body_len as u64 {
            break Some(format!(
                "a record of {} bytes runs past the end of the file ({left} bytes left)",
                FRAME_LEN + body_len
            ));
        }
        let payload_len = body_len.saturating_sub(BODY_HEADER_LEN);
        // Kept in memory only while the budget allows; reading into a scratch buffer otherwise.
        let keep = *resident + payload_len <= resident_limit;
        let mut owned = Vec::new();
        let body = if keep { &mut owned } else { &mut scratch };
        body.resize(body_len, 0);
        reader.read_exact(body)?;
        let meta = match record::parse(&frame, body) {
            Ok(meta) => meta,
            Err(RecordError::Version(v)) => {
                return Err(io::Error::other(format!(
                    "{}: holds a record of format version {v}, written by a newer ferrotel; refusing to replay it",
                    path.display()
                )));
            }
            Err(e) => break Some(e.to_string()),
        };
        if meta.signal != signal {
            break Some(format!(
                "a record holds {} data in a {signal} queue",
                meta.signal
            ));
        }
        if meta.ticket < first || scan.last_ticket.is_some_and(|last| meta.ticket <= last) {
            break Some(format!("ticket {} is out of order", meta.ticket));
        }
        scan.last_ticket = Some(meta.ticket);
        let len = (FRAME_LEN + body_len) as u64;
        if acked.contains(&meta.ticket) {
            scan.acked.push(meta.ticket);
        } else {
            let payload = keep.then(|| {
                *resident += payload_len;
                Bytes::from(owned).slice(BODY_HEADER_LEN..)
            });
            scan.unacked.push(RecoveredRecord {
                segment: first,
                offset: pos,
                len,
                meta,
                payload,
            });
        }
        pos += len;
    };
    drop(reader);
    if let Some(reason) = failure {
        file.set_len(pos)?;
        scan.damage = Some(Damage {
            file: path.to_owned(),
            offset: pos,
            dropped_bytes: file_len - pos,
            reason,
        });
    }
    Ok(scan)
}

/// Replaces the acknowledgement log with `tickets` (write a new file, then rename it over the old
/// one, so a crash leaves one or the other; with `fsync` a power loss does too). Returns how many
/// records it holds.
pub(super) fn rewrite_acks<'a>(
    dir: &Path,
    tickets: impl Iterator<Item = &'a u64>,
    fsync: bool,
) -> io::Result<usize> {
    let tmp = dir.join(ACKS_TMP);
    let mut buf = Vec::new();
    for ticket in tickets {
        buf.extend_from_slice(&record::ack(*ticket));
    }
    let mut file = create_file(&tmp)?;
    file.write_all(&buf)?;
    if fsync {
        file.sync_data()?;
    }
    fs::rename(&tmp, dir.join(ACKS_FILE))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(buf.len() / ACK_LEN)
}

/// Queue files are private to the collector's user.
pub(super) fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a file creation, rename or removal in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_in_ticket_order_and_parse_back() {
        let names: Vec<String> = [0u64, 9, 10, 123_456_789].map(segment_name).to_vec();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(parse_segment_name(&names[3]), Some(123_456_789));
        assert_eq!(parse_segment_name("acks.wal"), None);
        assert_eq!(parse_segment_name("segment-x.wal"), None);
    }
}
