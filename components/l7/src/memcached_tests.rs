//! Requests recorded from pymemcache 4.0, meta-memcache 4.3 and libmemcached-tools 1.1 (binary)
//! against memcached 1.6.18: see testdata/memcached/README.md.

use super::*;
use crate::test_support::{HEAD, RAW, attr, each_prefix, rejects};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../testdata/memcached/", $name, ".bin")).as_slice()
    };
}

/// (span name, sanitised query text) of `request`.
fn seen(request: &[u8]) -> (String, String) {
    let s = parse(request, &Options::default()).expect("parsed");
    assert_eq!(attr(&s, "db.system.name"), Some("memcached"));
    assert_eq!(attr(&s, "db.operation.name"), Some(s.name.as_str()));
    assert_eq!(s.get("db.collection.name"), None);
    (
        s.name.clone(),
        attr(&s, "db.query.text").unwrap().to_string(),
    )
}

fn raw_text(request: &[u8]) -> String {
    let s = parse(request, &RAW).expect("parsed");
    attr(&s, "db.query.text").unwrap().to_string()
}

#[test]
fn pymemcache_text_commands() {
    for (request, name, query) in [
        (fixture!("set"), "set", "set user:42 0 300 12 ?"),
        (fixture!("get"), "get", "get user:42"),
        (fixture!("gets"), "gets", "gets user:42"),
        (fixture!("add"), "add", "add counter 0 0 2 ?"),
        (fixture!("replace"), "replace", "replace counter 0 0 2 ?"),
        (fixture!("append"), "append", "append user:42 0 0 5 ?"),
        (fixture!("prepend"), "prepend", "prepend user:42 0 0 5 ?"),
        (fixture!("cas"), "cas", "cas user:42 0 0 7 17 ?"),
        (fixture!("incr"), "incr", "incr counter ?"),
        (fixture!("decr"), "decr", "decr counter ?"),
        (fixture!("touch"), "touch", "touch user:42 60"),
        (fixture!("delete"), "delete", "delete counter"),
        (fixture!("flush_all"), "flush_all", "flush_all 0"),
        (fixture!("version"), "version", "version"),
        (fixture!("stats"), "stats", "stats"),
    ] {
        assert_eq!(seen(request), (name.into(), query.into()), "{request:?}");
    }
}

#[test]
fn values_only_without_sanitising() {
    assert_eq!(
        raw_text(fixture!("set")),
        "set user:42 0 300 12 secret-value"
    );
    assert_eq!(raw_text(fixture!("incr")), "incr counter 5");
    // the data block ends where its announced size says, not at the pipeline's next command
    assert_eq!(
        raw_text(fixture!("noreply_set_get")),
        "set user:42 0 300 12 noreply secret-value"
    );
    let bounded = Options {
        sanitize: false,
        max_query_len: 20,
    };
    let s = parse(fixture!("set_big"), &bounded).unwrap();
    assert_eq!(attr(&s, "db.query.text"), Some("set big 0 0 300 xxxx"));
}

#[test]
fn multi_get_and_pipelines() {
    assert_eq!(
        seen(fixture!("get_multi")),
        ("get".into(), "get user:42 user:43 session:abc".into())
    );
    // pymemcache's set_many writes both commands at once; noreply batches whole sessions
    for (request, query) in [
        (fixture!("set_many"), "set a:1 0 0 3 ?"),
        (
            fixture!("noreply_set_get"),
            "set user:42 0 300 12 noreply ?",
        ),
        (
            fixture!("noreply_pipeline"),
            "replace counter 0 0 2 noreply ?",
        ),
        (fixture!("noreply_long_pipeline"), "delete counter noreply"),
    ] {
        assert_eq!(seen(request).1, query);
    }
}

