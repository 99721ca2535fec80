//! Replays recorded conversations (tests/recordings/README.md) through the kernel's detectors:
//! every syscall's bytes in order, paired into exchanges as ebpf/l7.bpf.h pairs them.

use std::collections::HashMap;

use ferrotel_receiver_ebpf::detect::{DETECT_BYTES, request, request_of, response};
use ferrotel_receiver_ebpf::events::Protocol::{self, *};

/// One syscall of a recording: written (`out`) or read, its size, and what the kernel reads of it.
pub struct Call {
    pub out: bool,
    pub bytes: Vec<u8>,
}

/// A recording: `> size hex` (written) or `< size hex` (read) per syscall, the hex being the first
/// 128 bytes; the rest, which the kernel never reads, is padded to the size with zeros.
pub fn recording(name: &str) -> Vec<Call> {
    let path = format!("{}/tests/recordings/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.split(' ');
            let out = fields.next() == Some(">");
            let size: usize = fields.next().unwrap().parse().unwrap();
            let mut bytes = hex(fields.next().unwrap_or(""));
            assert!(bytes.len() <= DETECT_BYTES.min(size), "{line}");
            bytes.resize(size, 0);
            Call { out, bytes }
        })
        .collect()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Mirrors `streamed()` in ebpf/l7.bpf.h: protocols whose responses carry the request's id.
fn streamed(protocol: Protocol) -> bool {
    matches!(
        protocol,
        Http2 | Mongo | Kafka | Cassandra | Dns | Amqp | Zookeeper | Dubbo
    )
}

/// The kernel's handling of one socket's syscalls (ebpf/l7.bpf.h `l7_data`, without sampling):
/// the exchanges it completes, as (a label of the request's first bytes, status).
pub fn replay(calls: &[Call], client: bool) -> (Option<Protocol>, Vec<(String, u32)>) {
    let mut known: Option<Protocol> = None;
    let mut pending: Option<Vec<u8>> = None;
    let mut waiting: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut exchanges = Vec::new();
    for call in calls {
        if call.out == client {
            let found = match known {
                None => request(&call.bytes, false, None),
                Some(p) => request_of(p, &call.bytes).map(|stream| (p, stream)),
            };
            if let Some((protocol, stream)) = found {
                known = Some(protocol);
                if streamed(protocol) {
                    waiting.insert(stream, call.bytes.clone());
                } else {
                    pending = Some(call.bytes.clone());
                }
            }
            continue;
        }
        let Some(protocol) = known else { continue };
        if !streamed(protocol) && pending.is_none() {
            continue; // not read: no request awaits
        }
        let Some((stream, status)) = response(protocol, &call.bytes) else {
            continue;
        };
        let request = if streamed(protocol) {
            waiting.remove(&stream)
        } else {
            pending.take()
        };
        if let Some(request) = request {
            exchanges.push((label(protocol, &request), status));
        }
    }
    (known, exchanges)
}

fn be16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// What the request was, enough to tell the exchanges of a recording apart.
pub fn label(protocol: Protocol, b: &[u8]) -> String {
    match protocol {
        Amqp if b.starts_with(b"AMQP") => "header".into(),
        Amqp => format!("{}.{}", be16(b, 7), be16(b, 9)),
        Nats => {
            String::from_utf8_lossy(b.split(|&c| c == b' ' || c == b'\r').next().unwrap()).into()
        }
        Mqtt => format!("type {}", b[0] >> 4),
        // a message with its length (client) or without (server)
        Zookeeper if be32(b, 0) as usize + 4 == b.len() => zk_label(&b[4..]),
        Zookeeper => zk_label(b),
        Clickhouse if b[0] == 0 && b[1] > 1 => "hello".into(),
        Clickhouse => "query".into(),
        _ => format!("{:02x?}", &b[..4]),
    }
}

fn zk_label(b: &[u8]) -> String {
    if be32(b, 0) == 0 && b.len() >= 44 {
        "connect".into()
    } else {
        format!("op {}", be32(b, 4))
    }
}

pub fn exchanges(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(l, s)| (l.to_string(), *s)).collect()
}
