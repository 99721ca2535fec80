//! The `otlp_grpc` factory (deprecated alias `otlp`): one exporter per id, for every signal.

use ferrotel_core::component::{
    CreateSettings, ExporterFactory, Factory, PipeRef, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::exporterhelper::{
    Exporter, ExporterSettings, client_authenticator, warn_inactive_keys,
};
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::{DEFAULT_WRITE_BUFFER_SIZE, OtlpGrpcConfig, Target};
use crate::exporter::GrpcSender;

pub struct OtlpExporterFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Stable);

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
    warn_inactive_keys(
        id,
        &[
            (
                config.read_buffer_size != 0
                    || config.write_buffer_size != DEFAULT_WRITE_BUFFER_SIZE,
                "read_buffer_size / write_buffer_size (HTTP/2 flow control sizes the buffers)",
            ),
            (
                config.connection_pool.as_ref().is_some_and(|p| p.size > 1),
                "connection_pool (one HTTP/2 connection carries every call)",
            ),
            (
                !config.middlewares.is_empty(),
                "middlewares (ferrotel has no middleware extensions)",
            ),
        ],
    );
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
        let auth = client_authenticator(&set.host, config.auth.as_ref())?;
        warn_unused(&set.id.to_string(), &config);
        let settings = ExporterSettings::from_config(
            config.timeout,
            &config.sending_queue,
            &config.retry_on_failure,
        );
        let sender = GrpcSender::new(&config, auth)?;
        Ok(Arc::new(Exporter::new(&set, settings, sender)?))
    }
}
