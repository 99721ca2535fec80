//! Reading an HTTP request body under a size limit, then undoing its `Content-Encoding` under the
//! same limit, so neither a large upload nor a small compression bomb can exhaust memory.

use std::io::Read;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

/// Compressed bodies larger than this are inflated off the async worker threads.
const INLINE_DECOMPRESS_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Zstd,
    /// `deflate` and `zlib` both mean zlib-wrapped deflate, as in otelcol.
    Zlib,
}

impl Encoding {
    /// `Ok(None)` for an identity body; `Err` names an encoding this server does not accept.
    pub fn parse(header: &str, enabled: &[String]) -> Result<Option<Encoding>, String> {
        let name = header.trim().to_ascii_lowercase();
        if name.is_empty() || name == "identity" {
            return Ok(None);
        }
        let encoding = match name.as_str() {
            "gzip" | "x-gzip" => Encoding::Gzip,
            "zstd" => Encoding::Zstd,
            "deflate" | "zlib" => Encoding::Zlib,
            _ => return Err(format!("unsupported Content-Encoding: {header}")),
        };
        let canonical = if name == "x-gzip" {
            "gzip"
        } else {
            name.as_str()
        };
        if !enabled.iter().any(|e| e == canonical) {
            return Err(format!("unsupported Content-Encoding: {header}"));
        }
        Ok(Some(encoding))
    }
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge {
        limit: usize,
    },
    /// The client went away or sent a broken body.
    Read(String),
    /// The body does not decompress.
    Corrupt(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "request body too large: the limit is {limit} bytes")
            }
            BodyError::Read(e) => write!(f, "failed to read the request body: {e}"),
            BodyError::Corrupt(e) => write!(f, "failed to decompress the request body: {e}"),
        }
    }
}

/// Reads at most `limit` bytes off the wire; a `Content-Length` over the limit fails at once.
pub(crate) async fn read_limited(
    body: Incoming,
    content_length: Option<u64>,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if content_length.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Inflates `data`, failing as soon as the output would pass `limit`.
pub(crate) async fn decompress(
    encoding: Encoding,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if data.len() <= INLINE_DECOMPRESS_LIMIT {
        return decompress_blocking(encoding, &data, limit);
    }
    tokio::task::spawn_blocking(move || decompress_blocking(encoding, &data, limit))
        .await
        .map_err(|e| BodyError::Corrupt(format!("decompression task failed: {e}")))?
}

/// Inflates on the calling thread. The output never holds more than `limit` bytes, nor does its
/// buffer grow past them (a doubling `read_to_end` could reserve twice the limit).
pub fn decompress_blocking(
    encoding: Encoding,
    data: &[u8],
    limit: usize,
) -> Result<Bytes, BodyError> {
    let corrupt = |e: std::io::Error| BodyError::Corrupt(e.to_string());
    let reader: Box<dyn Read + '_> = match encoding {
        // Go's gzip reader reads concatenated members; MultiGzDecoder does the same.
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Encoding::Zlib => Box::new(flate2::read::ZlibDecoder::new(data)),
        Encoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(corrupt)?;
            // Bounds the decoder's window memory (32 MiB) whatever the frame header asks for.
            decoder.window_log_max(25).map_err(corrupt)?;
            Box::new(decoder)
        }
    };
    read_bounded(reader, (data.len() * 4).min(limit), limit).map(Bytes::from)
}

fn read_bounded(mut reader: impl Read, initial: usize, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::with_capacity(initial);
    let mut chunk = vec![0u8; CHUNK.min(limit.saturating_add(1))];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Corrupt(e.to_string())),
        };
        if n > limit - out.len() {
            return Err(BodyError::TooLarge { limit });
        }
        if out.capacity() - out.len() < n {
            let wanted = (out.capacity() * 2).max(out.len() + n).min(limit);
            out.reserve_exact(wanted - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Bytes inflated per read.
const CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all() -> Vec<String> {
        ["", "gzip", "zstd", "zlib", "deflate"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn encodings_follow_the_enabled_list() {
        assert_eq!(Encoding::parse("", &all()), Ok(None));
        assert_eq!(Encoding::parse("GZIP", &all()), Ok(Some(Encoding::Gzip)));
        assert_eq!(Encoding::parse("deflate", &all()), Ok(Some(Encoding::Zlib)));
        assert!(
            Encoding::parse("br", &all())
                .unwrap_err()
                .contains("unsupported Content-Encoding: br")
        );
        assert!(Encoding::parse("zstd", &["gzip".into()]).is_err());
    }

    #[test]
    fn every_encoding_inflates_within_the_limit() {
        let plain = vec![7u8; 10_000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zl.write_all(&plain).unwrap();
        let zs = zstd::encode_all(plain.as_slice(), 3).unwrap();
        for (encoding, data) in [
            (Encoding::Gzip, gz.finish().unwrap()),
            (Encoding::Zlib, zl.finish().unwrap()),
            (Encoding::Zstd, zs),
        ] {
            assert_eq!(decompress_blocking(encoding, &data, 10_000).unwrap(), plain);
            assert!(matches!(
                decompress_blocking(encoding, &data, 9_999),
                Err(BodyError::TooLarge { limit: 9_999 })
            ));
        }
        assert!(matches!(
            decompress_blocking(Encoding::Gzip, b"not gzip", 100),
            Err(BodyError::Corrupt(_))
        ));
    }

    #[test]
    fn a_bomb_never_grows_the_buffer_past_the_limit() {
        let limit = 3 * CHUNK + 17;
        let zeros = vec![0u8; 64 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&zeros).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 200 << 10);
        assert!(matches!(
            decompress_blocking(Encoding::Gzip, &bomb, limit),
            Err(BodyError::TooLarge { .. })
        ));
        // Exactly at the limit: accepted, in a buffer no larger than the limit.
        let plain = &zeros[..limit];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(plain).unwrap();
        let out = read_bounded(
            flate2::read::MultiGzDecoder::new(gz.finish().unwrap().as_slice()),
            16,
            limit,
        )
        .unwrap();
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit, "capacity {}", out.capacity());
    }
}
