//! PostgreSQL frontend messages: a simple query (`Q`), the Parse of an extended query (`P`), and
//! the Bind (`B`) of a statement an earlier Parse on the same connection named.

use crate::connection::Statements;
use crate::sql::{self, Dialect};
use crate::{Options, Semantics};

/// The longest message length taken for real: the server's own limit is 1 GiB.
const MAX_LEN: u32 = 1 << 30;

/// A named statement's key among the connection's statements.
fn key(name: &[u8]) -> Vec<u8> {
    [b"pg:", name].concat()
}

/// NUL-terminated string at the start of `b`, and what follows it.
fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|&c| c == 0)?;
    Some((&b[..end], &b[end + 1..]))
}

pub(crate) fn parse(
    request: &[u8],
    statements: &mut Statements,
    options: &Options,
) -> Option<Semantics> {
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
            let (name, query) = (&body[..name_end], &body[name_end + 1..]);
            // a named statement is executed later by name alone: keep its text, if whole
            if !name.is_empty()
                && let Some((text, _)) = cstr(query)
            {
                statements.remember(&key(name), text);
            }
            query
        }
        b'B' => {
            // portal name NUL, statement name NUL, …: the text an earlier Parse gave the name
            let (_portal, after) = cstr(body)?;
            let (name, _) = cstr(after)?;
            let text = statements.get(&key(name))?.to_vec();
            return Some(sql::semantics(
                "postgresql",
                Dialect::Postgres,
                &text,
                true,
                options,
            ));
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

    fn parse1(request: &[u8], options: &Options) -> Option<Semantics> {
        parse(request, &mut Statements::default(), options)
    }

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
        let s = parse1(&q, &Options::default()).unwrap();
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
        let s = parse1(&m, &Options::default()).unwrap();
        assert_eq!(s.name, "UPDATE public.Accounts");
        assert_eq!(
            attr(&s, "db.query.text"),
            Some("UPDATE \"public\".\"Accounts\" SET balance = $1 WHERE id = $2")
        );
        let named = message(b'P', b"stmt_1\0INSERT INTO t1 (a) VALUES ($1)\0\0\0");
        assert_eq!(
            parse1(&named, &Options::default()).unwrap().name,
            "INSERT t1"
        );
    }

    #[test]
    fn a_named_statement_is_known_when_bound_again() {
        // what a driver sends once it prepares a statement it runs often (pgx, JDBC,
        // psycopg's prepare): Parse under a name, then, on later executions, Bind alone
        let mut statements = Statements::default();
        let o = &Options::default();
        let mut first = message(b'P', b"stmt_7\0SELECT * FROM orders WHERE id = $1\0\0\0");
        first.extend(message(b'B', b"\0stmt_7\0\0\0\0\x01\0\0\0\x0242\0\0"));
        assert_eq!(
            parse(&first, &mut statements, o).unwrap().name,
            "SELECT orders"
        );
        let mut again = message(b'B', b"\0stmt_7\0\0\0\0\x01\0\0\0\x0243\0\0");
        again.extend(message(b'E', b"\0\0\0\0\0"));
        let s = parse(&again, &mut statements, o).unwrap();
        assert_eq!(s.name, "SELECT orders");
        assert_eq!(
            attr(&s, "db.query.text"),
            Some("SELECT * FROM orders WHERE id = $1")
        );
        // another connection never saw the Parse; an unnamed Bind refers to nothing kept
        assert_eq!(parse(&again, &mut Statements::default(), o), None);
        let unnamed = message(b'B', b"\0\0\0\0\0\0\0\0");
        assert_eq!(parse(&unnamed, &mut statements, o), None);
    }

    #[test]
    fn truncated_query_keeps_what_is_certain() {
        let mut q = message(
            b'Q',
            b"SELECT name FROM customers WHERE secret = 'hunter2'\0",
        );
        q.truncate(40); // …FROM customers WHERE sec
        let s = parse1(&q, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT customers");
        let mut cut = message(b'Q', b"SELECT name FROM customers\0");
        cut.truncate(25); // …FROM custo
        assert_eq!(parse1(&cut, &Options::default()).unwrap().name, "SELECT");
        // cut inside a literal: the literal's start is already sanitized away
        let mut lit = message(b'Q', b"INSERT INTO t VALUES ('hunter2')\0");
        lit.truncate(30);
        let s = parse1(&lit, &Options::default()).unwrap();
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
            if let Some(s) = parse1(&m[..end], &Options::default()) {
                assert!(!s.name.is_empty());
                let text = attr(&s, "db.query.text").unwrap_or("");
                assert!(!text.contains("it"), "{text}");
            }
        }
        assert_eq!(parse1(&m, &Options::default()).unwrap().name, "SELECT S.T");
    }

    #[test]
    fn not_a_query() {
        assert_eq!(parse1(b"", &Options::default()), None);
        assert_eq!(parse1(b"Q\0\0", &Options::default()), None);
        assert_eq!(parse1(b"Q\0\0\0\x03", &Options::default()), None);
        assert_eq!(parse1(b"Q\xff\xff\xff\xff", &Options::default()), None);
        assert_eq!(parse1(&message(b'X', b""), &Options::default()), None);
        // a startup message: length, then protocol 3.0
        assert_eq!(parse1(b"\0\0\0\x08\0\x03\0\0", &Options::default()), None);
        // an empty query names the system
        let s = parse1(&message(b'Q', b"\0"), &Options::default()).unwrap();
        assert_eq!(s.name, "postgresql");
        assert_eq!(s.get("db.query.text"), None);
    }
}
