//! `parse` across protocols: status handling, options, and arbitrary bytes.

use super::*;
use crate::test_support::{attr, head, testdata, xorshift};

fn pg_query(q: &[u8]) -> Vec<u8> {
    let mut m = vec![b'Q'];
    m.extend(((q.len() + 5) as u32).to_be_bytes());
    m.extend_from_slice(q);
    m.push(0);
    m
}

#[test]
fn http_status_codes_and_server_errors() {
    let req = b"GET /users/7 HTTP/1.1\r\n\r\n";
    let ok = parse(Protocol::Http, req, 200, &Options::default()).unwrap();
    assert_eq!(ok.get("http.response.status_code"), Some(&Value::Int(200)));
    assert_eq!(ok.get("error.type"), None);
    let s = parse(Protocol::Http, req, 503, &Options::default()).unwrap();
    assert_eq!(s.get("error.type"), Some(&Value::Str("503".into())));
    assert_eq!(s.name, "GET /users/{id}");
    let none = parse(Protocol::Http, req, 0, &Options::default()).unwrap();
    assert_eq!(none.get("http.response.status_code"), None);
    // 4xx is the caller's to judge (an error for a client span, not for a server span)
    let s = parse(Protocol::Http, req, 404, &Options::default()).unwrap();
    assert_eq!(s.get("error.type"), None);
}

#[test]
fn database_errors() {
    let q = pg_query(b"SELECT 1");
    let s = parse(Protocol::Postgres, &q, 1, &Options::default()).unwrap();
    assert_eq!(s.get("error.type"), Some(&Value::Str("_OTHER".into())));
    let s = parse(Protocol::Postgres, &q, 0, &Options::default()).unwrap();
    assert_eq!(s.get("error.type"), None);
    let r = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    let s = parse(Protocol::Redis, r, 1, &Options::default()).unwrap();
    assert_eq!(s.get("error.type"), Some(&Value::Str("_OTHER".into())));
}

