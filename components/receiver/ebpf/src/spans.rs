//! Spans written straight into OTLP protobuf as the kernel's records arrive, grouped by process:
//! a busy node makes 100k+ spans a second, and building a prost `Span` for each (a dozen
//! attribute structs and their strings) only to encode it again cost most of the receiver's time.
//! The encoding follows opentelemetry-proto's trace.proto; the tests decode it with prost.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

use crate::otlp::{process_resource, scope};
use crate::procinfo::ProcessInfo;

/// An attribute value, borrowed.
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Bytes(&'a [u8]),
}

/// An IP address as text, written without `core::fmt` (two a span showed in the profile).
pub struct AddrText {
    buf: [u8; 46],
    len: usize,
}

impl AddrText {
    pub fn new(addr: std::net::IpAddr) -> AddrText {
        let mut text = AddrText {
            buf: [0; 46],
            len: 0,
        };
        match addr {
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            std::net::IpAddr::V6(v6) => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut text.buf[..]);
                // 45 bytes hold the longest form (IPv4-mapped with all groups)
                let _ = write!(cursor, "{v6}");
                text.len = cursor.position() as usize;
            }
        }
        text
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    pub fn as_str(&self) -> &str {
        // only ASCII digits, dots, colons and hex letters were written
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// What a span is made of.
pub struct SpanFields<'a> {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub name: &'a str,
    /// `SpanKind` as its number (2 server, 3 client).
    pub kind: i32,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: &'a [(&'a str, Value<'a>)],
    pub error: bool,
}

struct Pending {
    process: Arc<ProcessInfo>,
    /// `ScopeSpans.spans` fields, each tagged and length-prefixed.
    spans: Vec<u8>,
}

#[derive(Default)]
pub struct SpanWriter {
    by_pid: HashMap<u32, Pending>,
    count: usize,
    /// Buffers of earlier flushes, emptied: a busy process's grows to megabytes, and growing
    /// one again each flush cost copies and page faults.
    spare: Vec<Vec<u8>>,
}

/// Emptied buffers kept for the next flush, and the largest kept (a burst's is let go).
const MAX_SPARE: usize = 8;
const MAX_SPARE_BYTES: usize = 4 << 20;

// field numbers of trace.proto and common.proto
const LEN: u8 = 2;
const VARINT: u8 = 0;
const FIXED64: u8 = 1;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    // 7 bits a byte, without a division: computed for every attribute of every span
    ((63 - (v | 1).leading_zeros() as usize) * 9 + 73) / 64
}

fn tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, u64::from(field << 3 | u32::from(wire)));
}

fn len_field(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    tag(buf, field, LEN);
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

/// The encoded length of an `AnyValue` holding `value`.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Str(s) => 1 + varint_len(s.len() as u64) + s.len(),
        Value::Bytes(b) => 1 + varint_len(b.len() as u64) + b.len(),
        Value::Int(i) => 1 + varint_len(*i as u64),
        Value::Bool(_) => 2,
    }
}

fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => len_field(buf, 1, s.as_bytes()),
        Value::Bool(b) => {
            tag(buf, 2, VARINT);
            buf.push(u8::from(*b));
        }
        Value::Int(i) => {
            tag(buf, 3, VARINT);
            varint(buf, *i as u64);
        }
        Value::Bytes(b) => len_field(buf, 7, b),
    }
}

/// A `KeyValue` as field `field` of its parent.
fn key_value(buf: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    let body = key_value_len(key, value);
    tag(buf, field, LEN);
    varint(buf, body as u64);
    len_field(buf, 1, key.as_bytes());
    tag(buf, 2, LEN);
    varint(buf, value_len as u64);
    any_value(buf, value);
}

/// The encoded length of a `KeyValue`'s body.
fn key_value_len(key: &str, value: &Value) -> usize {
    let value_len = any_value_len(value);
    1 + varint_len(key.len() as u64) + key.len() + 1 + varint_len(value_len as u64) + value_len
}

