//! HTTP/2 requests and gRPC calls: the first HEADERS frame of what one write held (after the
//! connection preface and SETTINGS/WINDOW_UPDATE frames, if any), its header block decoded with
//! the connection's HPACK table (http2/table.rs). Every HEADERS frame the capture holds is fed
//! to that table, in order, so that later requests, which mostly only point into it, can be read.

mod hpack;
mod table;

use crate::{Options, Semantics, Value};
use table::{BlockKind, Fields, Table};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// Frame types RFC 9113 defines; others are extensions, which the kernel does not accept either.
const LAST_TYPE: u8 = 0x9;

/// The methods the conventions know; any other is `_OTHER`.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The request headers the semantics need.
const WANTED: [&[u8]; 4] = [b":method", b":path", b":scheme", b"content-type"];
/// The response headers (and trailers) they need.
const WANTED_BACK: [&[u8]; 2] = [b":status", b"grpc-status"];

/// A connection's HPACK decoding state: its client's dynamic table, and the last stream whose
/// request was seen, which tells when one went by unseen; and the same for its server's blocks.
#[derive(Default, Debug)]
pub(crate) struct State {
    table: Table,
    last_stream: u32,
    responses: Responses,
}

/// The server's side: its table, and the last stream a response block was seen for.
#[derive(Default, Debug)]
struct Responses {
    table: Table,
    last_stream: u32,
}

/// A header block's representations and its literals decoded; none for garbage.
fn read_block(block: &[u8]) -> Option<(hpack::Block<'_>, table::Decoded)> {
    let reps = hpack::representations(block)?;
    let decoded = table::decode_literals(&reps)?;
    Some((reps, decoded))
}

impl State {
    /// The header block of `stream` (`missing`: as `Table::decode` takes it).
    fn headers(&mut self, stream: u32, block: &[u8], missing: Option<usize>) -> Option<Fields> {
        let Some((reps, decoded)) = read_block(block) else {
            // garbage where a header block should be: what it added is unknown
            self.table.lost_block();
            self.last_stream = self.last_stream.max(stream);
            return None;
        };
        let wanted = |name: &[u8]| WANTED.contains(&name);
        if self.last_stream != 0 && stream < self.last_stream {
            // a request whose exchange ended after a later one's, or trailers: it was encoded
            // before blocks the table already holds, so it is read without them
            let mut alone = Table::default();
            alone.joined_late();
            self.table.lost_block();
            return alone.decode(&reps, &decoded, missing, BlockKind::Request, wanted);
        }
        if self.last_stream == 0 && stream > 1 {
            self.table.joined_late();
        } else if self.last_stream != 0 && stream > self.last_stream.saturating_add(2) {
            self.table.lost_block();
        }
        let kind = if stream == self.last_stream {
            BlockKind::Trailers
        } else {
            BlockKind::Request
        };
        self.last_stream = stream;
        self.table.decode(&reps, &decoded, missing, kind, wanted)
    }
}

