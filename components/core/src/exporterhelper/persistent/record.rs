//! The bytes on disk. A segment is a run of records, each framed so that a reader can tell a
//! whole record from a torn or damaged one without trusting anything it has not checked:
//!
//! ```text
//! frame   u32 body_len (LE) | u32 crc32 over body_len's 4 bytes and the body
//! body    u8 version | u8 signal | 6 bytes zero | u64 ticket | u64 size | u64 items | payload
//! ```
//!
//! `size` is the request's size in the queue's sizer units when it was written (informational:
//! recovery sizes records with the sizer configured now); the payload is the OTLP export request
//! as protobuf. The acknowledgement log is a run of 12-byte records: u64 ticket | u32 crc32.

use crc32fast::Hasher;

use crate::signal::Signal;

pub(super) const FRAME_LEN: usize = 8;
pub(super) const BODY_HEADER_LEN: usize = 32;
pub(super) const HEADER_LEN: usize = FRAME_LEN + BODY_HEADER_LEN;
/// The largest payload a record can frame (its body length is a u32).
pub(super) const MAX_PAYLOAD_LEN: usize = u32::MAX as usize - BODY_HEADER_LEN;
pub(super) const ACK_LEN: usize = 12;
const VERSION: u8 = 1;

/// What a record says about the request it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RecordMeta {
    pub signal: Signal,
    pub ticket: u64,
    pub size: u64,
    pub items: u64,
}

fn signal_code(signal: Signal) -> u8 {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

fn signal_from_code(code: u8) -> Option<Signal> {
    Signal::ALL.into_iter().find(|s| signal_code(*s) == code)
}

/// The checksum state after the payload alone; the writer folds the header in later, once the
/// record has its ticket, so the payload is hashed outside the writer thread.
pub(super) fn payload_crc(payload: &[u8]) -> Hasher {
    let mut hasher = Hasher::new();
    hasher.update(payload);
    hasher
}

/// The header that goes before a payload of `payload_len` bytes whose checksum state is
/// `payload_crc`.
pub(super) fn header(
    meta: &RecordMeta,
    payload_len: usize,
    payload_crc: &Hasher,
) -> [u8; HEADER_LEN] {
    debug_assert!(payload_len <= MAX_PAYLOAD_LEN);
    let body_len = (BODY_HEADER_LEN + payload_len) as u32;
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&body_len.to_le_bytes());
    h[8] = VERSION;
    h[9] = signal_code(meta.signal);
    h[16..24].copy_from_slice(&meta.ticket.to_le_bytes());
    h[24..32].copy_from_slice(&meta.size.to_le_bytes());
    h[32..40].copy_from_slice(&meta.items.to_le_bytes());
    let mut crc = Hasher::new();
    crc.update(&h[0..4]);
    crc.update(&h[FRAME_LEN..]);
    crc.combine(payload_crc);
    h[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
    h
}

/// The body length a frame announces.
pub(super) fn body_len(frame: &[u8; FRAME_LEN]) -> usize {
    u32::from_le_bytes(frame[0..4].try_into().expect("4 bytes")) as usize
}

/// Why a record that is all there cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum RecordError {
    #[error("checksum mismatch")]
    Checksum,
    #[error("body of {0} bytes is shorter than a record header")]
    Short(usize),
    #[error("unknown signal code {0}")]
    Signal(u8),
    /// A well-formed record of a format this build does not know (written by a newer ferrotel).
    #[error("record format version {0} is not supported by this build")]
    Version(u8),
}

/// Checks a whole record (`frame` followed by `body_len(frame)` bytes of `body`) and reads its
/// header. The payload is `body[BODY_HEADER_LEN..]`.
pub(super) fn parse(frame: &[u8; FRAME_LEN], body: &[u8]) -> Result<RecordMeta, RecordError> {
    let mut crc = Hasher::new();
    crc.update(&frame[0..4]);
    crc.update(body);
    let stored = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
    if crc.finalize() != stored {
        return Err(RecordError::Checksum);
    }
    if body.len() < BODY_HEADER_LEN {
        return Err(RecordError::Short(body.len()));
    }
    if body[0] != VERSION {
        return Err(RecordError::Version(body[0]));
    }
    let signal = signal_from_code(body[1]).ok_or(RecordError::Signal(body[1]))?;
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    Ok(RecordMeta {
        signal,
        ticket: u64_at(8),
        size: u64_at(16),
        items: u64_at(24),
    })
}

pub(super) fn ack(ticket: u64) -> [u8; ACK_LEN] {
    let mut record = [0u8; ACK_LEN];
    record[0..8].copy_from_slice(&ticket.to_le_bytes());
    let crc = crc32fast::hash(&record[0..8]);
    record[8..12].copy_from_slice(&crc.to_le_bytes());
    record
}

/// The ticket an acknowledgement record holds, or `None` when its checksum fails.
pub(super) fn parse_ack(record: &[u8; ACK_LEN]) -> Option<u64> {
    let stored = u32::from_le_bytes(record[8..12].try_into().expect("4 bytes"));
    (crc32fast::hash(&record[0..8]) == stored)
        .then(|| u64::from_le_bytes(record[0..8].try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(meta: &RecordMeta, payload: &[u8]) -> Vec<u8> {
        let mut bytes = header(meta, payload.len(), &payload_crc(payload)).to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    fn split(bytes: &[u8]) -> ([u8; FRAME_LEN], &[u8]) {
        (bytes[..FRAME_LEN].try_into().unwrap(), &bytes[FRAME_LEN..])
    }

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_caught() {
        let meta = RecordMeta {
            signal: Signal::Metrics,
            ticket: 42,
            size: 7,
            items: 9,
        };
        let bytes = record(&meta, b"payload bytes");
        let (frame, body) = split(&bytes);
        assert_eq!(body_len(&frame), body.len());
        assert_eq!(parse(&frame, body), Ok(meta));
        assert_eq!(&body[BODY_HEADER_LEN..], b"payload bytes");
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                let (frame, body) = split(&damaged);
                assert!(
                    parse(&frame, body).is_err(),
                    "flip at byte {byte} bit {bit} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn acks_round_trip_and_detect_damage() {
        let a = ack(123_456);
        assert_eq!(parse_ack(&a), Some(123_456));
        let mut damaged = a;
        damaged[3] ^= 0x10;
        assert_eq!(parse_ack(&damaged), None);
    }
}
