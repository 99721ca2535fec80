//! Frames pika 1.4 wrote to rabbitmq-server 3.10 (Debian), recorded by testdata/amqp/record.py.

use super::*;
use crate::test_support::{attr, each_prefix, names_and_system, prefixes_agree, rejects};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../testdata/amqp/", $name, ".bin")) as &[u8]
    };
}

/// Every recorded client write, with the span name it gets.
const ALL: [(&[u8], &str); 16] = [
    (fixture!("start_ok"), "connection.start-ok"),
    (fixture!("tune_ok"), "connection.tune-ok"),
    (fixture!("connection_open"), "connection.open"),
    (fixture!("channel_open"), "channel.open"),
    (fixture!("exchange_declare"), "exchange.declare direct_logs"),
    (fixture!("queue_declare"), "queue.declare orders"),
    (fixture!("queue_bind"), "queue.bind orders"),
    (fixture!("publish"), "publish direct_logs:warning"),
    (fixture!("publish_default"), "publish orders"),
    (fixture!("get"), "get orders"),
    (fixture!("ack"), "ack"),
    (fixture!("consume"), "consume orders"),
    (fixture!("publish_long"), "publish amq.topic:kkk"),
    (fixture!("cancel"), "cancel"),
    (fixture!("channel_close"), "channel.close"),
    (fixture!("connection_close"), "connection.close"),
];

fn parsed(request: &[u8]) -> Semantics {
    parse(request, &Options::default()).expect("parsed")
}

#[test]
fn every_recorded_frame() {
    names_and_system(parse, &ALL, ("messaging.system", "rabbitmq"));
    // the protocol header alone is no request
    assert_eq!(parse(fixture!("header"), &Options::default()), None);
    let mut first = fixture!("header").to_vec();
    first.extend(fixture!("start_ok"));
    assert_eq!(parsed(&first).name, "connection.start-ok");
}

#[test]
fn publish_destination_per_the_rabbitmq_conventions() {
    // method, content header and body frames in one write
    let s = parsed(fixture!("publish"));
    assert_eq!(
        s.attributes,
        vec![
            ("messaging.system", Value::Str("rabbitmq".into())),
            ("messaging.operation.name", Value::Str("publish".into())),
            ("messaging.operation.type", Value::Str("send".into())),
            (
                "messaging.destination.name",
                Value::Str("direct_logs:warning".into())
            ),
            (
                "messaging.rabbitmq.destination.routing_key",
                Value::Str("warning".into())
            ),
        ]
    );
    // the default exchange: the routing key alone
    let s = parsed(fixture!("publish_default"));
    assert_eq!(attr(&s, "messaging.destination.name"), Some("orders"));
    // neither: amq.default
    let mut m = fixture!("publish_default").to_vec();
    m[6] = 9; // size
    m[14] = 0; // empty routing key
    m[15] = 0; // bits
    m[16] = 0xce;
    assert_eq!(parsed(&m[..17]).name, "publish amq.default");
    // an RPC reply to a server-named queue: a temporary destination, a template and no name
    let mut reply =
        b"\x01\x00\x01\x00\x00\x00\x19\x00\x3c\x00\x28\x00\x00\x00\x10amq.gen-Xa1b2c3d\x00\xce"
            .to_vec();
    let s = parsed(&reply);
    assert_eq!(s.name, "publish amq.gen-{id}");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
    assert_eq!(
        attr(&s, "messaging.rabbitmq.destination.routing_key"),
        Some("amq.gen-Xa1b2c3d")
    );
    reply[15] = b'b';
    assert_eq!(parsed(&reply).name, "publish bmq.gen-Xa1b2c3d");
}

#[test]
fn consumers_and_settlement() {
    let s = parsed(fixture!("get"));
    assert_eq!(attr(&s, "messaging.operation.type"), Some("receive"));
    assert_eq!(attr(&s, "messaging.destination.name"), Some("orders"));
    let s = parsed(fixture!("consume"));
    assert_eq!(attr(&s, "messaging.operation.type"), Some("receive"));
    let s = parsed(fixture!("ack"));
    assert_eq!(attr(&s, "messaging.operation.type"), Some("settle"));
    assert_eq!(
        s.get("messaging.rabbitmq.message.delivery_tag"),
        Some(&Value::Int(1))
    );
    let s = parsed(fixture!("queue_declare"));
    assert_eq!(attr(&s, "messaging.operation.type"), None);
}

#[test]
fn start_ok_keeps_no_credentials() {
    let start_ok = fixture!("start_ok");
    assert!(start_ok.windows(6).any(|w| w == b"\0guest"));
    each_prefix(parse, start_ok, &Options::default(), |_, s| {
        assert_eq!(s.name, "connection.start-ok");
        assert_eq!(s.attributes.len(), 2);
    });
}

#[test]
fn truncated_to_the_kernel_head() {
    // a 200-byte routing key: the 128 bytes the kernel reads end inside it
    let s = parsed(&fixture!("publish_long")[..128]);
    assert_eq!(s.name, "publish");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
    prefixes_agree(parse, &ALL);
}

#[test]
fn not_amqp() {
    rejects(
        parse,
        &[
            &b""[..],
            b"AMQP\x00\x00\x09\x01",
            b"\x08\x00\x00\x00\x00\x00\x00\xce", // heartbeat
            b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x28\xff", // no frame end
            b"\x01\x00\x01\x00\x00\x00\x04\x00\x3c\x00\x29\xce", // no such method
            b"\x01\x00\x00\x00\x00\x00\x04\x00\x3c\x00\x28\xce", // basic on channel 0
            b"\x01\x00\x01\x00\x00\x00\x04\x00\x0a\x00\x28\xce", // connection on channel 1
            b"\x01\x00\x01\xff\xff\xff\xff\x00\x3c\x00\x28",
            b"\x01\x00\x01\x00\x00\x00\x02\x00\x3c\xce",
            b"GET / HTTP/1.1\r\n",
        ],
    );
}
