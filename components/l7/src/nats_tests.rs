//! Requests nats-py 2.16 wrote to nats-server 2.9 (Debian), recorded by testdata/nats/record.py.

use super::*;
use crate::Value;
use crate::test_support::{HEAD, attr, each_prefix, rejects};

const CONNECT: &[u8] = include_bytes!("../testdata/nats/connect.bin");
const SUB_QUEUE: &[u8] = include_bytes!("../testdata/nats/sub_queue.bin");
const SUB: &[u8] = include_bytes!("../testdata/nats/sub.bin");
const PUB: &[u8] = include_bytes!("../testdata/nats/pub.bin");
const HPUB: &[u8] = include_bytes!("../testdata/nats/hpub.bin");
const REQUEST: &[u8] = include_bytes!("../testdata/nats/request.bin");
const PUB_REPLY: &[u8] = include_bytes!("../testdata/nats/pub_reply.bin");
const UNSUB: &[u8] = include_bytes!("../testdata/nats/unsub.bin");
const PUB_LONG: &[u8] = include_bytes!("../testdata/nats/pub_long.bin");
const PING: &[u8] = include_bytes!("../testdata/nats/ping.bin");

const ALL: [&[u8]; 10] = [
    CONNECT, SUB_QUEUE, SUB, PUB, HPUB, REQUEST, PUB_REPLY, UNSUB, PUB_LONG, PING,
];

fn parsed(request: &[u8]) -> Semantics {
    parse(request, &Options::default()).expect("parsed")
}

#[test]
fn publish_names_the_subject() {
    let s = parsed(PUB);
    assert_eq!(s.name, "publish orders.created");
    assert_eq!(
        s.attributes,
        vec![
            ("messaging.system", Value::Str("nats".into())),
            ("messaging.operation.name", Value::Str("publish".into())),
            ("messaging.operation.type", Value::Str("send".into())),
            (
                "messaging.destination.name",
                Value::Str("orders.created".into())
            ),
        ]
    );
    // with headers
    let s = parsed(HPUB);
    assert_eq!(s.name, "publish orders.with_headers");
    assert_eq!(attr(&s, "messaging.operation.type"), Some("send"));
    // a request: a PUB with a reply subject, after the SUB to the requester's inbox
    let s = parsed(&REQUEST[REQUEST.iter().position(|&c| c == b'\n').unwrap() + 1..]);
    assert_eq!(s.name, "publish svc.echo");
}

#[test]
fn inbox_subjects_are_temporary_destinations() {
    // the responder's reply goes to the requester's inbox, a subject per request: a template,
    // and no name, which would make a metric series per request
    let s = parsed(PUB_REPLY);
    assert_eq!(s.name, "publish _INBOX.{id}");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
    assert_eq!(
        attr(&s, "messaging.destination.template"),
        Some("_INBOX.{id}")
    );
    // the requester subscribes to its inbox first, in the same write as its request
    let s = parsed(REQUEST);
    assert_eq!(s.name, "subscribe _INBOX.{id}");
    assert_eq!(attr(&s, "messaging.operation.type"), Some("receive"));
}

#[test]
fn identifiers_in_subjects_are_templated() {
    let s = parsed(b"PUB devices.42.temperature 4\r\n21.5\r\n");
    assert_eq!(s.name, "publish devices.{id}.temperature");
    assert_eq!(
        attr(&s, "messaging.destination.name"),
        Some("devices.42.temperature")
    );
    assert_eq!(
        attr(&s, "messaging.destination.template"),
        Some("devices.{id}.temperature")
    );
    assert_eq!(attr(&parsed(PUB), "messaging.destination.template"), None);
}

#[test]
fn subscriptions() {
    let s = parsed(SUB_QUEUE);
    assert_eq!(s.name, "subscribe orders.created");
    assert_eq!(attr(&s, "messaging.operation.type"), Some("receive"));
    assert_eq!(attr(&s, "messaging.consumer.group.name"), Some("workers"));
    // nats-py leaves the queue group empty: two spaces
    let s = parsed(SUB);
    assert_eq!(s.name, "subscribe svc.echo");
    assert_eq!(attr(&s, "messaging.consumer.group.name"), None);
    let s = parsed(UNSUB);
    assert_eq!(s.name, "unsubscribe");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
}

#[test]
fn connect_keeps_nothing_of_its_json() {
    let s = parsed(CONNECT);
    assert_eq!(s.name, "connect");
    assert_eq!(s.attributes.len(), 2);
    each_prefix(parse, CONNECT, &Options::default(), |_, s| {
        assert_eq!(s.name, "connect");
        assert!(!format!("{s:?}").contains("hunter2"));
    });
    assert_eq!(parsed(PING).name, "ping");
    assert_eq!(parsed(b"pong\r\n").name, "pong");
}

#[test]
fn truncated_to_the_kernel_head() {
    // a 204-byte subject: the 128 bytes the kernel reads end inside it
    let s = parsed(&PUB_LONG[..HEAD]);
    assert_eq!(s.name, "publish");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
    assert!(parsed(PUB_LONG).name.starts_with("publish big.xxx"));
    // the subject is certain once a separator follows it
    assert_eq!(parsed(&PUB[..20]).name, "publish orders.created");
    assert_eq!(parsed(&PUB[..18]).name, "publish");
    assert_eq!(parse(&PUB[..3], &Options::default()), None);
    for request in ALL {
        each_prefix(parse, request, &Options::default(), |_, s| {
            assert!(!s.name.is_empty());
            if let Some(d) = attr(&s, "messaging.destination.name") {
                assert!(request.windows(d.len()).any(|w| w == d.as_bytes()));
            }
        });
    }
}

#[test]
fn not_nats() {
    rejects(
        parse,
        &[
            &b""[..],
            b"\r\n",
            b"PUB\r\n",
            b"PUB a\r\n",
            b"PUB a b c d\r\n",
            b"PUB a x\r\n",
            b"HPUB a 5\r\n",
            b"SUB a\r\n",
            b"SUB a q 1 2\r\n",
            b"UNSUB x\r\n",
            b"PING x\r\n",
            b"CONNECT [1]\r\n",
            b"MSG a 1 5\r\n",
            b"GET / HTTP/1.1\r\n",
            b"PUB \x01a 5\r\n",
            b"PUB \xff\xfe 5\r\n",
            b"\x00\x00\x00\x2dPUB",
        ],
    );
}
