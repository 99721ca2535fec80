//! Requests kazoo 2.11 and the ZooKeeper 3.8 Java CLI (ZooKeeperMain) wrote to ZooKeeper 3.8
//! (Debian), recorded by testdata/zookeeper/record.py.

use super::*;
use crate::Value;
use crate::test_support::{HEAD, names_and_system, prefixes_agree, prefixes_hide, rejects};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../testdata/zookeeper/", $name, ".bin")) as &[u8]
    };
}

/// Every recorded request, with the span name it gets.
const ALL: [(&[u8], &str); 17] = [
    (fixture!("connect"), "connect"),
    (fixture!("java_connect"), "connect"),
    (fixture!("auth"), "auth"),
    (fixture!("create"), "create /app/config"),
    (fixture!("java_create"), "create /java"),
    (fixture!("create_sequential"), "create /app/locks/lock-"),
    (fixture!("get_data"), "getData /app/config"),
    (fixture!("set_data"), "setData /app/config"),
    (fixture!("exists"), "exists /app/missing"),
    (fixture!("get_children"), "getChildren /app"),
    (fixture!("get_children2"), "getChildren2 /app"),
    (fixture!("multi"), "multi"),
    (fixture!("sync"), "sync /app"),
    (fixture!("create_long"), "create /app/nnn"),
    (fixture!("delete"), "delete /app/locks/lock-{seq}"),
    (fixture!("ping"), "ping"),
    (fixture!("close"), "closeSession"),
];

fn parsed(request: &[u8]) -> Semantics {
    parse(request, &Options::default()).expect("parsed")
}

#[test]
fn every_recorded_request() {
    names_and_system(parse, &ALL, ("db.system.name", "zookeeper"));
    let s = parsed(fixture!("get_data"));
    assert_eq!(
        s.attributes,
        vec![
            ("db.system.name", Value::Str("zookeeper".into())),
            ("db.operation.name", Value::Str("getData".into())),
            ("db.query.text", Value::Str("getData /app/config".into())),
            ("db.query.summary", Value::Str("getData /app/config".into())),
        ]
    );
}

#[test]
fn sequence_numbers_and_ids_are_templated_in_the_summary() {
    // kazoo deletes the sequential znode the server named lock-0000000000
    let s = parsed(fixture!("delete"));
    assert_eq!(s.name, "delete /app/locks/lock-{seq}");
    assert_eq!(
        s.get("db.query.text"),
        Some(&Value::Str("delete /app/locks/lock-0000000000".into()))
    );
    assert_eq!(
        s.get("db.query.summary"),
        Some(&Value::Str("delete /app/locks/lock-{seq}".into()))
    );
    // a Kafka broker's registration: a numeric id
    let mut get = fixture!("get_data").to_vec();
    get.truncate(12);
    get.extend(b"\x00\x00\x00\x0e/brokers/ids/7\x00");
    get[3] = (get.len() - 4) as u8;
    assert_eq!(parsed(&get).name, "getData /brokers/ids/{id}");
    // the query text is bounded by the options
    let short = Options {
        max_query_len: 10,
        ..Options::default()
    };
    let s = parse(fixture!("get_data"), &short).unwrap();
    assert_eq!(
        s.get("db.query.text"),
        Some(&Value::Str("getData /a".into()))
    );
    assert_eq!(s.name, "getData /app/config");
}

#[test]
fn no_data_and_no_credentials() {
    for request in [
        fixture!("connect"),
        fixture!("auth"),
        fixture!("create"),
        fixture!("set_data"),
    ] {
        prefixes_hide(
            parse,
            request,
            &["hunter2", "digest", "db=", "world", "anyone"],
        );
    }
    assert_eq!(parsed(fixture!("connect")).attributes.len(), 2);
}

#[test]
fn truncated_to_the_kernel_head() {
    // a 155-byte path: the 128 bytes the kernel reads end inside it
    let s = parsed(&fixture!("create_long")[..HEAD]);
    assert_eq!(s.name, "create");
    assert_eq!(s.get("db.collection.name"), None);
    prefixes_agree(parse, &ALL);
}

#[test]
fn not_zookeeper() {
    rejects(
        parse,
        &[
            &b""[..],
            b"\x00\x00\x00\x04\x00\x00\x00\x01",
            b"\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x63", // no such operation
            b"\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x0b", // a ping without the ping xid
            b"\x00\x00\x00\x08\xff\xff\xff\xf0\x00\x00\x00\x04", // a negative xid
            b"\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x02ab", // no leading /
            b"\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x09/a", // past the end
            b"\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x04\xff\xff\xff\xff/a",
            b"\x00\x00\x00\x1e\x00\x00\x00\x00", // xid 0 but no connect request's length
            b"\xff\xff\xff\xff\x00\x00\x00\x01",
            b"GET / HTTP/1.1\r\n",
        ],
    );
}
