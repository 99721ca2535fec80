//! The `otlp_http` factory (deprecated alias `otlphttp`): one exporter per id, for every signal.

use ferrotel_core::component::{CreateSettings, ExporterFactory, Factory, PipeRef, Stability};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::exporterhelper::{Exporter, ExporterSettings};
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::{DEFAULT_WRITE_BUFFER_SIZE, OtlpHttpConfig};
use crate::exporter::HttpSender;

pub struct OtlpHttpExporterFactory;

const SIGNALS: &[(Signal, Stability)] = &[
    (Signal::Traces, Stability::Stable),
    (Signal::Metrics, Stability::Stable),
    (Signal::Logs, Stability::Stable),
];

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
    let unused = [
        (
            !config.profiles_endpoint.is_empty(),
            "profiles_endpoint (ferrotel carries no profiles)",
        ),
        (
            config.read_buffer_size != 0 || config.write_buffer_size != DEFAULT_WRITE_BUFFER_SIZE,
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
    ];
    for (set, key) in unused {
        if set {
            tracing::warn!(exporter = %id, "{key} is accepted but not acted on yet");
        }
    }
}

impl ExporterFactory for OtlpHttpExporterFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<OtlpHttpConfig>(node)?;
        let id = set.id.to_string();
        if let Some(auth) = &config.auth {
            anyhow::bail!(
                "auth::authenticator {:?}: client authenticator extensions are not available in ferrotel yet; send credentials with `headers` instead",
                auth.authenticator
            );
        }
        warn_unused(&id, &config);
        let settings = ExporterSettings {
            timeout: config.timeout.0,
            queue: config.sending_queue.clone(),
            retry: config.retry_on_failure.clone(),
            ..ExporterSettings::default()
        };
        let sender = HttpSender::new(&config)?;
        Ok(Arc::new(Exporter::new(&set, settings, sender)?))
    }
}
