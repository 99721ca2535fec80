//! The `mysql` receiver factory: metrics only, at otelcol's Beta.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::scraperhelper::{BuilderSpec, Controller, ScraperReceiver};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::metadata::{DEFS, SCOPE, UP};
use crate::scraper::MysqlScraper;

pub struct MysqlReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &[(Signal::Metrics, Stability::Beta)];

impl Factory for MysqlReceiverFactory {
    fn type_name(&self) -> &'static str {
        "mysql"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for MysqlReceiverFactory {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        SIGNALS
    }

    fn create(
        &self,
        set: CreateSettings,
        node: &Node,
        next: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        let config = decode_validated::<Config>(node)?;
        if config.events.values().any(|t| t.enabled) {
            tracing::warn!(receiver = %set.id, "events: this receiver sends metrics only; the db.server.* log events are not produced");
        }
        let controller = Controller {
            collection_interval: *config.collection_interval,
            initial_delay: *config.initial_delay,
            timeout: config.effective_timeout(),
        };
        let scraper = MysqlScraper::new(&config)?;
        let spec = BuilderSpec {
            scope: SCOPE,
            defs: DEFS,
            metrics: config.metrics.clone(),
            resource_attributes: config.resource_attributes.clone(),
            up_metric: Some(UP),
        };
        Ok(Arc::new(ScraperReceiver::new(
            set, next, controller, spec, scraper,
        )))
    }
}
