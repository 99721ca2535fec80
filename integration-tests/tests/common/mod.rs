//! What the process-level tests share: starting ferrotel and rotel on free ports, running the
//! Python SDK sender, and reading Prometheus self-metrics.

#![allow(dead_code)] // each test binary uses a different part

use ferrotel_integration_tests::procs::{self, Proc, free_addr, http_get, wait_for};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const START_TIMEOUT: Duration = Duration::from_secs(30);
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// The port in environment variable `var` (as `scripts/servers.sh env` exports them), else
/// `default`, the port servers.sh uses.
pub fn env_port(var: &str, default: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `service.telemetry` section serving self-metrics on `port`, so that parallel tests never
/// fight over otelcol's default :8888.
pub fn telemetry_section(port: u16) -> String {
    format!(
        "  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: {port}\n"
    )
}

/// A running ferrotel with its config file and self-metrics address.
pub struct Ferrotel {
    pub proc: Proc,
    pub metrics: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Ferrotel {
    /// Starts ferrotel with `config` (which must contain `{telemetry}` where the service's telemetry
    /// section goes) and waits for each of `ports` to listen.
    pub fn start(name: &str, config: &str, ports: &[SocketAddr]) -> Ferrotel {
        let metrics = free_addr();
        let config = config.replace("{telemetry}", &telemetry_section(metrics.port()));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = procs::write_file(dir.path(), &format!("{name}.yaml"), &config);
        let mut command = Command::new(procs::ferrotel_bin());
        command.arg("--config").arg(&path);
        let mut proc = Proc::spawn(name, command);
        for &port in ports.iter().chain([&metrics]) {
            proc.wait_for_port(port, START_TIMEOUT);
        }
        Ferrotel {
            proc,
            metrics,
            _dir: dir,
        }
    }

    /// The sum of the series of a self-metric whose labels include `labels` (0 when absent),
    /// polled for up to 10 s until it equals `expected`: counters lag the data they count by the
    /// moment between a response and its bookkeeping.
    pub fn metric_reaches(&self, name: &str, labels: &[(&str, &str)], expected: f64) -> f64 {
        let mut last = f64::NAN;
        wait_for(Duration::from_secs(10), || {
            let (status, text) = http_get(self.metrics, "/metrics").expect("scrape self-metrics");
            assert_eq!(status, 200, "self-metrics answered {status}");
            last = metric_sum(&text, name, labels);
            (last == expected).then_some(())
        });
        last
    }
}

/// Sums the samples of `name` in Prometheus text whose labels include every one of `labels`.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let wanted = labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            wanted.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// rotel-agent relaying OTLP (gRPC and HTTP in) to `exporter` over gRPC.
pub fn start_rotel(grpc: SocketAddr, http: SocketAddr, exporter: SocketAddr, dir: &Path) -> Proc {
    let mut command = Command::new(procs::rotel_agent());
    command
        .arg("start")
        .args([
            "--otlp-grpc-endpoint",
            &grpc.to_string(),
            "--otlp-http-endpoint",
            &http.to_string(),
        ])
        .args(["--exporter", "otlp", "--otlp-exporter-protocol", "grpc"])
        .args(["--otlp-exporter-endpoint", &format!("http://{exporter}")])
        .args(["--batch-timeout", "100ms"])
        .arg("--pid-file")
        .arg(dir.join("rotel-agent.pid"));
    let mut proc = Proc::spawn("rotel", command);
    proc.wait_for_port(grpc, START_TIMEOUT);
    proc.wait_for_port(http, START_TIMEOUT);
    proc
}

/// Runs integration-tests/python/send_telemetry.py; panics with its output unless every export
/// succeeded. With `reference`, the same data also goes over gRPC to that address.
pub fn send_with_python_sdk(
    protocol: &str,
    endpoint: SocketAddr,
    compression: &str,
    run_id: &str,
    reference: Option<SocketAddr>,
) {
    let script = procs::python_scripts().join("send_telemetry.py");
    let mut command = Command::new(procs::venv_python());
    command
        .arg(&script)
        .args(["--protocol", protocol, "--endpoint", &endpoint.to_string()])
        .args(["--compression", compression, "--run-id", run_id]);
    if let Some(reference) = reference {
        command.args(["--reference-endpoint", &reference.to_string()]);
    }
    let output = command.output().expect("run the Python SDK sender");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Python SDK export over {protocol} to {endpoint} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(r#""traces": "SUCCESS""#),
        "unexpected sender output: {stdout}"
    );
}
pub mod ebpf;
pub mod python;
pub mod scrape;
pub mod sdk_data;
pub mod servers;
