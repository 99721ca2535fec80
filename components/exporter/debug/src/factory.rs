//! The `debug` factory: one exporter per id, for every signal.

use ferrotel_core::component::{
    CreateSettings, ExporterFactory, Factory, PipeRef, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::DebugConfig;
use crate::exporter::DebugExporter;

pub struct DebugExporterFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Alpha);

impl Factory for DebugExporterFactory {
    fn type_name(&self) -> &'static str {
        "debug"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<DebugConfig>(node).map(|_| ())
    }
}

impl ExporterFactory for DebugExporterFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<DebugConfig>(node)?;
        let id = set.id.to_string();
        if config.sending_queue.is_some() {
            tracing::warn!(
                exporter = %id,
                "sending_queue is accepted but not acted on: the debug exporter writes each batch as it arrives"
            );
        }
        let metrics = set.telemetry.exporter(&set.id);
        Ok(Arc::new(DebugExporter::new(id, &config, metrics)?))
    }
}
