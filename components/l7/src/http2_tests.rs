use super::*;
use crate::test_support::{self, HEAD, attr, hex, testdata_text, xorshift};

/// The writes of one recorded client (testdata/http2/README.md).
fn fixture(name: &str) -> Vec<Vec<u8>> {
    testdata_text(&format!("http2/{name}"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(hex)
        .collect()
}

/// Each write, cut at `head` bytes, through one connection's state: the semantics of those
/// that hold a request.
fn replay(writes: &[Vec<u8>], head: usize, status: u32) -> (Vec<Semantics>, State) {
    let mut state = State::default();
    let out = writes
        .iter()
        .filter_map(|w| {
            parse(
                &w[..w.len().min(head)],
                &mut state,
                status,
                &Options::default(),
            )
        })
        .collect();
    (out, state)
}

/// The names of `calls`.
fn names(calls: &[Semantics]) -> Vec<&str> {
    calls.iter().map(|s| s.name.as_str()).collect()
}

/// The span names of testdata/http2/h2_client.hex's requests.
const H2_CLIENT: [&str; 3] = [
    "GET /api/users/{id}/orders",
    "GET /api/users/{id}/orders",
    "GET /health",
];

fn assert_say_hello(s: &Semantics) {
    assert_eq!(s.name, "helloworld.Greeter/SayHello");
    assert_eq!(attr(s, "rpc.system"), Some("grpc"));
    assert_eq!(attr(s, "rpc.service"), Some("helloworld.Greeter"));
    assert_eq!(attr(s, "rpc.method"), Some("SayHello"));
    assert_eq!(attr(s, "network.protocol.name"), None);
    assert_eq!(attr(s, "network.protocol.version"), Some("2"));
    assert_eq!(s.get("http.route"), None);
    assert_eq!(s.get("http.response.status_code"), None);
}

#[test]
fn grpcio_calls_on_one_channel() {
    let writes = fixture("grpcio_unary.hex");
    for head in [1024, HEAD] {
        let (calls, state) = replay(&writes, head, 200);
        assert_eq!(calls.len(), 3, "head {head}");
        calls.iter().for_each(assert_say_hello);
        // the 128-byte head cut the first block, the second settled where its tail went
        assert!(!state.table.uncertain());
        assert_eq!(state.last_stream, 5);
    }
}

#[test]
fn grpc_without_http_200_is_an_error() {
    let writes = fixture("grpcio_unary.hex");
    let (calls, _) = replay(&writes, HEAD, 503);
    assert_say_hello(&calls[1]);
    assert_eq!(attr(&calls[1], "error.type"), Some("503"));
    let (calls, _) = replay(&writes, HEAD, 0);
    assert_eq!(calls[2].get("error.type"), None);
}

#[test]
fn grpcio_heads_of_the_first_iovec_alone() {
    // grpc-core hands sendmsg a HEADERS frame in many iovecs; a probe that reads the first one
    // sees 11, 18 and 23 bytes of the three calls: too little to name them, so none is named
    let writes = fixture("grpcio_unary.hex");
    let mut state = State::default();
    let options = Options::default();
    let heads = writes.iter().filter(|w| w.get(3) == Some(&1));
    let seen: Vec<_> = heads
        .zip([11, 18, 23])
        .map(|(w, n)| parse(&w[..n], &mut state, 200, &options).map(|s| s.name))
        .collect();
    assert_eq!(seen, [None, Some("POST".into()), Some("POST".into())]);
}

#[test]
fn a_missed_request_is_not_guessed() {
    // the second call never reached user space: the third points at entries past the unknown
    let writes = fixture("grpcio_unary.hex");
    let third = writes.iter().position(|w| w[8] == 5 && w[3] == 1).unwrap();
    let second = writes.iter().position(|w| w[8] == 3 && w[3] == 1).unwrap();
    let kept: Vec<_> = (0..writes.len())
        .filter(|&i| i != second)
        .map(|i| writes[i].clone())
        .collect();
    let (calls, _) = replay(&kept, HEAD, 200);
    assert_eq!(calls.len(), 2);
    assert_say_hello(&calls[0]);
    // :method is static; :path and content-type are dynamic, and unknown now
    assert_eq!(calls[1].name, "POST");
    assert_eq!(calls[1].get("rpc.system"), None);
    assert_eq!(calls[1].get("url.path"), None);
    // out of order (a later exchange ended first): read alone, and no guess either
    let mut state = State::default();
    let options = Options::default();
    let cut = |w: &Vec<u8>| test_support::head(w).to_vec();
    parse(&cut(&writes[2]), &mut state, 200, &options).unwrap();
    let late = [cut(&writes[third]), cut(&writes[second])];
    let s = parse(&late[0], &mut state, 200, &options).unwrap();
    assert_eq!(s.get("url.path"), None);
    let s = parse(&late[1], &mut state, 200, &options).unwrap();
    assert_eq!((s.name.as_str(), s.get("rpc.method")), ("POST", None));
}

#[test]
fn h2_client_requests_on_one_connection() {
    let writes = fixture("h2_client.hex");
    let (calls, state) = replay(&writes, HEAD, 200);
    assert_eq!(names(&calls), H2_CLIENT);
    let s = &calls[0];
    assert_eq!(attr(s, "http.request.method"), Some("GET"));
    assert_eq!(attr(s, "url.path"), Some("/api/users/12345/orders"));
    assert_eq!(attr(s, "http.route"), Some("/api/users/{id}/orders"));
    assert_eq!(attr(s, "url.scheme"), Some("http"));
    assert_eq!(s.get("http.response.status_code"), Some(&Value::Int(200)));
    assert_eq!(attr(&calls[1], "url.path"), Some("/api/users/67890/orders"));
    assert!(!state.table.uncertain());
    for s in &calls {
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("token"),
            "{debug}"
        );
    }
}

#[test]
fn a_cut_block_leaves_literals_readable() {
    // the first block cut inside :authority: :path is literal in each request, so all read
    let writes = fixture("h2_client.hex");
    let (calls, state) = replay(&writes, 9 + 40, 200);
    assert_eq!(names(&calls), H2_CLIENT);
    assert_eq!(state.last_stream, 5);
    // cut inside :path: the method alone
    let (calls, _) = replay(&writes[1..2], 9 + 10, 200);
    assert_eq!(calls[0].name, "GET");
    assert_eq!(calls[0].get("url.path"), None);
}

#[test]
fn curl_prior_knowledge() {
    let writes = fixture("curl_h2c_get.hex");
    // the preface and SETTINGS go alone: no request there
    let mut state = State::default();
    let options = Options::default();
    assert_eq!(parse(&writes[0], &mut state, 0, &options), None);
    let s = parse(&writes[1], &mut state, 404, &options).unwrap();
    assert_eq!(s.name, "GET /api/users/{id}/orders");
    assert_eq!(attr(&s, "url.path"), Some("/api/users/12345/orders"));
    assert_eq!(s.get("http.response.status_code"), Some(&Value::Int(404)));
    assert_eq!(s.get("error.type"), None);
    // the same bytes with the preface in front, as a client may write them at once
    let together = [writes[0].as_slice(), &writes[1]].concat();
    let s = parse(&together, &mut State::default(), 503, &options).unwrap();
    assert_eq!(s.name, "GET /api/users/{id}/orders");
    assert_eq!(attr(&s, "error.type"), Some("503"));

    let writes = fixture("curl_h2c.hex");
    let (calls, _) = replay(&writes, HEAD, 200);
    assert_eq!(
        names(&calls),
        [
            "HTTP /api/users/{id}/orders",
            "HTTP /api/users/{id}/orders",
            "HTTP /items/{id}"
        ]
    );
    assert_eq!(attr(&calls[2], "http.request.method"), Some("_OTHER"));
    assert_eq!(
        attr(&calls[2], "http.request.method_original"),
        Some("PROPFIND")
    );
    assert!(!format!("{calls:?}").contains("s3cr3t"));
}

#[test]
fn huffman_as_rfc_7541_encodes_it() {
    // C.4.1: "www.example.com"
    let code = [
        0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
    ];
    assert_eq!(
        hpack::huffman(&code, true).as_deref(),
        Some(&b"www.example.com"[..])
    );
    // cut: the symbols whole so far; padding of zeros or of more than 7 bits is not code
    assert_eq!(
        hpack::huffman(&code[..5], false).as_deref(),
        Some(&b"www.ex"[..])
    );
    assert_eq!(hpack::huffman(&[0xf1, 0xe0], true), None);
    assert_eq!(hpack::huffman(&[0xff, 0xff, 0xff, 0xff], true), None);
    assert_eq!(hpack::integer(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
    assert_eq!(hpack::integer(&[0x1f, 0x9a], 5), Err(true));
    assert_eq!(
        hpack::integer(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0x01], 7),
        Err(false)
    );
}

fn headers(stream: u8, block: &[u8]) -> Vec<u8> {
    let len = block.len() as u8;
    [&[0, 0, len, 1, 4, 0, 0, 0, stream][..], block].concat()
}

#[test]
fn table_size_updates_and_eviction() {
    let options = Options::default();
    let mut state = State::default();
    // GET, http, literal :path "/a" indexed, literal content-type
    let first = headers(1, &[0x82, 0x86, 0x44, 0x02, b'/', b'a']);
    assert_eq!(
        parse(&first, &mut state, 0, &options).unwrap().name,
        "GET /a"
    );
    // the :path entry is index 62
    let again = headers(3, &[0x82, 0x86, 0xbe]);
    assert_eq!(
        parse(&again, &mut state, 0, &options).unwrap().name,
        "GET /a"
    );
    // a size update to 0 empties the table: 62 no longer names anything
    let emptied = headers(5, &[0x20, 0x3f, 0xe1, 0x1f, 0x82, 0x86, 0xbe]);
    assert_eq!(parse(&emptied, &mut state, 0, &options), None);
    // a size update past a field is an error; so is one past 64 KiB
    let late = headers(7, &[0x82, 0x20]);
    assert_eq!(parse(&late, &mut State::default(), 0, &options), None);
    let huge = headers(1, &[0x3f, 0xe1, 0xff, 0x1f, 0x82]);
    assert_eq!(parse(&huge, &mut State::default(), 0, &options), None);
    // entries past the size fall out, oldest first: 39-byte entries in a 100-byte table
    let mut state = State::default();
    let get = |state: &mut State, stream: u8, block: &[u8]| {
        parse(&headers(stream, block), state, 0, &options).map(|s| s.name)
    };
    let a = get(&mut state, 1, &[0x3f, 0x45, 0x82, 0x44, 0x02, b'/', b'a']);
    assert_eq!(a.as_deref(), Some("GET /a"));
    get(&mut state, 3, &[0x82, 0x44, 0x02, b'/', b'b']).unwrap();
    get(&mut state, 5, &[0x82, 0x44, 0x02, b'/', b'c']).unwrap();
    assert_eq!(get(&mut state, 7, &[0x82, 0xbf]).as_deref(), Some("GET /b"));
    assert_eq!(state.table.len(), 2);
    assert_eq!(get(&mut state, 9, &[0x82, 0xc0]), None);
}

#[test]
fn garbage_and_every_cut() {
    let options = Options::default();
    for bytes in [
        &b""[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        &[0xff; 64],
        &[0, 0, 4, 1, 4, 0, 0, 0, 0, 0x82, 0x86, 0x84, 0x41],
        &[0, 0, 2, 1, 4, 0, 0, 0, 1, 0x80, 0x82],
        &[0, 0, 3, 1, 4, 0, 0, 0, 1, 0x82, 0x86, 0xff],
        &[0, 0, 5, 1, 0x2c, 0, 0, 0, 1, 200, 0x82, 0x86, 0x84, 0x41],
        &[0, 0, 4, 1, 4, 0, 0, 0, 1, 0x40, 0x81, 0x00, 0x00],
    ] {
        let _ = parse(bytes, &mut State::default(), 200, &options);
    }
    // an index past the table, an invalid Huffman literal: no request, and the table doubts
    let mut state = State::default();
    assert_eq!(
        parse(&headers(1, &[0x82, 0xc0]), &mut state, 0, &options),
        None
    );
    assert!(state.table.uncertain());
    let mut state = State::default();
    let bad = headers(1, &[0x82, 0x04, 0x81, 0x00]);
    assert_eq!(parse(&bad, &mut state, 0, &options), None);
    assert!(state.table.uncertain());
    // every prefix of every capture, and every byte flipped, through one state each
    for name in ["grpcio_unary.hex", "h2_client.hex", "curl_h2c.hex"] {
        let writes = fixture(name);
        let mut state = State::default();
        for w in &writes {
            for end in 0..=w.len().min(160) {
                let _ = parse(&w[..end], &mut state, 200, &options);
            }
            for i in 0..w.len().min(160) {
                let mut w = w.clone();
                w[i] ^= 0x5a;
                let _ = parse(&w, &mut state, 200, &options);
            }
        }
    }
}

/// A connection's name, a block, and the fields (name, value) it encodes.
type EncodedBlock = (String, Vec<u8>, Vec<(String, String)>);

/// Blocks python hpack's encoder made (testdata/http2/hpack_blocks.txt): connection, block,
/// and the fields it encodes.
fn encoder_blocks() -> Vec<EncodedBlock> {
    testdata_text("http2/hpack_blocks.txt")
        .lines()
        .map(|line| {
            let mut it = line.splitn(3, ' ');
            let (conn, code, fields) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            let block = hex(code);
            let fields = fields
                .split('|')
                .map(|f| {
                    let (n, v) = f.split_once('=').unwrap();
                    (n.to_string(), v.to_string())
                })
                .collect();
            (conn.to_string(), block, fields)
        })
        .collect()
}

/// Feeds `blocks` to a table per connection, cut at `cut(i, len)` bytes or lost when that is
/// `None`; counts the fields (whose name occurs once) read whole, and fails on any wrong one.
fn feed(cut: impl Fn(usize, usize) -> Option<usize>) -> (usize, usize) {
    let (mut found, mut total) = (0, 0);
    let mut table = table::Table::default();
    let mut connection = String::new();
    for (i, (conn, block, fields)) in encoder_blocks().into_iter().enumerate() {
        if conn != connection {
            (table, connection) = (table::Table::default(), conn);
        }
        let Some(end) = cut(i, block.len()) else {
            table.lost_block();
            continue;
        };
        let reps = hpack::representations(&block[..end]).unwrap();
        let decoded = table::decode_literals(&reps).unwrap();
        let missing = (end < block.len()).then_some(block.len() - end);
        let got = table.decode(&reps, &decoded, missing, BlockKind::Request, |_| true);
        for (name, value) in &fields {
            if fields.iter().filter(|(n, _)| n == name).count() > 1 {
                continue;
            }
            total += 1;
            let field = got.iter().flatten().find(|(n, ..)| n == name.as_bytes());
            if let Some((_, Some(v), true)) = field {
                assert_eq!(String::from_utf8_lossy(v), value.as_str(), "block {i}");
                found += 1;
            }
        }
    }
    (found, total)
}

#[test]
fn the_encoders_blocks_decode_whole() {
    let (found, total) = feed(|_, len| Some(len));
    assert_eq!(found, total);
}

#[test]
fn cut_and_lost_blocks_never_misread() {
    let mut worst = 1.0f64;
    for seed in 1..=40u64 {
        let mix =
            |i: usize| xorshift(&mut (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64 + 1)));
        // a third of the blocks cut anywhere, one in ten lost
        let (found, total) = feed(|i, len| match mix(i) % 30 {
            0..=2 => None,
            3..=12 => Some(mix(i + 1000) as usize % (len + 1)),
            _ => Some(len),
        });
        worst = worst.min(found as f64 / total as f64);
    }
    // what is not read is unknown, not guessed; most still is
    assert!(worst > 0.6, "{worst}");
}

/// The stream of the first HEADERS frame in `write`, if any.
fn headers_stream(write: &[u8]) -> Option<u32> {
    let mut stream = None;
    header_blocks(write, |id, _, _| {
        stream.get_or_insert(id);
    });
    stream
}

/// testdata/http2/grpcio_calls.hex's requests, each with the reply write that answered it, the
/// replies cut at `reply_head` bytes, through one connection's state.
fn grpc_exchanges(reply_head: usize, server: bool) -> Vec<Semantics> {
    let (calls, replies) = (fixture("grpcio_calls.hex"), fixture("grpcio_replies.hex"));
    let mut state = State::default();
    let mut out = Vec::new();
    for call in &calls {
        let Some(stream) = headers_stream(call) else {
            continue;
        };
        let reply = replies
            .iter()
            .find(|r| headers_stream(r) == Some(stream))
            .unwrap();
        let (request, reply) = (
            &call[..call.len().min(HEAD)],
            &reply[..reply.len().min(reply_head)],
        );
        let o = &Options::default();
        // the kernel reads :status 200 from the static table (0x88)
        out.push(parse_exchange(request, reply, &mut state, 200, server, o).unwrap());
    }
    out
}

#[test]
fn grpc_status_from_the_trailers_through_the_servers_table() {
    for server in [true, false] {
        let calls = grpc_exchanges(256, server);
        assert_eq!(calls.len(), 4);
        for call in &calls[..3] {
            assert_say_hello(call);
            assert_eq!(call.get("rpc.grpc.status_code"), Some(&Value::Int(0)));
            assert_eq!(call.get("error.type"), None);
        }
        // trailers-only: the server has no such method, a failure on either side
        let missing = &calls[3];
        assert_eq!(missing.name, "helloworld.Greeter/Missing");
        assert_eq!(missing.get("rpc.grpc.status_code"), Some(&Value::Int(12)));
        assert_eq!(attr(missing, "error.type"), Some("UNIMPLEMENTED"));
    }
    // the first reply's trailers end past 128 bytes: its literal `grpc-status: 0`, which the
    // later replies point to, is unseen, and no status is read rather than a wrong one
    let cut = grpc_exchanges(HEAD, true);
    for call in &cut[..3] {
        assert_eq!(call.get("rpc.grpc.status_code"), None, "{call:?}");
    }
    assert_eq!(cut[3].get("rpc.grpc.status_code"), Some(&Value::Int(12)));
}

#[test]
fn grpc_codes_that_fail_a_server() {
    // NOT_FOUND is the caller's failure; INTERNAL the server's
    assert!(!grpc_failed(5, true) && grpc_failed(5, false));
    assert!(grpc_failed(13, true) && grpc_failed(13, false));
    assert!(!grpc_failed(0, true) && !grpc_failed(0, false));
}
