//! Cassandra CQL native protocol requests (v3 to v5): QUERY, PREPARE and BATCH carry CQL text;
//! EXECUTE only a prepared id; STARTUP, OPTIONS, REGISTER and AUTH_RESPONSE are connection
//! set-up. Protocol v5 wraps frames in segments once the connection is ready; an uncompressed
//! segment's first frame is read too.

use crate::sql::{self, Dialect};
use crate::{Options, Semantics, Value};

const SYSTEM: &str = "cassandra";
/// Frame header: version, flags, stream (2), opcode, body length (4).
const HEADER: usize = 9;
/// The server's largest frame is configurable, 256 MiB at most.
const MAX_BODY: u32 = 256 << 20;

const QUERY: u8 = 0x07;

/// Query parameter flags (one byte before v5, four since), in the order their fields follow.
const VALUES: u32 = 0x01;
const PAGE_SIZE: u32 = 0x04;
const PAGING_STATE: u32 = 0x08;
const SERIAL_CONSISTENCY: u32 = 0x10;
const TIMESTAMP: u32 = 0x20;
const NAMES_FOR_VALUES: u32 = 0x40;
const KEYSPACE: u32 = 0x80;

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    match segment(request) {
        Some(Segment::Plain(payload)) => frame(payload, options),
        Some(Segment::Compressed) => None,
        None => frame(request, options),
    }
}

/// A frame's header fields, and of its body what the capture holds.
struct Frame<'a> {
    version: u8,
    opcode: u8,
    body: Reader<'a>,
    /// What v5 parameters name after all else (QUERY, PREPARE, BATCH).
    keyspace: Option<String>,
}

fn frame(request: &[u8], options: &Options) -> Option<Semantics> {
    let header = request.get(..HEADER)?;
    let (version, flags, opcode) = (header[0], header[1], header[4]);
    let len = u32::from_be_bytes(header[5..9].try_into().ok()?);
    // the direction bit is clear in requests; flags above 0x10 (beta) are not defined
    if !(3..=5).contains(&version) || flags > 0x1f || len > MAX_BODY {
        return None;
    }
    let end = HEADER.saturating_add(len as usize).min(request.len());
    let mut frame = Frame {
        version,
        opcode,
        body: Reader(&request[HEADER..end]),
        keyspace: None,
    };
    let operation = match opcode {
        0x01 => "STARTUP",
        0x05 => "OPTIONS",
        0x0B => "REGISTER",
        // its body is an authenticator's token: credentials, never read
        0x0F => "AUTH_RESPONSE",
        0x0A => "EXECUTE",
        0x0D => "BATCH",
        QUERY | 0x09 => "",
        _ => return None,
    };
    // flags: 0x01 compressed (v5 compresses segments instead), 0x04 custom payload
    let unreadable = flags & 0x01 != 0 && version < 5
        || flags & 0x04 != 0 && frame.body.skip_bytes_map().is_none();
    if unreadable || matches!(opcode, 0x01 | 0x05 | 0x0B | 0x0F) {
        return Some(bare(operation));
    }
    let mut semantics = match operation {
        "EXECUTE" => execute(&mut frame),
        "BATCH" => batch(&mut frame, options),
        _ => statement(&mut frame, options)?,
    };
    if semantics.get("db.namespace").is_none()
        && let Some(keyspace) = frame.keyspace
    {
        semantics.push_str("db.namespace", keyspace);
    }
    Some(semantics)
}

/// Semantics with an operation and nothing else known; without one, the system names the span.
fn bare(operation: &str) -> Semantics {
    let name = if operation.is_empty() {
        SYSTEM
    } else {
        operation
    };
    let attributes = Vec::new();
    let mut s = Semantics {
        name: name.into(),
        attributes,
    };
    s.push_str("db.system.name", SYSTEM);
    if !operation.is_empty() {
        s.push_str("db.operation.name", operation);
    }
    s
}

