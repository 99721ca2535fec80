//! `receivers: otlp:` — otelcol's otlpreceiver config: `protocols.grpc` (configgrpc server keys)
//! and `protocols.http` (confighttp server keys plus the three URL paths). A protocol is served
//! only when its key is present; `grpc:` alone (null) means "gRPC with defaults".

use std::collections::BTreeMap;

use ferrotel_core::config::net::validate_transport;
use ferrotel_core::config::{GoDuration, Validate};
use ferrotel_core::tls_server::TlsServerSetting;
use ferrotel_core::wire::{Limits, MAX_SUPPORTED_VALUE_DEPTH};
use serde::Deserialize;

/// gRPC's default `max_recv_msg_size_mib` when the key is 0 or absent.
pub const DEFAULT_MAX_RECV_MSG_SIZE_MIB: usize = 4;
/// confighttp's default `max_request_body_size` when the key is 0 or absent.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: usize = 20 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub protocols: Protocols,
    /// A ferrotel extension (otelcol has no such key): what one request may hold.
    pub limits: LimitsConfig,
}

/// `limits:` — checked on every request, gRPC and HTTP, protobuf and JSON, before anything is
/// passed on; a request over a limit is refused whole (HTTP 400 / gRPC INVALID_ARGUMENT) and its
/// items are counted as failed. 0 (or absent) means the default.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Arrays and kvlists nested inside one attribute value or log body (default and most: 30).
    pub max_value_depth: usize,
    /// Attributes of one resource, scope, span, span event, span link, log record, metric, data
    /// point or exemplar, and entries of one kvlist value (default 10,000).
    pub max_attributes: usize,
    /// Bytes of one string or bytes field, keys and values alike (default 4 MiB).
    pub max_value_length: usize,
}

impl LimitsConfig {
    pub fn limits(&self) -> Limits {
        let or = |value: usize, default: usize| if value == 0 { default } else { value };
        Limits {
            max_value_depth: or(self.max_value_depth, Limits::DEFAULT.max_value_depth),
            max_attributes: or(self.max_attributes, Limits::DEFAULT.max_attributes),
            max_value_length: or(self.max_value_length, Limits::DEFAULT.max_value_length),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    pub grpc: Option<GrpcConfig>,
    pub http: Option<HttpConfig>,
}

/// confignet's `dialer` (squashed into every server's address settings; unused by a listener).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerConfig {
    pub timeout: GoDuration,
}

/// `auth:` of a gRPC server (configauth).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub authenticator: String,
}

/// `auth:` of an HTTP server (confighttp adds `request_params`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthConfig {
    pub authenticator: String,
    pub request_params: Vec<String>,
}

/// One entry of `middlewares:` (configmiddleware).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiddlewareConfig {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    pub endpoint: String,
    pub transport: String,
    pub dialer: DialerConfig,
    pub tls: Option<TlsServerSetting>,
    /// 0 means gRPC's default of 4 MiB. Enforced on the decompressed message.
    pub max_recv_msg_size_mib: i64,
    /// 0 leaves hyper's HTTP/2 default (200 streams per connection).
    pub max_concurrent_streams: u32,
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    pub keepalive: Option<KeepaliveConfig>,
    pub auth: Option<AuthConfig>,
    pub include_metadata: bool,
    pub middlewares: Vec<MiddlewareConfig>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            transport: "tcp".into(),
            dialer: DialerConfig::default(),
            tls: None,
            max_recv_msg_size_mib: 0,
            max_concurrent_streams: 0,
            // otlpreceiver's own default: "we almost write 0 bytes, so no need to tune WriteBufferSize".
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
            keepalive: Some(KeepaliveConfig::default()),
            auth: None,
            include_metadata: false,
            middlewares: Vec::new(),
        }
    }
}

