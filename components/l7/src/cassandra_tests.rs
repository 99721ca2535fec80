//! Fixtures: what the real Python driver (cassandra-driver 3.30.1) wrote to a real Cassandra
//! 5.0.6, recorded by testdata/cassandra/record.py; see the README there.

use super::*;
use crate::test_support::{self, attr, each_prefix, prefixes_hide, xorshift};

macro_rules! fixture {
    ($name:literal) => {
        &include_bytes!(concat!("../testdata/cassandra/", $name, ".bin"))[..]
    };
}

/// `request` as the kernel hands it over, parsed.
fn head(request: &[u8]) -> Semantics {
    parse(test_support::head(request), &Options::default()).unwrap()
}

#[test]
fn query_in_a_frame_and_in_a_segment() {
    for request in [fixture!("v4-query"), fixture!("v5-query")] {
        let s = head(request);
        assert_eq!(s.name, "SELECT shop.users");
        let query = "SELECT name FROM shop.users WHERE id = ? AND name = ? ALLOW FILTERING";
        assert_eq!(
            s.attributes,
            vec![
                ("db.system.name", Value::Str("cassandra".into())),
                ("db.query.text", Value::Str(query.into())),
                ("db.operation.name", Value::Str("SELECT".into())),
                ("db.collection.name", Value::Str("shop.users".into())),
                ("db.namespace", Value::Str("shop".into())),
                (
                    "cassandra.consistency.level",
                    Value::Str("local_quorum".into())
                ),
                ("cassandra.page.size", Value::Int(5000)),
            ]
        );
    }
    // a v5 segment starts with its header, not a frame's
    assert_eq!(fixture!("v5-query")[..3], [0x6e, 0, 2]);
}

#[test]
fn a_long_statement_cut_at_the_head() {
    for request in [fixture!("v4-long"), fixture!("v5-long")] {
        assert!(request.len() > test_support::HEAD);
        let s = head(request);
        assert_eq!(s.name, "INSERT shop.users");
        assert_eq!(attr(&s, "db.namespace"), Some("shop"));
        let text = attr(&s, "db.query.text").unwrap();
        assert!(
            text.starts_with("INSERT INTO shop.users (id, name, uid, ttl) VALUES (?, ?, ?"),
            "{text}"
        );
        for secret in ["secret", "e89b", "12d3", "a456", "4266"] {
            assert!(!text.contains(secret), "{text}");
        }
        // no parameters are read from a statement the capture cut
        assert_eq!(s.get("cassandra.consistency.level"), None);
        let whole = parse(request, &Options::default()).unwrap();
        assert_eq!(
            attr(&whole, "db.query.text"),
            Some("INSERT INTO shop.users (id, name, uid, ttl) VALUES (?, ?, ?, ?) USING TTL ?")
        );
        assert_eq!(
            attr(&whole, "cassandra.consistency.level"),
            Some("local_one")
        );
    }
}

#[test]
fn prepare_then_execute() {
    for request in [fixture!("v4-prepare"), fixture!("v5-prepare")] {
        let s = head(request);
        assert_eq!(s.name, "INSERT shop.users");
        assert_eq!(
            attr(&s, "db.query.text"),
            Some("INSERT INTO shop.users (id, name) VALUES (?, ?)")
        );
    }
    for request in [fixture!("v4-execute"), fixture!("v5-execute")] {
        let s = head(request);
        assert_eq!(s.name, "EXECUTE");
        assert_eq!(attr(&s, "db.operation.name"), Some("EXECUTE"));
        assert_eq!(attr(&s, "cassandra.consistency.level"), Some("local_one"));
        assert_eq!(s.get("cassandra.page.size"), Some(&Value::Int(5000)));
        assert_eq!(s.get("db.query.text"), None);
        assert!(format!("{s:?}").find("hunter2").is_none());
    }
}

#[test]
fn batch_of_two_statements_on_one_table() {
    for request in [fixture!("v4-batch"), fixture!("v5-batch")] {
        let s = head(request);
        // INSERT and UPDATE: no single operation, but one table
        assert_eq!(s.name, "BATCH shop.users");
        assert_eq!(attr(&s, "db.operation.name"), Some("BATCH"));
        assert_eq!(
            attr(&s, "db.query.text"),
            Some(
                "INSERT INTO shop.users (id, name) VALUES (?, ?); \
                 UPDATE shop.users SET name = ? WHERE id = ?"
            )
        );
        assert_eq!(attr(&s, "db.collection.name"), Some("shop.users"));
        assert_eq!(attr(&s, "db.namespace"), Some("shop"));
        assert_eq!(s.get("db.operation.batch.size"), Some(&Value::Int(2)));
        assert_eq!(attr(&s, "cassandra.consistency.level"), Some("quorum"));
    }
    // cut inside the second statement: the first alone decides nothing for the batch
    let request = fixture!("v4-batch");
    let s = parse(&request[..100], &Options::default()).unwrap();
    assert_eq!(s.name, "BATCH");
    assert_eq!(s.get("db.collection.name"), None);
    assert_eq!(s.get("db.operation.batch.size"), Some(&Value::Int(2)));
}

