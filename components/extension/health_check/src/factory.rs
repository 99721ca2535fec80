//! The `health_check` factory.

use ferrotel_core::component::{CreateSettings, ExtensionFactory, Factory, Lifecycle, Stability};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use std::sync::Arc;

use crate::config::HealthCheckConfig;
use crate::server::HealthCheckExtension;

pub struct HealthCheckExtensionFactory;

impl Factory for HealthCheckExtensionFactory {
    fn type_name(&self) -> &'static str {
        "health_check"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<HealthCheckConfig>(node).map(|_| ())
    }
}

impl ExtensionFactory for HealthCheckExtensionFactory {
    fn stability(&self) -> Stability {
        Stability::Beta
    }

    fn create(&self, set: CreateSettings, node: &Node) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<HealthCheckConfig>(node)?;
        let id = set.id.to_string();
        if config.check_collector_pipeline.is_some() {
            tracing::warn!(
                extension = %id,
                "check_collector_pipeline is deprecated and ignored, as in otelcol-contrib: \
                 the health check reports whether the pipelines are running"
            );
        }
        if config.component_health.is_some() {
            tracing::warn!(extension = %id, "component_health is a health check v2 setting and is ignored");
        }
        Ok(Arc::new(HealthCheckExtension::new(
            id,
            config,
            set.host.clone(),
        )))
    }
}
