//! The kernel's detectors for ZooKeeper, ClickHouse's native protocol and Dubbo 2, run on the host
//! against conversations recorded from real clients and servers (tests/recordings/README.md);
//! and, for all six newer protocols, what they must not take.

mod replay;

use ferrotel_receiver_ebpf::detect::{DETECT_BYTES, request, request_of, response};
use ferrotel_receiver_ebpf::events::Protocol::*;
use replay::{exchanges, label, recording, replay};

#[test]
fn zookeeper_kazoo_and_zkcli() {
    let (protocol, seen) = replay(&recording("zookeeper_kazoo.txt"), true);
    assert_eq!(protocol, Some(Zookeeper));
    // connect; exists /app (NoNode), create /, create /app, create /app/config, getData, setData,
    // getChildren2, getData /missing/node (NoNode), exists with a watch, setData (its watch
    // fires first: xid -1, no answer), delete, closeSession
    let expected = [
        ("connect", 0),
        ("op 3", 1),
        ("op 3", 0),
        ("op 1", 0),
        ("op 1", 0),
        ("op 4", 0),
        ("op 5", 0),
        ("op 8", 0),
        ("op 4", 1),
        ("op 3", 0),
        ("op 5", 0),
        ("op 2", 0),
        ("op -11", 0),
    ];
    assert_eq!(seen, exchanges(&expected));
    let (_, seen) = replay(&recording("zookeeper_zkcli.txt"), true);
    assert_eq!(seen, exchanges(&[("connect", 0), ("op 1", 0)]));
}

#[test]
fn zookeeper_server_reads_the_length_apart() {
    // kazoo's session as ZooKeeper's server sees it: it reads each request's length, then the
    // rest, and writes the replies whole; a watch's notification and the reply to the setData
    // that fired it go in one write
    let (protocol, seen) = replay(&recording("zookeeper_server.txt"), false);
    assert_eq!(protocol, Some(Zookeeper));
    let expected = [
        ("connect", 0),
        ("op 3", 0),
        ("op 1", 0),
        ("op 4", 0),
        ("op 5", 0),
        ("op 8", 0),
        ("op 4", 1),
        ("op 3", 0),
        ("op 5", 0),
        ("op 2", 0),
        ("op -11", 0),
    ];
    assert_eq!(seen, exchanges(&expected));
}

#[test]
fn zookeeper_pings_and_notifications_pair_with_nothing() {
    let ping = [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11];
    assert_eq!(request(&ping, false, None), None);
    assert_eq!(request_of(Zookeeper, &ping), None);
    let calls = recording("zookeeper_kazoo.txt");
    let notification = calls
        .iter()
        .find(|c| c.bytes.starts_with(&[0xff; 4]))
        .unwrap();
    assert_eq!(response(Zookeeper, &notification.bytes), None);
    // the length read alone
    assert_eq!(response(Zookeeper, &[0, 0, 0, 0x10]), None);
}

#[test]
fn clickhouse_driver_against_chdb() {
    let (protocol, seen) = replay(&recording("clickhouse_driver.txt"), true);
    assert_eq!(protocol, Some(Clickhouse));
    // hello; SELECT 1; CREATE; INSERT; SELECT count(); a missing table (Exception 60, and the
    // driver reconnects: hello); throwIf fails after the result's header block: the first
    // packet is all the kernel reads. Pings are no requests.
    let expected = [
        ("hello", 0),
        ("query", 0),
        ("query", 0),
        ("query", 0),
        ("query", 0),
        ("query", 1),
        ("hello", 0),
        ("query", 0),
    ];
    assert_eq!(seen, exchanges(&expected));
    assert_eq!(request(&[4], false, None), None, "ping");
    assert_eq!(request_of(Clickhouse, &[4]), None, "ping");
    let data = &recording("clickhouse_driver.txt")[3].bytes;
    assert_eq!(
        request_of(Clickhouse, data),
        None,
        "the empty block after a query"
    );
}

#[test]
fn dubbo_java_consumer_and_provider() {
    let calls = recording("dubbo_java.txt");
    let (protocol, seen) = replay(&calls, true);
    assert_eq!(protocol, Some(Dubbo));
    // sayHello; fail() throws on the provider, whose OK (20) response carries the exception
    // (Hessian 2 response kind 3), and the consumer retries twice; sayHello again
    let hello = "[da, bb, c2, 00]";
    let expected = [(hello, 0), (hello, 1), (hello, 1), (hello, 1), (hello, 0)];
    assert_eq!(seen, exchanges(&expected));
    // the request ids are the consumer's counter: 8 bytes, not small
    let (_, id) = request(&calls[0].bytes, false, None).unwrap();
    assert_eq!(id, 0xc671_737d_3cf2_33f6);
    assert_eq!(response(Dubbo, &calls[1].bytes), Some((id, 0)));
    // the rest of a long response, read apart, is no response
    assert_eq!(response(Dubbo, &calls[4].bytes), None);
}