#[test]
fn meta_commands() {
    for (request, name, query) in [
        (fixture!("meta_ms"), "ms", "ms user:42 12 T300 F0 ?"),
        (fixture!("meta_mg"), "mg", "mg user:42 f v t l h"),
        (fixture!("meta_mg_multi"), "mg", "mg user:42 f v t l h"),
        (fixture!("meta_touch"), "mg", "mg user:42 T60"),
        (fixture!("meta_ma"), "ma", "ma counter N60 J10 D1"),
        (fixture!("meta_md"), "md", "md user:42"),
    ] {
        assert_eq!(seen(request), (name.into(), query.into()), "{request:?}");
    }
    assert_eq!(
        raw_text(fixture!("meta_ms")),
        "ms user:42 12 T300 F0 secret-value"
    );
}

#[test]
fn binary_protocol() {
    for (request, name, query) in [
        (fixture!("binary_set"), "set", "set user42 ?"),
        (fixture!("binary_getk"), "getk", "getk user42"),
        (fixture!("binary_add"), "add", "add user42"),
        (fixture!("binary_touch"), "touch", "touch user42"),
        (fixture!("binary_delete"), "delete", "delete user42"),
        (fixture!("binary_flush"), "flush_all", "flush_all"),
        (fixture!("binary_quit"), "quit", "quit"),
        (
            fixture!("binary_sasl_list_mechs"),
            "sasl_list_mechs",
            "sasl_list_mechs",
        ),
    ] {
        assert_eq!(seen(request), (name.into(), query.into()), "{request:?}");
    }
    assert_eq!(raw_text(fixture!("binary_set")), "set user42 secret-value");
    // a SASL PLAIN authentication: mechanism as key, credentials as value; operation only
    let mut auth = fixture!("binary_quit").to_vec();
    auth[1] = 0x21;
    auth[3] = 5;
    auth[11] = 5 + 15;
    auth.extend(b"PLAIN\0app\0hunter2-pw");
    for options in [Options::default(), RAW] {
        let s = parse(&auth, &options).unwrap();
        assert_eq!(attr(&s, "db.query.text"), Some("sasl_auth"));
    }
    // the key cut by the capture
    let s = parse(&fixture!("binary_getk")[..27], &Options::default()).unwrap();
    assert_eq!(attr(&s, "db.query.text"), Some("getk ?"));
}

#[test]
fn the_kernels_128_bytes() {
    let head = &fixture!("noreply_long_pipeline")[..HEAD];
    assert_eq!(seen(head).1, "delete counter noreply");
    let head = &fixture!("set_big")[..HEAD];
    assert_eq!(seen(head).1, "set big 0 0 300 ?");
    assert_eq!(
        raw_text(head),
        format!("set big 0 0 300 {}", "x".repeat(111))
    );
}

#[test]
fn every_prefix_is_safe() {
    let all = [
        fixture!("set"),
        fixture!("get_multi"),
        fixture!("cas"),
        fixture!("incr"),
        fixture!("noreply_set_get"),
        fixture!("meta_ms"),
        fixture!("binary_set"),
        fixture!("binary_getk"),
    ];
    for request in all {
        for options in [Options::default(), RAW] {
            each_prefix(parse, request, &options, |_, s| {
                let query = attr(&s, "db.query.text").unwrap();
                if options.sanitize {
                    assert!(!query.contains("sec"), "{query}");
                    assert!(!query.contains("incr counter 5"), "{query}");
                }
            });
        }
    }
    // a key cut by the capture is not shown as if whole
    assert_eq!(seen(b"get user:42 user:4").1, "get user:42 ?");
    assert_eq!(seen(b"get user:42 ").1, "get user:42");
    assert_eq!(parse(b"get", &Options::default()), None);
}

#[test]
fn not_memcached() {
    rejects(
        parse,
        &[
        &b""[..],
        b"GET user:42\r\n",
        b"got user:42\r\n",
        b"get user\x01:42\r\n",
        b"get \xff\r\n",
        b"\x80\x01\x00",
        b"\x80\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        // key longer than its body
        b"\x80\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"\x81\x00\x00\x00",
        ],
    );
}
