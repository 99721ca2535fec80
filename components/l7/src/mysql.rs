//! MySQL client commands: COM_QUERY, COM_STMT_PREPARE (SQL text) and COM_STMT_EXECUTE.
//!
//! An execution names its statement by the id the server gave it in its reply to the prepare
//! (COM_STMT_PREPARE_OK), which the kernel hands over with every prepare. The id cannot be
//! inferred from the requests alone: MariaDB's counter is per connection thread, and a cached
//! thread carries it over to the next connection (ids 5 and 6 were seen for a fresh connection's
//! first two prepares). An execution of a statement whose prepare went unseen is reported as
//! `EXECUTE`, never as a guess.

use crate::connection::Statements;
use crate::sql::{self, Dialect};
use crate::{Options, Semantics};

const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;

/// A prepared statement's key among the connection's statements.
fn key(id: &[u8]) -> [u8; 6] {
    [b'm', b'y', id[0], id[1], id[2], id[3]]
}

/// Remembers the statement a prepare (`request`) made, under the id the server's reply
/// (`response`, COM_STMT_PREPARE_OK) gave it.
pub(crate) fn prepared(request: &[u8], response: &[u8], statements: &mut Statements) {
    if request.get(3..5) != Some(&[0, COM_STMT_PREPARE]) {
        return;
    }
    // the reply's body is 12 bytes: status OK, the id, column and parameter counts, a filler
    // and warnings; mysql-connector-python reads the packet header alone first, and then the
    // kernel's first bytes of the reply are the body's
    let id = match *response {
        [12, 0, 0, 1, 0, a, b, c, d, ..] => [a, b, c, d],
        [0, a, b, c, d, _, _, _, _, 0, _, _] => [a, b, c, d],
        _ => return,
    };
    statements.remember(&key(&id), request);
}

pub(crate) fn parse(
    request: &[u8],
    statements: &Statements,
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
            Some(sql::semantics(
                "mysql",
                Dialect::Mysql,
                payload,
                complete,
                options,
            ))
        }
        COM_STMT_EXECUTE => {
            let id = payload.get(..4)?;
            // the prepare's own semantics: an execution runs what it prepared
            if let Some(prepare) = statements.get(&key(id)) {
                return parse(prepare, &Statements::default(), options);
            }
            let mut s = Semantics {
                name: "EXECUTE".into(),
                attributes: Vec::new(),
            };
            s.push_static("db.system.name", "mysql");
            s.push_static("db.operation.name", "EXECUTE");
            Some(s)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn parse(request: &[u8], options: &Options) -> Option<Semantics> {
        super::parse(request, &Statements::default(), options)
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
    fn a_reply_read_after_its_header() {
        // mysql-connector-python 26.10 (pure Python) against MariaDB 10.11, strace'd: the
        // prepare, its reply's body (read after its 4-byte header: statement id 3, as the
        // server's cached thread numbers them), and an execution of the statement
        let prepare = b"\x18\x00\x00\x00\x16SELECT ? AS my_prepared";
        let body = [0, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        let execute = [
            15, 0, 0, 0, 0x17, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0x80, 1,
        ];
        let mut statements = Statements::default();
        prepared(prepare, &body, &mut statements);
        let s = super::parse(&execute, &statements, &Options::default()).unwrap();
        assert_eq!(s.name, "SELECT");
        assert_eq!(query_text(&s), Some("SELECT ? AS my_prepared"));
        // the header alone teaches nothing
        let mut statements = Statements::default();
        prepared(prepare, &[12, 0, 0, 1], &mut statements);
        let s = super::parse(&execute, &statements, &Options::default()).unwrap();
        assert_eq!(s.name, "EXECUTE");
    }

    #[test]
    fn an_execution_names_the_statement_its_id_was_given_to() {
        let o = &Options::default();
        let mut statements = Statements::default();
        let prepare = packet(COM_STMT_PREPARE, b"SELECT name FROM users WHERE id = ?");
        // COM_STMT_PREPARE_OK: status, statement id 7, one column, one parameter, warnings
        let ok = [12, 0, 0, 1, 0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        prepared(&prepare, &ok, &mut statements);
        // an error reply (0xff) names no statement
        let other = packet(COM_STMT_PREPARE, b"DELETE FROM nowhere");
        prepared(
            &other,
            &[9, 0, 0, 1, 0xff, 0x7a, 4, b'#', b'4'],
            &mut statements,
        );
        let execute = |id: u8| packet(COM_STMT_EXECUTE, &[id, 0, 0, 0, 0, 1, 0, 0, 0]);
        let s = super::parse(&execute(7), &statements, o).unwrap();
        assert_eq!(s.name, "SELECT users");
        assert_eq!(query_text(&s), Some("SELECT name FROM users WHERE id = ?"));
        let s = super::parse(&execute(0xff), &statements, o).unwrap();
        assert_eq!(s.name, "EXECUTE");
        // a reply to a query is no statement either
        let query = packet(COM_QUERY, b"SELECT 1");
        prepared(&query, &ok, &mut statements);
        assert_eq!(
            super::parse(&execute(7), &statements, o).unwrap().name,
            "SELECT users"
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
