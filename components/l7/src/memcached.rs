//! Memcached requests: the text protocol (classic and meta commands) and the binary protocol.
//!
//! `db.operation.name` is the command in lower case, as memcached spells it on the wire and as
//! OpenTelemetry's pymemcache instrumentation names its spans (`get`, `set`, `mg`); a binary
//! request takes the text name of its opcode (`getk`, `setq` keep their quiet/key variants).
//! `db.query.text` keeps the command line (keys, flags, expiry, sizes) and drops the data block
//! and increments: `set user:42 0 300 12 ?`, `get k1 k2`, `incr counter ?`. In a pipeline or a
//! multi-get the first command stands for the write, as for Redis.

use crate::{Options, Semantics, text, truncate};

/// How a text command's arguments are shown.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// Every token on the line is a key, a number or a flag.
    Line,
    /// A data block follows the line.
    Storage,
    /// The last token is an increment.
    Delta,
}

fn text_command(name: &[u8]) -> Option<Shape> {
    Some(match name {
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" | b"ms" => Shape::Storage,
        b"incr" | b"decr" => Shape::Delta,
        b"get" | b"gets" | b"gat" | b"gats" | b"delete" | b"touch" | b"flush_all" | b"version"
        | b"stats" | b"verbosity" | b"quit" | b"shutdown" | b"cache_memlimit" | b"mg" | b"md"
        | b"ma" | b"mn" | b"me" | b"lru_crawler" | b"slabs" | b"watch" | b"lru" => Shape::Line,
        _ => return None,
    })
}

/// The longest key memcached accepts.
const MAX_KEY: usize = 250;

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    match request.first()? {
        0x80 => binary(request, options),
        _ => text_protocol(request, options),
    }
}

fn semantics(op: &str, query: String, options: &Options) -> Semantics {
    let mut semantics = Semantics {
        name: op.to_string(),
        attributes: Vec::new(),
    };
    semantics.push_static("db.system.name", "memcached");
    semantics.push_str("db.operation.name", op);
    semantics.push_str("db.query.text", truncate(query, options.max_query_len));
    semantics
}

fn text_protocol(request: &[u8], options: &Options) -> Option<Semantics> {
    let (line, rest, complete) = match request.windows(2).position(|w| w == b"\r\n") {
        Some(end) => (&request[..end], &request[end + 2..], true),
        None => (request, &request[request.len()..], false),
    };
    // keys are printable and space-free; a command line holds nothing else
    if line.iter().any(|&c| !(b' '..0x7f).contains(&c)) {
        return None;
    }
    let mut tokens = line.split(|&c| c == b' ').filter(|t| !t.is_empty());
    let name = tokens.next()?;
    let shape = text_command(name)?;
    // a command cut before its first space may be a longer word
    if !complete && line.len() == name.len() {
        return None;
    }
    let op = std::str::from_utf8(name).ok()?;
    let args: Vec<&[u8]> = tokens.collect();
    // without its line end, the last token may be cut
    let cut_last = !complete && !line.ends_with(b" ");
    let mut shown = String::from(op);
    for (i, arg) in args.iter().enumerate() {
        if shown.len() > options.max_query_len {
            break;
        }
        shown.push(' ');
        let last = i + 1 == args.len();
        let hidden = options.sanitize
            && ((last && cut_last) || (shape == Shape::Delta && i == 1) || arg.len() > MAX_KEY);
        if hidden {
            shown.push('?');
        } else {
            shown.push_str(&text(arg));
        }
    }
    if shape == Shape::Storage && complete {
        if options.sanitize {
            shown.push_str(" ?");
        } else {
            let size = storage_size(op, &args).unwrap_or(rest.len());
            let data = &rest[..rest.len().min(size).min(options.max_query_len)];
            shown.push(' ');
            shown.push_str(&text(data));
        }
    }
    Some(semantics(op, shown, options))
}

/// The data block's announced size: `set <key> <flags> <exptime> <bytes>`, `ms <key> <datalen>`.
fn storage_size(op: &str, args: &[&[u8]]) -> Option<usize> {
    let at = if op == "ms" { 1 } else { 3 };
    std::str::from_utf8(args.get(at)?).ok()?.parse().ok()
}

/// Binary opcodes by their text names; `value` says whether the body carries a value to drop.
fn opcode(code: u8) -> Option<(&'static str, bool)> {
    Some(match code {
        0x00 => ("get", false),
        0x01 => ("set", true),
        0x02 => ("add", true),
        0x03 => ("replace", true),
        0x04 => ("delete", false),
        0x05 => ("incr", false),
        0x06 => ("decr", false),
        0x07 => ("quit", false),
        0x08 => ("flush_all", false),
        0x09 => ("getq", false),
        0x0a => ("noop", false),
        0x0b => ("version", false),
        0x0c => ("getk", false),
        0x0d => ("getkq", false),
        0x0e => ("append", true),
        0x0f => ("prepend", true),
        0x10 => ("stats", false),
        0x11 => ("setq", true),
        0x12 => ("addq", true),
        0x13 => ("replaceq", true),
        0x14 => ("deleteq", false),
        0x15 => ("incrq", false),
        0x16 => ("decrq", false),
        0x17 => ("quitq", false),
        0x18 => ("flushq", false),
        0x19 => ("appendq", true),
        0x1a => ("prependq", true),
        0x1b => ("verbosity", false),
        0x1c => ("touch", false),
        0x1d => ("gat", false),
        0x1e => ("gatq", false),
        0x20 => ("sasl_list_mechs", false),
        0x21 => ("sasl_auth", false),
        0x22 => ("sasl_step", false),
        _ => return None,
    })
}

/// A binary request: a 24-byte header (magic 0x80, opcode, key length, extras length, data type,
/// vbucket, body length, opaque, CAS), then extras, key and value.
fn binary(request: &[u8], options: &Options) -> Option<Semantics> {
    let header = request.get(..24)?;
    let (op, has_value) = opcode(header[1])?;
    let key_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let extras = usize::from(header[4]);
    let body = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize;
    if header[5] != 0 || key_len > MAX_KEY || extras + key_len > body {
        return None;
    }
    let mut shown = String::from(op);
    // SASL keys name a mechanism and values carry credentials: the operation alone
    if op.starts_with("sasl_") {
        return Some(semantics(op, shown, options));
    }
    let key_start = 24 + extras;
    if key_len > 0 {
        shown.push(' ');
        match request.get(key_start..key_start + key_len) {
            Some(key) => shown.push_str(&text(key)),
            None if options.sanitize => shown.push('?'),
            None => shown.push_str(&text(request.get(key_start..).unwrap_or_default())),
        }
    }
    let value_len = body - extras - key_len;
    if has_value && value_len > 0 {
        shown.push(' ');
        if options.sanitize {
            shown.push('?');
        } else {
            let start = (key_start + key_len).min(request.len());
            let end = request
                .len()
                .min(start + value_len.min(options.max_query_len));
            shown.push_str(&text(&request[start..end]));
        }
    }
    Some(semantics(op, shown, options))
}

#[cfg(test)]
#[path = "memcached_tests.rs"]
mod tests;
