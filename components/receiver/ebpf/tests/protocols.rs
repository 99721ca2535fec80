//! The in-kernel protocol detectors, run on the host against real protocol bytes: what each
//! protocol's client sends, what its server answers, and look-alikes that must not match.

use ferrotel_receiver_ebpf::detect::{request, response};
use ferrotel_receiver_ebpf::events::Protocol::{self, *};

fn detects(bytes: &[u8], protocol: Protocol) -> u64 {
    match request(bytes, false, None) {
        Some((found, stream)) => {
            assert_eq!(found, protocol, "{:?}", String::from_utf8_lossy(bytes));
            stream
        }
        None => panic!("{protocol:?} not detected in {bytes:?}"),
    }
}

fn be32(n: usize) -> [u8; 4] {
    (n as u32).to_be_bytes()
}

#[test]
fn http1_requests_and_status_codes() {
    detects(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", Http);
    detects(b"POST /api HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", Http);
    assert_eq!(
        response(Http, b"HTTP/1.1 404 Not Found\r\n\r\n"),
        Some((0, 404))
    );
    assert_eq!(response(Http, b"HTTP/1.0 200 OK\r\n"), Some((0, 200)));
    assert_eq!(response(Http, b"HTTP/1.1 2x0 OK\r\n"), None);
    assert_eq!(request(b"GETX / HTTP/1.1\r\n", false, None), None);
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend([kind, flags]);
    frame.extend(stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn http2_pairs_by_stream_and_reads_the_static_status() {
    let mut first = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    first.extend(h2_frame(4, 0, 0, &[0, 3, 0, 0, 0, 100])); // SETTINGS
    first.extend(h2_frame(1, 0x4, 1, &[0x82, 0x86, 0x84])); // HEADERS :method GET ...
    assert_eq!(request(&first, false, None), Some((Http2, 1)));
    // later requests carry no preface: HTTP/2 only on a socket known to speak it
    let later = h2_frame(1, 0x5, 3, &[0x82]);
    assert_eq!(request(&later, false, Some(Http2)), Some((Http2, 3)));
    assert_eq!(request(&later, false, None), None);
    let mut answer = h2_frame(4, 0x1, 0, &[]); // SETTINGS ack, then HEADERS :status 404
    answer.extend(h2_frame(1, 0x4, 3, &[0x8d]));
    assert_eq!(response(Http2, &answer), Some((3, 404)));
}

#[test]
fn postgres_simple_and_extended_queries() {
    let query = b"select 1;\0";
    let mut q = vec![b'Q'];
    q.extend(be32(4 + query.len()));
    q.extend_from_slice(query);
    detects(&q, Postgres);
    let mut cut = q.clone();
    cut[4] += 1; // a length that disagrees with the write
    assert_eq!(request(&cut, false, None), None);
    let mut parse = vec![b'P'];
    parse.extend(be32(4 + 1 + query.len() + 2));
    parse.push(0);
    parse.extend_from_slice(query);
    parse.extend([0, 0]);
    parse.extend(b"B\0\0\0\x0c\0\0\0\0\0\0\0\0S\0\0\0\x04");
    detects(&parse, Postgres);
    assert_eq!(
        response(Postgres, b"T\0\0\0\x1e\0\x01?column?\0"),
        Some((0, 0))
    );
    assert_eq!(response(Postgres, b"E\0\0\0\x50SERROR\0"), Some((0, 1)));
}

/// psycopg 3 `prepare=True`, second execution (strace of a real client against PostgreSQL 15):
/// Bind of "_pg3_0", Describe portal, Execute, Sync in one sendto.
const PG_BIND_AGAIN: &[u8] = b"B\0\0\0\x1c\0_pg3_0\0\0\x01\0\x01\0\x01\0\0\0\x02\0\x01\0\x01\0\0\
D\0\0\0\x06P\0E\0\0\0\x09\0\0\0\0\0S\0\0\0\x04";

#[test]
fn postgres_bind_of_a_named_statement_on_a_known_socket() {
    use ferrotel_receiver_ebpf::detect::request_of;
    assert_eq!(PG_BIND_AGAIN.len(), 51);
    assert_eq!(request_of(Postgres, PG_BIND_AGAIN), Some(0));
    // never the first write of a connection: an unknown socket is not taken on a Bind
    assert_eq!(request(PG_BIND_AGAIN, false, None), None);
    // a Bind whose length goes past the write, or too short to hold its fields
    assert_eq!(request_of(Postgres, &PG_BIND_AGAIN[..20]), None);
    assert_eq!(request_of(Postgres, b"B\0\0\0\x08\0\0\0\0"), None);
    // Sync, Terminate, Describe or Execute alone start no statement
    assert_eq!(request_of(Postgres, b"S\0\0\0\x04"), None);
    assert_eq!(request_of(Postgres, b"X\0\0\0\x04"), None);
    assert_eq!(request_of(Postgres, &PG_BIND_AGAIN[29..]), None);
    assert_eq!(request_of(Postgres, &PG_BIND_AGAIN[36..]), None);
    // what another protocol's socket sees is still not PostgreSQL
    assert_eq!(request_of(Redis, PG_BIND_AGAIN), None);
}

#[test]
fn mysql_commands_and_err_packets() {
    let sql = b"SELECT 1";
    let mut packet = ((sql.len() + 1) as u32).to_le_bytes()[..3].to_vec();
    packet.extend([0, 0x03]);
    packet.extend_from_slice(sql);
    detects(&packet, Mysql);
    let ok = [7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
    assert_eq!(response(Mysql, &ok), Some((0, 0)));
    let err = [
        0x17, 0, 0, 1, 0xff, 0x7a, 0x04, b'#', b'4', b'2', b'S', b'0', b'2',
    ];
    assert_eq!(response(Mysql, &err), Some((0, 1)));
}

#[test]
fn mysql_responses_read_header_first() {
    // mysql-connector-python (strace, MariaDB 10.11): COM_STMT_PREPARE, then its response read
    // as the 4-byte header alone and the body next; an ERR body the same way
    let prepare = b"\x22\0\0\0\x16SELECT ? AS my_prepared, 'x' AS y";
    detects(prepare, Mysql);
    assert_eq!(response(Mysql, b"\x0c\0\0\x01"), None);
    let prepare_ok = b"\0\x06\0\0\0\x02\0\x01\0\0\0\0";
    assert_eq!(response(Mysql, prepare_ok), Some((0, 0)));
    // COM_STMT_EXECUTE's result set: one column
    assert_eq!(response(Mysql, b"\x01\0\0\x01"), None);
    assert_eq!(response(Mysql, b"\x01"), Some((0, 0)));
    assert_eq!(response(Mysql, b"\x2b\0\0\x01"), None);
    let err_body = b"\xff\x7a\x04#42S02Table 'no_such_db.t' doesn't exist";
    assert_eq!(response(Mysql, err_body), Some((0, 1)));
    // a header alone is not taken for a one-byte-payload packet, and neither is nothing
    assert_eq!(response(Mysql, b""), None);
    assert_eq!(response(Mysql, b"\xfb\0\0"), None);
}

#[test]
fn redis_commands_and_errors() {
    detects(b"*1\r\n$4\r\nPING\r\n", Redis);
    detects(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", Redis);
    assert_eq!(response(Redis, b"+PONG\r\n"), Some((0, 0)));
    assert_eq!(response(Redis, b"-ERR unknown command\r\n"), Some((0, 1)));
    assert_eq!(request(b"*x\r\n", false, None), None);
}

#[test]
fn mongodb_pairs_a_reply_with_its_request_id() {
    let body = [0u8; 9]; // flags + one (empty) section
    let mut msg = ((16 + body.len()) as u32).to_le_bytes().to_vec();
    msg.extend(42u32.to_le_bytes());
    msg.extend(0u32.to_le_bytes());
    msg.extend(2013u32.to_le_bytes());
    msg.extend(body);
    assert_eq!(detects(&msg, Mongo), 42);
    let mut reply = msg.clone();
    reply[4..8].copy_from_slice(&7u32.to_le_bytes());
    reply[8..12].copy_from_slice(&42u32.to_le_bytes());
    assert_eq!(response(Mongo, &reply), Some((42, 0)));
}

#[test]
fn memcached_text_commands() {
    detects(b"get user:1\r\n", Memcached);
    detects(b"set k 0 0 1\r\nv\r\n", Memcached);
    assert_eq!(response(Memcached, b"END\r\n"), Some((0, 0)));
    assert_eq!(
        response(Memcached, b"SERVER_ERROR out of memory\r\n"),
        Some((0, 1))
    );
}

#[test]
fn kafka_pairs_by_correlation_id() {
    // ApiVersions v3, correlation id 7, client id "test", then tagged fields
    let mut body = vec![0, 18, 0, 3, 0, 0, 0, 7, 0, 4];
    body.extend(b"test");
    body.extend([0, 0]);
    let mut request_bytes = be32(body.len()).to_vec();
    request_bytes.extend(&body);
    assert_eq!(detects(&request_bytes, Kafka), 7);
    let mut reply = be32(10).to_vec();
    reply.extend([0, 0, 0, 7, 0, 0, 0, 0, 0, 0]);
    assert_eq!(response(Kafka, &reply), Some((7, 0)));
}

#[test]
fn cassandra_frames_by_stream() {
    let options = [0x04, 0, 0, 5, 0x05, 0, 0, 0, 0];
    assert_eq!(detects(&options, Cassandra), 5);
    let supported = [0x84, 0, 0, 5, 0x06, 0, 0, 0, 2, 0, 0];
    assert_eq!(response(Cassandra, &supported), Some((5, 0)));
    let error = [0x84, 0, 0, 5, 0x00, 0, 0, 0, 4, 0, 0, 0, 0];
    assert_eq!(response(Cassandra, &error), Some((5, 1)));
}

#[test]
fn dns_over_udp_pairs_by_id_and_reads_the_rcode() {
    let mut query = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend(b"\x04test\x07example\x00\x00\x01\x00\x01");
    assert_eq!(request(&query, true, None), Some((Dns, 0xbeef)));
    assert_eq!(
        request(&query, false, None),
        None,
        "DNS is detected on UDP only"
    );
    let mut answer = query.clone();
    answer[2] = 0x81;
    answer[3] = 0x83; // QR, RD, RA, NXDOMAIN
    assert_eq!(response(Dns, &answer), Some((0xbeef, 3)));
}

#[test]
fn look_alikes_are_not_taken_for_a_protocol() {
    let tls_client_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
    let noise: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for bytes in [&tls_client_hello[..], &ssh[..], &noise[..], b"", b"G"] {
        assert_eq!(request(bytes, false, None), None, "{bytes:?}");
    }
}

#[test]
fn a_known_protocol_is_the_only_one_tried() {
    use ferrotel_receiver_ebpf::detect::request_of;
    let get = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    let redis = b"*1\r\n$4\r\nPING\r\n";
    assert_eq!(request_of(Http, get), Some(0));
    assert_eq!(request_of(Redis, redis), Some(0));
    // what another protocol would take is not a request on this socket
    assert_eq!(request_of(Redis, get), None);
    assert_eq!(request_of(Http, redis), None);
    assert_eq!(request(redis, false, None), Some((Redis, 0)));
    // HTTP/2 frames without a preface are requests once the socket is known to speak it
    let later = h2_frame(1, 0x5, 7, &[0x82]);
    assert_eq!(request_of(Http2, &later), Some(7));
}

#[test]
fn tls_records_are_recognised_and_plaintext_is_not() {
    use ferrotel_receiver_ebpf::detect::tls_record;
    // the first bytes of a ClientHello (curl, OpenSSL 3) and of application data
    assert!(tls_record(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc
    ]));
    assert!(tls_record(&[0x17, 0x03, 0x03, 0x00, 0x45, 0xaa]));
    assert!(!tls_record(b"GET / HTTP/1.1\r\n"));
    assert!(!tls_record(b"*1\r\n$4\r\nPING\r\n"));
    // a record longer than TLS allows, and a truncated header
    assert!(!tls_record(&[0x17, 0x03, 0x03, 0xff, 0xff]));
    assert!(!tls_record(&[0x16, 0x03, 0x01]));
}

#[test]
fn what_lies_past_the_kernels_first_bytes_is_not_seen() {
    use ferrotel_receiver_ebpf::detect::DETECT_BYTES;
    // a client preface whose SETTINGS frame is long: its first HEADERS frame starts past the
    // bytes the kernel reads, so the kernel learns the protocol but not the stream
    let mut first = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    first.extend(h2_frame(4, 0, 0, &[0u8; 120])); // twenty settings
    let headers_at = first.len();
    first.extend(h2_frame(1, 0x4, 1, &[0x82, 0x86, 0x84]));
    assert!(headers_at + 9 > DETECT_BYTES);
    assert_eq!(request(&first, false, None), Some((Http2, 0)));
    // the same request with a short SETTINGS frame is seen whole
    let mut short = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    short.extend(h2_frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]));
    short.extend(h2_frame(1, 0x4, 1, &[0x82, 0x86, 0x84]));
    assert_eq!(request(&short, false, None), Some((Http2, 1)));
}