/// The encoded length of `span`'s body, as `encode_span` writes it.
fn span_len(span: &SpanFields) -> usize {
    let tagged = |len: usize| 1 + varint_len(len as u64) + len;
    let attributes: usize = span
        .attributes
        .iter()
        .map(|(key, value)| tagged(key_value_len(key, value)))
        .sum();
    tagged(16)
        + tagged(8)
        + tagged(span.name.len())
        + 1
        + varint_len(span.kind as u64)
        + 2 * 9
        + attributes
        + if span.error { 4 } else { 0 }
}

fn encode_span(buf: &mut Vec<u8>, span: &SpanFields) {
    len_field(buf, 1, &span.trace_id);
    len_field(buf, 2, &span.span_id);
    len_field(buf, 5, span.name.as_bytes());
    tag(buf, 6, VARINT);
    varint(buf, span.kind as u64);
    tag(buf, 7, FIXED64);
    buf.extend_from_slice(&span.start_unix_nano.to_le_bytes());
    tag(buf, 8, FIXED64);
    buf.extend_from_slice(&span.end_unix_nano.to_le_bytes());
    for (key, value) in span.attributes {
        key_value(buf, 9, key, value);
    }
    if span.error {
        // Status { code: STATUS_CODE_ERROR (2) }
        len_field(buf, 15, &[3 << 3, 2]);
    }
}

impl SpanWriter {
    pub fn push(&mut self, process: &Arc<ProcessInfo>, span: &SpanFields) {
        let spare = &mut self.spare;
        let pending = self.by_pid.entry(process.pid).or_insert_with(|| Pending {
            process: process.clone(),
            // a busy process writes thousands of spans a flush: fewer regrowths of the buffer
            spans: spare.pop().unwrap_or_else(|| Vec::with_capacity(16 << 10)),
        });
        // the length first, so that the span is written once, in place
        let len = span_len(span);
        tag(&mut pending.spans, 2, LEN);
        varint(&mut pending.spans, len as u64);
        let start = pending.spans.len();
        encode_span(&mut pending.spans, span);
        debug_assert_eq!(pending.spans.len() - start, len);
        self.count += 1;
    }