impl Responses {
    /// A block the server sent on `stream`: its response header fields, or its trailers.
    fn headers(&mut self, stream: u32, block: &[u8], missing: Option<usize>) -> Option<Fields> {
        let Some((reps, decoded)) = read_block(block) else {
            self.table.lost_block();
            return None;
        };
        if self.last_stream == 0 && stream > 1 {
            self.table.joined_late();
        }
        let kind = if stream == self.last_stream {
            BlockKind::Trailers
        } else {
            BlockKind::Response
        };
        self.last_stream = self.last_stream.max(stream);
        let wanted = |name: &[u8]| WANTED_BACK.contains(&name);
        self.table.decode(&reps, &decoded, missing, kind, wanted)
    }
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

#[cfg(test)]
pub(crate) fn parse(
    request: &[u8],
    state: &mut State,
    status: u32,
    options: &Options,
) -> Option<Semantics> {
    parse_exchange(request, &[], state, status, false, options)
}

/// As `parse`, with the first bytes of the response (empty when not captured): every header
/// block they hold goes through the server's table, and the status and gRPC status of the
/// request's stream are read from its own.
pub(crate) fn parse_exchange(
    request: &[u8],
    response: &[u8],
    state: &mut State,
    status: u32,
    server: bool,
    _options: &Options,
) -> Option<Semantics> {
    let mut first: Option<(u32, Option<Fields>)> = None;
    header_blocks(request, |stream, block, missing| {
        let fields = state.headers(stream, block, missing);
        first.get_or_insert((stream, fields));
    });
    let (stream, fields) = first?;
    let mut back = Fields::new();
    header_blocks(response, |id, block, missing| {
        let fields = state.responses.headers(id, block, missing);
        if id == stream {
            // the trailers' grpc-status comes after the headers' :status
            back.extend(fields.into_iter().flatten());
        }
    });
    semantics(fields?, status, &back, server)
}

/// Calls `each` with every header block in `frames` (a connection preface first is skipped), in
/// order: its stream, the block (joined with its CONTINUATION frames) and, if the capture cut
/// it, how many of its bytes are missing (`usize::MAX`: unknown).
fn header_blocks(request: &[u8], mut each: impl FnMut(u32, &[u8], Option<usize>)) {
    let frames = request.strip_prefix(PREFACE).unwrap_or(request);
    let mut at = 0;
    while let Some(header) = frames.get(at..).and_then(|f| f.get(..FRAME_HEADER)) {
        let (len, kind, flags) = (u24(header), header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        if kind > LAST_TYPE {
            break;
        }
        let start = at + FRAME_HEADER;
        at = start.saturating_add(len);
        if kind != HEADERS {
            continue;
        }
        if stream == 0 {
            break;
        }
        let payload = &frames[start..frames.len().min(at)];
        let skip = usize::from(flags & PADDED != 0) + if flags & PRIORITY != 0 { 5 } else { 0 };
        let padding = if flags & PADDED != 0 {
            payload.first().map_or(0, |&p| usize::from(p))
        } else {
            0
        };
        let Some(block_len) = len.checked_sub(skip + padding) else {
            break;
        };
        let fragment = payload.get(skip..).unwrap_or_default();
        let fragment = &fragment[..fragment.len().min(block_len)];
        let mut block = fragment.to_vec();
        let end = flags & END_HEADERS != 0;
        // bytes of the block past the capture, counted when its last frame is this one
        let mut missing = match (fragment.len() < block_len, end) {
            (true, true) => Some(block_len - fragment.len()),
            (false, true) => None,
            (_, false) => Some(usize::MAX),
        };
        if !end && fragment.len() == block_len {
            at = continuations(frames, at, stream, &mut block, &mut missing);
        }
        each(stream, &block, missing);
    }
}

/// Appends the CONTINUATION frames of `stream` from `at` to `block`, and settles `missing`;
/// where the frames go on.
fn continuations(
    frames: &[u8],
    mut at: usize,
    stream: u32,
    block: &mut Vec<u8>,
    missing: &mut Option<usize>,
) -> usize {
    while let Some(header) = frames.get(at..).and_then(|f| f.get(..FRAME_HEADER)) {
        let (len, kind, flags) = (u24(header), header[3], header[4]);
        let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        if kind != CONTINUATION || id != stream {
            break;
        }
        let start = at + FRAME_HEADER;
        at = start.saturating_add(len);
        let fragment = &frames[start..frames.len().min(at)];
        block.extend_from_slice(fragment);
        if flags & END_HEADERS != 0 {
            *missing = (fragment.len() < len).then_some(len - fragment.len());
            break;
        }
        if fragment.len() < len {
            break;
        }
    }
    at
}

fn field<'f>(fields: &'f Fields, name: &[u8]) -> Option<(&'f [u8], bool)> {
    let (_, value, whole) = fields.iter().find(|(n, ..)| n == name)?;
    Some((value.as_deref()?, *whole))
}

/// `pkg.Service` and `Method` of a gRPC path `/pkg.Service/Method`.
fn grpc_method(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'$'))
    };
    (name(service) && name(method)).then_some((service, method))
}

