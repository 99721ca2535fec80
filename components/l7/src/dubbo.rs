//! Dubbo2 (the `dubbo://` TCP protocol) requests: a 16-byte header, then the invocation serialized
//! field after field: Dubbo version, service path (the interface), service version, method name,
//! parameter types, arguments, attachments. Only the service and method are kept: arguments and
//! attachments may carry anything, credentials included.
//!
//! The RPC conventions as dashboards read them today, and as this crate writes gRPC: `rpc.system`
//! "apache_dubbo", `rpc.service` (the interface) and `rpc.method`; the span is named
//! "{rpc.service}/{rpc.method}". (The conventions' newer draft, `rpc.system.name` with a fully
//! qualified `rpc.method`, names the span the same.)

use crate::{Options, Semantics, text};

const MAGIC: [u8; 2] = [0xda, 0xbb];
const FLAG_REQUEST: u8 = 0x80;
const FLAG_EVENT: u8 = 0x20;
const SERIALIZATION_MASK: u8 = 0x1f;
const HESSIAN2: u8 = 2;
/// Dubbo 3.2+ prefers it when provider and consumer both support it.
const FASTJSON2: u8 = 23;
/// The provider's default `payload` limit is 8 MiB; a length far beyond it is not Dubbo.
const MAX_BODY: u32 = 1 << 30;

pub(crate) fn parse(request: &[u8], _options: &Options) -> Option<Semantics> {
    let header = request.get(..16)?;
    if header[..2] != MAGIC {
        return None;
    }
    let flag = header[2];
    // responses and events (heartbeats, read-only notices) are no invocation
    if flag & FLAG_REQUEST == 0 || flag & FLAG_EVENT != 0 {
        return None;
    }
    let len = u32::from_be_bytes(header[12..16].try_into().ok()?);
    if len > MAX_BODY {
        return None;
    }
    let body = &request[16..request.len().min(16 + len as usize)];
    let mut fields = match flag & SERIALIZATION_MASK {
        HESSIAN2 => Fields::Hessian(body),
        FASTJSON2 => Fields::Fastjson2(body),
        _ => Fields::Unknown,
    };
    // a field cut by the capture reads as absent: keep what came whole before it
    let _dubbo_version = fields.next();
    let service = fields.next().flatten();
    let _service_version = fields.next();
    let mut method = fields.next().flatten();
    if matches!(method.as_deref(), Some("$invoke" | "$invokeAsync")) {
        // generic invocation: the invoked method's name is the first argument
        let _types = fields.next();
        method = fields.next().flatten();
    }
    let mut semantics = Semantics {
        name: String::new(),
        attributes: Vec::new(),
    };
    semantics.push_static("rpc.system", "apache_dubbo");
    match (service, method) {
        (Some(service), Some(method)) => {
            semantics.name = format!("{service}/{method}");
            semantics.push_str("rpc.service", service);
            semantics.push_str("rpc.method", method);
        }
        (Some(service), None) => {
            semantics.name = service.clone();
            semantics.push_str("rpc.service", service);
        }
        _ => semantics.name = "dubbo".into(),
    }
    Some(semantics)
}

enum Fields<'a> {
    Hessian(&'a [u8]),
    Fastjson2(&'a [u8]),
    Unknown,
}

impl Fields<'_> {
    /// The next field: `None` when it cannot be read, `Some(None)` when it is whole but not a
    /// usable name (null, empty, binary).
    fn next(&mut self) -> Option<Option<String>> {
        let read = match self {
            Fields::Hessian(b) => hessian_string(b),
            Fields::Fastjson2(b) => fastjson2_field(b),
            Fields::Unknown => None,
        };
        // after a field that cannot be read, no later one can be found
        let Some((value, rest)) = read else {
            *self = Fields::Unknown;
            return None;
        };
        match self {
            Fields::Hessian(b) | Fields::Fastjson2(b) => *b = rest,
            Fields::Unknown => {}
        }
        Some(value.and_then(name))
    }
}

/// A service or method name: printable text, nothing else.
fn name(bytes: &[u8]) -> Option<String> {
    let s = text(bytes);
    (!s.is_empty() && !s.chars().any(char::is_control)).then_some(s)
}

/// A Hessian 2 string or null, whole, and what follows it. Lengths count UTF-16 units, and a
/// string over 32 KiB comes in `R` chunks ended by an `S` one; the bytes of each chunk must be
/// contiguous here, so only one chunk is read (names are never that long).
fn hessian_string(b: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (units, rest) = match tag {
        b'N' => return Some((None, rest)),
        0x00..=0x1f => (usize::from(tag), rest),
        0x30..=0x33 => {
            let (&low, rest) = rest.split_first()?;
            ((usize::from(tag - 0x30) << 8) | usize::from(low), rest)
        }
        b'S' => {
            let len = rest.get(..2)?;
            (
                usize::from(u16::from_be_bytes([len[0], len[1]])),
                &rest[2..],
            )
        }
        _ => return None,
    };
    let end = utf8_end(rest, units)?;
    Some((Some(&rest[..end]), &rest[end..]))
}

/// The byte length of the first `units` UTF-16 units of (modified) UTF-8 `b`, if `b` holds them.
fn utf8_end(b: &[u8], units: usize) -> Option<usize> {
    let mut at = 0;
    let mut counted = 0;
    while counted < units {
        let (len, count) = match *b.get(at)? {
            0x00..=0x7f => (1, 1),
            0xc0..=0xdf => (2, 1),
            0xe0..=0xef => (3, 1),
            // standard UTF-8 for a character outside the BMP: a surrogate pair in Java
            0xf0..=0xf7 => (4, 2),
            _ => return None,
        };
        at += len;
        counted += count;
    }
    (at <= b.len()).then_some(at)
}

/// A fastjson2 field: a big-endian length, then a JSONB value of that many bytes.
fn fastjson2_field(b: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let value = b.get(4..4usize.checked_add(len)?)?;
    let rest = &b[4 + len..];
    let (&tag, data) = value.split_first()?;
    let string = match tag {
        // ASCII of 0..=47 bytes, the length in the tag
        0x49..=0x78 => data.get(..usize::from(tag - 0x49)),
        // ASCII or UTF-8, the length a JSONB integer
        0x79 | 0x7a => {
            let (n, data) = jsonb_int(data)?;
            data.get(..usize::try_from(n).ok()?)
        }
        _ => None,
    };
    Some((string, rest))
}

fn jsonb_int(b: &[u8]) -> Option<(i64, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    match tag {
        0xf0..=0xff | 0x00..=0x2f => Some((i64::from(tag as i8), rest)),
        0x30..=0x3f => {
            let (&low, rest) = rest.split_first()?;
            Some((((i64::from(tag) - 0x38) << 8) | i64::from(low), rest))
        }
        0x40..=0x47 => {
            let v = rest.get(..2)?;
            let n = ((i64::from(tag) - 0x44) << 16) | (i64::from(v[0]) << 8) | i64::from(v[1]);
            Some((n, &rest[2..]))
        }
        0x48 => {
            let v = rest.get(..4)?;
            Some((
                i64::from(i32::from_be_bytes(v.try_into().ok()?)),
                &rest[4..],
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "dubbo_tests.rs"]
mod tests;
