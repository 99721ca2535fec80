//! ClickHouse native protocol (TCP, port 9000) client packets: Hello, Query, Data, Cancel, Ping.
//!
//! A Query packet carries its SQL text after the query id, the client info (whose fields depend on
//! the protocol revision both sides agreed on, which the packet does not state) and the changed
//! settings, so the text starts 50 to several hundred bytes in. Rather than follow every revision's
//! layout, the text is found by its own frame: processing stage, compression flag, then a
//! length-prefixed string that starts with a statement keyword. A head cut before that yields the
//! system alone.

use crate::sql::{self, Dialect};
use crate::{Options, Semantics, text};

const HELLO: u64 = 0;
const QUERY: u64 = 1;
const DATA: u64 = 2;
const CANCEL: u64 = 3;
const PING: u64 = 4;

/// Revisions clients have sent since the client info exists (54032) with room for growth.
const REVISIONS: std::ops::RangeInclusive<u64> = 54032..=99_999;

/// Statements the server's parser starts with (ClickHouse's grammar, not all of SQL).
const KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "WITH", "CREATE", "ALTER", "DROP", "DETACH", "ATTACH", "RENAME",
    "TRUNCATE", "OPTIMIZE", "SHOW", "DESC", "DESCRIBE", "EXPLAIN", "EXISTS", "USE", "SET",
    "SYSTEM", "KILL", "GRANT", "REVOKE", "CHECK", "DELETE", "UPDATE", "EXCHANGE", "WATCH",
    "BACKUP", "RESTORE", "UNDROP", "MOVE", "BEGIN", "COMMIT", "ROLLBACK", "REPLACE",
];

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let mut r = Reader(request);
    match r.varint()? {
        HELLO => hello(request).or_else(|| {
            // the addendum (revision 54458+) that follows the server's Hello: quota key, and
            // (54470+) the chunking both ways; the next packet may share its write
            let mut r = Reader(&request[1..]);
            r.string()?;
            let save = r.0;
            let chunking = |s: &[u8]| s.starts_with(b"chunked") || s.starts_with(b"notchunked");
            if !(r.string().is_some_and(chunking) && r.string().is_some_and(chunking)) {
                r.0 = save;
            }
            match Reader(r.0).varint()? {
                HELLO => None,
                _ => parse(r.0, options),
            }
        }),
        QUERY => query(r.0, options),
        DATA => Some(packet("Data")),
        CANCEL => Some(packet("Cancel")),
        PING => (r.0.is_empty() || r.0.first() == Some(&(PING as u8))).then(|| packet("Ping")),
        _ => None,
    }
}

fn packet(operation: &'static str) -> Semantics {
    let mut s = Semantics {
        name: operation.into(),
        attributes: Vec::new(),
    };
    s.push_static("db.system.name", "clickhouse");
    s.push_str("db.operation.name", operation);
    s
}

/// Client name, version, revision, default database, user and password: the password is never
/// read into anything, nor the user (no current attribute holds it).
fn hello(request: &[u8]) -> Option<Semantics> {
    let mut r = Reader(&request[1..]);
    let client = r.string()?;
    if client.is_empty() || client.iter().any(|c| c.is_ascii_control()) {
        return None;
    }
    let _major = r.varint()?;
    let _minor = r.varint()?;
    if !REVISIONS.contains(&r.varint()?) {
        return None;
    }
    let mut s = packet("Hello");
    // a database cut by the capture is not named
    if let Some(database) = r.string().filter(|d| !d.is_empty()) {
        s.push_str("db.namespace", text(database));
    }
    Some(s)
}

fn query(body: &[u8], options: &Options) -> Option<Semantics> {
    let mut r = Reader(body);
    // the query id, then the client info's query kind: none, initial, secondary
    let unknown = || {
        let mut s = Semantics {
            name: "clickhouse".into(),
            attributes: Vec::new(),
        };
        s.push_static("db.system.name", "clickhouse");
        Some(s)
    };
    match r.string() {
        Some(_) => {}
        None if r.declared_len().is_some() => return unknown(),
        None => return None,
    }
    let Some(&kind) = r.0.first() else {
        return unknown();
    };
    if kind > 2 {
        return None;
    }
    let Some((query, complete)) = find_query(&r.0[1..]) else {
        return unknown();
    };
    Some(sql::semantics(
        "clickhouse",
        // backslash escapes in strings, backquoted identifiers, `#` comments: MySQL's lexer
        // sanitizes ClickHouse's literals; its reading of "double-quoted" identifiers as strings
        // costs a table name at worst, never a leak
        Dialect::Mysql,
        query,
        complete,
        options,
    ))
}

/// The query text: after the stage (0..=4) and the compression flag, a string whose first word
/// is a statement keyword; `false` when the capture cut it.
fn find_query(b: &[u8]) -> Option<(&[u8], bool)> {
    (0..b.len().saturating_sub(3)).find_map(|i| {
        if b[i] > 4 || b[i + 1] > 1 {
            return None;
        }
        let mut r = Reader(&b[i + 2..]);
        let len = usize::try_from(r.varint()?).ok()?;
        if len == 0 {
            return None;
        }
        let (query, complete) = match r.0.get(..len) {
            Some(q) => (q, true),
            None => (r.0, false),
        };
        starts_with_keyword(query, complete).then_some((query, complete))
    })
}

fn starts_with_keyword(query: &[u8], complete: bool) -> bool {
    let start = query
        .iter()
        .position(|&c| !(c.is_ascii_whitespace() || c == b'('))
        .unwrap_or(query.len());
    let rest = &query[start..];
    let end = rest
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    // a word cut by the capture is no word yet
    let whole = match rest.get(end) {
        Some(&c) => !(c.is_ascii_digit() || c == b'_'),
        None => complete,
    };
    whole
        && KEYWORDS
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(&rest[..end]))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// LEB128, at most 9 bytes as ClickHouse writes it.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(9) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Some(value);
            }
        }
        None
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let mut r = Reader(self.0);
        let len = usize::try_from(r.varint()?).ok()?;
        let s = r.0.get(..len)?;
        self.0 = &r.0[len..];
        Some(s)
    }

    /// Whether a string's length prefix is whole (its bytes may not be).
    fn declared_len(&self) -> Option<u64> {
        Reader(self.0).varint()
    }
}

#[cfg(test)]
#[path = "clickhouse_tests.rs"]
mod tests;
