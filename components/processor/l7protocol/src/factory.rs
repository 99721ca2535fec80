//! The `l7protocol` factory: one processor per pipeline, for traces only.

use ferrotel_core::component::{CreateSettings, Factory, PipeRef, ProcessorFactory, Stability};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::consumer::ConsumerRef;
use ferrotel_core::signal::Signal;
use std::sync::Arc;

use crate::config::L7ProtocolConfig;
use crate::processor::L7ProtocolProcessor;

pub struct L7ProtocolProcessorFactory;

const SIGNALS: &[(Signal, Stability)] = &[(Signal::Traces, Stability::Alpha)];

impl Factory for L7ProtocolProcessorFactory {
    fn type_name(&self) -> &'static str {
        "l7protocol"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<L7ProtocolConfig>(node).map(|_| ())
    }
}

impl ProcessorFactory for L7ProtocolProcessorFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        _signal: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        let config = decode_validated::<L7ProtocolConfig>(node)?;
        Ok(Arc::new(L7ProtocolProcessor::new(&set, &config, next)))
    }
}
