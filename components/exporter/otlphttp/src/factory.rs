//! The `otlp_http` factory (deprecated alias `otlphttp`): one exporter per id, for every signal.

use ferrotel_core::component::{
    CreateSettings, ExporterFactory, Factory, PipeRef, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::exporterhelper::{
    Exporter, ExporterSettings, client_authenticator, warn_inactive_keys,
};
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::{DEFAULT_WRITE_BUFFER_SIZE, OtlpHttpConfig};
use crate::exporter::HttpSender;

pub struct OtlpHttpExporterFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Stable);

impl Factory for OtlpHttpExporterFactory {
    fn type_name(&self) -> &'static str {
        "otlp_http"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["otlphttp"]
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<OtlpHttpConfig>(node).map(|_| ())
    }
}

/// Keys ferrotel reads but does not act on: said once, at creation.
fn warn_unused(id: &str, config: &OtlpHttpConfig) {
    warn_inactive_keys(
        id,
        &[
            (
                !config.profiles_endpoint.is_empty(),
                "profiles_endpoint (ferrotel carries no profiles)",
            ),
            (
                config.read_buffer_size != 0
                    || config.write_buffer_size != DEFAULT_WRITE_BUFFER_SIZE,
                "read_buffer_size / write_buffer_size",
            ),
            (
                config.max_conns_per_host.is_some_and(|n| n > 0),
                "max_conns_per_host (num_consumers bounds the connections)",
            ),
            (
                config.cookies.as_ref().is_some_and(|c| c.enabled),
                "cookies",
            ),
            (!config.middlewares.is_empty(), "middlewares"),
        ],
    );
}

impl ExporterFactory for OtlpHttpExporterFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<OtlpHttpConfig>(node)?;
        let auth = client_authenticator(&set.host, config.auth.as_ref())?;
        warn_unused(&set.id.to_string(), &config);
        let settings = ExporterSettings::from_config(
            config.timeout,
            &config.sending_queue,
            &config.retry_on_failure,
        );
        let sender = HttpSender::new(&config, auth)?;
        Ok(Arc::new(Exporter::new(&set, settings, sender)?))
    }
}