impl GrpcConfig {
    pub fn max_recv_msg_size(&self) -> usize {
        let mib = usize::try_from(self.max_recv_msg_size_mib).unwrap_or(0);
        let mib = if mib == 0 {
            DEFAULT_MAX_RECV_MSG_SIZE_MIB
        } else {
            mib
        };
        mib.saturating_mul(1024 * 1024)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    pub server_parameters: Option<KeepaliveServerParameters>,
    pub enforcement_policy: Option<KeepaliveEnforcementPolicy>,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        KeepaliveConfig {
            server_parameters: Some(KeepaliveServerParameters::default()),
            enforcement_policy: Some(KeepaliveEnforcementPolicy::default()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveServerParameters {
    pub max_connection_idle: GoDuration,
    pub max_connection_age: GoDuration,
    pub max_connection_age_grace: GoDuration,
    /// HTTP/2 ping interval on an idle connection.
    pub time: GoDuration,
    /// How long to wait for the ping's answer before closing.
    pub timeout: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveEnforcementPolicy {
    pub min_time: GoDuration,
    pub permit_without_stream: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub endpoint: String,
    pub transport: String,
    pub dialer: DialerConfig,
    pub tls: Option<TlsServerSetting>,
    pub cors: Option<CorsConfig>,
    pub auth: Option<HttpAuthConfig>,
    /// 0 means 20 MiB. Enforced on the body as sent and again after decompression.
    pub max_request_body_size: i64,
    pub include_metadata: bool,
    pub response_headers: BTreeMap<String, String>,
    /// Absent means every encoding ferrotel decodes; `[]` turns decompression off.
    pub compression_algorithms: Option<Vec<String>>,
    pub read_timeout: GoDuration,
    pub read_header_timeout: GoDuration,
    pub write_timeout: GoDuration,
    pub idle_timeout: GoDuration,
    pub middlewares: Vec<MiddlewareConfig>,
    pub keep_alives_enabled: bool,
    pub traces_url_path: UrlPath,
    pub metrics_url_path: UrlPath,
    pub logs_url_path: UrlPath,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            transport: "tcp".into(),
            dialer: DialerConfig::default(),
            tls: None,
            cors: None,
            auth: None,
            max_request_body_size: 0,
            include_metadata: false,
            response_headers: BTreeMap::new(),
            compression_algorithms: None,
            // otlpreceiver zeroes confighttp's timeouts "for backward compatibility".
            read_timeout: GoDuration::default(),
            read_header_timeout: GoDuration::default(),
            write_timeout: GoDuration::default(),
            idle_timeout: GoDuration::default(),
            middlewares: Vec::new(),
            keep_alives_enabled: true,
            traces_url_path: UrlPath("/v1/traces".into()),
            metrics_url_path: UrlPath("/v1/metrics".into()),
            logs_url_path: UrlPath("/v1/logs".into()),
        }
    }
}

impl HttpConfig {
    pub fn max_request_body_size(&self) -> usize {
        match usize::try_from(self.max_request_body_size) {
            Ok(n) if n > 0 => n,
            _ => DEFAULT_MAX_REQUEST_BODY_SIZE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to send requests; `*` matches any run of characters (`https://*.example.com`).
    pub allowed_origins: Vec<String>,
    /// Request headers allowed beyond the CORS-safelisted ones; `*` allows any.
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer (0: not sent).
    pub max_age: i64,
}

/// A URL path as otlpreceiver takes it: parsed as a URL, its path kept, a leading `/` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPath(pub String);

impl<'de> Deserialize<'de> for UrlPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        sanitize_url_path(&text).map(UrlPath).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid HTTP URL path set for signal: parse {text:?}: {e}"
            ))
        })
    }
}

/// Go's `url.Parse(text).Path` with a leading slash, for the inputs a config holds.
fn sanitize_url_path(text: &str) -> Result<String, String> {
    if text.chars().any(|c| c.is_ascii_control()) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut rest = text.split(['?', '#']).next().unwrap_or("");
    if let Some(colon) = rest.find(':') {
        let before = &rest[..colon];
        if !before.contains('/') {
            if colon == 0 {
                return Err("missing protocol scheme".into());
            }
            let is_scheme = before.starts_with(|c: char| c.is_ascii_alphabetic())
                && before
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if !is_scheme {
                return Err("first path segment in URL cannot contain colon".into());
            }
            rest = &rest[colon + 1..];
            if let Some(authority_and_path) = rest.strip_prefix("//") {
                rest = authority_and_path
                    .find('/')
                    .map_or("", |i| &authority_and_path[i..]);
            }
        }
    }
    let decoded = percent_decode(rest)?;
    Ok(if decoded.starts_with('/') {
        decoded
    } else {
        format!("/{decoded}")
    })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.len() == 2 && h.chars().all(|c| c.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                return Err(format!(
                    "invalid URL escape {:?}",
                    s.get(i..(i + 3).min(s.len())).unwrap_or("%")
                ));
            };
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "path is not UTF-8 once unescaped".into())
}

