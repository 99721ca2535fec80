//! Against requests real clients sent a real Kafka 4.1.1 broker (testdata/kafka/README.md).

use super::*;
use crate::test_support::{self, HEAD, attr, each_prefix, hex, rejects, xorshift};

const KAFKA_PYTHON: &str = include_str!("../testdata/kafka/kafka-python-3.0.12.txt");
const KAFKA_PYTHON_2_1: &str = include_str!("../testdata/kafka/kafka-python-3.0.12-api-2.1.txt");
const LIBRDKAFKA: &str = include_str!("../testdata/kafka/confluent-kafka-2.16.1.txt");
const JAVA: &str = include_str!("../testdata/kafka/kafka-clients-4.1.1.txt");
const ALL: [&str; 4] = [KAFKA_PYTHON, KAFKA_PYTHON_2_1, LIBRDKAFKA, JAVA];

struct Recorded {
    api_key: i16,
    version: i16,
    bytes: Vec<u8>,
}

fn recorded(file: &str) -> Vec<Recorded> {
    file.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            Recorded {
                api_key: fields[0].parse().unwrap(),
                version: fields[1].parse().unwrap(),
                bytes: hex(fields[3]),
            }
        })
        .collect()
}

fn request(file: &str, api_key: i16) -> Recorded {
    recorded(file)
        .into_iter()
        .find(|r| r.api_key == api_key)
        .unwrap_or_else(|| panic!("no api_key {api_key} recorded"))
}

/// `bytes` as the kernel hands them over, parsed.
fn head(bytes: &[u8]) -> Semantics {
    parse(test_support::head(bytes), &Options::default()).expect("parsed")
}

/// Span name, destination, partition and operation type of a file's Produce or Fetch request.
fn check(file: &str, api_key: i16, version: i16, expect: (&str, Option<&str>, &str)) {
    let r = request(file, api_key);
    assert_eq!(r.version, version);
    let s = head(&r.bytes);
    assert_eq!(s.name, expect.0);
    assert_eq!(attr(&s, "messaging.system"), Some("kafka"));
    assert_eq!(attr(&s, "messaging.destination.name"), expect.1);
    let partition = expect.1.map(|_| "0");
    assert_eq!(attr(&s, "messaging.destination.partition.id"), partition);
    assert_eq!(attr(&s, "messaging.operation.type"), Some(expect.2));
}

#[test]
fn produce_and_fetch_by_topic_name() {
    // flexible encodings: compact strings and arrays, header tagged fields
    check(
        KAFKA_PYTHON,
        0,
        9,
        ("Produce orders", Some("orders"), "send"),
    );
    check(
        KAFKA_PYTHON,
        1,
        12,
        ("Fetch orders", Some("orders"), "receive"),
    );
    // classic encodings
    let legacy = Some("legacy");
    check(KAFKA_PYTHON_2_1, 0, 7, ("Produce legacy", legacy, "send"));
    check(KAFKA_PYTHON_2_1, 1, 10, ("Fetch legacy", legacy, "receive"));
    check(
        LIBRDKAFKA,
        0,
        10,
        ("Produce payments", Some("payments"), "send"),
    );
}

#[test]
fn produce_and_fetch_by_topic_id_have_no_destination() {
    check(LIBRDKAFKA, 1, 16, ("Fetch", None, "receive"));
    check(JAVA, 0, 13, ("Produce", None, "send"));
    check(JAVA, 1, 18, ("Fetch", None, "receive"));
}

#[test]
fn every_recorded_request_names_its_api_and_client() {
    for (file, client) in [
        (KAFKA_PYTHON, "kp-recorder"),
        (KAFKA_PYTHON_2_1, "kp-recorder"),
        (LIBRDKAFKA, "rdkafka-recorder"),
        (JAVA, "console-"),
    ] {
        for r in recorded(file) {
            let s = head(&r.bytes);
            let api = APIS[r.api_key as usize];
            assert!(
                s.name.starts_with(api),
                "{} v{}: {}",
                r.api_key,
                r.version,
                s.name
            );
            assert_eq!(attr(&s, "messaging.operation.name"), Some(api));
            let id = attr(&s, "messaging.client.id").unwrap();
            assert!(id.starts_with(client), "{id}");
        }
    }
}

#[test]
fn consumer_groups() {
    for (file, group) in [
        (KAFKA_PYTHON, "kp-group"),
        (KAFKA_PYTHON_2_1, "kp-group"),
        (LIBRDKAFKA, "rd-group"),
        (JAVA, "console-consumer-"),
    ] {
        let mut seen = 0;
        for r in recorded(file) {
            let s = head(&r.bytes);
            let found = attr(&s, "messaging.consumer.group.name");
            if [8, 9, 11, 12, 13, 14].contains(&r.api_key) {
                assert!(found.unwrap().starts_with(group), "{} {found:?}", r.api_key);
                seen += 1;
            } else {
                assert_eq!(found, None, "{}", r.api_key);
            }
        }
        assert!(seen >= 3, "{seen}");
    }
    // OffsetCommit settles what was consumed
    let s = head(&request(KAFKA_PYTHON, 8).bytes);
    assert_eq!(attr(&s, "messaging.operation.type"), Some("settle"));
    assert_eq!(s.name, "OffsetCommit");
}

