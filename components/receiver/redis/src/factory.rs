//! The `redis` receiver factory: metrics only, at otelcol's Beta.

use std::sync::Arc;

use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, SignalConsumers, Stability,
};
use ferrotel_core::config::{ConfigError, Node, decode_validated};
use ferrotel_core::scraperhelper::{BuilderSpec, Controller, ScraperReceiver};
use ferrotel_core::signal::Signal;

use crate::config::Config;
use crate::metadata::{CATALOG, DEFS, SCOPE, UP};
use crate::scraper::RedisScraper;

pub struct RedisReceiverFactory;

const SIGNALS: &[(Signal, Stability)] = &[(Signal::Metrics, Stability::Beta)];

/// The metrics only `INFO all` answers (command and latency stats).
const COMMAND_STATS_METRICS: &[&str] = &["redis.cmd.calls", "redis.cmd.usec", "redis.cmd.latency"];

impl Factory for RedisReceiverFactory {
    fn type_name(&self) -> &'static str {
        "redis"
    }

    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<Config>(node).map(|_| ())
    }
}

impl ReceiverFactory for RedisReceiverFactory {
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
        let controller = Controller {
            collection_interval: *config.collection_interval,
            initial_delay: *config.initial_delay,
            timeout: *config.timeout,
        };
        let want_command_stats = COMMAND_STATS_METRICS
            .iter()
            .any(|m| CATALOG.metric_enabled(&config.metrics, m));
        let scraper = RedisScraper::new(&config, want_command_stats)?;
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
