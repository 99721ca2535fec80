//! MySQL client commands: COM_QUERY, COM_STMT_PREPARE (SQL text) and COM_STMT_EXECUTE, whose
//! statement id names a statement prepared earlier on the same connection.

use crate::connection::Statements;
use crate::sql::{self, Dialect};
use crate::{Options, Semantics};

/// A statement id's key among the connection's statements.
fn key(id: u32) -> [u8; 7] {
    let [a, b, c, d] = id.to_le_bytes();
    [b'm', b'y', b':', a, b, c, d]
}

const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;

pub(crate) fn parse(
    request: &[u8],
    statements: &mut Statements,
    options: &Options,
) -> Option<Semantics> {
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
            if header[4] == COM_STMT_PREPARE {
                // the server numbers a connection's statements 1, 2, … in the order it is asked
                // to prepare them, failed ones included (MySQL's and MariaDB's
                // statement_id_counter, per connection)
                statements.mysql_prepared = statements.mysql_prepared.wrapping_add(1);
                if complete {
                    statements.remember(&key(statements.mysql_prepared), payload);
                }
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
            let id = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
            if let Some(text) = statements.get(&key(id)) {
                let text = text.to_vec();
                return Some(sql::semantics(
                    "mysql",
                    Dialect::Mysql,
                    &text,
                    true,
                    options,
                ));
            }
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

    fn parse1(request: &[u8], options: &Options) -> Option<Semantics> {
        parse(request, &mut Statements::default(), options)
    }

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
        let s = parse1(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT shop.orders");
        assert_eq!(
            query_text(&s),
            Some("select * from `shop`.`orders` where note = ? and id = ?")
        );
        assert_eq!(s.get("db.system.name"), Some(&Value::Str("mysql".into())));
        // MySQL 8 query attributes: no parameters, one set
        let p = packet(COM_QUERY, b"\0\x01INSERT INTO t VALUES ('a\\'b', 1)");
        let s = parse1(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "INSERT t");
        assert_eq!(query_text(&s), Some("INSERT INTO t VALUES (?, ?)"));
    }

    #[test]
    fn prepare_and_execute() {
        let p = packet(COM_STMT_PREPARE, b"DELETE FROM sessions WHERE expires < ?");
        let s = parse1(&p, &Options::default()).unwrap();
        assert_eq!(s.name, "DELETE sessions");
        let e = packet(COM_STMT_EXECUTE, &[1, 0, 0, 0, 0, 1, 0, 0, 0]);
        let s = parse1(&e, &Options::default()).unwrap();
        assert_eq!(s.name, "EXECUTE");
        assert_eq!(
            s.get("db.operation.name"),
            Some(&Value::Str("EXECUTE".into()))
        );
        // on one connection, statement 2 is the second one prepared
        let mut statements = Statements::default();
        let o = &Options::default();
        parse(&p, &mut statements, o).unwrap();
        let second = packet(COM_STMT_PREPARE, b"SELECT name FROM users WHERE id = ?");
        parse(&second, &mut statements, o).unwrap();
        let e2 = packet(COM_STMT_EXECUTE, &[2, 0, 0, 0, 0, 1, 0, 0, 0]);
        let s = parse(&e2, &mut statements, o).unwrap();
        assert_eq!(s.name, "SELECT users");
        assert_eq!(query_text(&s), Some("SELECT name FROM users WHERE id = ?"));
        assert_eq!(
            parse(&e, &mut statements, o).unwrap().name,
            "DELETE sessions"
        );
        let e3 = packet(COM_STMT_EXECUTE, &[3, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse(&e3, &mut statements, o).unwrap().name, "EXECUTE");
    }

    #[test]
    fn truncated_and_foreign() {
        let p = packet(COM_QUERY, b"SELECT id FROM accounts WHERE token = 'abc'");
        for end in 0..=p.len() {
            if let Some(s) = parse1(&p[..end], &Options::default()) {
                assert!(!query_text(&s).unwrap_or("").contains("abc"));
            }
        }
        assert_eq!(
            parse1(&p[..22], &Options::default()).unwrap().name,
            "SELECT"
        );
        assert_eq!(
            parse1(&p[..29], &Options::default()).unwrap().name,
            "SELECT accounts"
        );
        assert_eq!(parse1(&packet(0x0e, b""), &Options::default()), None); // COM_PING
        let mut seq1 = p.clone();
        seq1[3] = 1;
        assert_eq!(parse1(&seq1, &Options::default()), None);
        assert_eq!(parse1(&[0, 0, 0, 0, 3], &Options::default()), None);
    }
}
