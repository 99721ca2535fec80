//! MongoDB requests: OP_MSG (every current driver), OP_QUERY (handshakes of older drivers and
//! legacy finds) and OP_COMPRESSED (snappy is decoded here as far as the capture goes; zlib would
//! need an inflater this crate lacks, and zstd yields a block only whole, which a head never is:
//! such requests are named for the system alone rather than guessed).
//!
//! The command document's first element names the operation (`find`, `insert`, `saslStart`);
//! for the commands that act on a collection its string value is the collection, `$db` (when
//! the capture reaches it) the namespace. `db.query.text` is the filter alone (`filter`, `query`,
//! `pipeline`, the first `q` of an update or delete) with every value replaced by `"?"`; only
//! element names whose end the capture holds are shown, and a document cut short stays open.

use crate::{Options, Semantics, truncate};

const OP_QUERY: u32 = 2004;
const OP_COMPRESSED: u32 = 2012;
const OP_MSG: u32 = 2013;
/// The server's own limit on a message (48 MB).
const MAX_MESSAGE: u32 = 48_000_000;
/// Nesting rendered before a sub-document is shown as `"?"`.
const MAX_DEPTH: usize = 16;

/// Commands whose first element's string value is a collection (user and role commands name a
/// user there, `renameCollection` a whole namespace).
const ON_COLLECTION: &str = "find insert update delete aggregate count distinct findAndModify \
    findandmodify mapReduce create drop createIndexes dropIndexes deleteIndexes listIndexes \
    collMod collStats validate compact reIndex killCursors convertToCapped createSearchIndexes \
    dropSearchIndex updateSearchIndex listSearchIndexes";

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn cstring(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|&c| c == 0)?;
    Some((&b[..end], &b[end + 1..]))
}

/// One element of a document; `value` is what the capture holds of it.
struct Element<'a> {
    kind: u8,
    name: &'a [u8],
    value: &'a [u8],
    cut: bool,
}

/// The elements of the document at the start of `b` (its length prefix included), as far as the
/// capture holds them; `None` when `b` does not start a document.
fn elements(b: &[u8]) -> Option<Elements<'_>> {
    let len = le32(b, 0)? as usize;
    if !(5..=MAX_MESSAGE as usize).contains(&len) {
        return None;
    }
    Some(Elements {
        rest: &b[4..b.len().min(len)],
        cut: true,
    })
}

struct Elements<'a> {
    rest: &'a [u8],
    /// The terminator has not been seen (yet).
    cut: bool,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let (&kind, after) = self.rest.split_first()?;
        self.rest = &[];
        if kind == 0 {
            self.cut = false;
            return None;
        }
        let (name, data) = cstring(after)?;
        let Some(size) = value_size(kind, data) else {
            // a length the capture cut, or a type we do not know: nothing after it is safe
            let value = data;
            return (!data.is_empty() && known(kind)).then_some(Element {
                kind,
                name,
                value,
                cut: true,
            });
        };
        let value = &data[..size.min(data.len())];
        if value.len() == size {
            self.rest = &data[size..];
        }
        let cut = value.len() < size;
        Some(Element {
            kind,
            name,
            value,
            cut,
        })
    }
}

fn known(kind: u8) -> bool {
    matches!(kind, 0x01..=0x13 | 0x7f | 0xff)
}

/// The size of a value of type `kind` starting `data`, from its type or its length prefix.
fn value_size(kind: u8, data: &[u8]) -> Option<usize> {
    let prefixed = |extra: usize| {
        let len = le32(data, 0)?;
        (len <= MAX_MESSAGE).then_some(len as usize + extra)
    };
    match kind {
        0x06 | 0x0a | 0x7f | 0xff => Some(0),
        0x08 => Some(1),
        0x10 => Some(4),
        0x01 | 0x09 | 0x11 | 0x12 => Some(8),
        0x07 => Some(12),
        0x13 => Some(16),
        0x02 | 0x0d | 0x0e => prefixed(4),
        0x0c => prefixed(16),
        0x03 | 0x04 | 0x0f => prefixed(0).filter(|&n| n >= 5),
        0x05 => prefixed(5),
        0x0b => {
            let (_, rest) = cstring(data)?;
            let (_, end) = cstring(rest)?;
            Some(data.len() - end.len())
        }
        _ => None,
    }
}