/// QUERY and PREPARE: a long string of CQL first.
fn statement(frame: &mut Frame, options: &Options) -> Option<Semantics> {
    let (query, complete) = frame.body.long_string()?;
    let mut s = cql(query, complete, options);
    if !complete {
        return Some(s);
    }
    if frame.opcode == QUERY {
        frame.query_parameters(&mut s);
    } else if frame.version >= 5 && frame.body.u32().is_some_and(|f| f & 0x01 != 0) {
        // PREPARE's flags: 0x01, a keyspace follows
        frame.keyspace = frame.body.keyspace();
    }
    Some(s)
}

/// The semantics of one CQL statement; `complete` is false when the capture cut it.
fn cql(query: &[u8], complete: bool, options: &Options) -> Semantics {
    let cleaned;
    let query = if options.sanitize {
        cleaned = pre_sanitize(query);
        &cleaned[..]
    } else {
        query
    };
    let mut s = sql::semantics(SYSTEM, Dialect::Postgres, query, complete, options);
    if is_batch_statement(query) {
        set(&mut s, "db.operation.name", "BATCH");
        s.attributes.retain(|(k, _)| *k != "db.collection.name");
        s.name = "BATCH".into();
    }
    let keyspace = match s.get("db.collection.name") {
        Some(Value::Str(table)) => table.split_once('.').map(|(ks, _)| ks.to_string()),
        _ => None,
    };
    if let Some(keyspace) = keyspace.filter(|k| !k.is_empty()) {
        s.push_str("db.namespace", keyspace);
    }
    s
}

/// `BEGIN [UNLOGGED | COUNTER] BATCH …; APPLY BATCH`: one request of several statements.
fn is_batch_statement(query: &[u8]) -> bool {
    let head = crate::text(&query[..query.len().min(32)]).to_ascii_uppercase();
    let mut words = head.split_ascii_whitespace();
    words.next() == Some("BEGIN") && words.take(2).any(|w| w == "BATCH")
}

fn set(s: &mut Semantics, key: &'static str, value: &str) {
    match s.attributes.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = Value::Str(value.to_string().into()),
        None => s.push_str(key, value),
    }
}

/// EXECUTE: a prepared id (and in v5 a result metadata id), then the query parameters.
fn execute(frame: &mut Frame) -> Semantics {
    let mut s = bare("EXECUTE");
    let ids = if frame.version >= 5 { 2 } else { 1 };
    if (0..ids).all(|_| frame.body.string().is_some()) {
        frame.query_parameters(&mut s);
    }
    s
}

/// BATCH: type, count, then per statement a kind (0 CQL text, 1 prepared id) and its values.
/// Semantics as for a batch in the conventions: "BATCH INSERT" when every statement is visible and
/// of one operation, the collection when every one names the same.
fn batch(frame: &mut Frame, options: &Options) -> Semantics {
    let body = &mut frame.body;
    let count = body.u8().and_then(|_| body.u16()).unwrap_or(0);
    let mut texts: Vec<Semantics> = Vec::new();
    let mut all_seen = true;
    let mut ended = count > 0;
    for _ in 0..count {
        let seen = match body.u8() {
            Some(0) => match body.long_string() {
                Some((query, complete)) => {
                    texts.push(cql(query, complete, options));
                    complete
                }
                None => false,
            },
            Some(1) => {
                all_seen = false;
                body.string().is_some()
            }
            _ => false,
        };
        if !seen || body.values(false).is_none() {
            all_seen = false;
            ended = false;
            break;
        }
    }
    let mut s = bare("BATCH");
    let same = |key: &str| -> Option<String> {
        let first = texts.first()?.get(key)?;
        let all = all_seen && texts.iter().all(|t| t.get(key) == Some(first));
        match (all, first) {
            (true, Value::Str(v)) => Some(v.to_string()),
            _ => None,
        }
    };
    let (op, collection, namespace) = (
        same("db.operation.name"),
        same("db.collection.name"),
        same("db.namespace"),
    );
    if let Some(op) = op {
        let op = format!("BATCH {op}");
        set(&mut s, "db.operation.name", &op);
        s.name = op;
    }
    let text = |t: &Semantics| match t.get("db.query.text") {
        Some(Value::Str(text)) => Some(text.to_string()),
        _ => None,
    };
    let joined: Vec<String> = texts.iter().filter_map(text).collect();
    if !joined.is_empty() {
        let text = crate::truncate(joined.join("; "), options.max_query_len);
        s.attributes
            .insert(1, ("db.query.text", Value::Str(text.into())));
    }
    if let Some(collection) = collection {
        s.name = format!("{} {collection}", s.name);
        s.push_str("db.collection.name", collection);
    }
    if let Some(namespace) = namespace {
        s.push_str("db.namespace", namespace);
    }
    if count >= 2 {
        s.attributes
            .push(("db.operation.batch.size", Value::Int(i64::from(count))));
    }
    if ended {
        frame.batch_parameters(&mut s);
    }
    s
}

