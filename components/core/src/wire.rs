//! Just enough of the protobuf wire format to count, check and split OTLP export requests without
//! decoding them. A relay that never looks inside a batch pays for this walk instead of a full decode.

use bytes::{BufMut, Bytes, BytesMut};

mod limits;
mod schema;
mod walk;

pub use limits::{
    CheckError, InvalidField, Limit, LimitExceeded, Limits, MAX_SUPPORTED_VALUE_DEPTH, Problem,
};
pub use walk::check;

/// Where the items of one signal sit: at each depth, the field numbers that lead one level down.
/// The entries at the last depth are the items (spans, data points, log records).
pub type ItemPath = &'static [&'static [u32]];

/// ExportTraceServiceRequest.resource_spans → ResourceSpans.scope_spans → ScopeSpans.spans
pub const TRACES: ItemPath = &[&[1], &[2], &[2]];
/// ExportLogsServiceRequest.resource_logs → ResourceLogs.scope_logs → ScopeLogs.log_records
pub const LOGS: ItemPath = &[&[1], &[2], &[2]];
/// ExportMetricsServiceRequest.resource_metrics → scope_metrics → metrics →
/// gauge|sum|histogram|exponential_histogram|summary → data_points
pub const METRICS: ItemPath = &[&[1], &[2], &[2], &[5, 7, 9, 10, 11], &[1]];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf: {0}")]
pub struct WireError(pub &'static str);

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// Reads a varint as prost does: at most 10 bytes, the 10th holding bit 63 alone.
fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or(WireError("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            if shift == 63 && byte > 1 {
                return Err(WireError("varint past 64 bits"));
            }
            return Ok(value);
        }
    }
    Err(WireError("varint longer than 10 bytes"))
}

/// One top-level field of a message: its number, the whole raw field (tag included), and for
/// length-delimited fields the payload.
struct Field<'a> {
    number: u32,
    raw: &'a [u8],
    payload: Option<&'a [u8]>,
}

fn fields(buf: &[u8]) -> impl Iterator<Item = Result<Field<'_>, WireError>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= buf.len() {
            return None;
        }
        Some(next_field(buf, &mut pos))
    })
}

fn next_field<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Field<'a>, WireError> {
    let start = *pos;
    let tag = read_varint(buf, pos)?;
    // prost refuses a key past 32 bits, though the field number would fit in a u32.
    let tag = u32::try_from(tag).map_err(|_| WireError("field number out of range"))?;
    let number = tag >> 3;
    if number == 0 {
        return Err(WireError("field number 0"));
    }
    let mut payload = None;
    match (tag & 7) as u8 {
        WIRE_VARINT => {
            read_varint(buf, pos)?;
        }
        WIRE_I64 => *pos += 8,
        WIRE_I32 => *pos += 4,
        WIRE_LEN => {
            let len = usize::try_from(read_varint(buf, pos)?)
                .map_err(|_| WireError("length overflow"))?;
            let end = pos.checked_add(len).ok_or(WireError("length overflow"))?;
            if end > buf.len() {
                return Err(WireError("length-delimited field runs past the end"));
            }
            payload = Some(&buf[*pos..end]);
            *pos = end;
        }
        _ => return Err(WireError("unsupported wire type")),
    }
    if *pos > buf.len() {
        return Err(WireError("fixed-width field runs past the end"));
    }
    Ok(Field {
        number,
        raw: &buf[start..*pos],
        payload,
    })
}

/// Counts the items under `path`, checking the framing of every message on the way down.
pub fn count_items(buf: &[u8], path: ItemPath) -> Result<usize, WireError> {
    let (wanted, rest) = path.split_first().expect("item path is never empty");
    let mut count = 0usize;
    // Several field numbers at one level are the members of a oneof (a metric's data), of which
    // prost keeps the last: a request that mixes them would count items no decoder sees.
    let mut member = None;
    for field in fields(buf) {
        let field = field?;
        if !wanted.contains(&field.number) {
            continue;
        }
        if *member.get_or_insert(field.number) != field.number {
            return Err(WireError("a metric holds more than one kind of data"));
        }
        let payload = field
            .payload
            .ok_or(WireError("expected a length-delimited message"))?;
        count += if rest.is_empty() {
            1
        } else {
            count_items(payload, rest)?
        };
    }
    Ok(count)
}

fn put_len_field(out: &mut BytesMut, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | u64::from(WIRE_LEN));
    put_varint(out, payload.len() as u64);
    out.put_slice(payload);
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// A piece of a split message: its encoding and how many items it holds.
pub type Piece = (Bytes, usize);

