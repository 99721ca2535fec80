//! Component ids, kinds, lifecycles and factories: the contract every component crate implements.

use anyhow::Context;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;

use crate::auth::{ClientAuthenticator, ServerAuthenticator};
use crate::config::{ConfigError, Node};
use crate::consumer::{Consumer, ConsumerRef};
use crate::signal::Signal;
use crate::storage::Storage;
use crate::telemetry::SelfTelemetry;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Connector,
    Extension,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Connector,
        Kind::Extension,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }

    /// The top-level config section, e.g. `receivers`.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `type[/name]`, as otelcol spells component ids (`otlp`, `otlp/2`, `batch/traces`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub type_name: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn new(type_name: impl Into<String>, name: Option<&str>) -> Self {
        ComponentId {
            type_name: type_name.into(),
            name: name.map(str::to_owned),
        }
    }

    /// Parses `type[/name]`, trimming blanks around each part as otelcol does.
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (type_part, name_part) = match s.split_once('/') {
            Some((t, n)) => (t.trim(), Some(n.trim())),
            None => (s.trim(), None),
        };
        if type_part.is_empty() {
            return Err(format!("id {s:?}: the part before / should not be empty"));
        }
        if !type_part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "id {s:?}: invalid character(s) in type {type_part:?}"
            ));
        }
        if name_part.is_some_and(str::is_empty) {
            return Err(format!("id {s:?}: the part after / should not be empty"));
        }
        Ok(ComponentId::new(type_part, name_part))
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.type_name, name),
            None => f.write_str(&self.type_name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    Development,
    Alpha,
    Beta,
    Stable,
    Deprecated,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Development => "Development",
            Stability::Alpha => "Alpha",
            Stability::Beta => "Beta",
            Stability::Stable => "Stable",
            Stability::Deprecated => "Deprecated",
        }
    }
}

/// Every signal at one stability, for a component that handles all three alike:
/// `const SIGNALS: &[(Signal, Stability)] = &every_signal_at(Stability::Beta);`
pub const fn every_signal_at(stability: Stability) -> [(Signal, Stability); 3] {
    [
        (Signal::Traces, stability),
        (Signal::Metrics, stability),
        (Signal::Logs, stability),
    ]
}

/// What a component needs when it is created.
#[derive(Clone)]
pub struct CreateSettings {
    pub id: ComponentId,
    pub kind: Kind,
    pub telemetry: Arc<SelfTelemetry>,
    /// The collector: readiness, and the extensions created before this component.
    pub host: Arc<Host>,
}

impl CreateSettings {
    /// Settings with a host of their own (no extensions): for tests and tools.
    pub fn new(id: ComponentId, kind: Kind, telemetry: Arc<SelfTelemetry>) -> Self {
        CreateSettings {
            id,
            kind,
            telemetry,
            host: Arc::new(Host::default()),
        }
    }
}

/// Start and stop. `shutdown` drains what the component holds (a batch, a queue) and returns.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    async fn start(&self) -> anyhow::Result<()> {
        Ok(())
    }
    async fn shutdown(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Processors, exporters and connectors (on their exporter side) are consumers with a lifecycle.
pub trait Pipe: Consumer + Lifecycle {}
impl<T: Consumer + Lifecycle> Pipe for T {}

pub type PipeRef = Arc<dyn Pipe>;

/// Where a receiver sends each signal: the fan-out into every pipeline that lists it.
#[derive(Clone, Default)]
pub struct SignalConsumers {
    pub traces: Option<ConsumerRef>,
    pub metrics: Option<ConsumerRef>,
    pub logs: Option<ConsumerRef>,
}

impl SignalConsumers {
    pub fn get(&self, signal: Signal) -> Option<&ConsumerRef> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }

    pub fn set(&mut self, signal: Signal, consumer: ConsumerRef) {
        match signal {
            Signal::Traces => self.traces = Some(consumer),
            Signal::Metrics => self.metrics = Some(consumer),
            Signal::Logs => self.logs = Some(consumer),
        }
    }
}

/// Shared by every factory: its type name, deprecated aliases and how to check a config section.
pub trait Factory: Send + Sync {
    fn type_name(&self) -> &'static str;