impl Frame<'_> {
    fn flags(&mut self) -> Option<u32> {
        if self.version >= 5 {
            self.body.u32()
        } else {
            self.body.u8().map(u32::from)
        }
    }

    /// `<consistency><flags>[values][page size][paging state][serial][timestamp][keyspace]`
    fn query_parameters(&mut self, s: &mut Semantics) {
        let Some(flags) = self.consistency(s).and_then(|_| self.flags()) else {
            return;
        };
        let b = &mut self.body;
        if flags & VALUES != 0 && b.values(flags & NAMES_FOR_VALUES != 0).is_none() {
            return;
        }
        if flags & PAGE_SIZE != 0 {
            match b.u32() {
                Some(size) => s
                    .attributes
                    .push(("cassandra.page.size", Value::Int(i64::from(size as i32)))),
                None => return,
            }
        }
        if flags & PAGING_STATE != 0 && b.bytes().is_none() {
            return;
        }
        self.tail(flags);
    }

    /// `<consistency><flags>[serial][timestamp][keyspace]`
    fn batch_parameters(&mut self, s: &mut Semantics) {
        if let Some(flags) = self.consistency(s).and_then(|_| self.flags()) {
            self.tail(flags);
        }
    }

    fn tail(&mut self, flags: u32) {
        let b = &mut self.body;
        if flags & SERIAL_CONSISTENCY != 0 && b.u16().is_none() {
            return;
        }
        if flags & TIMESTAMP != 0 && b.take(8).is_none() {
            return;
        }
        if self.version >= 5 && flags & KEYSPACE != 0 {
            self.keyspace = b.keyspace();
        }
    }

    fn consistency(&mut self, s: &mut Semantics) -> Option<()> {
        const LEVELS: &str =
            "any one two three quorum all local_quorum each_quorum serial local_serial local_one";
        let level = self.body.u16()?;
        if let Some(name) = LEVELS.split(' ').nth(usize::from(level)) {
            s.push_str("cassandra.consistency.level", name);
        }
        Some(())
    }
}

/// A cursor over a body that may have been cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_be_bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// `[long string]`: the text and whether all of it is here (else what is).
    fn long_string(&mut self) -> Option<(&'a [u8], bool)> {
        let len = self.u32()?;
        if len > MAX_BODY {
            return None;
        }
        match self.take(len as usize) {
            Some(s) => Some((s, true)),
            None => Some((std::mem::take(&mut self.0), false)),
        }
    }

    /// `[string]`
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn keyspace(&mut self) -> Option<String> {
        self.string().map(crate::text).filter(|k| !k.is_empty())
    }

    /// `[bytes]` (and `[value]`): a negative length is null (or unset), no content.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as i32;
        self.take(usize::try_from(len).unwrap_or(0))
    }

    /// `[bytes map]`: a count of `[string]` keys with `[bytes]` values.
    fn skip_bytes_map(&mut self) -> Option<()> {
        for _ in 0..self.u16()? {
            self.string()?;
            self.bytes()?;
        }
        Some(())
    }

    /// A count of values, each named when `named`.
    fn values(&mut self, named: bool) -> Option<()> {
        for _ in 0..self.u16()? {
            if named {
                self.string()?;
            }
            self.bytes()?;
        }
        Some(())
    }
}

