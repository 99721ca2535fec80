//! `exporters: otlp_grpc:` — otelcol's otlpexporter config: configgrpc client keys, the
//! exporterhelper's `timeout`, `sending_queue` and `retry_on_failure`.
//!
//! `compression` defaults to gzip, compressed at level 1 (ferrotel's fast level: a relay spends
//! most of its CPU compressing, and level 1 keeps most of the size gain).

use ferrotel_core::config::{GoDuration, Validate};
pub use ferrotel_core::exporterhelper::{AuthConfig, DEFAULT_WRITE_BUFFER_SIZE, MiddlewareConfig};
use ferrotel_core::exporterhelper::{Compression, Headers, QueueConfig, RetryConfig};
use ferrotel_core::tls::TlsClientSetting;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// `host:port`, or a URL (`http://`, `https://`, `dns:///host:port`, `unix:///path`).
    pub endpoint: String,
    pub tls: TlsClientSetting,
    pub headers: Headers,
    pub compression: Compression,
    /// Per attempt (exporterhelper's `timeout`; also sent as `grpc-timeout`).
    pub timeout: GoDuration,
    pub sending_queue: QueueConfig,
    pub retry_on_failure: RetryConfig,
    /// `pick_first` or `round_robin`; ferrotel keeps one HTTP/2 connection (pick_first).
    pub balancer_name: String,
    pub keepalive: Option<KeepaliveConfig>,
    pub auth: Option<AuthConfig>,
    /// Wait (within the timeout) for the connection instead of failing fast while it is down.
    pub wait_for_ready: bool,
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    /// Overrides the `:authority` header (the host the server sees).
    pub authority: String,
    pub middlewares: Vec<MiddlewareConfig>,
    /// Newer otelcol's pool of gRPC connections; ferrotel keeps one (accepted, not acted on).
    pub connection_pool: Option<ConnectionPoolConfig>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            tls: TlsClientSetting::default(),
            headers: Headers::default(),
            compression: Compression::Gzip,
            timeout: GoDuration::from_secs(5),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
            balancer_name: "round_robin".into(),
            keepalive: None,
            auth: None,
            wait_for_ready: false,
            read_buffer_size: 0,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            authority: String::new(),
            middlewares: Vec::new(),
            connection_pool: None,
        }
    }
}

/// `keepalive:` (gRPC client keepalive pings).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    pub time: GoDuration,
    pub timeout: GoDuration,
    pub permit_without_stream: bool,
}

/// `connection_pool:` (the number of connections to spread calls over).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionPoolConfig {
    pub size: i64,
}

/// Where and how to connect, from `endpoint` and `tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `authority` is `host:port`.
    Tcp {
        authority: String,
        tls: bool,
    },
    Unix {
        path: String,
    },
}

impl OtlpGrpcConfig {
    /// Parses `endpoint`: a scheme decides TLS (`http://` plaintext, `https://` TLS); without
    /// one, TLS is on unless `tls::insecure` is set.
    pub fn target(&self) -> Result<Target, String> {
        let endpoint = self.endpoint.trim();
        if let Some(path) = endpoint
            .strip_prefix("unix://")
            .or_else(|| endpoint.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err("unix socket path cannot be empty".into());
            }
            return Ok(Target::Unix {
                path: path.to_string(),
            });
        }
        let (rest, tls) = if let Some(rest) = endpoint.strip_prefix("https://") {
            (rest, true)
        } else if let Some(rest) = endpoint.strip_prefix("http://") {
            (rest, false)
        } else if let Some(rest) = endpoint
            .strip_prefix("dns:///")
            .or_else(|| endpoint.strip_prefix("dns://"))
        {
            (rest, !self.tls.insecure)
        } else {
            (endpoint, !self.tls.insecure)
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() {
            return Err(r#"requires a non-empty "endpoint""#.into());
        }
        let Some((host, port)) = authority.rsplit_once(':') else {
            return Err(format!("address {authority}: missing port in address"));
        };
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(format!("address {authority}: too many colons in address"));
        }
        if port.parse::<u16>().is_err() {
            return Err(format!("invalid port {port:?}"));
        }
        Ok(Target::Tcp {
            authority: authority.to_string(),
            tls,
        })
    }
}

