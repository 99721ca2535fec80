//! Client writes recorded from clickhouse-driver and chDB's own native client against a real
//! ClickHouse server (testdata/clickhouse/README.md).

use super::*;
use crate::test_support::{HEAD, attr, each_prefix, head, hex_fixture, prefixes_hide, xorshift};

fn recorded(name: &str) -> Vec<u8> {
    hex_fixture(&format!("clickhouse/{name}.hex"))
}

fn query(request: &[u8]) -> Semantics {
    let s = parse(request, &Options::default()).unwrap();
    assert_eq!(attr(&s, "db.system.name"), Some("clickhouse"));
    s
}

#[test]
fn clickhouse_driver_queries() {
    // the first query of a connection shares its write with the Hello addendum (quota key)
    let s = query(&recorded("driver-addendum-select"));
    assert_eq!(s.name, "SELECT orders");
    assert_eq!(attr(&s, "db.operation.name"), Some("SELECT"));
    assert_eq!(attr(&s, "db.collection.name"), Some("orders"));
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT note FROM orders WHERE note = ? AND id = ?")
    );
    assert_eq!(s.get("db.namespace"), None);
    let s = query(&recorded("driver-query-settings"));
    assert_eq!(s.name, "SELECT system.one");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT count() FROM system.one")
    );
    let s = query(&recorded("driver-query-insert"));
    assert_eq!(s.name, "INSERT shop.orders");
    let s = query(&recorded("driver-query-id"));
    assert_eq!(attr(&s, "db.query.text"), Some("SELECT ? AS x"));
    let s = query(&recorded("driver-query-create-table"));
    assert_eq!(s.name, "CREATE");
    let s = query(&recorded("driver-query-long"));
    assert_eq!(s.name, "SELECT shop.orders");
    assert!(!format!("{s:?}").contains("secret"));
}

#[test]
fn native_client_of_clickhouse_itself() {
    // chDB (ClickHouse 26.9's Connection, protocol 54492) with a dozen settings before the text
    let s = query(&recorded("chdb-query-desc"));
    assert_eq!(s.name, "DESC");
    assert_eq!(attr(&s, "db.query.text"), Some("DESC TABLE shop.orders"));
    let s = query(&recorded("chdb-query-select"));
    assert_eq!(s.name, "SELECT shop.orders");
    assert!(!format!("{s:?}").contains("secret"), "{s:?}");
    let s = query(&recorded("chdb-query-insert"));
    assert_eq!(s.name, "INSERT shop.orders");
    // TablesStatusRequest after the addendum: not a query
    assert_eq!(
        parse(
            &recorded("chdb-addendum-tables-status"),
            &Options::default()
        ),
        None
    );
}

#[test]
fn clickhouse_go() {
    // clickhouse-go 2.51 (revision 54460): its 45-byte client name puts the text 97 bytes in
    let select = recorded("go-addendum-select");
    let s = query(&select);
    assert_eq!(s.name, "SELECT orders");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT note FROM orders WHERE note = ? AND id = ?")
    );
    let s = query(&select[..HEAD]);
    assert_eq!(s.name, "SELECT orders");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT note FROM orders WHERE")
    );
    let s = query(&recorded("go-query-insert"));
    assert_eq!(s.name, "INSERT shop.orders");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("INSERT INTO shop.orders (id, note) VALUES (?, ?)")
    );
    let s = query(&recorded("go-hello"));
    assert_eq!(s.name, "Hello");
    assert_eq!(attr(&s, "db.namespace"), Some("shop"));
    assert!(!format!("{s:?}").contains("s3cret"));
}

#[test]
fn hello_names_the_database_and_drops_the_password() {
    let s = query(&recorded("driver-hello"));
    assert_eq!(s.name, "Hello");
    assert_eq!(attr(&s, "db.operation.name"), Some("Hello"));
    assert_eq!(attr(&s, "db.namespace"), Some("shop"));
    let s = query(&recorded("chdb-hello"));
    assert_eq!(s.name, "Hello");
    assert_eq!(s.get("db.namespace"), None);
    for request in [recorded("driver-hello"), recorded("chdb-hello")] {
        prefixes_hide(parse, &request, &["s3cret", "alice"]);
    }
}

#[test]
fn ping_and_data() {
    assert_eq!(query(&recorded("driver-ping")).name, "Ping");
    assert_eq!(query(&recorded("driver-data-empty")).name, "Data");
    let s = query(&recorded("driver-data-rows"));
    assert_eq!(s.name, "Data");
    assert!(!format!("{s:?}").contains("token"));
}

#[test]
fn a_128_byte_head() {
    // clickhouse-driver's text starts 64 bytes in here (user "root", host "vm", client name
    // "ClickHouse rec", no settings): the head holds its first 64 bytes
    let long = recorded("driver-query-long");
    let s = query(&long[..HEAD]);
    assert_eq!(s.name, "SELECT shop.orders");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT id, note FROM shop.orders WHERE note IN (?, ?")
    );
    // chDB's text starts 348 bytes in: the system alone
    let s = query(&recorded("chdb-query-desc")[..HEAD]);
    assert_eq!(s.name, "clickhouse");
    assert_eq!(s.attributes.len(), 1);
}

#[test]
fn every_prefix_is_safe_and_honest() {
    for request in [
        recorded("driver-addendum-select"),
        recorded("driver-query-long"),
        recorded("chdb-query-select"),
        recorded("chdb-query-insert"),
    ] {
        prefixes_hide(parse, &request, &["secret", "s3cret"]);
        each_prefix(parse, &request, &Options::default(), |end, s| {
            // a keyword cut by the capture names nothing
            if let Some(op) = attr(&s, "db.operation.name") {
                assert!(op == "SELECT" || op == "INSERT", "{end}: {op}");
            }
        });
    }
    let select = recorded("driver-addendum-select");
    // the text starts at byte 65 of this write: a "SELECT" that may go on is not yet a statement
    assert_eq!(query(&select[..71]).name, "clickhouse");
    assert_eq!(query(&select[..72]).name, "SELECT");
}

#[test]
fn strangers() {
    let opts = Options::default();
    assert_eq!(parse(b"", &opts), None);
    assert_eq!(parse(b"\x09", &opts), None);
    assert_eq!(parse(b"\x80", &opts), None);
    assert_eq!(parse(b"\x04\x01", &opts), None);
    // a query kind beyond secondary
    assert_eq!(parse(b"\x01\x00\x07", &opts), None);
    // a Hello from a revision that never was
    // (read as an addendum with the quota key "name", it is followed by no known packet)
    assert_eq!(parse(b"\x00\x04name\x09\x01\x01\x00", &opts), None);
    assert_eq!(parse(b"\x00\x00\x00", &opts), None);
    let mut state = 0x9e37_79b9_u64;
    let base = recorded("driver-query-settings");
    for _ in 0..3000 {
        let mut bytes = base.clone();
        for _ in 0..4 {
            let x = xorshift(&mut state);
            let at = x as usize % bytes.len();
            bytes[at] = (x >> 8) as u8;
        }
        let _ = parse(&bytes, &opts);
        let _ = parse(head(&bytes), &opts);
    }
}