/// A Dubbo 2 frame built by the protocol's spec, for what the recording lacks.
fn dubbo(flags: u8, status: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0xda, 0xbb, flags, status];
    frame.extend(id.to_be_bytes());
    frame.extend((body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

#[test]
fn dubbo_pairs_by_request_id() {
    // two-way request, Hessian 2: dubbo version, service, version, method, ...
    let body =
        b"\x05\x32\x2e\x30\x2e\x32\x30org.example.DemoService\x05\x30\x2e\x30\x2e\x30\x08sayHello";
    let call = dubbo(0xc2, 0, 0x1_0000_0007, body);
    assert_eq!(request(&call, false, None), Some((Dubbo, 0x1_0000_0007)));
    let ok = dubbo(0x02, 20, 0x1_0000_0007, b"\x91\x05hello");
    assert_eq!(response(Dubbo, &ok), Some((0x1_0000_0007, 0)));
    let threw = dubbo(0x02, 20, 7, b"\x90C0\x1ejava.lang.RuntimeException");
    assert_eq!(response(Dubbo, &threw), Some((7, 1)));
    let not_found = dubbo(0x02, 60, 7, b"Snot found");
    assert_eq!(response(Dubbo, &not_found), Some((7, 1)));
    // one-way calls and heartbeats wait for nothing
    assert_eq!(request(&dubbo(0x82, 0, 8, body), false, None), None);
    assert_eq!(request(&dubbo(0xe2, 0, 9, b"N"), false, None), None);
    assert_eq!(response(Dubbo, &dubbo(0x22, 20, 9, b"N")), None);
    assert_eq!(response(Dubbo, &call), None, "a request is no response");
}

/// Every recorded message of the new protocols, and the requests of the others: none is taken
/// for another protocol, on either side.
#[test]
fn no_protocol_takes_anothers_bytes() {
    let ours = [
        ("amqp_pika.txt", Amqp),
        ("nats_py.txt", Nats),
        ("nats_verbose.txt", Nats),
        ("mqtt311_paho.txt", Mqtt),
        ("mqtt5_paho.txt", Mqtt),
        ("mqtt311_mosquitto_pub.txt", Mqtt),
        ("zookeeper_kazoo.txt", Zookeeper),
        ("zookeeper_zkcli.txt", Zookeeper),
        ("zookeeper_server.txt", Zookeeper),
        ("clickhouse_driver.txt", Clickhouse),
        ("dubbo_java.txt", Dubbo),
    ];
    for (name, protocol) in ours {
        let client = name != "zookeeper_server.txt";
        for call in recording(name) {
            let found = request(&call.bytes, false, None).map(|(p, _)| p);
            if call.out == client {
                assert!(
                    found.is_none() || found == Some(protocol),
                    "{name}: {found:?}"
                );
            } else {
                // a response is a request only on a socket whose side is not known yet (it was
                // open before the receiver started); Kafka's header check takes ZooKeeper's
                // replies of 16 bytes (xid, zxid, err 0) for requests
                let kafka = protocol == Zookeeper && found == Some(Kafka);
                // AMQP's channel.close and connection.close go either way
                let close = found == Some(Amqp) && label(Amqp, &call.bytes).ends_with(".40")
                    || found == Some(Amqp) && label(Amqp, &call.bytes) == "10.50";
                assert!(
                    found.is_none() || kafka || close,
                    "{name}: {:02x?} {found:?}",
                    &call.bytes[..8]
                );
            }
        }
    }
    let others: [&[u8]; 6] = [
        b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
        b"*1\r\n$4\r\nPING\r\n",
        b"get user:1\r\n",
        b"Q\0\0\0\x0eselect 1;\0",
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
        &[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ],
    ];
    for bytes in others {
        let found = request(bytes, false, None).map(|(p, _)| p);
        assert!(
            !matches!(
                found,
                Some(Amqp | Nats | Mqtt | Zookeeper | Clickhouse | Dubbo)
            ),
            "{bytes:?} taken for {found:?}"
        );
    }
    // a Kafka ApiVersions request stays Kafka
    let mut kafka = vec![0, 0, 0, 16, 0, 18, 0, 3, 0, 0, 0, 7, 0, 4];
    kafka.extend(b"test\0\0");
    assert_eq!(request(&kafka, false, None), Some((Kafka, 7)));
}

#[test]
fn noise_and_cut_messages_are_not_requests() {
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..512 {
        for protocol in [Amqp, Nats, Mqtt, Zookeeper, Clickhouse, Dubbo] {
            let bytes = &noise[start..start + 200];
            assert_eq!(request_of(protocol, bytes), None, "{protocol:?} at {start}");
            let _ = response(protocol, bytes); // must not crash
        }
        let found = request(&noise[start..start + 200], false, None).map(|(p, _)| p);
        assert!(
            !matches!(
                found,
                Some(Amqp | Nats | Mqtt | Zookeeper | Clickhouse | Dubbo)
            ),
            "{found:?} at {start}"
        );
    }
    // every recorded message cut short, as a syscall that moved fewer bytes: never read past
    for name in [
        "amqp_pika.txt",
        "zookeeper_kazoo.txt",
        "clickhouse_driver.txt",
        "mqtt5_paho.txt",
    ] {
        for call in recording(name) {
            for cut in 0..call.bytes.len().min(DETECT_BYTES + 2) {
                let bytes = &call.bytes[..cut];
                let _ = request(bytes, false, None);
                for protocol in [Amqp, Nats, Mqtt, Zookeeper, Clickhouse, Dubbo] {
                    let _ = request_of(protocol, bytes);
                    let _ = response(protocol, bytes);
                }
            }
        }
    }
}

#[test]
fn what_the_kernel_reads_is_128_bytes() {
    // a ClickHouse query whose text starts past the first 128 bytes is still a query
    let calls = recording("clickhouse_driver.txt");
    let hello_reply = &calls[1].bytes;
    assert!(response(Clickhouse, hello_reply).is_some());
    let mut long = calls[2].bytes.clone();
    long.resize(4000, b' ');
    assert!(request_of(Clickhouse, &long).is_some());
    // an AMQP publish whose frame ends past them: its end byte is not seen, nor checked
    let mut big = recording("amqp_pika.txt")[11].bytes[..22].to_vec();
    big[3..7].copy_from_slice(&300u32.to_be_bytes());
    big.resize(7 + 300, b'x');
    big.push(0xce);
    assert_eq!(request(&big, false, None), Some((Amqp, 1)));
    big[7 + 300] = 0;
    assert_eq!(request(&big, false, None), Some((Amqp, 1)));
}