/// A string value's text, if whole.
fn string(e: &Element) -> Option<String> {
    if e.kind != 0x02 || e.cut {
        return None;
    }
    let text = e.value.get(4..e.value.len().checked_sub(1)?)?;
    Some(std::str::from_utf8(text).ok()?.to_string())
}

/// A command's name: an identifier, not arbitrary bytes.
fn command_name(name: &[u8]) -> Option<&str> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && (name[0].is_ascii_alphabetic() || name[0] == b'$')
        && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    valid.then(|| std::str::from_utf8(name).ok()).flatten()
}

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let len = le32(request, 0)?;
    let op = le32(request, 12)?;
    if !(16..=MAX_MESSAGE).contains(&len) || le32(request, 8)? != 0 {
        return None;
    }
    let body = &request[16..request.len().min(len as usize)];
    if op != OP_COMPRESSED {
        return message(op, body, options);
    }
    // original opcode, uncompressed size, compressor, compressed message less its header
    let original = le32(body, 0)?;
    let size = le32(body, 4)? as usize;
    let data = body.get(9..)?;
    let plain = match body[8] {
        0 => data.to_vec(),
        // a snappy element grows at most 64 times its tag
        1 => snappy_prefix(data, size.min(data.len().saturating_mul(64))),
        2 | 3 if matches!(original, OP_MSG | OP_QUERY) => return Some(unknown()),
        _ => return None,
    };
    Some(message(original, &plain, options).unwrap_or_else(unknown))
}

fn message(op: u32, body: &[u8], options: &Options) -> Option<Semantics> {
    match op {
        OP_MSG => op_msg(body, options),
        OP_QUERY => op_query(body, options),
        _ => None,
    }
}

/// What a request says when its body cannot be read.
fn unknown() -> Semantics {
    let mut semantics = Semantics {
        name: "mongodb".into(),
        attributes: Vec::new(),
    };
    semantics.push_static("db.system.name", "mongodb");
    semantics
}

/// OP_MSG: flag bits, then sections; kind 0 is the command document, kind 1 a document sequence
/// (`documents`, `updates`, `deletes`) that the driver sends apart from it.
fn op_msg(body: &[u8], options: &Options) -> Option<Semantics> {
    let flags = le32(body, 0)?;
    // bits 2-15 are reserved and must be 0
    if flags & 0xfffc != 0 {
        return None;
    }
    let mut rest = &body[4..];
    let mut command = None;
    let mut sequence = None;
    while let Some((&kind, after)) = rest.split_first() {
        match kind {
            0 if command.is_none() => {
                elements(after)?;
                let len = (le32(after, 0)? as usize).min(after.len());
                command = Some(after);
                rest = &after[len..];
            }
            1 => {
                // a sequence cut by the capture ends what can be read
                let Some(len) = le32(after, 0).map(|n| n as usize) else {
                    break;
                };
                let Some((_, docs)) = after.get(4..after.len().min(len)).and_then(cstring) else {
                    break;
                };
                sequence.get_or_insert(docs);
                rest = after.get(len..).unwrap_or_default();
            }
            _ => return None,
        }
    }
    match command {
        Some(command) => Some(from_command(command, None, sequence, options)),
        None if sequence.is_some() || body.len() > 4 => Some(unknown()),
        None => None,
    }
}