/// CQL literals the SQL lexer would split into pieces, made `?` before it sees them: UUIDs
/// (`123e4567-e89b-…`, cut or whole) and durations (`1h30m`). `//` starts a comment in CQL.
fn pre_sanitize(query: &[u8]) -> Vec<u8> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::with_capacity(query.len());
    let mut i = 0;
    while i < query.len() {
        let c = query[i];
        match c {
            b'\'' | b'"' | b'-' | b'/' => {
                // strings, quoted identifiers and comments are the lexer's, copied whole
                let end = match (c, query.get(i + 1)) {
                    (b'-' | b'/', Some(&n)) if n == c => {
                        out.extend_from_slice(b"--");
                        i += 2;
                        query[i..]
                            .iter()
                            .position(|&c| c == b'\n')
                            .map_or(query.len(), |p| i + p)
                    }
                    (b'-' | b'/', _) => i + 1,
                    _ => quoted_end(query, i),
                };
                out.extend_from_slice(&query[i..end]);
                i = end;
            }
            c if ident(c) && (i == 0 || !ident(query[i - 1])) => {
                let mut j = i;
                while j < query.len() && ident(query[j]) {
                    j += 1;
                }
                let run = &query[i..j];
                let number = run.starts_with(b"0x")
                    || run.starts_with(b"0X")
                    || run
                        .iter()
                        .all(|c| c.is_ascii_digit() || *c == b'e' || *c == b'E');
                let uuid = uuid_len(&query[i..]);
                if uuid > 0 {
                    out.push(b'?');
                    i += uuid;
                } else if c.is_ascii_digit() && !number {
                    out.push(b'?');
                    i = j;
                } else {
                    out.extend_from_slice(run);
                    i = j;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Where the quoted run at `start` ends: a doubled quote is one character.
fn quoted_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b[start] && b.get(i + 1) != Some(&b[start]) {
            return i + 1;
        }
        i += if b[i] == b[start] { 2 } else { 1 };
    }
    b.len()
}

/// The length of the UUID `b` starts with (0 for none); one the capture cut counts up to the end.
fn uuid_len(b: &[u8]) -> usize {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (g, &len) in GROUPS.iter().enumerate() {
        if g > 0 {
            match b.get(i) {
                Some(b'-') => i += 1,
                None if g > 1 || b[0].is_ascii_digit() => return i,
                _ => return 0,
            }
        }
        for _ in 0..len {
            match b.get(i) {
                Some(c) if c.is_ascii_hexdigit() => i += 1,
                // cut after a dash (a digit-led first group is a literal anyway)
                None if g > 0 => return i,
                _ => return 0,
            }
        }
    }
    match b.get(i) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => 0,
        _ => i,
    }
}

enum Segment<'a> {
    Plain(&'a [u8]),
    Compressed,
}

/// The v5 segment `request` starts with, if a header's CRC24 proves it one. Uncompressed, the
/// header holds 17 bits of payload length and a self-contained flag; with compression on, 17 bits
/// of payload length, 17 of uncompressed length (0: the payload was left uncompressed), the flag.
/// Either, little-endian, is followed by its CRC24.
fn segment(request: &[u8]) -> Option<Segment<'_>> {
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |n, &c| n << 8 | u64::from(c));
    for size in [3, 5] {
        let Some(header) = request.get(..size + 3) else {
            continue;
        };
        let word = le(&header[..size]);
        if u64::from(crc24(word, size)) != le(&header[size..]) {
            continue;
        }
        if (word >> 17) & 0x1_ffff != 0 && size == 5 {
            return Some(Segment::Compressed);
        }
        let end = (size + 3 + (word & 0x1_ffff) as usize).min(request.len());
        return Some(Segment::Plain(&request[size + 3..end]));
    }
    None
}

/// Cassandra's CRC24 over the `len` low bytes of `data`, least significant first.
fn crc24(mut data: u64, len: usize) -> u32 {
    let mut crc: u32 = 0x87_5060;
    for _ in 0..len {
        crc ^= ((data & 0xff) as u32) << 16;
        data >>= 8;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x197_4F0B;
            }
        }
    }
    crc & 0xff_ffff
}

#[cfg(test)]
#[path = "cassandra_tests.rs"]
mod tests;
