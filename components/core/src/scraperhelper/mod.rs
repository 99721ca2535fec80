//! The shared half of every scraping receiver (otelcol's `scraperhelper`): wait `initial_delay`,
//! then every `collection_interval` run the receiver's scraper under `timeout`, hand what it
//! recorded to the metrics pipeline, and say in the log — once per change, not once per scrape —
//! when the target goes down, comes back, or answers only in part. A scrape that fails records
//! `<receiver type>.up` = 0 (ferrotel's own metric; 1 when the target answered), so a dashboard sees
//! the outage too. Credentials never reach these logs: scrapers report errors without them.

mod metrics;
pub mod testing;
pub mod topn;

pub use metrics::{
    Catalog, MetricDef, MetricKind, MetricsBuilder, Number, Toggle, Toggles, Value, key_value,
    validate_toggles,
};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::component::{CreateSettings, Lifecycle, SignalConsumers};
use crate::signal::{Signal, Telemetry};

/// What went wrong with one scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrapeError {
    /// Nothing could be scraped: the target is down, refused the credentials, …
    Down(String),
}

/// What one receiver asks of its target. `scrape` records into the builder; a query that failed
/// while others worked goes into `partial` (the rest is still sent).
#[async_trait]
pub trait Scraper: Send + 'static {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError>;
}

/// Timing shared by every scraping receiver (otelcol's `ControllerConfig`).
#[derive(Debug, Clone)]
pub struct Controller {
    pub collection_interval: Duration,
    pub initial_delay: Duration,
    /// Zero means the collection interval.
    pub timeout: Duration,
}

impl Controller {
    /// otelcol's `ControllerConfig` check.
    pub fn validate_interval(collection_interval: Duration) -> Result<(), String> {
        if collection_interval.is_zero() {
            Err("\"collection_interval\": requires positive value".into())
        } else {
            Ok(())
        }
    }
}

/// A scrape's deadline: `timeout`, or the collection interval when `timeout` is zero.
pub fn scrape_timeout(collection_interval: Duration, timeout: Duration) -> Duration {
    if timeout.is_zero() {
        collection_interval
    } else {
        timeout
    }
}

/// How to build each scrape's metrics.
pub struct BuilderSpec {
    /// The instrumentation scope, e.g. `github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver`.
    pub scope: &'static str,
    pub defs: &'static [MetricDef],
    pub metrics: Toggles,
    pub resource_attributes: Toggles,
    /// `<type>.up`, recorded 1 or 0 on every scrape when the spec lists it.
    pub up_metric: Option<&'static str>,
}

/// A receiver made of a scraper and a controller.
pub struct ScraperReceiver<S: Scraper> {
    set: CreateSettings,
    next: SignalConsumers,
    controller: Controller,
    spec: Arc<BuilderSpec>,
    scraper: Mutex<Option<S>>,
    running: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

impl<S: Scraper> ScraperReceiver<S> {
    pub fn new(
        set: CreateSettings,
        next: SignalConsumers,
        controller: Controller,
        spec: BuilderSpec,
        scraper: S,
    ) -> Self {
        ScraperReceiver {
            set,
            next,
            controller,
            spec: Arc::new(spec),
            scraper: Mutex::new(Some(scraper)),
            running: Mutex::new(None),
        }
    }
}

#[async_trait]
impl<S: Scraper> Lifecycle for ScraperReceiver<S> {
    async fn start(&self) -> anyhow::Result<()> {
        let Some(scraper) = self.scraper.lock().unwrap().take() else {
            anyhow::bail!("{} started twice", self.set.id);
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(
            scraper,
            self.set.clone(),
            self.next.clone(),
            self.controller.clone(),
            self.spec.clone(),
            stopped,
        ));
        *self.running.lock().unwrap() = Some((stop, task));
        Ok(())
    }

