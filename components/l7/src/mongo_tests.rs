//! Requests pymongo 4.20 (and 3.13 for OP_QUERY) sent to SecantusDB 0.7, and OP_COMPRESSED
//! messages pymongo's own compressors made of a recorded one: see testdata/mongodb/README.md.

use super::*;
use crate::Value;
use crate::test_support::{HEAD, RAW, attr, each_prefix, head, rejects};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../testdata/mongodb/", $name, ".bin")).as_slice()
    };
}

/// (span name, operation, collection, namespace, query text)
type Seen = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn seen_with(request: &[u8], options: &Options) -> Seen {
    let s = parse(request, options).expect("parsed");
    assert_eq!(attr(&s, "db.system.name"), Some("mongodb"));
    let get = |key| attr(&s, key).map(str::to_string);
    (
        s.name.clone(),
        get("db.operation.name"),
        get("db.collection.name"),
        get("db.namespace"),
        get("db.query.text"),
    )
}

fn seen(request: &[u8]) -> Seen {
    seen_with(request, &Options::default())
}

fn expect(name: &str, op: &str, coll: Option<&str>, ns: Option<&str>, text: Option<&str>) -> Seen {
    (
        name.into(),
        Some(op.into()),
        coll.map(Into::into),
        ns.map(Into::into),
        text.map(Into::into),
    )
}

const FIND_FILTER: &str = r#"{"customer": "?", "total": {"$gt": "?"}}"#;