#[test]
fn batch_statement_in_a_query() {
    let query = b"BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); APPLY BATCH;";
    let s = cql(query, true, &Options::default());
    assert_eq!(s.name, "BATCH");
    assert_eq!(attr(&s, "db.operation.name"), Some("BATCH"));
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (?); APPLY BATCH;")
    );
}

#[test]
fn keyspace_of_the_request() {
    let s = head(fixture!("v5-query_keyspace"));
    assert_eq!(s.name, "SELECT users");
    assert_eq!(attr(&s, "db.namespace"), Some("shop"));
    assert_eq!(attr(&s, "cassandra.consistency.level"), Some("one"));
    let s = head(fixture!("v5-prepare_keyspace"));
    assert_eq!(s.name, "DELETE users");
    assert_eq!(attr(&s, "db.namespace"), Some("shop"));
}

#[test]
fn custom_payload_is_skipped() {
    let s = head(fixture!("v4-custom_payload"));
    assert_eq!(s.name, "SELECT kv");
    assert_eq!(
        attr(&s, "db.query.text"),
        Some("SELECT v FROM kv WHERE k = ?")
    );
}

#[test]
fn compression() {
    // v4 compresses the frame's body: only the frame's kind is known
    let s = head(fixture!("v4-lz4"));
    assert_eq!(s.name, "cassandra");
    assert_eq!(s.attributes.len(), 1);
    // v5 compresses segments, but leaves a small payload as it is (uncompressed length 0)
    let s = head(fixture!("v5-lz4"));
    assert_eq!(s.name, "SELECT shop.users");
    // a compressed payload cannot be read
    let mut compressed = fixture!("v5-lz4").to_vec();
    let word = u64::from(compressed[0]) | 0x40 << 16 | 1 << 22;
    compressed[..5].copy_from_slice(&word.to_le_bytes()[..5]);
    compressed[5..8].copy_from_slice(&crc24(word, 5).to_le_bytes()[..3]);
    assert_eq!(parse(&compressed, &Options::default()), None);
}

#[test]
fn set_up_messages_and_credentials() {
    for request in [fixture!("v4-auth_response"), fixture!("v5-auth_response")] {
        let s = head(request);
        assert_eq!(s.name, "AUTH_RESPONSE");
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("cassandra\\0"));
    }
    let mut names = Vec::new();
    for stream in [fixture!("v4-connect"), fixture!("v5-connect")] {
        let mut rest = stream;
        while !rest.is_empty() {
            names.push(head(rest).name);
            rest = &rest[next(rest)..];
        }
    }
    let v4: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
    assert_eq!(
        v4,
        ["OPTIONS", "STARTUP", "REGISTER", "SELECT system.peers_v2"]
    );
    assert!(
        names.iter().filter(|n| *n == "OPTIONS").count() >= 2,
        "{names:?}"
    );
    assert!(names.contains(&"SELECT system.local".into()), "{names:?}");
    assert!(names.contains(&"CREATE".into()), "{names:?}");
}

/// Where the frame or segment `stream` starts with ends.
fn next(stream: &[u8]) -> usize {
    if let Some(Segment::Plain(payload)) = segment(stream) {
        return 6 + payload.len() + 4;
    }
    9 + u32::from_be_bytes(stream[5..9].try_into().unwrap()) as usize
}