    /// Older names still accepted, with a deprecation warning (otelcol's `otlp` → `otlp_grpc`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Decodes and validates the component's config section; `node` is null when the section is
    /// empty. The error names the key, the line and what was expected.
    fn validate(&self, node: &Node) -> Result<(), ConfigError>;
}

pub trait ReceiverFactory: Factory {
    fn signals(&self) -> &'static [(Signal, Stability)];
    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        next: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>>;
}

pub trait ProcessorFactory: Factory {
    fn signals(&self) -> &'static [(Signal, Stability)];
    /// One instance per pipeline, as in otelcol.
    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        signal: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef>;
}

pub trait ExporterFactory: Factory {
    fn signals(&self) -> &'static [(Signal, Stability)];
    /// One instance per exporter id, shared by every pipeline that lists it, whatever their signals.
    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<PipeRef>;
}

pub trait ConnectorFactory: Factory {
    /// (from, to, stability): the signal pairs this connector joins.
    fn pairs(&self) -> &'static [(Signal, Signal, Stability)];
    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        from: Signal,
        to: Signal,
        next: ConsumerRef,
    ) -> anyhow::Result<PipeRef>;
}

pub trait ExtensionFactory: Factory {
    fn stability(&self) -> Stability;
    /// An extension that serves other components (storage, authentication) registers what it
    /// offers with `set.host.register_extension` here, before any of them is created.
    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<Arc<dyn Lifecycle>>;
}

/// What an extension offers other components, which find it by the extension's id.
#[derive(Clone, Default)]
pub struct ExtensionServices {
    pub storage: Option<Arc<dyn Storage>>,
    pub server_auth: Option<Arc<dyn ServerAuthenticator>>,
    pub client_auth: Option<Arc<dyn ClientAuthenticator>>,
}

/// What the collector tells components about itself, and the services its extensions offer.
#[derive(Default)]
pub struct Host {
    extensions: std::sync::RwLock<std::collections::BTreeMap<ComponentId, ExtensionServices>>,
    ready: std::sync::atomic::AtomicBool,
    /// When the collector last became ready; reported by the health_check extension (`upSince`).
    ready_since: std::sync::Mutex<Option<std::time::SystemTime>>,
}

