//! What the scraping receivers' tests share: ferrotel A runs the receivers under test and exports
//! OTLP/gRPC to ferrotel B, which relays to a recorder the test owns, so that every assertion is
//! on what arrived behind a second collector.

use std::process::{Command, Output};
use std::time::Duration;

use ferrotel_integration_tests::otlp_query::points;
use ferrotel_integration_tests::procs::{self, free_addr, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use opentelemetry_proto::tonic::metrics::v1::metric;

use super::Ferrotel;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Pipeline {
    pub a: Ferrotel,
    pub b: Ferrotel,
    pub recorder: RecorderServer,
}

impl Pipeline {
    /// A with `receivers` (the YAML under `receivers:`, ids listed in `ids`) → B → recorder.
    pub fn start(receivers: &str, ids: &str) -> Pipeline {
        let recorder = RecorderServer::start();
        let b_grpc = free_addr();
        let b = Ferrotel::start(
            "ferrotel-b",
            &format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {b_grpc}\n\
                 exporters:\n  otlp:\n    endpoint: {}\n    tls:\n      insecure: true\n\
                 service:\n{{telemetry}}  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [otlp]\n",
                recorder.addr
            ),
            &[b_grpc],
        );
        let a = Ferrotel::start(
            "ferrotel-a",
            &format!(
                "receivers:\n{receivers}\
                 exporters:\n  otlp:\n    endpoint: {b_grpc}\n    tls:\n      insecure: true\n\
                 service:\n{{telemetry}}  pipelines:\n    metrics:\n      receivers: [{ids}]\n      exporters: [otlp]\n"
            ),
            &[],
        );
        Pipeline { a, b, recorder }
    }

    pub fn snapshot(&self) -> Recorded {
        self.recorder.recorder.snapshot()
    }

    /// What arrived after the first `from` metric requests.
    pub fn since(&self, from: usize) -> Recorded {
        let all = self.snapshot();
        Recorded {
            metrics: all.metrics[from.min(all.metrics.len())..].to_vec(),
            ..Default::default()
        }
    }

    /// Waits until `found` finds something in what reached the recorder.
    pub fn wait<T>(&self, what: &str, found: impl Fn(&Recorded) -> Option<T>) -> T {
        let mut metrics = 0;
        let result = wait_for(WAIT, || {
            let snapshot = self.snapshot();
            metrics = snapshot.metrics.len();
            found(&snapshot)
        });
        result.unwrap_or_else(|| {
            panic!(
                "{what}: not seen behind the second collector within {WAIT:?} ({metrics} metric requests); A's output:\n{}",
                self.a.proc.output()
            )
        })
    }

    /// Lines of A's log that contain every one of `parts`.
    pub fn log_lines(&self, parts: &[&str]) -> usize {
        let output = self.a.proc.output();
        output
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// Asserts that A's log has exactly `count` lines with every one of `parts`.
    pub fn assert_log(&self, parts: &[&str], count: usize) {
        assert_eq!(
            self.log_lines(parts),
            count,
            "log lines with {parts:?}:\n{}",
            self.a.proc.output()
        );
    }

    /// Waits until A's log has `count` lines with every one of `parts`.
    pub fn wait_log(&self, parts: &[&str], count: usize) {
        wait_for(WAIT, || (self.log_lines(parts) == count).then_some(())).unwrap_or_else(|| {
            panic!(
                "{count} log lines with {parts:?} expected:\n{}",
                self.a.proc.output()
            )
        });
    }
}

/// Every value of the `up` gauge `name`, in arrival order.
pub fn up_values(recorded: &Recorded, name: &str) -> Vec<f64> {
    points(recorded, name)
        .into_iter()
        .map(|(_, _, v)| v)
        .collect()
}

/// (name, monotonic) of every Sum that arrived, checking that each came under `scope`.
pub fn sum_kinds(recorded: &Recorded, scope: &str) -> Vec<(String, bool)> {
    recorded
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .inspect(|sm| assert_eq!(sm.scope.as_ref().unwrap().name, scope))
        .flat_map(|sm| &sm.metrics)
        .filter_map(|m| match &m.data {
            Some(metric::Data::Sum(s)) => Some((m.name.clone(), s.is_monotonic)),
            _ => None,
        })
        .collect()
}

/// A receiver crate's `testdata/config.yaml` (otelcol's own, verbatim), indented to sit under
/// `receivers:`.
pub fn upstream_receivers(receiver: &str) -> String {
    let path = procs::workspace_root().join(format!(
        "components/receiver/{receiver}/testdata/config.yaml"
    ));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// `ferrotel validate` on `c.yaml`: `receivers` (the YAML under `receivers:`) with `ids` in a
/// metrics pipeline to the debug exporter; `env` sets (Some) or removes (None) variables.
pub fn validate_config(receivers: &str, ids: &str, env: &[(&str, Option<&str>)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = procs::write_file(
        dir.path(),
        "c.yaml",
        &format!(
            "receivers:\n{receivers}exporters:\n  debug:\nservice:\n  pipelines:\n    metrics:\n\
             \x20     receivers: [{ids}]\n      exporters: [debug]\n"
        ),
    );
    let mut command = Command::new(procs::ferrotel_bin());
    command.args(["validate", "--config"]).arg(path);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("run ferrotel validate")
}
