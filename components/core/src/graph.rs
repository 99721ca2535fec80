//! Builds the running collector from a validated config: one instance per receiver, exporter and
//! extension id, one processor chain per pipeline, one connector instance per (id, from, to) pair,
//! joined by fan-outs. Components are created downstream first, which is also a safe start order;
//! shutdown runs it backwards, so receivers stop first and every buffer drains into a live consumer.

use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::component::{
    ComponentId, CreateSettings, Host, Kind, Lifecycle, PipeRef, Registry, SignalConsumers,
};
use crate::config::model::{ComponentConfig, Config, PipelineConfig};
use crate::consumer::{ConsumerRef, FanOut};
use crate::signal::Signal;
use crate::telemetry::SelfTelemetry;

/// A started component, named for logs.
struct Running {
    label: String,
    component: Arc<dyn Lifecycle>,
}

pub struct Service {
    /// In start order.
    components: Vec<Running>,
    host: Arc<Host>,
}

struct Builder<'a> {
    host: Arc<Host>,
    config: &'a Config,
    registry: &'a Registry,
    telemetry: Arc<SelfTelemetry>,
    exporters: BTreeMap<ComponentId, PipeRef>,
    connectors: BTreeMap<(ComponentId, Signal, Signal), PipeRef>,
    entries: BTreeMap<String, ConsumerRef>,
    building: Vec<String>,
    order: Vec<Running>,
}

impl Service {
    pub fn build(
        config: &Config,
        registry: &Registry,
        telemetry: Arc<SelfTelemetry>,
    ) -> anyhow::Result<Service> {
        let host = Arc::new(Host::default());
        let mut b = Builder {
            host: host.clone(),
            config,
            registry,
            telemetry,
            exporters: BTreeMap::new(),
            connectors: BTreeMap::new(),
            entries: BTreeMap::new(),
            building: Vec::new(),
            order: Vec::new(),
        };
        for ext in &config.service.extensions {
            let section = b.section(Kind::Extension, &ext.id)?;
            let (factory, _) = registry
                .extension(&ext.id.type_name)
                .ok_or_else(|| unknown(Kind::Extension, &ext.id))?;
            let component = factory
                .create(b.settings(Kind::Extension, &ext.id), &section.node)
                .with_context(|| format!("failed to create extension {:?}", ext.id.to_string()))?;
            b.order.push(Running {
                label: format!("extension {}", ext.id),
                component,
            });
        }
        for pipeline in &config.service.pipelines {
            b.pipeline_entry(pipeline)?;
        }
        b.build_receivers()?;
        Ok(Service {
            components: b.order,
            host,
        })
    }

    pub fn host(&self) -> Arc<Host> {
        self.host.clone()
    }

    /// Starts everything downstream first; on a failure stops what had started and returns the error.
    pub async fn start(&self) -> anyhow::Result<()> {
        for (started, running) in self.components.iter().enumerate() {
            if let Err(error) = running.component.start().await {
                for earlier in self.components[..started].iter().rev() {
                    let _ = earlier.component.shutdown().await;
                }
                return Err(error.context(format!("failed to start {}", running.label)));
            }
            tracing::debug!(component = %running.label, "started");
        }
        self.host.set_ready(true);
        Ok(())
    }

    /// Stops receivers first and exporters last, each within what is left of `budget`.
    pub async fn shutdown(&self, budget: Duration) {
        self.host.set_ready(false);
        let deadline = Instant::now() + budget;
        for running in self.components.iter().rev() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, running.component.shutdown()).await {
                Ok(Ok(())) => tracing::debug!(component = %running.label, "stopped"),
                Ok(Err(error)) => {
                    tracing::warn!(component = %running.label, "shutdown failed: {error:#}")
                }
                Err(_) => {
                    tracing::warn!(component = %running.label, "shutdown did not finish within the shutdown timeout")
                }
            }
        }
    }
}

fn unknown(kind: Kind, id: &ComponentId) -> anyhow::Error {
    anyhow!(
        "{kind} {:?}: unknown type {:?}",
        id.to_string(),
        id.type_name
    )
}

