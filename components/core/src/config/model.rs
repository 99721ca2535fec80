//! The resolved collector config: component sections kept as located nodes (each factory decodes
//! its own), and the `service` section decoded here.

use crate::component::{ComponentId, Kind};
use crate::config::node::{Mark, Node};
use crate::signal::Signal;
use std::fmt;

/// One component's section: its id, where the id was written, and its (possibly null) body.
#[derive(Clone, Debug)]
pub struct ComponentConfig {
    pub id: ComponentId,
    pub mark: Mark,
    pub node: Node,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub receivers: Vec<ComponentConfig>,
    pub processors: Vec<ComponentConfig>,
    pub exporters: Vec<ComponentConfig>,
    pub connectors: Vec<ComponentConfig>,
    pub extensions: Vec<ComponentConfig>,
    pub service: ServiceConfig,
}

impl Config {
    pub fn section(&self, kind: Kind) -> &[ComponentConfig] {
        match kind {
            Kind::Receiver => &self.receivers,
            Kind::Processor => &self.processors,
            Kind::Exporter => &self.exporters,
            Kind::Connector => &self.connectors,
            Kind::Extension => &self.extensions,
        }
    }

    pub fn component(&self, kind: Kind, id: &ComponentId) -> Option<&ComponentConfig> {
        self.section(kind).iter().find(|c| &c.id == id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.signal, name),
            None => write!(f, "{}", self.signal),
        }
    }
}

/// An id in a pipeline's list, with where it was written.
#[derive(Clone, Debug)]
pub struct IdRef {
    pub id: ComponentId,
    pub mark: Mark,
}

#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub id: PipelineId,
    pub mark: Mark,
    pub receivers: Vec<IdRef>,
    pub processors: Vec<IdRef>,
    pub exporters: Vec<IdRef>,
}

#[derive(Clone, Debug, Default)]
pub struct ServiceConfig {
    pub extensions: Vec<IdRef>,
    pub pipelines: Vec<PipelineConfig>,
    pub telemetry: TelemetryConfig,
    /// Where `service.pipelines` (or else `service`) was written, for errors about pipelines as a
    /// whole; `None` when the config has no `service` section.
    pub pipelines_mark: Option<Mark>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `service.telemetry.logs.level`: debug, info, warn, error.
    pub logs_level: String,
    /// `logs.encoding`: console or json.
    pub logs_encoding: String,
    /// `service.telemetry.metrics.level`: none, basic, normal, detailed.
    pub metrics_level: String,
    /// Where the Prometheus endpoint listens (`metrics.readers[].pull.exporter.prometheus`), or none.
    pub metrics_endpoint: Option<String>,
    /// `service.telemetry.resource` attributes, added as labels to every self-metric.
    pub resource: Vec<(String, String)>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            logs_level: "info".into(),
            logs_encoding: "console".into(),
            metrics_level: "normal".into(),
            metrics_endpoint: Some("localhost:8888".into()),
            resource: Vec::new(),
        }
    }
}