impl Host {
    /// Called by an extension's factory for the services it offers.
    pub fn register_extension(&self, id: &ComponentId, services: ExtensionServices) {
        self.extensions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.clone(), services);
    }

    fn service<T: ?Sized>(
        &self,
        name: &str,
        what: &str,
        pick: impl Fn(&ExtensionServices) -> Option<Arc<T>>,
    ) -> anyhow::Result<Arc<T>> {
        let id = ComponentId::parse(name).map_err(anyhow::Error::msg)?;
        let extensions = self
            .extensions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match extensions.get(&id) {
            Some(services) => pick(services)
                .ok_or_else(|| anyhow::anyhow!("extension {name:?} is not a {what} extension")),
            None => Err(anyhow::anyhow!(
                "{what} extension {name:?} not found: it must be configured under `extensions` and listed in `service::extensions`"
            )),
        }
    }

    /// The storage extension `name` (e.g. `file_storage/queue`).
    pub fn storage(&self, name: &str) -> anyhow::Result<Arc<dyn Storage>> {
        self.service(name, "storage", |s| s.storage.clone())
    }

    /// The server authenticator `name`, for a receiver's `auth.authenticator`.
    pub fn server_authenticator(&self, name: &str) -> anyhow::Result<Arc<dyn ServerAuthenticator>> {
        self.service(name, "server authenticator", |s| s.server_auth.clone())
            .with_context(|| format!("failed to resolve authenticator {name:?}"))
    }

    /// The client authenticator `name`, for an exporter's `auth.authenticator`.
    pub fn client_authenticator(&self, name: &str) -> anyhow::Result<Arc<dyn ClientAuthenticator>> {
        self.service(name, "client authenticator", |s| s.client_auth.clone())
            .with_context(|| format!("failed to resolve authenticator {name:?}"))
    }

    pub fn set_ready(&self, ready: bool) {
        let mut since = self
            .ready_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match (
            self.ready.swap(ready, std::sync::atomic::Ordering::SeqCst),
            ready,
        ) {
            (false, true) => *since = Some(std::time::SystemTime::now()),
            (_, false) => *since = None,
            (true, true) => {}
        }
    }

    /// When the collector became ready, while it is.
    pub fn ready_since(&self) -> Option<std::time::SystemTime> {
        *self
            .ready_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True once every pipeline has started, false again from the start of shutdown.
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The factories a binary ships (otelcol's `components.go`).
#[derive(Default, Clone)]
pub struct Registry {
    pub receivers: Vec<Arc<dyn ReceiverFactory>>,
    pub processors: Vec<Arc<dyn ProcessorFactory>>,
    pub exporters: Vec<Arc<dyn ExporterFactory>>,
    pub connectors: Vec<Arc<dyn ConnectorFactory>>,
    pub extensions: Vec<Arc<dyn ExtensionFactory>>,
}

fn find<'a, F: Factory + ?Sized>(
    list: &'a [Arc<F>],
    type_name: &str,
) -> Option<(&'a Arc<F>, bool)> {
    list.iter().find_map(|f| {
        if f.type_name() == type_name {
            Some((f, false))
        } else if f.aliases().contains(&type_name) {
            Some((f, true))
        } else {
            None
        }
    })
}

impl Registry {
    /// Looks a type up; the flag says it was found under a deprecated alias.
    pub fn receiver(&self, type_name: &str) -> Option<(&Arc<dyn ReceiverFactory>, bool)> {
        find(&self.receivers, type_name)
    }
    pub fn processor(&self, type_name: &str) -> Option<(&Arc<dyn ProcessorFactory>, bool)> {
        find(&self.processors, type_name)
    }
    pub fn exporter(&self, type_name: &str) -> Option<(&Arc<dyn ExporterFactory>, bool)> {
        find(&self.exporters, type_name)
    }
    pub fn connector(&self, type_name: &str) -> Option<(&Arc<dyn ConnectorFactory>, bool)> {
        find(&self.connectors, type_name)
    }
    pub fn extension(&self, type_name: &str) -> Option<(&Arc<dyn ExtensionFactory>, bool)> {
        find(&self.extensions, type_name)
    }

    /// The factory of any kind, as its shared `Factory` face (for config validation).
    pub fn factory(&self, kind: Kind, type_name: &str) -> Option<(&dyn Factory, bool)> {
        fn up<F: Factory + ?Sized>(f: Option<(&Arc<F>, bool)>) -> Option<(&dyn Factory, bool)>
        where
            Arc<F>: Factory,
        {
            f.map(|(f, alias)| (f as &dyn Factory, alias))
        }
        match kind {
            Kind::Receiver => up(self.receiver(type_name)),
            Kind::Processor => up(self.processor(type_name)),
            Kind::Exporter => up(self.exporter(type_name)),
            Kind::Connector => up(self.connector(type_name)),
            Kind::Extension => up(self.extension(type_name)),
        }
    }

    /// Every type name of a kind, aliases included, sorted: for "valid values" and "did you mean".
    pub fn type_names(&self, kind: Kind) -> Vec<&'static str> {
        fn names<F: Factory + ?Sized>(list: &[Arc<F>]) -> Vec<&'static str> {
            list.iter()
                .flat_map(|f| std::iter::once(f.type_name()).chain(f.aliases().iter().copied()))
                .collect()
        }
        let mut all = match kind {
            Kind::Receiver => names(&self.receivers),
            Kind::Processor => names(&self.processors),
            Kind::Exporter => names(&self.exporters),
            Kind::Connector => names(&self.connectors),
            Kind::Extension => names(&self.extensions),
        };
        all.sort_unstable();
        all
    }
}

impl<F: Factory + ?Sized> Factory for Arc<F> {
    fn type_name(&self) -> &'static str {
        (**self).type_name()
    }
    fn aliases(&self) -> &'static [&'static str] {
        (**self).aliases()
    }
    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        (**self).validate(node)
    }
}