/// OP_QUERY: flags, `db.collection` (`db.$cmd` for a command), skip, limit, query document.
fn op_query(body: &[u8], options: &Options) -> Option<Semantics> {
    let flags = le32(body, 0)?;
    if flags & 0x01 != 0 {
        return None; // reserved
    }
    let (full, rest) = cstring(&body[4..])?;
    let full = std::str::from_utf8(full).ok()?;
    let (db, collection) = full.split_once('.')?;
    let query = rest.get(8..)?;
    let mut query = query;
    // old drivers wrap a command sent with a read preference: {$query: {...}, $readPreference}
    if let Some(first) = elements(query)?.next()
        && matches!(first.name, b"$query" | b"query")
        && first.kind == 0x03
    {
        query = first.value;
    }
    if collection == "$cmd" {
        return Some(from_command(query, Some(db), None, options));
    }
    let mut semantics = db_semantics("find", Some(collection), Some(db));
    if let Some(text) = render(query, false, options) {
        semantics.push_str("db.query.text", text);
    }
    Some(semantics)
}

fn db_semantics(op: &str, collection: Option<&str>, namespace: Option<&str>) -> Semantics {
    let name = match collection {
        Some(collection) => format!("{op} {collection}"),
        None => op.to_string(),
    };
    let mut semantics = Semantics {
        name,
        attributes: Vec::new(),
    };
    semantics.push_static("db.system.name", "mongodb");
    semantics.push_str("db.operation.name", op);
    if let Some(collection) = collection {
        semantics.push_str("db.collection.name", collection);
    }
    if let Some(namespace) = namespace {
        semantics.push_str("db.namespace", namespace);
    }
    semantics
}

/// The semantics of a command document; `sequence`: the documents of an OP_MSG's kind-1 section.
fn from_command(
    command: &[u8],
    db: Option<&str>,
    sequence: Option<&[u8]>,
    options: &Options,
) -> Semantics {
    let Some(mut rest) = elements(command) else {
        return unknown();
    };
    let Some(first) = rest.next() else {
        return unknown();
    };
    let Some(op) = command_name(first.name) else {
        return unknown();
    };
    let on_collection = ON_COLLECTION.split_ascii_whitespace().any(|c| c == op);
    let mut collection = on_collection.then(|| string(&first)).flatten();
    let mut namespace = db.map(str::to_string);
    let mut filter = None;
    let filter_field: &[u8] = match op {
        "find" => b"filter",
        "count" | "distinct" | "findAndModify" | "findandmodify" | "mapReduce" => b"query",
        "aggregate" => b"pipeline",
        "update" => b"updates",
        "delete" => b"deletes",
        _ => b"",
    };
    for e in rest {
        match e.name {
            b"$db" => namespace = string(&e).or(namespace),
            b"collection" if op == "getMore" => collection = string(&e),
            name if name == filter_field && !filter_field.is_empty() => filter = Some(e),
            _ => {}
        }
    }
    let mut semantics = db_semantics(op, collection.as_deref(), namespace.as_deref());
    let text = match (op, filter) {
        ("update" | "delete", Some(e)) if e.kind == 0x04 => {
            // an array of statements in the command itself: the first one's `q`
            let first = elements(e.value).and_then(|mut s| s.next());
            first.and_then(|s| statement_filter(s.value, options))
        }
        ("update" | "delete", _) => sequence.and_then(|docs| statement_filter(docs, options)),
        (_, Some(e)) if matches!(e.kind, 0x03 | 0x04) => render(e.value, e.kind == 0x04, options),
        _ => None,
    };
    if let Some(text) = text {
        semantics.push_str("db.query.text", text);
    }
    semantics
}

/// The `q` of an update or delete statement.
fn statement_filter(statement: &[u8], options: &Options) -> Option<String> {
    let q = elements(statement)?.find(|e| e.name == b"q" && e.kind == 0x03)?;
    render(q.value, false, options)
}

/// `doc` (an array's when `array`) as the query text.
fn render(doc: &[u8], array: bool, options: &Options) -> Option<String> {
    let mut out = String::new();
    write_doc(doc, array, 0, options, &mut out)?;
    Some(truncate(out, options.max_query_len))
}

