//! The `otlp_grpc` factory (deprecated alias `otlp`): one exporter per id, for every signal.

use ferrotel_core::component::{CreateSettings, ExporterFactory, Factory, PipeRef, Stability};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::exporterhelper::{Exporter, ExporterSettings};
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::{DEFAULT_WRITE_BUFFER_SIZE, OtlpGrpcConfig, Target};
use crate::exporter::GrpcSender;

pub struct OtlpExporterFactory;

const SIGNALS: &[(Signal, Stability)] = &[
    (Signal::Traces, Stability::Stable),
    (Signal::Metrics, Stability::Stable),
    (Signal::Logs, Stability::Stable),
];

impl Factory for OtlpExporterFactory {
    fn type_name(&self) -> &'static str {
        "otlp_grpc"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["otlp"]
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<OtlpGrpcConfig>(node).map(|_| ())
    }
}

/// Keys ferrotel reads but does not act on: said once, at creation.
fn warn_unused(id: &str, config: &OtlpGrpcConfig) {
    if config.read_buffer_size != 0 || config.write_buffer_size != DEFAULT_WRITE_BUFFER_SIZE {
        tracing::warn!(exporter = %id, "read_buffer_size and write_buffer_size are accepted but not acted on: HTTP/2 flow control sizes the buffers");
    }
    if config.connection_pool.as_ref().is_some_and(|p| p.size > 1) {
        tracing::warn!(exporter = %id, "connection_pool is accepted but not acted on yet: one HTTP/2 connection carries every call");
    }
    if !config.middlewares.is_empty() {
        tracing::warn!(exporter = %id, "middlewares are accepted but not acted on yet: ferrotel has no middleware extensions");
    }
    if matches!(config.target(), Ok(Target::Unix { .. }))
        && !(config.tls.ca_file.is_empty()
            && config.tls.ca_pem.is_empty()
            && config.tls.cert_file.is_empty()
            && config.tls.cert_pem.is_empty())
    {
        tracing::warn!(exporter = %id, "tls settings are not applied over a unix socket: the connection is plaintext");
    }
}

impl ExporterFactory for OtlpExporterFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<OtlpGrpcConfig>(node)?;
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
        let sender = GrpcSender::new(&config)?;
        Ok(Arc::new(Exporter::new(&set, settings, sender)?))
    }
}
