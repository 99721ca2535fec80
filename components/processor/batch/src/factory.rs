//! The `batch` factory: one batcher per pipeline, as otelcol creates one processor per pipeline.

use ferrotel_core::component::{
    CreateSettings, Factory, PipeRef, ProcessorFactory, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::consumer::ConsumerRef;
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::batcher::{BatchProcessor, Limits};
use crate::config::BatchConfig;

pub struct BatchProcessorFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Beta);

impl Factory for BatchProcessorFactory {
    fn type_name(&self) -> &'static str {
        "batch"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<BatchConfig>(node).map(|_| ())
    }
}

impl ProcessorFactory for BatchProcessorFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        signal: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<BatchConfig>(node)?;
        let id = set.id.to_string();
        if !config.metadata_keys.is_empty() {
            tracing::warn!(
                processor = %id,
                metadata_keys = ?config.metadata_keys,
                metadata_cardinality_limit = config.metadata_cardinality_limit,
                "metadata_keys is accepted but not acted on yet: all data goes into one batch"
            );
        }
        // CreateSettings names no pipeline; the processor id stands in for it in metric labels.
        let metrics = set.telemetry.processor(&set.id, &id);
        Ok(Arc::new(BatchProcessor::new(
            signal,
            Limits::from_config(&config),
            next,
            metrics,
            id,
        )))
    }
}
