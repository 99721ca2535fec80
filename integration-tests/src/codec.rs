//! The bits of OTLP transport both the load generator and the sink need: gRPC length-prefixed
//! framing, body compression, and the request paths of each signal.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferrotel_core::Signal;
use std::io::{Read, Write};

/// The gRPC method path of the OTLP export call for a signal.
pub fn grpc_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// The OTLP/HTTP path for a signal.
pub fn http_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/v1/traces",
        Signal::Metrics => "/v1/metrics",
        Signal::Logs => "/v1/logs",
    }
}

pub fn signal_for_path(path: &str) -> Option<Signal> {
    Signal::ALL
        .into_iter()
        .find(|&signal| grpc_path(signal) == path || http_path(signal) == path)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Reads a `grpc-encoding` / `content-encoding` header value.
    pub fn from_header(value: Option<&str>) -> Result<Compression, String> {
        match value.map(str::trim) {
            None | Some("") | Some("identity") => Ok(Compression::None),
            Some("gzip") => Ok(Compression::Gzip),
            Some("zstd") => Ok(Compression::Zstd),
            Some(other) => Err(format!("unsupported encoding {other:?}")),
        }
    }

    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder
                    .write_all(data)
                    .expect("writing to a Vec cannot fail");
                encoder.finish().expect("writing to a Vec cannot fail")
            }
            Compression::Zstd => zstd::bulk::compress(data, 1).expect("zstd compresses any input"),
        }
    }

    /// Decompresses, refusing to produce more than `limit` bytes (a compression bomb stops there).
    pub fn decompress(self, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let read = match self {
            Compression::None => return Ok(data.to_vec()),
            Compression::Gzip => flate2::read::GzDecoder::new(data)
                .take(limit as u64 + 1)
                .read_to_end(&mut out),
            Compression::Zstd => zstd::stream::read::Decoder::new(data)
                .and_then(|decoder| decoder.take(limit as u64 + 1).read_to_end(&mut out)),
        };
        read.map_err(|e| format!("cannot decompress: {e}"))?;
        if out.len() > limit {
            return Err(format!("decompressed body exceeds {limit} bytes"));
        }
        Ok(out)
    }
}

/// Wraps one message in a gRPC frame: a compressed flag, a big-endian length, the message.
pub fn grpc_frame(message: &[u8], compressed: bool) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(u8::from(compressed));
    frame.put_u32(message.len() as u32);
    frame.put_slice(message);
    frame.freeze()
}

/// Splits a gRPC body into its frames, as (compressed, message) pairs.
pub fn grpc_unframe(mut body: Bytes) -> Result<Vec<(bool, Bytes)>, String> {
    let mut messages = Vec::new();
    while body.has_remaining() {
        if body.len() < 5 {
            return Err("truncated gRPC frame header".to_string());
        }
        let compressed = match body.get_u8() {
            0 => false,
            1 => true,
            flag => return Err(format!("invalid gRPC compressed flag {flag}")),
        };
        let len = body.get_u32() as usize;
        if body.len() < len {
            return Err(format!(
                "gRPC frame announces {len} bytes, {} present",
                body.len()
            ));
        }
        messages.push((compressed, body.split_to(len)));
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let body: Vec<u8> = [grpc_frame(b"abc", false), grpc_frame(b"", true)].concat();
        let frames = grpc_unframe(Bytes::from(body)).unwrap();
        assert_eq!(
            frames,
            vec![(false, Bytes::from_static(b"abc")), (true, Bytes::new())]
        );
    }

    #[test]
    fn truncated_frames_are_errors() {
        assert!(grpc_unframe(Bytes::from_static(&[0, 0, 0])).is_err());
        assert!(grpc_unframe(Bytes::from_static(&[0, 0, 0, 0, 9, 1])).is_err());
        assert!(grpc_unframe(Bytes::from_static(&[7, 0, 0, 0, 0])).is_err());
    }

    #[test]
    fn compression_round_trips_and_bombs_stop_at_the_limit() {
        let data = vec![b'x'; 100_000];
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let packed = compression.compress(&data);
            assert_eq!(compression.decompress(&packed, data.len()).unwrap(), data);
            if compression != Compression::None {
                assert!(packed.len() < data.len() / 10);
                assert!(compression.decompress(&packed, data.len() - 1).is_err());
            }
        }
    }

    #[test]
    fn paths_map_back_to_signals() {
        for signal in Signal::ALL {
            assert_eq!(signal_for_path(grpc_path(signal)), Some(signal));
            assert_eq!(signal_for_path(http_path(signal)), Some(signal));
        }
        assert_eq!(signal_for_path("/v1/profiles"), None);
    }
}