/// Whether a call that ended with `code` failed, by the conventions: any code but OK for the
/// client; for the server only the codes that say it is at fault.
fn grpc_failed(code: usize, server: bool) -> bool {
    code != 0 && (!server || matches!(code, 2 | 4 | 12 | 13 | 14 | 15))
}

/// A whole decimal header value.
fn number(fields: &Fields, name: &[u8]) -> Option<u32> {
    let (value, whole) = field(fields, name)?;
    let text = std::str::from_utf8(value).ok().filter(|_| whole)?;
    text.parse().ok().filter(|_| text.len() <= 3)
}

fn semantics(fields: Fields, status: u32, back: &Fields, server: bool) -> Option<Semantics> {
    // the kernel reads a status from the static table only: a literal one is read here
    let status = match status {
        0 => number(back, b":status")
            .filter(|s| (100..600).contains(s))
            .unwrap_or(0),
        s => s,
    };
    let whole = |name: &[u8]| field(&fields, name).filter(|(_, w)| *w).map(|(v, _)| v);
    let method = whole(b":method")
        .filter(|m| !m.is_empty() && m.len() <= 32 && m.iter().all(|&c| is_tchar(c)))
        .map(crate::text);
    let path = whole(b":path")
        .filter(|p| p.first() == Some(&b'/') && !p.iter().any(|&c| c <= b' ' || c == 0x7f))
        .map(crate::text);
    let path = path.map(|p| match p.find(['?', '#']) {
        Some(end) => p[..end].to_string(),
        None => p,
    });
    // "application/grpc", "application/grpc+proto", …: a cut value that holds the type will do
    let grpc = field(&fields, b"content-type").is_some_and(|(v, _)| {
        v.strip_prefix(b"application/grpc")
            .is_some_and(|tail| matches!(tail.first(), None | Some(b'+' | b';')))
    });
    let mut s = Semantics {
        name: String::new(),
        attributes: Vec::new(),
    };
    if grpc {
        s.push_static("rpc.system", "grpc");
        match path.as_deref().and_then(grpc_method) {
            Some((service, method)) => {
                s.name = format!("{service}/{method}");
                s.push_str("rpc.service", service);
                s.push_str("rpc.method", method);
            }
            None => s.name = "grpc".to_string(),
        }
        let code = number(back, b"grpc-status").map(|c| c as usize);
        if let Some(code) = code {
            s.attributes
                .push(("rpc.grpc.status_code", Value::Int(code as i64)));
        }
        // a gRPC reply other than HTTP 200 is an error whatever its trailers say
        if status != 0 && status != 200 {
            s.push_str("error.type", status.to_string());
        } else if let Some(code) = code.filter(|&c| grpc_failed(c, server)) {
            s.push_str(
                "error.type",
                crate::grpc_code_name(code as u32).unwrap_or("_OTHER"),
            );
        }
    } else {
        if method.is_none() && path.is_none() {
            return None;
        }
        let known = method.as_deref().filter(|m| METHODS.contains(m));
        s.name = known.unwrap_or("HTTP").to_string();
        if let Some(method) = &method {
            s.push_str("http.request.method", known.unwrap_or("_OTHER"));
            if known.is_none() {
                s.push_str("http.request.method_original", method.as_str());
            }
        }
        if let Some(path) = &path {
            let route = crate::http::route(path);
            s.push_str("url.path", path.as_str());
            s.name.push(' ');
            s.name.push_str(&route);
            s.push_str("http.route", route);
        }
        if let Some(scheme) = whole(b":scheme").filter(|v| matches!(*v, b"http" | b"https")) {
            s.push_str("url.scheme", crate::text(scheme));
        }
        if status != 0 {
            let code = i64::from(status);
            s.attributes
                .push(("http.response.status_code", Value::Int(code)));
            if status >= 500 {
                s.push_str("error.type", status.to_string());
            }
        }
    }
    // `network.protocol.name` is left out: the conventions want it only when it is not "http"
    s.push_static("network.protocol.version", "2");
    Some(s)
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

#[cfg(test)]
#[path = "http2_tests.rs"]
mod tests;