    /// Spans written and not yet taken.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Every span written so far as one `ExportTraceServiceRequest`, a `ResourceSpans` per
    /// process; `None` when there are none.
    pub fn take(&mut self, host: &[KeyValue]) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        self.count = 0;
        let scope = scope().encode_to_vec();
        let tagged = |len: usize| 1 + varint_len(len as u64) + len;
        // lengths first, so that each span's bytes are copied once, into place
        let parts: Vec<(Vec<u8>, Pending)> = self
            .by_pid
            .drain()
            .map(|(_, pending)| {
                let resource = process_resource(&pending.process, host).encode_to_vec();
                (resource, pending)
            })
            .collect();
        let sizes: Vec<(usize, usize)> = parts
            .iter()
            .map(|(resource, pending)| {
                let scope_spans = tagged(scope.len()) + pending.spans.len();
                (scope_spans, tagged(resource.len()) + tagged(scope_spans))
            })
            .collect();
        let total: usize = sizes.iter().map(|&(_, rs)| tagged(rs)).sum();
        let mut out = Vec::with_capacity(total);
        for ((resource, pending), (scope_spans, resource_spans)) in parts.into_iter().zip(sizes) {
            tag(&mut out, 1, LEN);
            varint(&mut out, resource_spans as u64);
            len_field(&mut out, 1, &resource);
            tag(&mut out, 2, LEN);
            varint(&mut out, scope_spans as u64);
            len_field(&mut out, 1, &scope);
            out.extend_from_slice(&pending.spans);
            if self.spare.len() < MAX_SPARE && pending.spans.capacity() <= MAX_SPARE_BYTES {
                let mut spans = pending.spans;
                spans.clear();
                self.spare.push(spans);
            }
        }
        debug_assert_eq!(out.len(), total);
        Some(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;

    fn process(pid: u32) -> Arc<ProcessInfo> {
        Arc::new(ProcessInfo {
            pid,
            executable_name: "curl".into(),
            ..Default::default()
        })
    }

    #[test]
    fn what_is_written_is_what_prost_decodes() {
        let mut writer = SpanWriter::default();
        let long = "x".repeat(300); // a length past one varint byte
        let attributes = [
            ("l7.protocol", Value::Str("http")),
            ("client.port", Value::Int(54321)),
            ("negative", Value::Int(-5)),
            ("tls", Value::Bool(true)),
            ("l7.request.payload", Value::Bytes(b"GET / HTTP/1.1\r\n")),
            ("long", Value::Str(&long)),
        ];
        let span = SpanFields {
            trace_id: [7; 16],
            span_id: [9; 8],
            name: "http",
            kind: 3,
            start_unix_nano: 1_700_000_000_000_000_000,
            end_unix_nano: 1_700_000_000_002_000_000,
            attributes: &attributes,
            error: true,
        };
        writer.push(&process(42), &span);
        writer.push(
            &process(42),
            &SpanFields {
                error: false,
                ..span
            },
        );
        writer.push(
            &process(7),
            &SpanFields {
                attributes: &[],
                ..span
            },
        );
        assert_eq!(writer.len(), 3);
        let bytes = writer.take(&[]).unwrap();
        assert!(writer.take(&[]).is_none());
        let request = ExportTraceServiceRequest::decode(bytes).unwrap();
        assert_eq!(request.resource_spans.len(), 2);
        let of_42 = request
            .resource_spans
            .iter()
            .find(|rs| rs.scope_spans[0].spans.len() == 2)
            .unwrap();
        assert_eq!(
            of_42.scope_spans[0].scope.as_ref().unwrap().name,
            scope().name
        );
        let decoded = &of_42.scope_spans[0].spans[0];
        assert_eq!(decoded.trace_id, vec![7; 16]);
        assert_eq!(decoded.span_id, vec![9; 8]);
        assert_eq!(decoded.name, "http");
        assert_eq!(decoded.kind, 3);
        assert_eq!(decoded.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(decoded.end_time_unix_nano, 1_700_000_000_002_000_000);
        assert_eq!(decoded.status.as_ref().unwrap().code, 2);
        assert!(of_42.scope_spans[0].spans[1].status.is_none());
        let values: Vec<(String, any_value::Value)> = decoded
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "l7.protocol".into(),
                    any_value::Value::StringValue("http".into())
                ),
                ("client.port".into(), any_value::Value::IntValue(54321)),
                ("negative".into(), any_value::Value::IntValue(-5)),
                ("tls".into(), any_value::Value::BoolValue(true)),
                (
                    "l7.request.payload".into(),
                    any_value::Value::BytesValue(b"GET / HTTP/1.1\r\n".to_vec())
                ),
                ("long".into(), any_value::Value::StringValue(long.clone())),
            ]
        );
        // the resource is the process's
        let pid = of_42
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .find(|kv| kv.key == "process.pid");
        assert!(pid.is_some());
    }

    #[test]
    fn addresses_as_std_writes_them() {
        let addrs = [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.255.9",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1ff:fe23:4567:890a",
            "::ffff:192.168.100.228",
            "2001:db8:85a3:8d3:1319:8a2e:370:7348",
        ];
        for addr in addrs {
            let ip: std::net::IpAddr = addr.parse().unwrap();
            assert_eq!(AddrText::new(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn varint_lengths() {
        let powers = (0..64).flat_map(|b| [(1u64 << b) - 1, 1u64 << b]);
        for v in powers.chain([u32::MAX as u64, u64::MAX]) {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
        }
    }
}
