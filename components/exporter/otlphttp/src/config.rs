//! `exporters: otlp_http:` — otelcol's otlphttpexporter config: confighttp client keys, the
//! per-signal URLs, `encoding`, and the exporterhelper's `sending_queue` and `retry_on_failure`.
//!
//! `compression` defaults to gzip, compressed at level 1 unless `compression_params::level` says
//! otherwise (ferrotel's fast level: a relay spends most of its CPU compressing).

use ferrotel_core::Signal;
use ferrotel_core::config::{GoDuration, Validate};
pub use ferrotel_core::exporterhelper::{AuthConfig, DEFAULT_WRITE_BUFFER_SIZE, MiddlewareConfig};
use ferrotel_core::exporterhelper::{
    Compression, CompressionParams, Headers, QueueConfig, RetryConfig,
};
use ferrotel_core::tls::TlsClientSetting;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "proto" => Ok(Encoding::Proto),
            "json" => Ok(Encoding::Json),
            _ => Err(serde::de::Error::custom(format!(
                "invalid encoding type: {text} (valid values: proto, json)"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended.
    pub endpoint: String,
    pub traces_endpoint: String,
    pub metrics_endpoint: String,
    pub logs_endpoint: String,
    /// Profiles are not a ferrotel signal: accepted and unused.
    pub profiles_endpoint: String,
    pub encoding: Encoding,
    pub compression: Compression,
    pub compression_params: CompressionParams,
    pub headers: Headers,
    /// Per attempt (the HTTP client timeout).
    pub timeout: GoDuration,
    /// TLS is used for `https://` URLs; `insecure` has no effect over HTTP, as in otelcol.
    pub tls: TlsClientSetting,
    pub sending_queue: QueueConfig,
    pub retry_on_failure: RetryConfig,
    pub read_buffer_size: i64,
    pub write_buffer_size: i64,
    pub max_idle_conns: Option<i64>,
    pub max_idle_conns_per_host: Option<i64>,
    pub max_conns_per_host: Option<i64>,
    pub idle_conn_timeout: Option<GoDuration>,
    pub disable_keep_alives: bool,
    /// Newer confighttp groups the idle-connection keys here.
    pub keepalive: Option<KeepaliveConfig>,
    pub http2_read_idle_timeout: GoDuration,
    pub http2_ping_timeout: GoDuration,
    /// Offer HTTP/2 (ALPN) on `https://`; plaintext `http://` is HTTP/1.1.
    pub force_attempt_http2: bool,
    /// An HTTP proxy (`http://[user:password@]host:port`); requests go through a CONNECT tunnel.
    pub proxy_url: String,
    pub auth: Option<AuthConfig>,
    pub cookies: Option<CookiesConfig>,
    pub middlewares: Vec<MiddlewareConfig>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            profiles_endpoint: String::new(),
            encoding: Encoding::Proto,
            compression: Compression::Gzip,
            compression_params: CompressionParams::default(),
            headers: Headers::default(),
            timeout: GoDuration::from_secs(30),
            tls: TlsClientSetting::default(),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
            read_buffer_size: 0,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            max_idle_conns: None,
            max_idle_conns_per_host: None,
            max_conns_per_host: None,
            idle_conn_timeout: None,
            disable_keep_alives: false,
            keepalive: None,
            http2_read_idle_timeout: GoDuration::ZERO,
            http2_ping_timeout: GoDuration::ZERO,
            force_attempt_http2: true,
            proxy_url: String::new(),
            auth: None,
            cookies: None,
            middlewares: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepaliveConfig {
    pub enabled: bool,
    pub idle_conn_timeout: GoDuration,
    pub max_idle_conns: i64,
    pub max_idle_conns_per_host: i64,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        KeepaliveConfig {
            enabled: true,
            idle_conn_timeout: GoDuration::from_secs(90),
            max_idle_conns: 100,
            max_idle_conns_per_host: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookiesConfig {
    pub enabled: bool,
}

/// How the connection pool behaves, from the flat keys and the newer `keepalive` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_idle_per_host: usize,
    pub idle_timeout: std::time::Duration,
}

impl OtlpHttpConfig {
    /// The URL a signal is sent to: its own `*_endpoint`, else `endpoint` + `/v1/<signal>`.
    pub fn signal_url(&self, signal: Signal) -> Option<String> {
        let own = match signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Logs => &self.logs_endpoint,
        };
        if !own.is_empty() {
            return Some(own.clone());
        }
        if self.endpoint.is_empty() {
            return None;
        }
        let base = self.endpoint.trim_end_matches('/');
        Some(format!("{base}/v1/{}", signal.as_str()))
    }

    pub fn pool(&self) -> PoolSettings {
        let keepalive = self.keepalive.clone().unwrap_or_default();
        let disabled = self.disable_keep_alives || !keepalive.enabled;
        let per_host = self
            .max_idle_conns_per_host
            .filter(|n| *n > 0)
            .or((keepalive.max_idle_conns_per_host > 0)
                .then_some(keepalive.max_idle_conns_per_host));
        let total = self.max_idle_conns.unwrap_or(keepalive.max_idle_conns);
        // One destination per signal: the per-host limit, else the total (0 means unlimited).
        let max_idle = per_host.unwrap_or(if total > 0 { total } else { i64::MAX });
        PoolSettings {
            max_idle_per_host: if disabled {
                0
            } else {
                usize::try_from(max_idle).unwrap_or(usize::MAX)
            },
            idle_timeout: self
                .idle_conn_timeout
                .unwrap_or(keepalive.idle_conn_timeout)
                .0,
        }
    }
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    let parsed: http::Uri = url
        .parse()
        .map_err(|e| format!("{key} must be a valid URL: {url:?}: {e}"))?;
    match parsed.scheme_str() {
        Some("http" | "https") if parsed.authority().is_some() => Ok(()),
        _ => Err(format!(
            "{key} must be a valid URL with an http or https scheme and a host: {url:?}"
        )),
    }
}

impl Validate for OtlpHttpConfig {
    fn validate(&self) -> Result<(), String> {
        if self.endpoint.is_empty()
            && self.traces_endpoint.is_empty()
            && self.metrics_endpoint.is_empty()
            && self.logs_endpoint.is_empty()
        {
            return Err("at least one endpoint must be specified".into());
        }
        for (key, url) in [
            ("endpoint", &self.endpoint),
            ("traces_endpoint", &self.traces_endpoint),
            ("metrics_endpoint", &self.metrics_endpoint),
            ("logs_endpoint", &self.logs_endpoint),
        ] {
            if !url.is_empty() {
                check_url(key, url)?;
            }
        }
        if !self.proxy_url.is_empty() {
            check_url("proxy_url", &self.proxy_url)?;
        }
        self.tls.validate()?;
        self.sending_queue.validate()?;
        self.retry_on_failure.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn parse(yaml: &str) -> Result<OtlpHttpConfig, String> {
        decode_validated::<OtlpHttpConfig>(&Node::parse(yaml, "t.yaml").unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn otelcol_testdata_shape_loads() {
        let c = parse(
            "endpoint: \"https://1.2.3.4:1234\"\ntls:\n  ca_file: /var/lib/mycert.pem\n  cert_file: certfile\n  key_file: keyfile\n  insecure: true\n\
             timeout: 10s\nread_buffer_size: 123\nwrite_buffer_size: 345\nsending_queue:\n  enabled: true\n  num_consumers: 2\n  queue_size: 10\n\
             retry_on_failure:\n  enabled: true\n  initial_interval: 10s\n  randomization_factor: 0.7\n  multiplier: 1.3\n  max_interval: 60s\n  max_elapsed_time: 10m\n\
             headers:\n  \"can you have a . here?\": \"F0000000-0000-0000-0000-000000000000\"\n  header1: \"234\"\n  another: \"somevalue\"\n\
             compression: gzip\nprofiles_endpoint: \"https://custom.profiles.endpoint:8080/v1development/profiles\"\n",
        )
        .unwrap();
        assert_eq!(c.encoding, Encoding::Proto);
        assert_eq!(c.timeout, GoDuration::from_secs(10));
        assert_eq!(
            c.signal_url(Signal::Logs).unwrap(),
            "https://1.2.3.4:1234/v1/logs"
        );
    }

    #[test]
    fn defaults_and_urls() {
        let c = parse(
            "endpoint: http://collector:4318/\nmetrics_endpoint: http://metrics:9000/ingest\n",
        )
        .unwrap();
        assert_eq!(c.timeout, GoDuration::from_secs(30));
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(
            c.signal_url(Signal::Traces).unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            c.signal_url(Signal::Metrics).unwrap(),
            "http://metrics:9000/ingest"
        );
        assert_eq!(
            c.pool(),
            PoolSettings {
                max_idle_per_host: 100,
                idle_timeout: std::time::Duration::from_secs(90)
            }
        );
        let only_logs = parse("logs_endpoint: http://logs:1/x\n").unwrap();
        assert!(only_logs.signal_url(Signal::Traces).is_none());
        let pooled =
            parse("endpoint: http://c:1\nmax_idle_conns_per_host: 4\nidle_conn_timeout: 5s\n")
                .unwrap();
        assert_eq!(
            pooled.pool(),
            PoolSettings {
                max_idle_per_host: 4,
                idle_timeout: std::time::Duration::from_secs(5)
            }
        );
        assert_eq!(
            parse("endpoint: http://c:1\ndisable_keep_alives: true\n")
                .unwrap()
                .pool()
                .max_idle_per_host,
            0
        );
    }

    #[test]
    fn invalid_configs_fail_like_otelcol() {
        for (yaml, expected) in [
            ("", "at least one endpoint must be specified"),
            (
                "endpoint: http://c:1\nencoding: invalid\n",
                "invalid encoding type: invalid",
            ),
            (
                "endpoint: http://c:1\nencoding: \"\"\n",
                "invalid encoding type",
            ),
            ("endpoint: collector:4318\n", "endpoint must be a valid URL"),
            (
                "traces_endpoint: \"http://bad host\"\n",
                "traces_endpoint must be a valid URL",
            ),
            (
                "endpoint: http://c:1\ncompression: lz4\n",
                "not supported by ferrotel",
            ),
            (
                "endpoint: http://c:1\nproxy_url: socks5://p:1\n",
                "proxy_url must be a valid URL",
            ),
            ("endpoint: http://c:1\nbogus: 1\n", "bogus"),
        ] {
            let err = parse(yaml).unwrap_err();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
    }
}
