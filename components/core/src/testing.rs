//! Test factories, like otelcol's `*test.NewNopFactory`: a `nop` component of every kind whose
//! config must be empty, for config and graph tests. [`NopFactory`] can take another name, fewer
//! signals or connector pairs, deprecated aliases, and any settings, to stand in for any component.

use async_trait::async_trait;
use std::sync::Arc;

use crate::component::{
    ConnectorFactory, CreateSettings, ExporterFactory, ExtensionFactory, Factory, Lifecycle,
    PipeRef, ProcessorFactory, ReceiverFactory, Registry, SignalConsumers, Stability,
    every_signal_at,
};
use crate::config::{ConfigError, Node, Validate, decode, decode_validated};
use crate::consumer::{ConsumeError, Consumer, ConsumerRef};
use crate::signal::{Signal, Telemetry};

pub const ALL_SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Stable);

/// Every (from, to) signal pair.
pub const ALL_PAIRS: &[(Signal, Signal, Stability)] = &[
    (Signal::Traces, Signal::Traces, Stability::Stable),
    (Signal::Traces, Signal::Metrics, Stability::Stable),
    (Signal::Traces, Signal::Logs, Stability::Stable),
    (Signal::Metrics, Signal::Traces, Stability::Stable),
    (Signal::Metrics, Signal::Metrics, Stability::Stable),
    (Signal::Metrics, Signal::Logs, Stability::Stable),
    (Signal::Logs, Signal::Traces, Stability::Stable),
    (Signal::Logs, Signal::Metrics, Stability::Stable),
    (Signal::Logs, Signal::Logs, Stability::Stable),
];

/// A factory of components that do nothing: receivers never emit, processors and same-signal
/// connectors pass data on, exporters and cross-signal connectors drop it.
#[derive(Clone, Copy, Debug)]
pub struct NopFactory {
    type_name: &'static str,
    signals: &'static [(Signal, Stability)],
    pairs: &'static [(Signal, Signal, Stability)],
    aliases: &'static [&'static str],
    any_settings: bool,
}

impl NopFactory {
    /// Supports every signal and every connector pair.
    pub const fn new(type_name: &'static str) -> Self {
        NopFactory {
            type_name,
            signals: ALL_SIGNALS,
            pairs: ALL_PAIRS,
            aliases: &[],
            any_settings: false,
        }
    }

    pub const fn with_signals(mut self, signals: &'static [(Signal, Stability)]) -> Self {
        self.signals = signals;
        self
    }

    pub const fn with_pairs(mut self, pairs: &'static [(Signal, Signal, Stability)]) -> Self {
        self.pairs = pairs;
        self
    }

    pub const fn with_aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Accepts any map of settings, to stand in for a real component in a config test.
    pub const fn with_any_settings(mut self) -> Self {
        self.any_settings = true;
        self
    }
}

/// A nop component takes no settings.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct NopConfig {}

impl Validate for NopConfig {}

impl Factory for NopFactory {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }
    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        if self.any_settings {
            return decode::<serde_json::Map<String, serde_json::Value>>(node).map(|_| ());
        }
        decode_validated::<NopConfig>(node).map(|_| ())
    }
}

struct Idle;

impl Lifecycle for Idle {}

/// Passes data to the next consumer unchanged.
struct Forward(ConsumerRef);

impl Lifecycle for Forward {}

#[async_trait]
impl Consumer for Forward {
    async fn consume(&self, data: Telemetry) -> Result<(), ConsumeError> {
        self.0.consume(data).await
    }
}

/// Accepts and drops.
struct Sink;

impl Lifecycle for Sink {}

#[async_trait]
impl Consumer for Sink {
    async fn consume(&self, _data: Telemetry) -> Result<(), ConsumeError> {
        Ok(())
    }
}

impl ReceiverFactory for NopFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        self.signals
    }
    fn create(
        &self,
        _: CreateSettings,
        _: &Node,
        _: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        Ok(Arc::new(Idle))
    }
}

impl ProcessorFactory for NopFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        self.signals
    }
    fn create(
        &self,
        _: CreateSettings,
        _: &Node,
        _: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        Ok(Arc::new(Forward(next)))
    }
}

impl ExporterFactory for NopFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        self.signals
    }
    fn create(&self, _: CreateSettings, _: &Node) -> anyhow::Result<PipeRef> {
        Ok(Arc::new(Sink))
    }
}

impl ConnectorFactory for NopFactory {
    fn pairs(&self) -> &'static [(Signal, Signal, Stability)] {
        self.pairs
    }
    fn create(
        &self,
        _: CreateSettings,
        _: &Node,
        from: Signal,
        to: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef> {
        // Data of one signal cannot enter a pipeline of another: a cross-signal nop drops it.
        if from == to {
            Ok(Arc::new(Forward(next)))
        } else {
            Ok(Arc::new(Sink))
        }
    }
}

impl ExtensionFactory for NopFactory {
    fn stability(&self) -> Stability {
        Stability::Stable
    }
    fn create(&self, _: CreateSettings, _: &Node) -> anyhow::Result<Arc<dyn Lifecycle>> {
        Ok(Arc::new(Idle))
    }
}

/// `nop` of every kind: receiver, processor and exporter for all signals, a connector for every
/// signal pair, and an extension.
pub fn nop_registry() -> Registry {
    let nop = Arc::new(NopFactory::new("nop"));
    Registry {
        receivers: vec![nop.clone()],
        processors: vec![nop.clone()],
        exporters: vec![nop.clone()],
        connectors: vec![nop.clone()],
        extensions: vec![nop],
    }
}
