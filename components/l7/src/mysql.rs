//! MySQL client commands: COM_QUERY, COM_STMT_PREPARE (SQL text) and COM_STMT_EXECUTE.
//!
//! An execution names its statement by the id the server gave it in its reply to the prepare,
//! which this parser never sees (the kernel hands over requests only). The id cannot be inferred
//! either: MariaDB's counter is per connection thread, and a cached thread carries it over to the
//! next connection (ids 5 and 6 were seen for a fresh connection's first two prepares). So an
//! execution is reported as `EXECUTE`, never as a guess.

use crate::sql::{self, Dialect};
use crate::{Options, Semantics};

const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;

pub(crate) fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
    let header = request.get(..5)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    // a command starts a sequence; the payload holds at least the command byte
    if header[3] != 0 || len == 0 {
        return None;
    }
    let end = 4 + len;
    let complete = request.len() >= end;
    let mut payload = &request[5..request.len().min(end)];
    match header[4] {
        COM_QUERY | COM_STMT_PREPARE => {
            // with CLIENT_QUERY_ATTRIBUTES (MySQL 8), COM_QUERY first carries the parameter
            // count and set count: 0 and 1 when there are no attributes. SQL never starts with NUL.
            if header[4] == COM_QUERY && payload.starts_with(&[0, 1]) {
                payload = &payload[2..];
            }
            if payload.first() == Some(&0) {
                return None;
            }
            Some(sql::semantics(
                "mysql",
                Dialect::Mysql,
                payload,
                complete,
                options,
            ))
        }
        COM_STMT_EXECUTE => {
            payload.get(..4)?; // the statement id
            let mut s = Semantics {
                name: "EXECUTE".into(),
                attributes: Vec::new(),
            };
            s.push_str("db.system.name", "mysql");
            s.push_str("db.operation.name", "EXECUTE");
            Some(s)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn packet(command: u8, body: &[u8]) -> Vec<u8> {
        let mut p = ((body.len() + 1) as u32).to_le_bytes()[..3].to_vec();
        p.extend([0, command]);
        p.extend_from_slice(body);
        p
    }

    fn query_text(s: &Semantics) -> Option<&str> {
        match s.get("db.query.text")? {
            Value::Str(v) => Some(v),
            Value::Int(_) => None,
        }
    }

    #[test]
    fn com_query_as_the_mysql_client_sends_it() {
        // mysql -e "select * from \`shop\`.\`orders\` where note = \"it's\" and id = 7"
        let p = packet(
            COM_QUERY,
            b"select * from `shop`.`orders` where note = \"it's\" and id = 7",
        );
        let s = parse(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT shop.orders");
        assert_eq!(
            query_text(&s),
            Some("select * from `shop`.`orders` where note = ? and id = ?")
        );
        assert_eq!(s.get("db.system.name"), Some(&Value::Str("mysql".into())));
        // MySQL 8 query attributes: no parameters, one set
        let p = packet(COM_QUERY, b"\0\x01INSERT INTO t VALUES ('a\\'b', 1)");
        let s = parse(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "INSERT t");
        assert_eq!(query_text(&s), Some("INSERT INTO t VALUES (?, ?)"));
    }

    #[test]
    fn prepare_and_execute() {
        let p = packet(COM_STMT_PREPARE, b"DELETE FROM sessions WHERE expires < ?");
        let s = parse(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "DELETE sessions");
        let e = packet(COM_STMT_EXECUTE, &[1, 0, 0, 0, 0, 1, 0, 0, 0]);
        let s = parse(&e, &Options::default()).unwrap();
        assert_eq!(s.name, "EXECUTE");
        assert_eq!(
            s.get("db.operation.name"),
            Some(&Value::Str("EXECUTE".into()))
        );
    }

    #[test]
    fn truncated_and_foreign() {
        let p = packet(COM_QUERY, b"SELECT id FROM accounts WHERE token = 'abc'");
        for end in 0..=p.len() {
            if let Some(s) = parse(&p[..end], &Options::default()) {
                assert!(!query_text(&s).unwrap_or("").contains("abc"));
            }
        }
        assert_eq!(parse(&p[..22], &Options::default()).unwrap().name, "SELECT");
        assert_eq!(
            parse(&p[..29], &Options::default()).unwrap().name,
            "SELECT accounts"
        );
        assert_eq!(parse(&packet(0x0e, b""), &Options::default()), None); // COM_PING
        let mut seq1 = p.clone();
        seq1[3] = 1;
        assert_eq!(parse(&seq1, &Options::default()), None);
        assert_eq!(parse(&[0, 0, 0, 0, 3], &Options::default()), None);
    }
}