#[test]
fn pymongo_commands() {
    let shop = Some("shop");
    let orders = Some("orders");
    for (request, want) in [
        (
            fixture!("find"),
            expect("find orders", "find", orders, shop, Some(FIND_FILTER)),
        ),
        (
            fixture!("find_one"),
            expect("find orders", "find", orders, shop, Some(r#"{"_id": "?"}"#)),
        ),
        (
            fixture!("insert_one"),
            expect("insert orders", "insert", orders, shop, None),
        ),
        (
            fixture!("insert_many"),
            expect("insert orders", "insert", orders, shop, None),
        ),
        (
            fixture!("update_one"),
            expect(
                "update orders",
                "update",
                orders,
                shop,
                Some(r#"{"customer": "?"}"#),
            ),
        ),
        (
            fixture!("delete_many"),
            expect(
                "delete orders",
                "delete",
                orders,
                shop,
                Some(r#"{"total": {"$lt": "?"}}"#),
            ),
        ),
        (
            fixture!("aggregate"),
            expect(
                "aggregate orders",
                "aggregate",
                orders,
                shop,
                Some(
                    r#"[{"$match": {"customer": "?"}}, {"$group": {"_id": "?", "n": {"$sum": "?"}}}]"#,
                ),
            ),
        ),
        (
            fixture!("create_index"),
            expect("createIndexes orders", "createIndexes", orders, shop, None),
        ),
        (
            fixture!("list_collections"),
            expect("listCollections", "listCollections", None, shop, None),
        ),
        (fixture!("ping"), expect("ping", "ping", None, shop, None)),
        (
            fixture!("drop"),
            expect("drop orders", "drop", orders, shop, None),
        ),
        (
            fixture!("handshake_ismaster"),
            expect("ismaster", "ismaster", None, Some("admin"), None),
        ),
        (
            fixture!("hello_monitor"),
            expect("hello", "hello", None, Some("admin"), None),
        ),
        (
            fixture!("pymongo3_find"),
            expect(
                "find orders",
                "find",
                orders,
                shop,
                Some(r#"{"customer": "?"}"#),
            ),
        ),
        // a cursor's next batch names its collection in `collection`
        (
            fixture!("get_more"),
            expect("getMore orders", "getMore", orders, shop, None),
        ),
        (
            fixture!("kill_cursors"),
            expect("killCursors orders", "killCursors", orders, shop, None),
        ),
        (
            fixture!("find_and_modify"),
            expect(
                "findAndModify orders",
                "findAndModify",
                orders,
                shop,
                Some(r#"{"n": "?"}"#),
            ),
        ),
        (
            fixture!("distinct"),
            expect(
                "distinct orders",
                "distinct",
                orders,
                shop,
                Some(r#"{"n": {"$gt": "?"}}"#),
            ),
        ),
    ] {
        assert_eq!(seen(request), want);
    }
    let raw = seen_with(fixture!("find"), &RAW).4.unwrap();
    assert_eq!(
        raw,
        r#"{"customer": "alice@example.com", "total": {"$gt": 10}}"#
    );
}

#[test]
fn the_kernels_128_bytes() {
    // `$db` lies past the head of a find (after lsid); the filter is whole
    assert_eq!(
        seen(head(fixture!("find"))),
        expect(
            "find orders",
            "find",
            Some("orders"),
            None,
            Some(FIND_FILTER)
        )
    );
    // an insert's command document fits; its documents follow
    assert_eq!(
        seen(head(fixture!("insert_many"))),
        expect(
            "insert orders",
            "insert",
            Some("orders"),
            Some("shop"),
            None
        )
    );
    // the update statement is cut inside the length of `q`: no filter at all
    assert_eq!(
        seen(head(fixture!("update_one"))),
        expect(
            "update orders",
            "update",
            Some("orders"),
            Some("shop"),
            None
        )
    );
    // cut inside the filter's first name: the document is open and empty
    let (.., text) = seen(&fixture!("find")[..57]);
    assert_eq!(text.as_deref(), Some("{"));
    let (.., text) = seen(&fixture!("find")[..100]);
    assert_eq!(text.as_deref(), Some(r#"{"customer": "?", "total": {"#));
    // cut inside a value: its name goes too
    let (.., text) = seen(head(fixture!("aggregate")));
    assert_eq!(
        text.as_deref(),
        Some(r#"[{"$match": {"customer": "?"}}, {"$group": {"#)
    );
    // the handshake's client metadata fills the head
    let (name, ..) = seen(head(fixture!("handshake_ismaster")));
    assert_eq!(name, "ismaster");
}

#[test]
fn op_query() {
    // pymongo 3's handshake: OP_QUERY on admin.$cmd
    assert_eq!(
        seen(fixture!("pymongo3_op_query_ismaster")),
        expect("ismaster", "ismaster", None, Some("admin"), None)
    );
    // a legacy find on shop.orders, built by pymongo 3.13
    assert_eq!(
        seen(fixture!("op_query_find")),
        expect(
            "find orders",
            "find",
            Some("orders"),
            Some("shop"),
            Some(FIND_FILTER)
        )
    );
}

#[test]
fn op_compressed() {
    // snappy decodes as far as the capture goes
    let snappy = fixture!("compressed_find_snappy");
    assert_eq!(seen(snappy), seen(fixture!("find")));
    let (name, op, coll, _, text) = seen(&snappy[..HEAD]);
    assert_eq!(
        (name.as_str(), op.as_deref(), coll.as_deref()),
        ("find orders", Some("find"), Some("orders"))
    );
    assert!(text.unwrap().starts_with(r#"{"customer": "?""#));
    // zlib and zstd bodies are not read from a head: the system alone, no guess
    for request in [
        fixture!("compressed_find_zlib"),
        fixture!("compressed_find_zstd"),
    ] {
        let s = parse(request, &Options::default()).unwrap();
        assert_eq!(s.name, "mongodb");
        assert_eq!(
            s.attributes,
            vec![("db.system.name", Value::Str("mongodb".into()))]
        );
    }
}

#[test]
fn authentication_keeps_the_operation_only() {
    for (request, op) in [
        (fixture!("sasl_start_plain"), "saslStart"),
        (fixture!("sasl_continue"), "saslContinue"),
        (fixture!("hello_speculative_auth"), "ismaster"),
        (fixture!("create_user"), "createUser"),
    ] {
        for options in [Options::default(), RAW] {
            let s = parse(request, &options).unwrap();
            assert_eq!(s.name, op);
            // createUser names a user, not a collection
            assert_eq!(s.get("db.collection.name"), None);
            assert_eq!(s.get("db.query.text"), None);
        }
    }
}

#[test]
fn every_prefix_is_safe() {
    let all = [
        fixture!("find"),
        fixture!("update_one"),
        fixture!("aggregate"),
        fixture!("sasl_start_plain"),
        fixture!("create_user"),
        fixture!("op_query_find"),
        fixture!("compressed_find_snappy"),
        fixture!("compressed_find_zlib"),
    ];
    for request in all {
        for options in [Options::default(), RAW] {
            each_prefix(parse, request, &options, |_, s| {
                for (_, value) in &s.attributes {
                    let Value::Str(v) = value else { continue };
                    for secret in ["hunter2", "s3cr3t", "reporter"] {
                        assert!(!v.contains(secret), "{v}");
                    }
                    if options.sanitize {
                        assert!(!v.contains("alice") && !v.contains("bob"), "{v}");
                    }
                }
            });
        }
    }
}

#[test]
fn not_mongo() {
    let mut responds = fixture!("ping").to_vec();
    responds[8] = 1; // responseTo: a reply, not a request
    let mut op_reply = fixture!("ping").to_vec();
    op_reply[12] = 1;
    op_reply[13] = 0;
    rejects(
        parse,
        &[
            b"",
            b"\x10\0\0\0",
            &responds,
            &op_reply,
            b"GET / HTTP/1.1\r\n\r\n",
        ],
    );
}