#[test]
fn options_bound_and_unmask_the_query() {
    let q = pg_query("SELECT 'é', 'secret' FROM t".as_bytes());
    let raw = Options {
        sanitize: false,
        max_query_len: 9,
    };
    let s = parse(Protocol::Postgres, &q, 0, &raw).unwrap();
    // 9 bytes would split é: cut before it
    assert_eq!(s.get("db.query.text"), Some(&Value::Str("SELECT '".into())));
    assert_eq!(s.name, "SELECT t");
    let s = parse(Protocol::Postgres, &q, 0, &Options::default()).unwrap();
    assert_eq!(
        s.get("db.query.text"),
        Some(&Value::Str("SELECT ?, ? FROM t".into()))
    );
    let long = format!(
        "*{n}\r\n$4\r\nMGET\r\n{}",
        "$1\r\nk\r\n".repeat(999),
        n = 1000
    );
    let s = parse(Protocol::Redis, long.as_bytes(), 0, &Options::default()).unwrap();
    match s.get("db.query.text") {
        Some(Value::Str(text)) => assert!(text.len() <= 1024),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_protocols_are_not_parsed_yet() {
    for protocol in [
        Protocol::Http2,
        Protocol::Mongo,
        Protocol::Kafka,
        Protocol::Dns,
    ] {
        assert_eq!(
            parse(protocol, b"GET / HTTP/1.1\r\n", 200, &Options::default()),
            None
        );
    }
}

#[test]
fn arbitrary_and_mutated_bytes_never_panic() {
    let seeds: [&[u8]; 5] = [
        b"GET /a/1?x HTTP/1.1\r\n",
        &pg_query(b"SELECT $$a$$, 'b''c', \"d\" FROM e.f -- g"),
        b"\x10\0\0\0\x03INSERT INTO `t` VALUES ('x\\'', 1e5)",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        b"P\0\0\0\x20s\0WITH a AS (SELECT 1) SELECT 2\0\0\0",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let options = [
        Options::default(),
        Options {
            sanitize: false,
            max_query_len: 3,
        },
    ];
    for seed in seeds {
        for _ in 0..2000 {
            let mut bytes = seed.to_vec();
            for _ in 0..(xorshift(&mut state) % 4) {
                let at = (xorshift(&mut state) as usize) % bytes.len();
                bytes[at] = xorshift(&mut state) as u8;
            }
            let end = (xorshift(&mut state) as usize) % (bytes.len() + 1);
            for protocol in Protocol::ALL {
                for options in &options {
                    if let Some(s) = parse(protocol, &bytes[..end], 500, options)
                        && let Some(Value::Str(text)) = s.get("db.query.text")
                    {
                        assert!(text.len() <= options.max_query_len.max(1024));
                    }
                }
            }
        }
    }
    for _ in 0..5000 {
        let len = (xorshift(&mut state) % 160) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
        for protocol in Protocol::ALL {
            let _ = parse(protocol, &bytes, 1, &Options::default());
        }
    }
}

/// Bytes captured (strace) from the real clients against PostgreSQL 15, MariaDB 11 and Redis 7.
#[test]
fn captured_client_requests() {
    // psql -c "SELECT * FROM pg_class WHERE relname = 'O''Brien' AND oid = 42"
    let psql = b"Q\0\0\0\x43SELECT * FROM pg_class WHERE relname = 'O''Brien' AND oid = 42\0";
    let s = parse(Protocol::Postgres, psql, 0, &Options::default()).unwrap();
    assert_eq!(s.name, "SELECT pg_class");
    assert_eq!(
        s.attributes,
        vec![
            ("db.system.name", Value::Str("postgresql".into())),
            (
                "db.query.text",
                Value::Str("SELECT * FROM pg_class WHERE relname = ? AND oid = ?".into())
            ),
            ("db.operation.name", Value::Str("SELECT".into())),
            ("db.collection.name", Value::Str("pg_class".into())),
        ]
    );
    // mysql -e 'select * from mysql.user where User = "it'"'"'s" and max_connections = 7'
    let mysql =
        b"\x45\0\0\0\x03select * from mysql.user where User = \"it's\" and max_connections = 7";
    let s = parse(Protocol::Mysql, mysql, 1, &Options::default()).unwrap();
    assert_eq!(s.name, "SELECT mysql.user");
    assert_eq!(
        s.get("db.query.text"),
        Some(&Value::Str(
            "select * from mysql.user where User = ? and max_connections = ?".into()
        ))
    );
    assert_eq!(s.get("error.type"), Some(&Value::Str("_OTHER".into())));
    // redis-cli set user:1 secret
    let redis = b"*3\r\n$3\r\nset\r\n$6\r\nuser:1\r\n$6\r\nsecret\r\n";
    let s = parse(Protocol::Redis, redis, 0, &Options::default()).unwrap();
    assert_eq!(s.name, "SET");
    assert_eq!(
        s.get("db.query.text"),
        Some(&Value::Str("SET user:1 ?".into()))
    );
    for request in [&psql[..], mysql, redis] {
        for end in 0..request.len() {
            for protocol in Protocol::ALL {
                let _ = parse(protocol, &request[..end], 0, &Options::default());
            }
        }
    }
}

/// A request as a real client wrote it (testdata/README.md), as the kernel hands it over: the
/// first 128 bytes.
fn recorded(path: &str) -> Vec<u8> {
    head(&testdata(path)).to_vec()
}

#[test]
fn recorded_core_protocol_requests() {
    let o = &Options::default();
    let get = parse(Protocol::Http, &recorded("http/get_orders.bin"), 200, o).unwrap();
    assert_eq!(get.name, "GET /api/v1/orders/{id}/items");
    assert_eq!(attr(&get, "url.path"), Some("/api/v1/orders/12345/items"));
    let post = parse(Protocol::Http, &recorded("http/post_avatar.bin"), 201, o).unwrap();
    assert_eq!(post.name, "POST /users/{id}/avatar");
    assert!(!format!("{get:?}{post:?}").contains("secret"));

    let psql = parse(
        Protocol::Postgres,
        &recorded("postgresql/psql_query.bin"),
        0,
        o,
    )
    .unwrap();
    assert_eq!(psql.name, "SELECT pg_catalog.pg_class");
    assert_eq!(
        attr(&psql, "db.query.text"),
        Some("SELECT oid, relname FROM pg_catalog.pg_class WHERE relname = ? AND relkind = ?")
    );
    // the named statement's Bind alone means nothing without the connection's Parse
    let bind = recorded("postgresql/bind_named.bin");
    assert_eq!(parse(Protocol::Postgres, &bind, 0, o), None);
    let mut connection = Connection::default();
    let parse_named = recorded("postgresql/parse_named.bin");
    parse_on(&mut connection, Protocol::Postgres, &parse_named, 0, o).unwrap();
    let bound = parse_on(&mut connection, Protocol::Postgres, &bind, 0, o).unwrap();
    assert_eq!(bound.name, "SELECT pg_class");

    let query = parse(Protocol::Mysql, &recorded("mysql/com_query.bin"), 0, o).unwrap();
    assert_eq!(query.name, "SELECT mysql.user");
    let prepare = recorded("mysql/stmt_prepare.bin");
    let prepared = parse(Protocol::Mysql, &prepare, 0, o).unwrap();
    assert_eq!(prepared.name, "UPDATE mysql.db");
    assert_eq!(
        attr(&prepared, "db.query.text"),
        Some("UPDATE mysql.db SET Select_priv = ? WHERE Db = ? AND ? = ?")
    );
    // an execution names its statement by the server's id, which only the prepare's reply holds
    let execute = recorded("mysql/stmt_execute.bin");
    let executed = parse(Protocol::Mysql, &execute, 0, o).unwrap();
    assert_eq!(executed.name, "EXECUTE");
    assert_eq!(attr(&executed, "db.query.text"), None);
    assert_eq!(
        parse(Protocol::Mysql, &recorded("mysql/stmt_reset.bin"), 0, o),
        None
    );

    let set = parse(Protocol::Redis, &recorded("redis/set.bin"), 0, o).unwrap();
    assert_eq!(set.name, "SET");
    assert!(!format!("{set:?}").contains("secret-value"), "{set:?}");
    let hgetall = parse(Protocol::Redis, &recorded("redis/hgetall.bin"), 0, o).unwrap();
    assert_eq!(hgetall.name, "HGETALL");
}