    async fn shutdown(&self) -> anyhow::Result<()> {
        let running = self.running.lock().unwrap().take();
        if let Some((stop, task)) = running {
            let _ = stop.send(true);
            let _ = task.await;
        }
        Ok(())
    }
}

fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The target's health as last logged, so that each change is logged once.
#[derive(Debug, PartialEq)]
enum Health {
    Unknown,
    Up,
    Partial(Vec<String>),
    Down(String),
}

async fn run<S: Scraper>(
    mut scraper: S,
    set: CreateSettings,
    next: SignalConsumers,
    controller: Controller,
    spec: Arc<BuilderSpec>,
    mut stopped: watch::Receiver<bool>,
) {
    let id = set.id.to_string();
    let metrics = set.telemetry.receiver(&set.id, "");
    let start_ns = unix_ns();
    tokio::select! {
        _ = tokio::time::sleep(controller.initial_delay) => {}
        _ = stopped.changed() => return,
    }
    let timeout = scrape_timeout(controller.collection_interval, controller.timeout);
    let mut ticks = tokio::time::interval(controller.collection_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut health = Health::Unknown;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        let new_builder = || {
            MetricsBuilder::new(
                spec.scope,
                spec.defs,
                &spec.metrics,
                &spec.resource_attributes,
                start_ns,
                unix_ns(),
            )
        };
        let mut out = new_builder();
        let mut partial = Vec::new();
        // A scrape of an unreachable target can take the whole timeout (a minute by default for
        // mongodb); shutdown must not wait for it, so a stop abandons the scrape in flight.
        // A scraper that panics (a driver's accessor meeting a NULL, say) must not end the task:
        // the receiver would go silent for good. It counts as a failed scrape; the next one runs.
        let scrape = std::panic::AssertUnwindSafe(scraper.scrape(&mut out, &mut partial));
        let scrape = tokio::time::timeout(timeout, futures::FutureExt::catch_unwind(scrape));
        let result = tokio::select! {
            answer = scrape => match answer {
                Ok(Ok(result)) => result,
                Ok(Err(panic)) => Err(ScrapeError::Down(format!(
                    "the scraper failed unexpectedly: {}",
                    panic_message(&panic)
                ))),
                Err(_) => Err(ScrapeError::Down(format!("no answer within {timeout:?}"))),
            },
            _ = stopped.changed() => return,
        };
        let now = match &result {
            Ok(()) if partial.is_empty() => Health::Up,
            Ok(()) => Health::Partial(partial),
            Err(ScrapeError::Down(why)) => Health::Down(why.clone()),
        };
        if now != health {
            match (&health, &now) {
                // one line per outage: a reason that changes while down (a broken pipe, then
                // refused connections) is not news to whoever reads the log at 3 a.m.
                (Health::Down(_), Health::Down(why)) => {
                    tracing::debug!(receiver = %id, "the scrape still fails: {why}")
                }
                (_, Health::Down(why)) => {
                    tracing::error!(receiver = %id, "the scrape failed, retrying every {:?}: {why}", controller.collection_interval)
                }
                (_, Health::Partial(errors)) => {
                    tracing::warn!(receiver = %id, "the scrape is partial: {}", errors.join("; "))
                }
                (Health::Unknown, Health::Up) => {}
                (_, Health::Up) => tracing::info!(receiver = %id, "the scrape works again"),
                (_, Health::Unknown) => {}
            }
            health = now;
        }
        if let Some(up) = spec.up_metric {
            let value = i64::from(!matches!(health, Health::Down(_)));
            if result.is_err() {
                // a failed scrape may have recorded half a resource: report only the outage
                out = new_builder();
            }
            out.record_int(up, value, &[]);
        }
        let items = out.point_count();
        if items == 0 {
            continue;
        }
        let Some(consumer) = next.get(Signal::Metrics) else {
            continue;
        };
        match consumer
            .consume(Telemetry::from_metrics(out.finish()))
            .await
        {
            Ok(()) => metrics.accepted(Signal::Metrics, items),
            Err(err) => {
                metrics.refused(Signal::Metrics, items);
                tracing::warn!(receiver = %id, "the pipeline refused a scrape of {items} points: {err}");
            }
        }
    }
}

/// The text a panic was raised with, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests;
