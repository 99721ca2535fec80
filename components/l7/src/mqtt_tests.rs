//! Packets paho-mqtt 2.2 (MQTT 3.1.1 and 5) and mosquitto_pub/mosquitto_sub 2.0 wrote to
//! mosquitto 2.0 (Debian), recorded by testdata/mqtt/record.py and record_cli.py.

use super::*;
use crate::Value;
use crate::test_support::{attr, names_and_system, prefixes_agree, prefixes_hide, rejects};

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../testdata/mqtt/", $path)) as &[u8]
    };
}

/// Every recorded packet, as (MQTT version, name).
const ALL: [(&[u8], &str); 24] = [
    (fixture!("v311/connect.bin"), "connect"),
    (fixture!("v311/subscribe.bin"), "subscribe sensors/+/temp"),
    (
        fixture!("v311/publish_qos0.bin"),
        "publish sensors/kitchen/temp",
    ),
    (
        fixture!("v311/publish_qos1.bin"),
        "publish sensors/hall/temp",
    ),
    (fixture!("v311/puback.bin"), "puback"),
    (
        fixture!("v311/publish_qos2.bin"),
        "publish sensors/attic/temp",
    ),
    (fixture!("v311/pubrel.bin"), "pubrel"),
    (fixture!("v311/unsubscribe.bin"), "unsubscribe alerts/#"),
    (fixture!("v311/publish_long.bin"), "publish big/ttt"),
    (fixture!("v311/disconnect.bin"), "disconnect"),
    (fixture!("v5/connect.bin"), "connect"),
    (fixture!("v5/subscribe.bin"), "subscribe sensors/+/temp"),
    (
        fixture!("v5/publish_qos0.bin"),
        "publish sensors/kitchen/temp",
    ),
    (fixture!("v5/publish_qos1.bin"), "publish sensors/hall/temp"),
    (fixture!("v5/puback.bin"), "puback"),
    (
        fixture!("v5/publish_qos2.bin"),
        "publish sensors/attic/temp",
    ),
    (fixture!("v5/pubrel.bin"), "pubrel"),
    (fixture!("v5/unsubscribe.bin"), "unsubscribe alerts/#"),
    (fixture!("v5/publish_long.bin"), "publish big/ttt"),
    (fixture!("v5/disconnect.bin"), "disconnect"),
    (fixture!("cli/v5_connect.bin"), "connect"),
    (fixture!("cli/v5_publish.bin"), "publish cli/topic"),
    (fixture!("cli/v311_subscribe.bin"), "subscribe cli/#"),
    (fixture!("cli/pingreq.bin"), "ping"),
];

fn parsed(request: &[u8]) -> Semantics {
    parse(request, &Options::default()).expect("parsed")
}

#[test]
fn every_recorded_packet() {
    names_and_system(parse, &ALL, ("messaging.system", "mqtt"));
}

#[test]
fn publish_in_both_versions() {
    for packet in [
        fixture!("v311/publish_qos1.bin"),
        fixture!("v5/publish_qos1.bin"),
    ] {
        let s = parsed(packet);
        assert_eq!(
            s.attributes,
            vec![
                ("messaging.system", Value::Str("mqtt".into())),
                ("messaging.operation.name", Value::Str("publish".into())),
                ("messaging.operation.type", Value::Str("send".into())),
                (
                    "messaging.destination.name",
                    Value::Str("sensors/hall/temp".into())
                ),
            ]
        );
    }
    // an id among the topic levels: templated in the span name
    let s = parsed(b"\x32\x1e\x00\x17devices/12345/telemetry\x00\x01{}");
    assert_eq!(s.name, "publish devices/{id}/telemetry");
    assert_eq!(
        attr(&s, "messaging.destination.template"),
        Some("devices/{id}/telemetry")
    );
    assert_eq!(
        attr(&s, "messaging.destination.name"),
        Some("devices/12345/telemetry")
    );
    // a topic alias (v5) leaves the topic empty
    let s = parsed(b"\x30\x08\x00\x00\x03\x23\x00\x01hi");
    assert_eq!(s.name, "publish");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
}

#[test]
fn subscribe_reads_the_first_filter_in_both_versions() {
    // paho: 3.1.1 without properties; 5 with a subscription identifier property
    for packet in [fixture!("v311/subscribe.bin"), fixture!("v5/subscribe.bin")] {
        let s = parsed(packet);
        assert_eq!(s.name, "subscribe sensors/+/temp");
        assert_eq!(attr(&s, "messaging.operation.type"), Some("receive"));
    }
    // 5 with no properties: 0x00 before the filter's length
    let s = parsed(fixture!("v5/unsubscribe.bin"));
    assert_eq!(attr(&s, "messaging.destination.name"), Some("alerts/#"));
    assert_eq!(attr(&s, "messaging.operation.type"), None);
    assert_eq!(
        parsed(b"\x82\x07\x00\x01\x00\x00\x02a/\x00").name,
        "subscribe a/"
    );
}

#[test]
fn connect_keeps_the_version_and_no_credentials() {
    for (packet, version) in [
        (fixture!("v311/connect.bin"), "3.1.1"),
        (fixture!("v5/connect.bin"), "5"),
        (fixture!("cli/v5_connect.bin"), "5"),
    ] {
        let s = parsed(packet);
        assert_eq!(s.name, "connect");
        assert_eq!(attr(&s, "network.protocol.version"), Some(version));
        prefixes_hide(parse, packet, &["hunter2", "sensor", "offline"]);
    }
}

#[test]
fn truncated_to_the_kernel_head() {
    // a 154-byte topic: the 128 bytes the kernel reads end inside it
    for packet in [
        fixture!("v311/publish_long.bin"),
        fixture!("v5/publish_long.bin"),
    ] {
        let s = parsed(&packet[..128]);
        assert_eq!(s.name, "publish");
        assert_eq!(attr(&s, "messaging.operation.type"), Some("send"));
    }
    prefixes_agree(parse, &ALL);
    // cut before the filter's length
    assert_eq!(parsed(&fixture!("v5/subscribe.bin")[..4]).name, "subscribe");
}

#[test]
fn not_mqtt() {
    rejects(
        parse,
        &[
            &b""[..],
            b"\x30",
            b"\x30\xff\xff\xff\xff\x01",
            b"\x36\x05\x00\x01a",          // QoS 3
            b"\x80\x05\x00\x01\x00\x01a",  // SUBSCRIBE without its fixed flags
            b"\x82\x02\x00\x01",           // no filter
            b"\x82\x06\x00\x01\x00\x09ab", // filter past the packet in either reading
            b"\x30\x05\x00\x03a+b",        // wildcard in a topic name
            b"\x30\x05\x00\x03\xff\xfe\xfd",
            b"\x20\x02\x00\x00", // CONNACK: the server's
            b"\x10\x0a\x00\x04HTTP\x04\x02\x00\x3c",
            b"\xc0\x01\x00",
            b"GET / HTTP/1.1\r\n",
        ],
    );
}
