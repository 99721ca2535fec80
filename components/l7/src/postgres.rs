//! PostgreSQL frontend messages: a simple query (`Q`) or the Parse of an extended query (`P`).

use crate::sql::{self, Dialect};
use crate::{Options, Semantics};

/// The longest message length taken for real: the server's own limit is 1 GiB.
const MAX_LEN: u32 = 1 << 30;

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let (&kind, rest) = request.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    if !(4..=MAX_LEN).contains(&len) {
        return None;
    }
    // what of the message's body the capture holds
    let body = &rest[4..rest.len().min(len as usize)];
    let query = match kind {
        b'Q' => body,
        b'P' => {
            // statement name NUL, query NUL, parameter types
            let name_end = body.iter().position(|&c| c == 0)?;
            &body[name_end + 1..]
        }
        _ => return None,
    };
    let (query, complete) = match query.iter().position(|&c| c == 0) {
        Some(end) => (&query[..end], true),
        None => (query, false),
    };
    Some(sql::semantics(
        "postgresql",
        Dialect::Postgres,
        query,
        complete,
        options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend(((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn attr<'a>(s: &'a Semantics, key: &str) -> Option<&'a str> {
        match s.get(key)? {
            Value::Str(v) => Some(v),
            Value::Int(_) => None,
        }
    }

    #[test]
    fn simple_query() {
        let q = message(b'Q', b"SELECT * FROM users WHERE id = 42;\0");
        let s = parse(&q, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT users");
        assert_eq!(attr(&s, "db.system.name"), Some("postgresql"));
        assert_eq!(
            attr(&s, "db.query.text"),
            Some("SELECT * FROM users WHERE id = ?;")
        );
        assert_eq!(attr(&s, "db.operation.name"), Some("SELECT"));
        assert_eq!(attr(&s, "db.collection.name"), Some("users"));
    }

    #[test]
    fn parse_message_of_an_extended_query() {
        // what libpq's PQexecParams sends: Parse, Bind, Describe, Execute, Sync in one write
        let mut m = message(
            b'P',
            b"\0UPDATE \"public\".\"Accounts\" SET balance = $1 WHERE id = $2\0\0\0",
        );
        m.extend(b"B\0\0\0\x0c\0\0\0\0\0\0\0\0S\0\0\0\x04");
        let s = parse(&m, &Options::default()).unwrap();
        assert_eq!(s.name, "UPDATE public.Accounts");
        assert_eq!(
            attr(&s, "db.query.text"),
            Some("UPDATE \"public\".\"Accounts\" SET balance = $1 WHERE id = $2")
        );
        let named = message(b'P', b"stmt_1\0INSERT INTO t1 (a) VALUES ($1)\0\0\0");
        assert_eq!(
            parse(&named, &Options::default()).unwrap().name,
            "INSERT t1"
        );
    }

    #[test]
    fn truncated_query_keeps_what_is_certain() {
        let mut q = message(
            b'Q',
            b"SELECT name FROM customers WHERE secret = 'hunter2'\0",
        );
        q.truncate(40); // …FROM customers WHERE sec
        let s = parse(&q, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT customers");
        let mut cut = message(b'Q', b"SELECT name FROM customers\0");
        cut.truncate(25); // …FROM custo
        assert_eq!(parse(&cut, &Options::default()).unwrap().name, "SELECT");
        // cut inside a literal: the literal's start is already sanitized away
        let mut lit = message(b'Q', b"INSERT INTO t VALUES ('hunter2')\0");
        lit.truncate(30);
        let s = parse(&lit, &Options::default()).unwrap();
        assert_eq!(attr(&s, "db.query.text"), Some("INSERT INTO t VALUES (?"));
    }

    #[test]
    fn every_prefix_is_safe() {
        let mut m = message(
            b'P',
            b"s1\0WITH x AS (SELECT $$a$$) SELECT * FROM \"S\".\"T\" WHERE a = 'it''s' -- c\n\0\0\0",
        );
        m.extend(message(b'Q', b"COMMIT\0"));
        for end in 0..=m.len() {
            if let Some(s) = parse(&m[..end], &Options::default()) {
                assert!(!s.name.is_empty());
                let text = attr(&s, "db.query.text").unwrap_or("");
                assert!(!text.contains("it"), "{text}");
            }
        }
        assert_eq!(parse(&m, &Options::default()).unwrap().name, "SELECT S.T");
    }

    #[test]
    fn not_a_query() {
        assert_eq!(parse(b"", &Options::default()), None);
        assert_eq!(parse(b"Q\0\0", &Options::default()), None);
        assert_eq!(parse(b"Q\0\0\0\x03", &Options::default()), None);
        assert_eq!(parse(b"Q\xff\xff\xff\xff", &Options::default()), None);
        assert_eq!(parse(&message(b'X', b""), &Options::default()), None);
        // a startup message: length, then protocol 3.0
        assert_eq!(parse(b"\0\0\0\x08\0\x03\0\0", &Options::default()), None);
        // an empty query names the system
        let s = parse(&message(b'Q', b"\0"), &Options::default()).unwrap();
        assert_eq!(s.name, "postgresql");
        assert_eq!(s.get("db.query.text"), None);
    }
}
