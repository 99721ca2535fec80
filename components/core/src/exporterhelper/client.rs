//! Client settings every network exporter shares: `headers` and `compression`.

use std::fmt;
use std::io::Write;

use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// `headers`: a map of name to value, or (otelcol's newer `configopaque.MapList` form) a list of
/// `{name, value}`. Values are opaque: they often carry credentials and never reach a log.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As an `http` header map; a name or value HTTP does not allow is an error naming the header.
    pub fn to_header_map(&self) -> anyhow::Result<http::HeaderMap> {
        let mut map = http::HeaderMap::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                anyhow::anyhow!("headers: {name:?} is not a valid HTTP header name")
            })?;
            let mut value = http::HeaderValue::from_str(value).map_err(|_| {
                anyhow::anyhow!("headers: the value of {name:?} is not a valid HTTP header value")
            })?;
            value.set_sensitive(true);
            map.insert(header, value);
        }
        Ok(map)
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "[REDACTED]")))
            .finish()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedValue {
    name: String,
    #[serde(default)]
    value: String,
}

impl<'de> serde::Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values, or a list of {name, value}")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, String>()? {
                    out.push((name, value));
                }
                // otelcol keeps headers sorted by name.
                out.sort();
                Ok(Headers(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element::<NamedValue>()? {
                    if out.iter().any(|(n, _): &(String, String)| *n == entry.name) {
                        return Err(de::Error::custom(format!(
                            "duplicate header name {:?}",
                            entry.name
                        )));
                    }
                    out.push((entry.name, entry.value));
                }
                Ok(Headers(out))
            }
        }
        deserializer.deserialize_any(HeadersVisitor)
    }
}

/// `compression`. ferrotel compresses at a fast level (gzip and deflate level 1, zstd level 1):
/// an exporter in a relay spends most of its CPU here, and level 1 keeps most of the size gain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    None,
    #[default]
    Gzip,
    Zstd,
    /// zlib-wrapped deflate, as both gRPC's and HTTP's `deflate` are (otelcol's `zlib` too).
    Deflate,
}

/// The level ferrotel uses unless `compression_params::level` says otherwise.
pub const FAST_LEVEL: i32 = 1;

impl Compression {
    /// The `grpc-encoding` / `Content-Encoding` name; `None` for no compression.
    pub fn encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
            Compression::Deflate => Some("deflate"),
        }
    }

    /// Compresses `data` at `level` (`None`: [`FAST_LEVEL`]). With `Compression::None` the input
    /// is returned as it is, without a copy.
    pub fn compress(self, data: bytes::Bytes, level: Option<i32>) -> std::io::Result<bytes::Bytes> {
        let level = level.unwrap_or(FAST_LEVEL);
        let flate_level = flate2::Compression::new(level.clamp(0, 9) as u32);
        // Telemetry compresses well; a quarter of the input avoids most regrowth.
        let out = Vec::with_capacity(data.len() / 4 + 64);
        Ok(match self {
            Compression::None => return Ok(data),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out, flate_level);
                encoder.write_all(&data)?;
                encoder.finish()?.into()
            }
            Compression::Deflate => {
                let mut encoder = flate2::write::ZlibEncoder::new(out, flate_level);
                encoder.write_all(&data)?;
                encoder.finish()?.into()
            }
            Compression::Zstd => zstd::bulk::compress(&data, level)?.into(),
        })
    }
}

impl<'de> serde::Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "deflate" | "zlib" => Ok(Compression::Deflate),
            "snappy" | "x-snappy-framed" | "lz4" => Err(de::Error::custom(format!(
                "compression type {text:?} is not supported by ferrotel; use gzip, zstd, deflate or none"
            ))),
            _ => Err(de::Error::custom(format!(
                "unsupported compression type {text:?} (valid values: gzip, zstd, deflate, none)"
            ))),
        }
    }
}

/// `compression_params` (confighttp): the level to compress at.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressionParams {
    /// 0 means ferrotel's fast default ([`FAST_LEVEL`]).
    pub level: i32,
}

impl CompressionParams {
    pub fn level(&self) -> Option<i32> {
        (self.level != 0).then_some(self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Node, decode};
    use std::io::Read;

    #[derive(serde::Deserialize, Default, Debug)]
    #[serde(default)]
    struct Holder {
        headers: Headers,
        compression: Compression,
    }

    fn parse(yaml: &str) -> Result<Holder, String> {
        decode::<Holder>(&Node::parse(yaml, "t.yaml").unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn headers_read_as_map_or_list_and_hide_values() {
        let h = parse("headers:\n  \"can you have a . here?\": x\n  header1: 234\n  another: v\n")
            .unwrap();
        let names: Vec<&str> = h.headers.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["another", "can you have a . here?", "header1"]);
        assert_eq!(h.headers.0[2].1, "234");
        assert!(!format!("{:?}", h.headers).contains("234"));
        let l = parse("headers:\n  - name: a\n    value: b\n").unwrap();
        assert_eq!(l.headers.0, vec![("a".to_string(), "b".to_string())]);
        assert!(
            h.headers
                .to_header_map()
                .unwrap_err()
                .to_string()
                .contains("not a valid HTTP header name")
        );
    }

    #[test]
    fn compression_names_and_round_trip() {
        assert_eq!(parse("").unwrap().compression, Compression::Gzip);
        assert_eq!(
            parse("compression: none").unwrap().compression,
            Compression::None
        );
        assert_eq!(
            parse("compression: \"\"").unwrap().compression,
            Compression::None
        );
        assert!(
            parse("compression: snappy")
                .unwrap_err()
                .contains("not supported by ferrotel")
        );
        assert!(
            parse("compression: brotli")
                .unwrap_err()
                .contains("unsupported compression type")
        );

        let data = bytes::Bytes::from(vec![7u8; 10_000]);
        let gz = Compression::Gzip.compress(data.clone(), None).unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let z = Compression::Deflate
            .compress(data.clone(), Some(9))
            .unwrap();
        back.clear();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let zs = Compression::Zstd.compress(data.clone(), None).unwrap();
        assert_eq!(zstd::bulk::decompress(&zs, 20_000).unwrap(), data);
        let none = Compression::None.compress(data.clone(), None).unwrap();
        assert_eq!(none.as_ptr(), data.as_ptr());
    }
}