#[test]
fn cql_literals() {
    let cases: [(&str, &str); 11] = [
        (
            "SELECT a FROM t -- it's\nWHERE id = e89b1234-0000-4000-8000-000000000000",
            "SELECT a FROM t WHERE id = ?",
        ),
        (
            "SELECT a FROM t WHERE id = 0c5e9c",
            "SELECT a FROM t WHERE id = ?",
        ),
        ("SELECT deadbeef", "SELECT deadbeef"),
        (
            "SELECT * FROM t WHERE id = 123e4567-e89b-12d3-a456-426614174000",
            "SELECT * FROM t WHERE id = ?",
        ),
        (
            "SELECT * FROM t WHERE id IN (e89b1234-0000-4000-8000-000000000000, 1)",
            "SELECT * FROM t WHERE id IN (?, ?)",
        ),
        (
            "UPDATE t SET d = 1h30m5s WHERE k = 0xCAFE",
            "UPDATE t SET d = ? WHERE k = ?",
        ),
        (
            "SELECT a FROM t // it's 42\nWHERE b = -1.5e3",
            "SELECT a FROM t WHERE b = ?",
        ),
        (
            "SELECT deadbeef FROM t WHERE c = 'e89b1234-'",
            "SELECT deadbeef FROM t WHERE c = ?",
        ),
        (
            "SELECT \"12d3-x\" FROM t1 WHERE a = 2",
            "SELECT \"12d3-x\" FROM t1 WHERE a = ?",
        ),
        // cut in a UUID
        (
            "SELECT * FROM t WHERE id = 0c5e9c3a-12",
            "SELECT * FROM t WHERE id = ?",
        ),
        (
            "SELECT * FROM t WHERE id = cafe0123-4",
            "SELECT * FROM t WHERE id = ?",
        ),
    ];
    for (query, sanitized) in cases {
        let s = cql(query.as_bytes(), true, &Options::default());
        assert_eq!(attr(&s, "db.query.text"), Some(sanitized), "{query}");
    }
    let raw = Options {
        sanitize: false,
        max_query_len: 20,
    };
    let s = cql(cases[3].0.as_bytes(), true, &raw);
    assert_eq!(attr(&s, "db.query.text"), Some("SELECT * FROM t WHER"));
}

#[test]
fn crc24_of_a_recorded_segment() {
    // 0x6e bytes, self-contained: the header the v5 query came in
    assert_eq!(crc24(0x2006e, 3), 0x2cfb12);
}

#[test]
fn every_prefix_keeps_secrets_out() {
    let all = [
        fixture!("v4-query"),
        fixture!("v4-long"),
        fixture!("v4-prepare"),
        fixture!("v4-execute"),
        fixture!("v4-batch"),
        fixture!("v4-auth_response"),
        fixture!("v4-custom_payload"),
        fixture!("v4-lz4"),
        fixture!("v5-query"),
        fixture!("v5-long"),
        fixture!("v5-prepare"),
        fixture!("v5-execute"),
        fixture!("v5-batch"),
        fixture!("v5-auth_response"),
        fixture!("v5-lz4"),
        fixture!("v5-query_keyspace"),
        fixture!("v5-prepare_keyspace"),
        &fixture!("v4-connect")[..300],
        &fixture!("v5-connect")[..300],
    ];
    for request in all {
        let secrets = [
            "Brien",
            "hunter2",
            "secret",
            "s3cret",
            "e89b",
            "compressed",
            "blue",
        ];
        prefixes_hide(parse, request, &secrets);
        let parsed_from = each_prefix(parse, request, &Options::default(), |_, s| {
            assert!(!s.name.is_empty());
        });
        // what does not parse ends before a frame's header (in v5 after a segment's), a custom
        // payload and the query's length
        assert!(parsed_from <= 31, "{parsed_from}");
    }
}

#[test]
fn not_a_request() {
    let query = fixture!("v4-query");
    let with = |at: usize, byte: u8| {
        let mut r = query.to_vec();
        r[at] = byte;
        parse(&r, &Options::default())
    };
    assert_eq!(with(0, 0x84), None); // a response
    assert_eq!(with(0, 0x02), None); // protocol v2
    assert_eq!(with(1, 0x20), None); // no such flag
    assert_eq!(with(4, 0x08), None); // RESULT
    assert_eq!(with(5, 0x7f), None); // 2 GiB body
    assert_eq!(with(9, 0x80), None); // a negative query length
    assert_eq!(parse(b"", &Options::default()), None);
    assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n", &Options::default()), None);
    // a QUERY whose body ends before its query's length
    assert_eq!(parse(&query[..11], &Options::default()), None);
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || xorshift(&mut state);
    let options = [
        Options::default(),
        Options {
            sanitize: false,
            max_query_len: 5,
        },
    ];
    for seed in [
        fixture!("v4-batch"),
        fixture!("v5-batch"),
        fixture!("v5-execute"),
        fixture!("v4-custom_payload"),
        fixture!("v5-query_keyspace"),
        fixture!("v5-lz4"),
    ] {
        for _ in 0..3000 {
            let mut bytes = seed.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = next() as usize % bytes.len();
                bytes[at] = next() as u8;
            }
            let end = next() as usize % (bytes.len() + 1);
            for options in &options {
                if let Some(s) = parse(&bytes[..end], options)
                    && let Some(Value::Str(text)) = s.get("db.query.text")
                {
                    assert!(text.len() <= options.max_query_len);
                }
            }
        }
    }
}