impl Validate for OtlpGrpcConfig {
    fn validate(&self) -> Result<(), String> {
        self.target()?;
        self.tls.validate()?;
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()?;
        if !matches!(
            self.balancer_name.as_str(),
            "" | "pick_first" | "round_robin"
        ) {
            return Err(format!("invalid balancer_name: {}", self.balancer_name));
        }
        if self.read_buffer_size < 0 || self.write_buffer_size < 0 {
            return Err("read_buffer_size and write_buffer_size must be non-negative".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn parse(yaml: &str) -> Result<OtlpGrpcConfig, String> {
        decode_validated::<OtlpGrpcConfig>(&Node::parse(yaml, "t.yaml").unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn otelcol_testdata_config_loads() {
        // The shape of otelcol's otlpexporter testdata/config.yaml.
        let text = "endpoint: \"1.2.3.4:1234\"\ncompression: gzip\ntls:\n  ca_file: /var/lib/mycert.pem\ntimeout: 10s\n\
            sending_queue:\n  enabled: true\n  sizer: items\n  num_consumers: 2\n  queue_size: 100000\n  batch:\n    flush_timeout: 200ms\n    min_size: 1000\n    max_size: 10000\n\
            retry_on_failure:\n  enabled: true\n  initial_interval: 10s\n  randomization_factor: 0.7\n  multiplier: 1.3\n  max_interval: 60s\n  max_elapsed_time: 10m\n\
            auth:\n  authenticator: nop\nheaders:\n  \"can you have a . here?\": \"F0000000-0000-0000-0000-000000000000\"\n  header1: \"234\"\n  another: somevalue\n\
            keepalive:\n  time: 20s\n  timeout: 30s\n  permit_without_stream: true\nbalancer_name: round_robin\n";
        let c = parse(text).unwrap();
        assert_eq!(c.endpoint, "1.2.3.4:1234");
        assert_eq!(c.timeout, GoDuration::from_secs(10));
        assert_eq!(c.sending_queue.num_consumers, 2);
        assert_eq!(c.retry_on_failure.multiplier, 1.3);
        assert_eq!(
            c.keepalive.as_ref().unwrap().time,
            GoDuration::from_secs(20)
        );
        assert_eq!(c.headers.0.len(), 3);
        assert_eq!(
            c.target().unwrap(),
            Target::Tcp {
                authority: "1.2.3.4:1234".into(),
                tls: true
            }
        );
    }

    #[test]
    fn defaults_follow_otelcol() {
        let c = parse("endpoint: localhost:4317\n").unwrap();
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.timeout, GoDuration::from_secs(5));
        assert_eq!(c.write_buffer_size, 512 * 1024);
        assert!(c.sending_queue.enabled);
    }

    #[test]
    fn endpoints_decide_tls() {
        let t = |yaml: &str| parse(yaml).unwrap().target().unwrap();
        assert_eq!(
            t("endpoint: localhost:4317\ntls:\n  insecure: true\n"),
            Target::Tcp {
                authority: "localhost:4317".into(),
                tls: false
            }
        );
        assert_eq!(
            t("endpoint: http://localhost:4317\n"),
            Target::Tcp {
                authority: "localhost:4317".into(),
                tls: false
            }
        );
        assert_eq!(
            t("endpoint: https://localhost:4317\ntls:\n  insecure: true\n"),
            Target::Tcp {
                authority: "localhost:4317".into(),
                tls: true
            }
        );
        assert_eq!(
            t("endpoint: dns:///backend:4317\n"),
            Target::Tcp {
                authority: "backend:4317".into(),
                tls: true
            }
        );
        assert_eq!(
            t("endpoint: unix:///tmp/otel.sock\n"),
            Target::Unix {
                path: "/tmp/otel.sock".into()
            }
        );
    }

    #[test]
    fn invalid_configs_fail_like_otelcol() {
        let cases = [
            ("timeout: 10s\n", r#"requires a non-empty "endpoint""#),
            ("endpoint: https://\n", r#"requires a non-empty "endpoint""#),
            ("endpoint: http://\n", r#"requires a non-empty "endpoint""#),
            ("endpoint: example.com:443\ntimeout: -5s\n", "timeout"),
            (
                "endpoint: example.com:443\nretry_on_failure:\n  randomization_factor: -5\n",
                "randomization_factor",
            ),
            (
                "endpoint: example.com:443\ntls:\n  min_version: asd\n",
                r#"invalid TLS min_version: unsupported TLS version: "asd""#,
            ),
            ("endpoint: example.com\n", "missing port in address"),
            ("endpoint: example.com:port\n", r#"invalid port "port""#),
            ("endpoint: unix://\n", "unix socket path cannot be empty"),
            (
                "endpoint: example.com:443\ncompression: snappy\n",
                "not supported by ferrotel",
            ),
            (
                "endpoint: example.com:443\nbalancer_name: weighted\n",
                "invalid balancer_name",
            ),
        ];
        for (yaml, expected) in cases {
            let err = parse(yaml).unwrap_err();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
    }
}
