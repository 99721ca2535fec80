//! The kernel's detectors for AMQP, NATS and MQTT, run on the host against conversations
//! recorded from real clients and brokers (tests/recordings/README.md), and look-alikes.

mod replay;

use ferrotel_receiver_ebpf::detect::{request, request_of, response};
use ferrotel_receiver_ebpf::events::Protocol::*;
use replay::{exchanges, recording, replay};

#[test]
fn amqp_pika_against_rabbitmq() {
    let (protocol, seen) = replay(&recording("amqp_pika.txt"), true);
    assert_eq!(protocol, Some(Amqp));
    // the header and connection handshake; channel.open; queue.declare; a publish before
    // confirm.select is never answered, and confirm.select on its channel replaces it; the
    // confirmed publish is answered by basic.ack; basic.get; a passive declare of a missing queue
    // is answered by channel.close 404; connection.close
    let expected = [
        ("header", 0),
        ("10.11", 0),
        ("10.40", 0),
        ("20.10", 0),
        ("50.10", 0),
        ("85.10", 0),
        ("60.40", 0),
        ("60.70", 0),
        ("50.10", 1),
        ("10.50", 0),
    ];
    assert_eq!(seen, exchanges(&expected));
}

#[test]
fn amqp_frames_by_channel_and_reply_codes() {
    let calls = recording("amqp_pika.txt");
    // basic.publish on channel 1, then the content header and body frames, written apart
    let publish = &calls[11].bytes;
    assert_eq!(request(publish, false, None), Some((Amqp, 1)));
    assert_eq!(request_of(Amqp, &calls[12].bytes), None, "content header");
    assert_eq!(request_of(Amqp, &calls[13].bytes), None, "body");
    // tune-ok and channel.close-ok answer the broker: nothing answers them
    assert_eq!(request_of(Amqp, &calls[4].bytes), None, "tune-ok");
    assert_eq!(request_of(Amqp, &calls[24].bytes), None, "close-ok");
    // channel.close NOT_FOUND (404) on channel 1
    assert_eq!(response(Amqp, &calls[23].bytes), Some((1, 1)));
    // a delivery is pushed, not an answer; the same frame as basic.get-ok is
    let mut deliver = calls[21].bytes.clone();
    deliver[10] = 60;
    assert_eq!(response(Amqp, &deliver), None);
    assert_eq!(response(Amqp, &calls[21].bytes), Some((1, 0)));
    // heartbeats go both ways and are neither
    let heartbeat = [8, 0, 0, 0, 0, 0, 0, 0xce];
    assert_eq!(request(&heartbeat, false, None), None);
    assert_eq!(response(Amqp, &heartbeat), None);
    // a frame whose end byte is wrong is not AMQP
    let mut broken = publish.clone();
    broken[22] = 0;
    assert_eq!(request(&broken, false, None), None);
}

#[test]
fn nats_py_flushes_and_request_reply() {
    let (protocol, seen) = replay(&recording("nats_py.txt"), true);
    assert_eq!(protocol, Some(Nats));
    // INFO comes first and is no request; CONNECT is not answered (not verbose) and the PING
    // after it is; the PING before SUB+PUB is answered after them (one write, its PONG pairs
    // with the latest); request-reply: the PUB with a reply subject, then its MSG
    let expected = [("PING", 0), ("SUB", 0), ("SUB", 0), ("PUB", 0)];
    assert_eq!(seen, exchanges(&expected));
}

#[test]
fn nats_verbose_ok_and_err() {
    let (_, seen) = replay(&recording("nats_verbose.txt"), true);
    let expected = [("CONNECT", 0), ("PUB", 0), ("SUB", 0), ("PUB", 1)];
    assert_eq!(seen, exchanges(&expected));
    let calls = recording("nats_verbose.txt");
    assert_eq!(request(&calls[0].bytes, false, None), None, "INFO");
    assert_eq!(response(Nats, &calls[0].bytes), None, "INFO");
    assert_eq!(response(Nats, b"PING\r\n"), None, "the server's keep-alive");
    assert_eq!(request(b"PONG\r\n", false, None), None, "the answer to it");
    assert_eq!(request(b"UNSUB 1\r\n", false, None), None);
}

#[test]
fn nats_connect_is_not_http_connect() {
    assert_eq!(
        request(b"CONNECT {\"verbose\":false}\r\n", false, None),
        Some((Nats, 0))
    );
    assert_eq!(
        request(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            false,
            None
        ),
        Some((Http, 0))
    );
}

#[test]
fn mqtt_paho_311_and_5() {
    for name in ["mqtt311_paho.txt", "mqtt5_paho.txt"] {
        let (protocol, seen) = replay(&recording(name), true);
        assert_eq!(protocol, Some(Mqtt), "{name}");
        // CONNECT, SUBSCRIBE, PUBLISH QoS 1 (PUBACK), QoS 2 (PUBREC), SUBSCRIBE, UNSUBSCRIBE; the
        // QoS 0 PUBLISH, PUBREL, the client's PUBACKs and DISCONNECT wait for nothing. paho reads
        // a packet's type byte alone: the reason codes are not seen.
        let expected = [
            ("type 1", 0),
            ("type 8", 0),
            ("type 3", 0),
            ("type 3", 0),
            ("type 8", 0),
            ("type 10", 0),
        ];
        assert_eq!(seen, exchanges(&expected), "{name}");
    }
}

#[test]
fn mqtt_mosquitto_pub() {
    let (_, seen) = replay(&recording("mqtt311_mosquitto_pub.txt"), true);
    assert_eq!(seen, exchanges(&[("type 1", 0), ("type 3", 0)]));
    let (_, seen) = replay(&recording("mqtt5_mosquitto_pub_qos0.txt"), true);
    assert_eq!(seen, exchanges(&[("type 1", 0)]));
}

#[test]
fn mqtt_reason_codes_of_whole_packets() {
    // what brokers write (mosquitto: one write per packet), and clients reading whole packets see
    for name in ["mqtt311_paho_refused.txt", "mqtt5_paho_refused.txt"] {
        let calls = recording(name);
        let mut connack = calls[1].bytes.clone();
        connack.extend(&calls[2].bytes);
        connack.extend(&calls[3].bytes);
        assert_eq!(response(Mqtt, &connack), Some((0, 1)), "{name}");
    }
    let calls = recording("mqtt5_paho_acl.txt");
    let puback: Vec<u8> = calls[9..12].iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(puback, [0x40, 3, 0, 2, 0x87]);
    assert_eq!(response(Mqtt, &puback), Some((0, 1)));
    let suback: Vec<u8> = calls[5..8].iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(response(Mqtt, &suback), Some((0, 0)));
    assert_eq!(response(Mqtt, &[0x90, 3, 0, 1, 0x80]), Some((0, 1)));
    assert_eq!(response(Mqtt, &[0x40, 2, 0, 2]), Some((0, 0)));
    // the reads after the type byte are not responses
    assert_eq!(response(Mqtt, &[0x02]), None);
    assert_eq!(response(Mqtt, &[0x40, 0x02]), None, "packet id 0x4002");
    // nor are a PUBLISH pushed by the broker and the keep-alive's answer
    assert_eq!(response(Mqtt, &[0x32]), None);
    assert_eq!(response(Mqtt, &[0xd0, 0]), None);
    assert_eq!(request(&[0xc0, 0], false, None), None, "PINGREQ");
}
