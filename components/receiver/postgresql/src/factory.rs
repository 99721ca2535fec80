//! The `postgresql` receiver factory: metrics only, at otelcol's Beta.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::scraperhelper::{BuilderSpec, Controller, ScraperReceiver, Toggle};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::metadata::{DEFS, LOCK_WAIT, SCOPE, TOP_QUERY_METRICS, UP};
use crate::scraper::PostgresqlScraper;

pub struct PostgresqlReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &[(Signal::Metrics, Stability::Beta)];

impl Factory for PostgresqlReceiverFactory {
    fn type_name(&self) -> &'static str {
        "postgresql"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for PostgresqlReceiverFactory {
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
        let ignored = config.ignored_sections();
        if !ignored.is_empty() {
            tracing::warn!(
                receiver = %set.id,
                "accepted for compatibility but not acted on by ferrotel: {}",
                ignored.join(", ")
            );
        }
        let controller = Controller {
            collection_interval: *config.collection_interval,
            initial_delay: *config.initial_delay,
            timeout: config.effective_timeout(),
        };
        let mut metrics = config.metrics.clone();
        // the sections switch their metrics on; an explicit `metrics:` toggle still wins
        let mut switch_on = |name: &str| {
            metrics
                .entry(name.to_string())
                .or_insert(Toggle { enabled: true });
        };
        if config.top_queries.enabled {
            TOP_QUERY_METRICS.iter().for_each(|m| switch_on(m));
        }
        if config.lock_waits.enabled {
            switch_on(LOCK_WAIT);
        }
        let scraper = PostgresqlScraper::new(&config)?;
        let spec = BuilderSpec {
            scope: SCOPE,
            defs: DEFS,
            metrics,
            resource_attributes: config.resource_attributes.clone(),
            up_metric: Some(UP),
        };
        Ok(Arc::new(ScraperReceiver::new(
            set, next, controller, spec, scraper,
        )))
    }
}
