//! The controller with a scripted scraper: initial delay, the `.up` metric through an outage and
//! back, partial scrapes still delivered, and the schedule kept under a paused clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

use super::*;
use crate::component::{ComponentId, Kind, Lifecycle};
use crate::consumer::{ConsumeError, Consumer};
use crate::telemetry::SelfTelemetry;

static DEFS: [MetricDef; 2] = [
    MetricDef {
        name: "t.rows",
        description: "",
        unit: "{row}",
        kind: MetricKind::Counter,
        enabled: true,
    },
    MetricDef {
        name: "t.up",
        description: "",
        unit: "1",
        kind: MetricKind::Gauge,
        enabled: true,
    },
];

struct Scripted(VecDeque<Result<Vec<String>, String>>);

#[async_trait]
impl Scraper for Scripted {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        partial: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        match self.0.pop_front() {
            Some(Ok(errors)) => {
                out.record_int("t.rows", 7, &[]);
                partial.extend(errors);
                Ok(())
            }
            Some(Err(why)) => Err(ScrapeError::Down(why)),
            None => Err(ScrapeError::Down("script over".into())),
        }
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<Vec<(String, i64)>>>);

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, mut data: Telemetry) -> Result<(), ConsumeError> {
        let request = data.metrics().unwrap().clone();
        let mut points = Vec::new();
        for rm in request.resource_metrics {
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let dps = match m.data {
                        Some(metric::Data::Sum(s)) => s.data_points,
                        Some(metric::Data::Gauge(g)) => g.data_points,
                        _ => vec![],
                    };
                    for p in dps {
                        if let Some(number_data_point::Value::AsInt(v)) = p.value {
                            points.push((m.name.clone(), v));
                        }
                    }
                }
            }
        }
        self.0.lock().unwrap().push(points);
        Ok(())
    }
}

/// A receiver named `t` with `scraper` under `controller`, recording `t.up`, feeding `next`.
fn receiver<S: Scraper>(
    scraper: S,
    controller: Controller,
    next: SignalConsumers,
) -> ScraperReceiver<S> {
    let set = CreateSettings::new(
        ComponentId::parse("t").unwrap(),
        Kind::Receiver,
        SelfTelemetry::new(&[]),
    );
    let spec = BuilderSpec {
        scope: "test",
        defs: &DEFS,
        metrics: Toggles::new(),
        resource_attributes: Toggles::new(),
        up_metric: Some("t.up"),
    };
    ScraperReceiver::new(set, next, controller, spec, scraper)
}

/// Consumers that collect into `collect`.
fn collecting(collect: &Arc<Collect>) -> SignalConsumers {
    let mut next = SignalConsumers::default();
    next.set(Signal::Metrics, collect.clone());
    next
}

#[tokio::test(start_paused = true)]
async fn reports_up_down_and_partial_scrapes_on_schedule() {
    let collect = Arc::new(Collect::default());
    let script = VecDeque::from([
        Ok(vec![]),
        Err("connection refused".to_string()),
        Err("connection refused".to_string()),
        Ok(vec!["permission denied for view pg_stat_x".to_string()]),
    ]);
    let receiver = receiver(
        Scripted(script),
        Controller {
            collection_interval: Duration::from_secs(10),
            initial_delay: Duration::from_secs(1),
            timeout: Duration::ZERO,
        },
        collecting(&collect),
    );
    receiver.start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        collect.0.lock().unwrap().is_empty(),
        "scraped before initial_delay"
    );
    tokio::time::sleep(Duration::from_secs(31) + Duration::from_millis(200)).await;
    receiver.shutdown().await.unwrap();
    let scrapes = collect.0.lock().unwrap().clone();
    let rows = |i: usize| scrapes[i].iter().find(|(n, _)| n == "t.rows").map(|p| p.1);
    let up = |i: usize| scrapes[i].iter().find(|(n, _)| n == "t.up").map(|p| p.1);
    assert_eq!(scrapes.len(), 4, "{scrapes:?}");
    assert_eq!((rows(0), up(0)), (Some(7), Some(1)));
    assert_eq!((rows(1), up(1)), (None, Some(0)), "down: only the outage");
    assert_eq!((rows(2), up(2)), (None, Some(0)));
    assert_eq!(
        (rows(3), up(3)),
        (Some(7), Some(1)),
        "partial: the rest is sent"
    );
}

/// A target that never answers, as a scrape stuck in a driver's server selection.
struct Hanging;

#[async_trait]
impl Scraper for Hanging {
    async fn scrape(
        &mut self,
        _: &mut MetricsBuilder,
        _: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_abandons_a_scrape_in_flight() {
    let receiver = receiver(
        Hanging,
        Controller {
            collection_interval: Duration::from_secs(60),
            initial_delay: Duration::ZERO,
            timeout: Duration::from_secs(60),
        },
        SignalConsumers::default(),
    );
    receiver.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let began = tokio::time::Instant::now();
    receiver.shutdown().await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "shutdown waited {:?} for the scrape's timeout",
        began.elapsed()
    );
}

/// Panics on its first scrape, then answers.
struct PanicsOnce(bool);

#[async_trait]
impl Scraper for PanicsOnce {
    async fn scrape(
        &mut self,
        out: &mut MetricsBuilder,
        _: &mut Vec<String>,
    ) -> Result<(), ScrapeError> {
        if !std::mem::replace(&mut self.0, true) {
            panic!("unexpected NULL in column 9");
        }
        out.record_int("t.rows", 7, &[]);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_scrape_is_a_failed_scrape_and_the_next_one_runs() {
    let collect = Arc::new(Collect::default());
    let receiver = receiver(
        PanicsOnce(false),
        Controller {
            collection_interval: Duration::from_secs(10),
            initial_delay: Duration::ZERO,
            timeout: Duration::ZERO,
        },
        collecting(&collect),
    );
    receiver.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    receiver.shutdown().await.unwrap();
    let scrapes = collect.0.lock().unwrap().clone();
    assert_eq!(
        scrapes,
        vec![
            vec![("t.up".to_string(), 0)],
            vec![("t.rows".to_string(), 7), ("t.up".to_string(), 1)],
        ]
    );
}
