//! The `health_check` extension's settings: otelcol-contrib's legacy (v1) health check, whose keys
//! every deployed config uses. The v2 sections are recognised and refused as otelcol refuses them
//! without its `extension.healthcheck.useComponentStatus` feature gate.

use ferrotel_core::config::Validate;
use ferrotel_core::tls_server::TlsServerSetting;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    /// `host:port` to listen on; a bare `:port` listens on every interface.
    pub endpoint: String,
    /// `tcp` is the only transport an HTTP endpoint can use here.
    pub transport: String,
    pub tls: Option<TlsServerSetting>,
    /// The path served; one ending in `/` also serves everything below it (Go's ServeMux).
    pub path: String,
    /// Fixed bodies instead of the JSON status.
    pub response_body: Option<ResponseBody>,
    /// Deprecated and ignored by otelcol-contrib; accepted so old configs load.
    pub check_collector_pipeline: Option<CheckCollectorPipeline>,
    /// v2 opt-in; v2 is not available (see the module docs).
    pub use_v2: bool,
    pub http: Option<serde_json::Value>,
    pub grpc: Option<serde_json::Value>,
    /// v2 setting, meaningless without v2; accepted and ignored, as otelcol does.
    pub component_health: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckCollectorPipeline {
    pub enabled: bool,
    pub interval: String,
    pub exporter_failure_threshold: i64,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            transport: "tcp".into(),
            tls: None,
            path: "/".into(),
            response_body: None,
            check_collector_pipeline: None,
            use_v2: false,
            http: None,
            grpc: None,
            component_health: None,
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self) -> Result<(), String> {
        if self.http.is_some() || self.grpc.is_some() {
            return Err("v2 healthcheck configuration (http/grpc fields) detected but feature gate is disabled. \
                        Remove the v2 config fields: ferrotel serves the v1 health check only"
                .into());
        }
        if self.use_v2 {
            return Err("must specify at least one protocol".into());
        }
        if self.endpoint.is_empty() {
            return Err("http endpoint required".into());
        }
        if !self.path.starts_with('/') {
            return Err("path must start with /".into());
        }
        if !self.transport.is_empty() && self.transport != "tcp" {
            return Err(format!(
                "transport {:?} is not supported: the health check listens on tcp",
                self.transport
            ));
        }
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn decode(text: &str) -> Result<HealthCheckConfig, String> {
        let node = Node::parse(text, "health_check.yaml").map_err(|e| e.to_string())?;
        decode_validated::<HealthCheckConfig>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_listen_on_localhost() {
        let config = decode("").unwrap();
        assert_eq!(config, HealthCheckConfig::default());
        assert_eq!(
            (config.endpoint.as_str(), config.path.as_str()),
            ("localhost:13133", "/")
        );
    }

    #[test]
    fn reads_the_upstream_testdata() {
        let config = decode(
            "endpoint: \"localhost:13\"\ntls:\n  ca_file: \"/path/to/ca\"\n  key_file: \"/path/to/key\"\n  cert_file: \"/path/to/cert\"\n\
             check_collector_pipeline:\n  enabled: false\n  interval: \"5m\"\n  exporter_failure_threshold: 5\n",
        )
        .unwrap();
        assert_eq!(config.endpoint, "localhost:13");
        assert_eq!(config.tls.as_ref().unwrap().cert_file, "/path/to/cert");
        assert_eq!(config.check_collector_pipeline.unwrap().interval, "5m");
        // The threshold is no longer checked: the whole section is ignored upstream.
        assert!(decode("check_collector_pipeline:\n  exporter_failure_threshold: -1\n").is_ok());
        let config =
            decode("response_body:\n  healthy: I'm OK\n  unhealthy: I'm not well\n").unwrap();
        assert_eq!(config.response_body.unwrap().unhealthy, "I'm not well");
    }

    #[test]
    fn refuses_what_otelcol_refuses() {
        assert!(
            decode("endpoint: \"\"\n")
                .unwrap_err()
                .ends_with("http endpoint required")
        );
        assert!(
            decode("path: invalid\n")
                .unwrap_err()
                .ends_with("path must start with /")
        );
        let err = decode("http:\n  endpoint: localhost:13133\n").unwrap_err();
        assert!(
            err.contains("v2 healthcheck configuration (http/grpc fields) detected"),
            "{err}"
        );
        assert!(
            decode("grpc:\n")
                .unwrap_err()
                .contains("v2 healthcheck configuration")
        );
        assert!(
            decode("use_v2: true\n")
                .unwrap_err()
                .ends_with("must specify at least one protocol")
        );
        assert!(
            decode("cors:\n  allowed_origins: ['*']\n")
                .unwrap_err()
                .contains("cors")
        );
        assert!(
            decode("transport: unix\n")
                .unwrap_err()
                .contains("not supported")
        );
    }
}