#[test]
fn every_prefix_is_safe_and_never_shows_a_cut_name() {
    for file in ALL {
        for r in recorded(file) {
            let api = APIS[r.api_key as usize];
            let parsed_from = each_prefix(parse, &r.bytes, &Options::default(), |_, s| {
                assert!(s.name.starts_with(api));
                if let Some(topic) = attr(&s, "messaging.destination.name") {
                    assert!(["orders", "legacy", "payments"].contains(&topic), "{topic}");
                }
                if let Some(group) = attr(&s, "messaging.consumer.group.name") {
                    assert!(group.ends_with("-group") || group.len() > 17, "{group}");
                }
            });
            assert!(parsed_from <= 12, "{api} unread up to {parsed_from}");
        }
    }
    // cut inside the topic name: the operation without a destination
    let produce = request(KAFKA_PYTHON, 0).bytes;
    let at = produce.windows(6).position(|w| w == b"orders").unwrap();
    let s = parse(&produce[..at + 3], &Options::default()).unwrap();
    assert_eq!(s.name, "Produce");
    assert_eq!(attr(&s, "messaging.destination.name"), None);
    // cut inside the client id: no client id
    let s = parse(&produce[..16], &Options::default()).unwrap();
    assert_eq!(attr(&s, "messaging.client.id"), None);
}

#[test]
fn header_tagged_fields_are_skipped() {
    // kafka-python's Produce v9 with one tagged field (tag 5, 3 bytes) added to its header
    let mut produce = request(KAFKA_PYTHON, 0).bytes;
    let tags = 4 + 2 + 2 + 4 + 2 + "kp-recorder".len();
    assert_eq!(produce[tags], 0);
    produce.splice(tags..=tags, [1, 5, 3, 0xaa, 0xbb, 0xcc]);
    let size = (produce.len() - 4) as u32;
    produce[..4].copy_from_slice(&size.to_be_bytes());
    assert_eq!(head(&produce).name, "Produce orders");
}

#[test]
fn not_kafka() {
    let fetch = request(KAFKA_PYTHON, 1).bytes;
    let mut unknown_api = fetch.clone();
    unknown_api[4..6].copy_from_slice(&500i16.to_be_bytes());
    let mut bad_version = fetch.clone();
    bad_version[6..8].copy_from_slice(&(-1i16).to_be_bytes());
    let mut negative_size = fetch.clone();
    negative_size[0] = 0x80;
    let mut long_client_id = fetch.clone();
    long_client_id[12..14].copy_from_slice(&200i16.to_be_bytes());
    rejects(
        parse,
        &[
            &b"GET / HTTP/1.1\r\n"[..],
            b"*1\r\n$4\r\nPING\r\n",
            b"\0\0\0\x05\0\x01\0\x01\0\0\0\x01\0\0",
            &unknown_api,
            &bad_version,
            &negative_size,
            &long_client_id,
            &fetch[..11],
        ],
    );
}

#[test]
fn garbage_after_the_header_is_not_a_destination() {
    let mut produce = request(KAFKA_PYTHON_2_1, 0).bytes;
    let at = produce.windows(6).position(|w| w == b"legacy").unwrap();
    produce[at + 2] = b'/';
    let s = head(&produce);
    assert_eq!(
        (s.name.as_str(), s.get("messaging.destination.name")),
        ("Produce", None)
    );
    // array counts and string lengths far past the capture
    for fill in [0x00, 0x7f, 0xff] {
        let mut r = produce[..40].to_vec();
        r.resize(HEAD, fill);
        let s = head(&r);
        assert_eq!(s.get("messaging.destination.name"), None);
    }
}

#[test]
fn mutated_recordings_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || xorshift(&mut state);
    for file in ALL {
        for r in recorded(file) {
            for _ in 0..300 {
                let mut bytes = test_support::head(&r.bytes).to_vec();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
                let end = (next() as usize) % (bytes.len() + 1);
                if let Some(s) = parse(&bytes[..end], &Options::default()) {
                    assert!(s.name.len() <= 20 + 250, "{}", s.name);
                }
            }
        }
    }
}

#[test]
fn several_topics_or_partitions_name_none() {
    // the recorded requests with their topic (or partition) count raised from 1 to 2
    let mut produce = request(KAFKA_PYTHON_2_1, 0).bytes;
    let name = produce
        .windows(8)
        .position(|w| w == b"\0\x06legacy")
        .unwrap();
    assert_eq!(produce[name - 4..name], [0, 0, 0, 1]);
    produce[name - 1] = 2;
    let s = head(&produce);
    assert_eq!(s.name, "Produce");
    assert_eq!(s.get("messaging.destination.name"), None);
    assert_eq!(s.get("messaging.destination.partition.id"), None);

    let mut fetch = request(KAFKA_PYTHON, 1).bytes;
    let name = fetch.windows(7).position(|w| w == b"\x07orders").unwrap();
    assert_eq!(fetch[name - 1], 2); // compact: count + 1
    fetch[name - 1] = 3;
    assert_eq!(head(&fetch).name, "Fetch");
    // one topic, two partitions: the topic without a partition
    let mut fetch = request(KAFKA_PYTHON, 1).bytes;
    assert_eq!(fetch[name + 7], 2);
    fetch[name + 7] = 3;
    let s = head(&fetch);
    assert_eq!(s.name, "Fetch orders");
    assert_eq!(s.get("messaging.destination.partition.id"), None);
}