/// Cuts one encoded message after its first `n` items into a head and a tail, each a complete
/// message with the non-item fields repeated, and each field leading to items cut at most once, so
/// neither side repeats a resource or scope more than the original does. Either side may hold no
/// items.
pub fn split_at(buf: &[u8], path: ItemPath, n: usize) -> Result<(Piece, Piece), WireError> {
    let (wanted, rest) = path.split_first().expect("item path is never empty");
    let mut header = BytesMut::new();
    let (mut head, mut tail) = (BytesMut::new(), BytesMut::new());
    let (mut head_items, mut tail_items) = (0usize, 0usize);
    for field in fields(buf) {
        let field = field?;
        if !wanted.contains(&field.number) {
            header.put_slice(field.raw);
            continue;
        }
        let payload = field
            .payload
            .ok_or(WireError("expected a length-delimited message"))?;
        let count = if rest.is_empty() {
            1
        } else {
            count_items(payload, rest)?
        };
        let room = n.saturating_sub(head_items);
        if count <= room {
            head.put_slice(field.raw);
            head_items += count;
        } else if room == 0 || rest.is_empty() {
            tail.put_slice(field.raw);
            tail_items += count;
        } else {
            let ((sub_head, sub_head_items), (sub_tail, sub_tail_items)) =
                split_at(payload, rest, room)?;
            put_len_field(&mut head, field.number, &sub_head);
            put_len_field(&mut tail, field.number, &sub_tail);
            head_items += sub_head_items;
            tail_items += sub_tail_items;
        }
    }
    let join = |children: BytesMut| {
        let mut message = header.clone();
        message.put_slice(&children);
        message.freeze()
    };
    Ok(((join(head), head_items), (join(tail), tail_items)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    fn request(resources: usize, scopes: usize, spans: usize) -> ExportTraceServiceRequest {
        let span = |i: usize| Span {
            name: format!("span-{i}"),
            ..Default::default()
        };
        let scope = |s: usize| ScopeSpans {
            spans: (0..spans).map(|i| span(s * 1000 + i)).collect(),
            schema_url: "https://example/scope".into(),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: (0..resources)
                .map(|_| ResourceSpans {
                    scope_spans: (0..scopes).map(scope).collect(),
                    schema_url: "https://example/resource".into(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn counts_spans_across_resources_and_scopes() {
        let bytes = request(3, 2, 5).encode_to_vec();
        assert_eq!(count_items(&bytes, TRACES).unwrap(), 30);
    }

    #[test]
    fn truncated_input_is_an_error() {
        // A cut exactly between two top-level entries is a valid (shorter) request, as in any
        // protobuf parser; every cut inside an entry must be caught.
        let bytes = request(1, 2, 2).encode_to_vec();
        for cut in 1..bytes.len() {
            assert!(count_items(&bytes[..cut], TRACES).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn repeated_cuts_keep_every_span_once_and_respect_the_limit() {
        let original = request(2, 3, 7);
        let bytes = original.encode_to_vec();
        // Cut repeatedly after 4 items, as the batch processor fills batches to a maximum.
        let mut pieces = Vec::new();
        let mut rest: Piece = (bytes.into(), 42);
        while rest.1 > 0 {
            let (head, tail) = split_at(&rest.0, TRACES, 4).unwrap();
            pieces.push(head);
            rest = tail;
        }
        let mut names = Vec::new();
        for (piece, items) in &pieces {
            assert!(*items <= 4);
            let decoded = ExportTraceServiceRequest::decode(piece.as_ref()).unwrap();
            let spans: Vec<_> = decoded
                .resource_spans
                .iter()
                .flat_map(|r| {
                    assert_eq!(r.schema_url, "https://example/resource");
                    r.scope_spans.iter()
                })
                .flat_map(|s| {
                    assert_eq!(s.schema_url, "https://example/scope");
                    s.spans.iter()
                })
                .map(|s| s.name.clone())
                .collect();
            assert_eq!(spans.len(), *items);
            names.extend(spans);
        }
        let expected: Vec<_> = original
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter())
            .flat_map(|s| s.spans.iter())
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn concatenated_requests_decode_as_one() {
        let a = request(1, 1, 2).encode_to_vec();
        let b = request(2, 1, 3).encode_to_vec();
        let joined = [a, b].concat();
        assert_eq!(count_items(&joined, TRACES).unwrap(), 8);
        assert_eq!(
            ExportTraceServiceRequest::decode(joined.as_slice())
                .unwrap()
                .resource_spans
                .len(),
            3
        );
    }

    #[test]
    fn split_at_cuts_once_and_keeps_one_header_per_side() {
        let original = request(2, 2, 3);
        let bytes = original.encode_to_vec();
        for n in 0..=12 {
            let ((head, head_items), (tail, tail_items)) = split_at(&bytes, TRACES, n).unwrap();
            assert_eq!((head_items, tail_items), (n, 12 - n));
            let head = ExportTraceServiceRequest::decode(head.as_ref()).unwrap();
            let tail = ExportTraceServiceRequest::decode(tail.as_ref()).unwrap();
            assert!(
                head.resource_spans.len() + tail.resource_spans.len() <= 3,
                "at most one resource is cut"
            );
            let names = |r: &ExportTraceServiceRequest| -> Vec<String> {
                r.resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .flat_map(|s| &s.spans)
                    .map(|s| s.name.clone())
                    .collect()
            };
            let mut joined = names(&head);
            joined.extend(names(&tail));
            assert_eq!(joined, names(&original), "cut at {n}");
        }
    }
}