impl Builder<'_> {
    fn settings(&self, kind: Kind, id: &ComponentId) -> CreateSettings {
        CreateSettings {
            id: id.clone(),
            kind,
            telemetry: self.telemetry.clone(),
            host: self.host.clone(),
        }
    }

    fn section(&self, kind: Kind, id: &ComponentId) -> anyhow::Result<&ComponentConfig> {
        self.config
            .component(kind, id)
            .ok_or_else(|| anyhow!("{kind} {:?} is not configured", id.to_string()))
    }

    fn is_connector(&self, id: &ComponentId) -> bool {
        self.config.component(Kind::Connector, id).is_some()
    }

    /// The consumer at the head of a pipeline: its first processor, or the fan-out to its exporters.
    fn pipeline_entry(&mut self, pipeline: &PipelineConfig) -> anyhow::Result<ConsumerRef> {
        let key = pipeline.id.to_string();
        if let Some(entry) = self.entries.get(&key) {
            return Ok(entry.clone());
        }
        if self.building.contains(&key) {
            return Err(anyhow!("cycle detected through pipeline {key}"));
        }
        self.building.push(key.clone());
        let signal = pipeline.id.signal;
        let mut outputs = Vec::new();
        for exporter in &pipeline.exporters {
            if self.is_connector(&exporter.id) {
                outputs.extend(self.connector_outputs(&exporter.id, signal)?);
            } else {
                outputs.push(self.exporter(&exporter.id)? as ConsumerRef);
            }
        }
        let mut next = FanOut::build(outputs);
        for processor in pipeline.processors.iter().rev() {
            let section = self.section(Kind::Processor, &processor.id)?;
            let (factory, _) = self
                .registry
                .processor(&processor.id.type_name)
                .ok_or_else(|| unknown(Kind::Processor, &processor.id))?;
            let created = factory
                .create(
                    self.settings(Kind::Processor, &processor.id),
                    &section.node,
                    signal,
                    next,
                )
                .with_context(|| {
                    format!(
                        "failed to create processor {:?} in pipeline {key}",
                        processor.id.to_string()
                    )
                })?;
            self.order.push(Running {
                label: format!("processor {} in pipeline {key}", processor.id),
                component: created.clone(),
            });
            next = created;
        }
        self.building.pop();
        self.entries.insert(key, next.clone());
        Ok(next)
    }

    fn exporter(&mut self, id: &ComponentId) -> anyhow::Result<PipeRef> {
        if let Some(existing) = self.exporters.get(id) {
            return Ok(existing.clone());
        }
        let section = self.section(Kind::Exporter, id)?;
        let (factory, _) = self
            .registry
            .exporter(&id.type_name)
            .ok_or_else(|| unknown(Kind::Exporter, id))?;
        let created = factory
            .create(self.settings(Kind::Exporter, id), &section.node)
            .with_context(|| format!("failed to create exporter {:?}", id.to_string()))?;
        self.order.push(Running {
            label: format!("exporter {id}"),
            component: created.clone(),
        });
        self.exporters.insert(id.clone(), created.clone());
        Ok(created)
    }

    /// A connector used as an exporter of `from` data: one instance per signal it feeds.
    fn connector_outputs(
        &mut self,
        id: &ComponentId,
        from: Signal,
    ) -> anyhow::Result<Vec<ConsumerRef>> {
        let downstream: Vec<&PipelineConfig> = self
            .config
            .service
            .pipelines
            .iter()
            .filter(|p| p.receivers.iter().any(|r| &r.id == id))
            .collect();
        let mut outputs = Vec::new();
        for to in Signal::ALL {
            let targets: Vec<&PipelineConfig> = downstream
                .iter()
                .copied()
                .filter(|p| p.id.signal == to)
                .collect();
            if targets.is_empty() {
                continue;
            }
            let key = (id.clone(), from, to);
            if let Some(existing) = self.connectors.get(&key) {
                outputs.push(existing.clone() as ConsumerRef);
                continue;
            }
            let (factory, _) = self
                .registry
                .connector(&id.type_name)
                .ok_or_else(|| unknown(Kind::Connector, id))?;
            if !factory
                .pairs()
                .iter()
                .any(|(f, t, _)| *f == from && *t == to)
            {
                continue;
            }
            let mut nexts = Vec::new();
            for target in targets {
                nexts.push(self.pipeline_entry(target)?);
            }
            let section = self.section(Kind::Connector, id)?;
            let created = factory
                .create(
                    self.settings(Kind::Connector, id),
                    &section.node,
                    from,
                    to,
                    FanOut::build(nexts),
                )
                .with_context(|| {
                    format!(
                        "failed to create connector {:?} ({from} to {to})",
                        id.to_string()
                    )
                })?;
            self.order.push(Running {
                label: format!("connector {id} ({from} to {to})"),
                component: created.clone(),
            });
            self.connectors.insert(key, created.clone());
            outputs.push(created);
        }
        Ok(outputs)
    }

    fn build_receivers(&mut self) -> anyhow::Result<()> {
        let mut wiring: BTreeMap<ComponentId, BTreeMap<Signal, Vec<ConsumerRef>>> = BTreeMap::new();
        for pipeline in &self.config.service.pipelines {
            let entry = self.entries[&pipeline.id.to_string()].clone();
            for receiver in &pipeline.receivers {
                if self.is_connector(&receiver.id) {
                    continue;
                }
                wiring
                    .entry(receiver.id.clone())
                    .or_default()
                    .entry(pipeline.id.signal)
                    .or_default()
                    .push(entry.clone());
            }
        }
        for (id, per_signal) in wiring {
            let mut consumers = SignalConsumers::default();
            for (signal, entries) in per_signal {
                consumers.set(signal, FanOut::build(entries));
            }
            let section = self.section(Kind::Receiver, &id)?;
            let (factory, _) = self
                .registry
                .receiver(&id.type_name)
                .ok_or_else(|| unknown(Kind::Receiver, &id))?;
            let created = factory
                .create(self.settings(Kind::Receiver, &id), &section.node, consumers)
                .with_context(|| format!("failed to create receiver {:?}", id.to_string()))?;
            self.order.push(Running {
                label: format!("receiver {id}"),
                component: created,
            });
        }
        Ok(())
    }
}