/// Encodings a client may name in `Content-Encoding`, and whether ferrotel decodes them.
pub(crate) const KNOWN_ENCODINGS: &[(&str, bool)] = &[
    ("", true),
    ("gzip", true),
    ("zstd", true),
    ("zlib", true),
    ("deflate", true),
    ("snappy", false),
    ("lz4", false),
    ("x-snappy-framed", false),
];

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        let Protocols { grpc, http } = &self.protocols;
        if grpc.is_none() && http.is_none() {
            return Err("must specify at least one protocol when using the OTLP receiver".into());
        }
        if self.limits.max_value_depth > MAX_SUPPORTED_VALUE_DEPTH {
            return Err(format!(
                "limits::max_value_depth: must be at most {MAX_SUPPORTED_VALUE_DEPTH}, the deepest nesting ferrotel's components can decode: {}",
                self.limits.max_value_depth
            ));
        }
        if let Some(grpc) = grpc {
            let at = |e: String| format!("protocols::grpc: {e}");
            validate_transport(&grpc.transport).map_err(at)?;
            if grpc.max_recv_msg_size_mib < 0
                || grpc.max_recv_msg_size_mib > i64::MAX / (1024 * 1024)
            {
                return Err(at(format!(
                    "invalid max_recv_msg_size_mib value, must be between 1 and {}: {}",
                    i64::MAX / 1024 / 1024,
                    grpc.max_recv_msg_size_mib
                )));
            }
            if grpc.read_buffer_size < 0 {
                return Err(at(format!(
                    "invalid read_buffer_size value: {}",
                    grpc.read_buffer_size
                )));
            }
            if grpc.write_buffer_size < 0 {
                return Err(at(format!(
                    "invalid write_buffer_size value: {}",
                    grpc.write_buffer_size
                )));
            }
            if let Some(tls) = &grpc.tls {
                tls.validate().map_err(|e| at(format!("tls: {e}")))?;
            }
        }
        if let Some(http) = http {
            let at = |e: String| format!("protocols::http: {e}");
            validate_transport(&http.transport).map_err(at)?;
            if let Some(tls) = &http.tls {
                tls.validate().map_err(|e| at(format!("tls: {e}")))?;
            }
            for (name, value) in &http.response_headers {
                http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| at(format!("response_headers: invalid header name {name:?}")))?;
                http::HeaderValue::from_str(value).map_err(|_| {
                    at(format!(
                        "response_headers: invalid value for header {name:?}"
                    ))
                })?;
            }
            for algorithm in http.compression_algorithms.iter().flatten() {
                if !KNOWN_ENCODINGS.iter().any(|(name, _)| name == algorithm) {
                    let known: Vec<&str> = KNOWN_ENCODINGS
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| !n.is_empty())
                        .collect();
                    return Err(at(format!(
                        "compression_algorithms: unsupported algorithm {algorithm:?} (known: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn load(yaml: &str) -> Result<Config, String> {
        decode_validated::<Config>(&Node::parse(yaml, "otlp.yaml").unwrap())
            .map_err(|e| e.to_string())
    }

    fn testdata(name: &str) -> String {
        let path = format!("{}/tests/data/otelcol/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn present_protocols_are_enabled_with_defaults() {
        for (file, grpc, http) in [
            ("default.yaml", true, true),
            ("only_grpc.yaml", true, false),
            ("only_http.yaml", false, true),
            ("only_http_null.yaml", false, true),
            ("only_http_empty_map.yaml", false, true),
        ] {
            let config = load(&testdata(file)).unwrap();
            assert_eq!(
                config.protocols.grpc,
                grpc.then(GrpcConfig::default),
                "{file}"
            );
            assert_eq!(
                config.protocols.http,
                http.then(HttpConfig::default),
                "{file}"
            );
        }
    }

    #[test]
    fn upstream_full_config_decodes() {
        let config = load(&testdata("config.yaml")).unwrap();
        let grpc = config.protocols.grpc.unwrap();
        assert_eq!(
            (
                grpc.max_recv_msg_size_mib,
                grpc.max_concurrent_streams,
                grpc.read_buffer_size
            ),
            (32, 16, 1024)
        );
        assert_eq!(grpc.max_recv_msg_size(), 32 << 20);
        let params = grpc.keepalive.unwrap().server_parameters.unwrap();
        assert_eq!(params.max_connection_age.0.as_secs(), 12);
        let http = config.protocols.http.unwrap();
        assert_eq!(http.traces_url_path.0, "/traces");
        assert_eq!(http.metrics_url_path.0, "/v2/metrics");
        assert_eq!(http.logs_url_path.0, "/log/ingest");
        let cors = http.cors.clone().unwrap();
        assert_eq!((cors.allowed_origins.len(), cors.max_age), (2, 7200));
        assert_eq!(http.auth.as_ref().unwrap().authenticator, "test");
        assert_eq!(http.max_request_body_size(), DEFAULT_MAX_REQUEST_BODY_SIZE);
    }

    #[test]
    fn upstream_error_cases() {
        assert!(
            load(&testdata("bad_no_proto_config.yaml"))
                .unwrap_err()
                .contains("must specify at least one protocol when using the OTLP receiver")
        );
        assert!(
            load(&testdata("bad_proto_config.yaml"))
                .unwrap_err()
                .contains("thrift")
        );
        assert!(
            load(&testdata("typo_default_proto_config.yaml"))
                .unwrap_err()
                .contains("htttp")
        );
        for file in [
            "invalid_traces_path.yaml",
            "invalid_metrics_path.yaml",
            "invalid_logs_path.yaml",
        ] {
            let err = load(&testdata(file)).unwrap_err();
            assert!(err.contains("invalid HTTP URL path set for signal: parse \":invalid\": missing protocol scheme"), "{file}: {err}");
        }
        // profiles are not carried by ferrotel, and otelcol's HTTP config has no such key either.
        assert!(load(&testdata("invalid_profiles_path.yaml")).is_err());
        let uds = load(&testdata("uds.yaml")).unwrap();
        assert_eq!(uds.protocols.grpc.unwrap().transport, "unix");
    }

    #[test]
    fn own_checks() {
        assert!(
            load("protocols:\n  grpc:\n    max_recv_msg_size_mib: -1\n")
                .unwrap_err()
                .contains("invalid max_recv_msg_size_mib value")
        );
        assert!(
            load("protocols:\n  grpc:\n    transport: carrier-pigeon\n")
                .unwrap_err()
                .contains("invalid transport type")
        );
        assert!(
            load("protocols:\n  http:\n    tls:\n      cert_file: a\n")
                .unwrap_err()
                .contains("certificate and key")
        );
        assert!(
            load("protocols:\n  http:\n    compression_algorithms: [brotli]\n")
                .unwrap_err()
                .contains("brotli")
        );
        assert!(
            load("protocols:\n  http:\n    response_headers:\n      \"bad header\": x\n")
                .unwrap_err()
                .contains("invalid header name")
        );
        assert!(
            load("")
                .unwrap_err()
                .contains("must specify at least one protocol")
        );
    }

    #[test]
    fn limits_are_optional_and_zero_means_the_default() {
        let config = load("protocols:\n  grpc:\n").unwrap();
        assert_eq!(config.limits.limits(), Limits::DEFAULT);
        let config = load("protocols:\n  grpc:\nlimits:\n").unwrap();
        assert_eq!(config.limits.limits(), Limits::DEFAULT);
        let config = load(
            "protocols:\n  grpc:\nlimits:\n  max_value_depth: 5\n  max_attributes: 0\n  max_value_length: 1024\n",
        )
        .unwrap();
        assert_eq!(
            config.limits.limits(),
            Limits {
                max_value_depth: 5,
                max_attributes: Limits::DEFAULT.max_attributes,
                max_value_length: 1024,
            }
        );
        let err = load("protocols:\n  grpc:\nlimits:\n  max_value_depth: 31\n").unwrap_err();
        assert!(
            err.contains("limits::max_value_depth: must be at most 30"),
            "{err}"
        );
        let err = load("protocols:\n  grpc:\nlimits:\n  max_attributs: 3\n").unwrap_err();
        assert!(err.contains("max_attributs"), "{err}");
    }

    #[test]
    fn url_paths_are_sanitized_like_go() {
        assert_eq!(sanitize_url_path("traces").unwrap(), "/traces");
        assert_eq!(
            sanitize_url_path("/v1/traces?x=1#frag").unwrap(),
            "/v1/traces"
        );
        assert_eq!(sanitize_url_path("http://host:1/a%20b").unwrap(), "/a b");
        assert!(sanitize_url_path("1a:b").is_err());
        assert!(sanitize_url_path("/bad%zz").is_err());
    }
}
