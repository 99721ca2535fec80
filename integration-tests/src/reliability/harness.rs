//! What every scenario does the same way: a runtime for the sink and the clients, tracked loads
//! with fresh run ids, waiting for delivery, and turning ledgers into a row.

use crate::codec::Compression;
use crate::reliability::collector::Collector;
use crate::reliability::ids::TrackedShape;
use crate::reliability::tracked_load::{LoadLedger, TrackedLoad, TrackedLoadConfig};
use crate::reliability::tracking_sink::TrackingSink;
use crate::reliability::{Report, Row};
use crate::transport::Protocol;
use ferrotel_core::Signal;
use std::time::{Duration, Instant};

pub struct Harness {
    pub runtime: tokio::runtime::Runtime,
    pub sink: TrackingSink,
    started: Instant,
    next_run: u32,
}

/// One load's run id and final ledger.
pub struct Finished {
    pub run: u32,
    pub ledger: LoadLedger,
}

impl Harness {
    pub fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("reliability")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let sink = TrackingSink::start(runtime.handle()).expect("start the tracking sink");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(1);
        Harness {
            runtime,
            sink,
            started: Instant::now(),
            next_run: seed | 1,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A load config with modest defaults for `signal` over `protocol` to the collector.
    pub fn load_config(
        &mut self,
        collector: &Collector,
        protocol: Protocol,
        signal: Signal,
    ) -> TrackedLoadConfig {
        self.next_run = self.next_run.wrapping_add(1);
        TrackedLoadConfig {
            endpoint: match protocol {
                Protocol::Grpc => collector.grpc,
                Protocol::Http => collector.http,
            },
            protocol,
            shape: TrackedShape {
                signal,
                run: self.next_run,
                batch_size: 50,
                attributes: 4,
                attribute_bytes: 32,
            },
            compression: Compression::None,
            concurrency: 4,
            rate: Some(2000.0),
            request_timeout: Duration::from_secs(10),
            retry_budget: Duration::from_secs(60),
        }
    }

    pub fn start_load(&self, config: TrackedLoadConfig) -> TrackedLoad {
        TrackedLoad::start(self.runtime.handle(), config)
    }

    /// Total acknowledged items of `loads` not yet at the sink.
    pub fn lost(&self, loads: &[Finished]) -> u64 {
        loads
            .iter()
            .map(|l| self.sink.lost(l.run, &l.ledger.acknowledged))
            .sum()
    }

    /// Polls until every acknowledged item arrived or `timeout` passed; returns what is missing.
    pub fn wait_for_delivery(&self, loads: &[Finished], timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let lost = self.lost(loads);
            if lost == 0 || Instant::now() >= deadline {
                return lost;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The row of a scenario that ran `loads` against `collector`, with the `lost == 0` check,
    /// and diagnostics when something is missing.
    pub fn report(&self, scenario: &str, loads: &[Finished], collector: &Collector) -> Report {
        let mut row = Row {
            scenario: scenario.to_string(),
            peak_rss_mib: collector.peak_rss_mib(),
            duration: self.elapsed(),
            ..Row::default()
        };
        let mut missing = Vec::new();
        for load in loads {
            let delivered = self.sink.delivered(load.run);
            row.sent += load.ledger.items_sent;
            row.acknowledged += load.ledger.acknowledged.len();
            row.delivered += delivered.unique.len();
            row.duplicated += delivered.duplicates();
            row.refused += load.ledger.refusals;
            row.lost += load.ledger.acknowledged.missing_from(&delivered.unique);
            missing.extend(
                load.ledger
                    .acknowledged
                    .first_missing(&delivered.unique, 10),
            );
        }
        let mut report = Report {
            row,
            ..Report::default()
        };
        let lost = report.row.lost;
        report.check(
            "lost == 0",
            lost == 0,
            format!("{lost} acknowledged items never arrived; first item numbers: {missing:?}"),
        );
        report.check(
            "something was acknowledged",
            report.row.acknowledged > 0,
            "no request succeeded: the scenario proves nothing",
        );
        for load in loads {
            let l = &load.ledger;
            report.note(format!(
                "run {:08x}: {} requests, {} retries, {} refusals, {} transport errors, {} failed, {} given up, {} items rejected",
                load.run, l.requests, l.retries, l.refusals, l.transport_errors, l.failed, l.gave_up, l.rejected_items
            ));
            for (message, count) in l.errors.iter().take(8) {
                report.note(format!("  {count}× {message}"));
            }
        }
        report.diagnostics = format!(
            "self-metrics:\n{}\nferrotel output:\n{}",
            collector.flow_metrics(),
            collector.output()
        );
        report
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
