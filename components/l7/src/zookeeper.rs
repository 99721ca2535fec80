//! ZooKeeper client requests (jute): length, xid, operation code, then the operation's record,
//! which for most operations starts with the znode path. The session's first request, the
//! connect request, has no xid or operation: protocol version 0 stands where the xid would be.
//!
//! ZooKeeper is in none of the semantic conventions. Its API is a database's: a tree of znodes
//! read and written by path. So it gets the database attributes: `db.system.name` "zookeeper"
//! (the conventions allow a value they do not list), `db.operation.name` the operation's name in
//! the ZooKeeper API (`getData`, `create`), `db.query.text` the operation and its path, as a
//! command line (`getData /brokers/ids/1`), and `db.query.summary`, which names the span, the
//! same with the path's identifiers and sequence numbers templated (`getData /brokers/ids/{id}`,
//! `delete /locks/lock-{seq}`). The path is not `db.collection.name`: sequential, ephemeral and
//! per-client znodes make paths unbounded, and the collection is a metric attribute. No data,
//! ACL, version or credential is read.

use crate::{Options, Semantics, truncate};

/// ZooKeeper's own limit on a packet (jute.maxbuffer) defaults to 1 MiB; configurations raise
/// it, rarely past a few.
const MAX_LEN: u32 = 64 << 20;
/// The xids of requests the client library sends of its own accord.
const PING_XID: i32 = -2;
const AUTH_XID: i32 = -4;
const SET_WATCHES_XID: i32 = -8;

/// An operation's name, and whether its record starts with a path.
fn operation(code: i32) -> Option<(&'static str, bool)> {
    Some(match code {
        1 => ("create", true),
        2 => ("delete", true),
        3 => ("exists", true),
        4 => ("getData", true),
        5 => ("setData", true),
        6 => ("getACL", true),
        7 => ("setACL", true),
        8 => ("getChildren", true),
        9 => ("sync", true),
        11 => ("ping", false),
        12 => ("getChildren2", true),
        13 => ("check", true),
        14 => ("multi", false),
        15 => ("create2", true),
        16 => ("reconfig", false),
        17 => ("checkWatches", true),
        18 => ("removeWatches", true),
        19 => ("createContainer", true),
        20 => ("deleteContainer", true),
        21 => ("createTTL", true),
        22 => ("multiRead", false),
        // the authentication packets carry credentials: only their name is kept
        100 => ("auth", false),
        101 => ("setWatches", false),
        102 => ("sasl", false),
        103 => ("getEphemerals", true),
        104 => ("getAllChildrenNumber", true),
        105 => ("setWatches2", false),
        106 => ("addWatch", true),
        107 => ("whoAmI", false),
        -11 => ("closeSession", false),
        _ => return None,
    })
}

fn int(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A path segment with ZooKeeper's sequence number (ten digits it appends to a sequential
/// znode's name) or an identifier templated.
fn template(segment: &str) -> String {
    let route = crate::http::route(segment);
    if route != segment {
        return route;
    }
    match segment.len().checked_sub(10) {
        Some(at)
            if at > 0
                && segment.is_char_boundary(at)
                && segment[at..].bytes().all(|c| c.is_ascii_digit()) =>
        {
            format!("{}{{seq}}", &segment[..at])
        }
        _ => route,
    }
}

fn semantics(op: &str, path: Option<&str>, options: &Options) -> Semantics {
    let mut s = Semantics {
        name: op.to_string(),
        attributes: Vec::new(),
    };
    s.push_static("db.system.name", "zookeeper");
    s.push_str("db.operation.name", op);
    if let Some(path) = path {
        let templated: Vec<String> = path.split('/').map(template).collect();
        s.name = format!("{op} {}", templated.join("/"));
        s.push_str(
            "db.query.text",
            truncate(format!("{op} {path}"), options.max_query_len),
        );
        s.push_str("db.query.summary", s.name.clone());
    }
    s
}

/// The connect request: protocol version 0, last zxid seen, timeout, session id, password (16
/// bytes, or none for a new session in old clients), and since 3.4 a read-only flag.
fn connect(len: u32, body: &[u8], options: &Options) -> Option<Semantics> {
    if !(matches!(len, 28 | 29 | 44 | 45)) {
        return None;
    }
    if let Some(password_len) = int(body, 24)
        && !matches!(password_len, 0 | 16)
    {
        return None;
    }
    Some(semantics("connect", None, options))
}

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let len = u32::from_be_bytes(request.get(..4)?.try_into().ok()?);
    if !(8..=MAX_LEN).contains(&len) {
        return None;
    }
    let body = &request[4..request.len().min(4 + len as usize)];
    let xid = int(body, 0)?;
    if xid == 0 {
        return connect(len, body, options);
    }
    let (op, has_path) = operation(int(body, 4)?)?;
    let special = match op {
        "ping" => PING_XID,
        "auth" => AUTH_XID,
        "setWatches" | "setWatches2" => SET_WATCHES_XID,
        _ => 0,
    };
    if special != 0 && xid != special || special == 0 && xid < 0 {
        return None;
    }
    if !has_path {
        return Some(semantics(op, None, options));
    }
    // the path: a length (-1: none) and UTF-8 bytes; one cut short is left out
    let path = match int(body, 8) {
        Some(n) if n < 0 || n as u64 + 12 > u64::from(len) => return None,
        Some(n) => match body.get(12..12 + n as usize) {
            Some(p) => match std::str::from_utf8(p) {
                Ok(p) if p.starts_with('/') => Some(p),
                _ => return None,
            },
            None => None,
        },
        None => None,
    };
    Some(semantics(op, path, options))
}

#[cfg(test)]
#[path = "zookeeper_tests.rs"]
mod tests;
