//! Test scaffolding several component crates need alike: OTLP requests of a chosen size
//! ([`data`]), a private CA with certificates on disk ([`pki`]), and helpers to start a component
//! from YAML, read its self-metrics and wait for an outcome. For dev-dependencies only.

pub mod data;
pub mod pki;

use std::sync::Arc;
use std::time::Duration;

use ferrotel_core::component::{
    ComponentId, CreateSettings, ExporterFactory, ExtensionFactory, Kind, PipeRef,
};
use ferrotel_core::config::Node;
use ferrotel_core::telemetry::SelfTelemetry;

pub use data::{batch, logs, metrics, request_bytes, traces};
pub use pki::{Leaf, TestPki};

/// Fast retries, so tests do not wait for otelcol's 5 s first interval.
pub const FAST_RETRY: &str = "retry_on_failure:\n  initial_interval: 20ms\n  max_interval: 50ms\n  randomization_factor: 0\n  max_elapsed_time: 10s\n";

/// Settings for a component `id` (e.g. `"otlp_grpc/test"`) of `kind`.
pub fn create_settings(id: &str, kind: Kind, telemetry: &Arc<SelfTelemetry>) -> CreateSettings {
    CreateSettings::new(ComponentId::parse(id).unwrap(), kind, telemetry.clone())
}

/// The exporter `factory` makes from `yaml` under `id` (not started), on a host where the
/// extension `ext_id` was first made by `extension` from `ext_yaml`, as the collector creates
/// extensions before the components that use them.
pub fn create_exporter_with_extension(
    extension: &dyn ExtensionFactory,
    ext_id: &str,
    ext_yaml: &str,
    factory: &dyn ExporterFactory,
    id: &str,
    yaml: &str,
) -> anyhow::Result<(PipeRef, Arc<SelfTelemetry>)> {
    let telemetry = SelfTelemetry::new(&[]);
    let set = create_settings(id, Kind::Exporter, &telemetry);
    let ext_set = CreateSettings {
        id: ComponentId::parse(ext_id).map_err(anyhow::Error::msg)?,
        kind: Kind::Extension,
        ..set.clone()
    };
    extension.create(ext_set, &Node::parse(ext_yaml, "extension.yaml")?)?;
    let exporter = factory.create(set, &Node::parse(yaml, "exporter.yaml")?)?;
    Ok((exporter, telemetry))
}

/// The exporter `factory` makes from `yaml` under `id`, started, with its own self-telemetry.
pub async fn start_exporter(
    factory: &dyn ExporterFactory,
    id: &str,
    yaml: &str,
) -> (PipeRef, Arc<SelfTelemetry>) {
    let telemetry = SelfTelemetry::new(&[]);
    let node = Node::parse(yaml, "test.yaml").unwrap();
    let exporter = factory
        .create(create_settings(id, Kind::Exporter, &telemetry), &node)
        .unwrap();
    exporter.start().await.unwrap();
    (exporter, telemetry)
}

/// The value of self-metric `name` on the series carrying `label` (e.g.
/// `exporter="otlp_grpc/test"`); 0 if never written.
pub fn metric_value(telemetry: &SelfTelemetry, name: &str, label: &str) -> f64 {
    telemetry
        .encode()
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

/// Waits (up to 10 s) until `check` holds; panics naming `what` otherwise.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached within 10s");
}

/// A port on 127.0.0.1 with nothing listening.
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
