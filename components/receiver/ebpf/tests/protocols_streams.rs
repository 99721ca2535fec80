//! Where the head a request leaves the kernel with starts, and the detectors of stream-framed
//! protocols, on recorded bytes (components/l7/testdata).

use ferrotel_receiver_ebpf::detect::{DETECT_BYTES, http2_request_frame, request, request_of};
use ferrotel_receiver_ebpf::events::Protocol::*;

fn hex_lines(path: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/../../l7/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.split_whitespace()
        .map(|line| {
            (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

fn l7_name(protocol: ferrotel_l7::Protocol, head: &[u8]) -> Option<String> {
    let options = ferrotel_l7::Options {
        sanitize: true,
        max_query_len: 2048,
    };
    ferrotel_l7::parse(protocol, head, 0, &options).map(|s| s.name)
}

#[test]
fn http2_head_starts_at_the_headers_frame() {
    // grpcio's client writes: preface + SETTINGS + WINDOW_UPDATE, a SETTINGS ack, then the first
    // call's HEADERS and DATA; its server reads them in one read (381-384 bytes)
    let writes = hex_lines("http2/grpcio_unary.hex");
    let read: Vec<u8> = writes[..3].concat();
    assert_eq!(request(&read, false, None), Some((Http2, 1)));
    let frame = http2_request_frame(&read);
    assert_eq!(frame, writes[0].len() + writes[1].len());
    assert_eq!(read[frame + 3], 1, "a HEADERS frame");
    let cut = |from: usize| &read[from..(from + DETECT_BYTES).min(read.len())];
    // what user space got before: the preface's 128 bytes name nothing
    assert_ne!(
        l7_name(ferrotel_l7::Protocol::Http2, cut(0)).as_deref(),
        Some("helloworld.Greeter/SayHello")
    );
    assert_eq!(
        l7_name(ferrotel_l7::Protocol::Http2, cut(frame)).as_deref(),
        Some("helloworld.Greeter/SayHello")
    );
    // a write that starts with its HEADERS frame keeps its head as it is
    assert_eq!(http2_request_frame(&writes[2]), 0);
    assert_eq!(request_of(Http2, &writes[2]), Some(1));
    // the preface alone, or garbage, has no HEADERS frame
    assert_eq!(http2_request_frame(&writes[0]), 0);
    assert_eq!(
        http2_request_frame(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff"),
        0
    );
    assert_eq!(http2_request_frame(&[0u8; 40]), 0);
}

fn fixture(path: &str) -> Vec<u8> {
    let path = format!("{}/../../l7/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Cassandra's CRC24 over the `n` low bytes of `word`, least significant first.
fn crc24(mut word: u64, n: usize) -> u32 {
    let mut crc: u32 = 0x87_5060;
    for _ in 0..n {
        crc ^= ((word & 0xff) as u32) << 16;
        word >>= 8;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x197_4F0B;
            }
        }
    }
    crc & 0xff_ffff
}

/// A self-contained, uncompressed v5 segment around `frame`.
fn segment(frame: &[u8]) -> Vec<u8> {
    let word = frame.len() as u64 | 1 << 17;
    let mut out = word.to_le_bytes()[..3].to_vec();
    out.extend(&crc24(word, 3).to_le_bytes()[..3]);
    out.extend_from_slice(frame);
    out
}

#[test]
fn cassandra_v5_segments_on_a_known_socket() {
    use ferrotel_receiver_ebpf::detect::response;
    // cassandra-driver 3.30.1 against Cassandra 5.0.6: a QUERY in a segment (stream 4), one
    // with lz4 on, whose 8-byte header says the payload was left uncompressed (stream 2)
    let query = fixture("cassandra/v5-query.bin");
    assert_eq!(&query[6..8], &[5, 0]);
    assert_eq!(request_of(Cassandra, &query), Some(4));
    let lz4 = fixture("cassandra/v5-lz4.bin");
    assert_eq!(request_of(Cassandra, &lz4), Some(2));
    for name in ["execute", "prepare", "batch", "long"] {
        let bytes = fixture(&format!("cassandra/v5-{name}.bin"));
        assert!(request_of(Cassandra, &bytes).is_some(), "{name}");
    }
    // connecting: OPTIONS and STARTUP as bare frames, then REGISTER in a segment
    let connect = fixture("cassandra/v5-connect.bin");
    assert_eq!(request(&connect[..9], false, None), Some((Cassandra, 0)));
    assert_eq!(request(&connect[9..109], false, None), Some((Cassandra, 1)));
    assert_eq!(request_of(Cassandra, &connect[109..173]), Some(2));
    // a segment is never a connection's first bytes: not taken on an unknown socket
    assert_eq!(request(&query, false, None), None);
    // look-alikes: another version, padding bits, a segment longer than the write, a frame
    // longer than a self-contained segment, an opcode no client sends
    let with = |at: usize, value: u8| {
        let mut b = query.clone();
        b[at] = value;
        b
    };
    assert_eq!(request_of(Cassandra, &with(6, 0x04)), None);
    assert_eq!(request_of(Cassandra, &with(2, 0x06)), None);
    assert_eq!(request_of(Cassandra, &with(1, 0x01)), None);
    assert_eq!(request_of(Cassandra, &with(12, 0x01)), None);
    assert_eq!(request_of(Cassandra, &with(10, 0x08)), None);
    assert_eq!(request_of(Cassandra, &query[..40]), None);
    // responses in segments pair by the frame's stream: a RESULT (Void) and an ERROR
    let result = segment(&[0x85, 0, 0, 4, 0x08, 0, 0, 0, 4, 0, 0, 0, 1]);
    assert_eq!(response(Cassandra, &result), Some((4, 0)));
    let mut error = vec![0x85, 0, 0, 2, 0x00, 0, 0, 0, 8, 0, 0, 0x22, 0];
    error.extend([0, 2, b'n', b'o']);
    assert_eq!(response(Cassandra, &segment(&error)), Some((2, 1)));
    // and bare frames still do
    assert_eq!(
        response(Cassandra, &[0x85, 0, 0, 1, 0x02, 0, 0, 0, 0]),
        Some((1, 0))
    );
}

#[test]
fn memcached_meta_binary_and_admin_commands() {
    use ferrotel_receiver_ebpf::detect::response;
    // pymemcache / meta and binary clients against memcached 1.6.18 (README beside the files)
    for name in [
        "meta_mg",
        "meta_mg_multi",
        "meta_ms",
        "meta_md",
        "meta_ma",
        "meta_touch",
        "flush_all",
        "version",
        "stats",
        "binary_set",
        "binary_getk",
        "binary_add",
        "binary_delete",
        "binary_touch",
        "binary_flush",
        "binary_quit",
    ] {
        let bytes = fixture(&format!("memcached/{name}.bin"));
        assert_eq!(request(&bytes, false, None), Some((Memcached, 0)), "{name}");
        assert_eq!(request_of(Memcached, &bytes), Some(0), "{name}");
    }
    for bytes in [&b"mn\r\n"[..], b"me user:42\r\n", b"stats items\r\n"] {
        assert_eq!(request(bytes, false, None), Some((Memcached, 0)));
    }
    // look-alikes: words that merely start the same, a meta verb without a key, a binary
    // header whose body the write does not hold or with a data type
    for bytes in [
        &b"statsx\r\n"[..],
        b"versions\r\n",
        b"flush_allx\r\n",
        b"mx key\r\n",
        b"mg \r\n",
        b"mg",
    ] {
        assert_eq!(request(bytes, false, None), None, "{bytes:?}");
    }
    let set = fixture("memcached/binary_set.bin");
    assert_eq!(request(&set[..set.len() - 1], false, None), None);
    let mut typed = set.clone();
    typed[5] = 1;
    assert_eq!(request(&typed, false, None), None);
    // answers (memcached's, per protocol.txt and protocol_binary.h): meta, admin and binary
    for ok in [
        &b"HD\r\n"[..],
        b"VA 5 f0\r\nhello\r\n",
        b"EN\r\n",
        b"NF\r\n",
        b"MN\r\n",
        b"OK\r\n",
        b"VERSION 1.6.18\r\n",
        b"STAT pid 1\r\n",
    ] {
        assert_eq!(response(Memcached, ok), Some((0, 0)), "{ok:?}");
    }
    let binary = |status: u16| {
        let mut b = vec![0x81, 0x0c, 0, 0, 0, 0];
        b.extend(status.to_be_bytes());
        b.extend([0u8; 16]);
        b
    };
    assert_eq!(response(Memcached, &binary(0)), Some((0, 0)));
    assert_eq!(response(Memcached, &binary(1)), Some((0, 0))); // key not found
    assert_eq!(response(Memcached, &binary(0x84)), Some((0, 1))); // not supported
    assert_eq!(response(Memcached, &binary(0)[..20]), None);
    assert_eq!(response(Memcached, b"HDX\r\n"), None);
}

/// Kafka requests recorded from real clients against Kafka 4.1.1: (api key, bytes).
fn kafka_requests() -> Vec<(u32, Vec<u8>)> {
    let dir = format!("{}/../../l7/testdata/kafka", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [key, _, _, hex] = fields[..] else {
                continue;
            };
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            out.push((key.parse().unwrap(), bytes));
        }
    }
    assert!(out.len() > 20);
    out
}

#[test]
fn kafka_requests_with_small_correlation_ids_and_new_api_keys() {
    for (key, bytes) in kafka_requests() {
        // a new socket's first requests: correlation ids from 0 up, which ZooKeeper's checks
        // must not take for an operation code
        for correlation in (0u32..130).chain([1000, 70000]) {
            let mut b = bytes.clone();
            b[8..12].copy_from_slice(&correlation.to_be_bytes());
            assert_eq!(
                request(&b, false, None),
                Some((Kafka, u64::from(correlation))),
                "api key {key}, correlation {correlation}"
            );
        }
    }
    // api keys up to 92 (Kafka 4.1), not beyond
    let (_, sample) = kafka_requests().remove(0);
    for (key, detected) in [(92u16, true), (85, true), (93, false), (300, false)] {
        let mut b = sample.clone();
        b[4..6].copy_from_slice(&key.to_be_bytes());
        assert_eq!(
            request(&b, false, None).is_some(),
            detected,
            "api key {key}"
        );
    }
}

#[test]
fn kafka_responses_read_length_first() {
    use ferrotel_receiver_ebpf::detect::response;
    // a response (correlation id 7, a 40-byte body) as one read, as its length alone, then as
    // the rest that Java's client reads next
    let mut rest = 7u32.to_be_bytes().to_vec();
    rest.extend([0u8; 40]);
    let mut whole = (rest.len() as u32).to_be_bytes().to_vec();
    whole.extend(&rest);
    assert_eq!(response(Kafka, &whole), Some((7, 0)));
    assert_eq!(response(Kafka, &whole[..4]), None);
    assert_eq!(response(Kafka, &rest), Some((7, 0)));
    // the start of a response longer than the read
    assert_eq!(response(Kafka, &whole[..20]), Some((7, 0)));
    // a rest whose first word cannot be a correlation id
    let mut negative = rest.clone();
    negative[0] = 0x80;
    assert_eq!(response(Kafka, &negative), None);
}
