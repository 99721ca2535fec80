//! The `ebpf` receiver factory.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
    every_signal_at,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::receiver::EbpfReceiver;

pub struct EbpfReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Development);

impl Factory for EbpfReceiverFactory {
    fn type_name(&self) -> &'static str {
        "ebpf"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for EbpfReceiverFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    /// One receiver (one set of kernel programs) serves every pipeline that lists it: metrics,
    /// traces (L7 spans) and logs (process events).
    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        next: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<Config>(node)?;
        Ok(Arc::new(EbpfReceiver::new(config, set, next)))
    }
}
