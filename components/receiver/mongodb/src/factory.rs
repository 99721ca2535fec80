//! The `mongodb` receiver factory: metrics only, at otelcol's Beta.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::scraperhelper::{BuilderSpec, Controller, ScraperReceiver};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::connect;
use crate::metadata::{DEFS, SCOPE, UP};
use crate::scraper::MongodbScraper;

pub struct MongodbReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &[(Signal::Metrics, Stability::Beta)];

impl Factory for MongodbReceiverFactory {
    fn type_name(&self) -> &'static str {
        "mongodb"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for MongodbReceiverFactory {
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
            tracing::warn!(receiver = %set.id, "events (query samples, a logs signal) are not produced by ferrotel's mongodb receiver");
        }
        let prepared = connect::prepare(&config)?;
        let controller = Controller {
            collection_interval: *config.collection_interval,
            initial_delay: *config.initial_delay,
            timeout: *config.timeout,
        };
        let spec = BuilderSpec {
            scope: SCOPE,
            defs: DEFS,
            metrics: config.metrics.clone(),
            resource_attributes: config.resource_attributes.clone(),
            up_metric: Some(UP),
        };
        let scraper = MongodbScraper::new(prepared, config.password.expose());
        Ok(Arc::new(ScraperReceiver::new(
            set, next, controller, spec, scraper,
        )))
    }
}
