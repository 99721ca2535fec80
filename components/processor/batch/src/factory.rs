//! The `batch` factory: one processor per pipeline, as otelcol creates one.

use ferrotel_core::component::{
    CreateSettings, Factory, PipeRef, ProcessorFactory, Stability, every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::consumer::ConsumerRef;
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::BatchConfig;
use crate::processor::BatchProcessor;

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
        // CreateSettings names no pipeline; the processor id stands in for it in metric labels.
        let metrics = set.telemetry.processor(&set.id, &id);
        Ok(Arc::new(BatchProcessor::new(
            signal, &config, next, metrics, id,
        )))
    }
}