/// Writes a document as relaxed JSON with values masked; a document cut short is left open.
fn write_doc(
    doc: &[u8],
    array: bool,
    depth: usize,
    options: &Options,
    out: &mut String,
) -> Option<()> {
    let mut elements = elements(doc)?;
    out.push(if array { '[' } else { '{' });
    let mut first = true;
    for e in elements.by_ref() {
        if out.len() > options.max_query_len {
            return Some(());
        }
        // a value the capture cut takes its name with it
        let mark = out.len();
        if !first {
            out.push_str(", ");
        }
        first = false;
        if !array {
            json_string(&crate::text(e.name), out);
            out.push_str(": ");
        }
        match e.kind {
            0x03 | 0x04 if depth < MAX_DEPTH => {
                if write_doc(e.value, e.kind == 0x04, depth + 1, options, out).is_none() {
                    out.truncate(mark);
                    return Some(());
                }
            }
            _ if e.cut => {
                out.truncate(mark);
                return Some(());
            }
            _ if options.sanitize => out.push_str("\"?\""),
            _ => scalar(&e, out),
        }
    }
    if !elements.cut {
        out.push(if array { ']' } else { '}' });
    }
    Some(())
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A whole scalar value as relaxed JSON (when values are kept).
fn scalar(e: &Element, out: &mut String) {
    let v = e.value;
    let eight = || -> [u8; 8] {
        v.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default()
    };
    let four = || -> [u8; 4] {
        v.get(..4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default()
    };
    match (e.kind, string(e)) {
        (0x02, Some(s)) => json_string(&s, out),
        (0x01, _) => out.push_str(&f64::from_le_bytes(eight()).to_string()),
        (0x10, _) => out.push_str(&i32::from_le_bytes(four()).to_string()),
        (0x12, _) => out.push_str(&i64::from_le_bytes(eight()).to_string()),
        (0x08, _) => out.push_str(&(v.first() == Some(&1)).to_string()),
        (0x0a, _) => out.push_str("null"),
        _ => out.push_str("\"?\""),
    }
}

/// A little-endian integer of up to 8 bytes.
fn le(b: &[u8]) -> Option<usize> {
    Some(
        b.iter()
            .rev()
            .fold(0, |acc, &x| (acc << 8) | usize::from(x)),
    )
}

/// The start of a raw snappy block, at most `limit` bytes; stops where the input is cut or wrong.
fn snappy_prefix(input: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    // the uncompressed length, a varint
    let Some(start) = input.iter().take(5).position(|&b| b & 0x80 == 0) else {
        return out;
    };
    let mut rest = &input[start + 1..];
    while out.len() < limit {
        let Some((&tag, after)) = rest.split_first() else {
            break;
        };
        let int = |n| le(after.get(..n)?);
        let (len, offset, used) = match tag & 3 {
            0 => {
                let (len, used) = match tag >> 2 {
                    n @ 0..60 => (usize::from(n) + 1, 0),
                    n => {
                        let bytes = usize::from(n - 59);
                        match int(bytes) {
                            Some(len) => (len + 1, bytes),
                            None => break,
                        }
                    }
                };
                let literal = &after[used..];
                let take = len.min(literal.len()).min(limit - out.len());
                out.extend_from_slice(&literal[..take]);
                rest = &literal[take..];
                if take < len {
                    break;
                }
                continue;
            }
            1 => match after.first() {
                Some(&low) => (
                    4 + usize::from((tag >> 2) & 7),
                    (usize::from(tag >> 5) << 8) | usize::from(low),
                    1,
                ),
                None => break,
            },
            2 => match int(2) {
                Some(offset) => (1 + usize::from(tag >> 2), offset, 2),
                None => break,
            },
            _ => match int(4) {
                Some(offset) => (1 + usize::from(tag >> 2), offset, 4),
                None => break,
            },
        };
        if offset == 0 || offset > out.len() {
            break;
        }
        for _ in 0..len.min(limit - out.len()) {
            out.push(out[out.len() - offset]);
        }
        rest = &after[used..];
    }
    out
}

#[cfg(test)]
#[path = "mongo_tests.rs"]
mod tests;
