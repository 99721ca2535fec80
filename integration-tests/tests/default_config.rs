//! `ferrotel` with no `--config` runs the embedded default (what `make run` starts): OTLP in on
//! localhost:4317 (gRPC) and :4318 (HTTP), health_check on :13133, self-metrics on :8888 as otelcol
//! serves them by default, and the debug exporter printing what arrived. The Python SDK's default
//! exporters, pointed at those default ports, are accepted.
//!
//! This is the one test that needs fixed ports; it fails with a clear message if they are taken.

mod common;

use common::{START_TIMEOUT, send_with_python_sdk};
use ferrotel_integration_tests::procs::{self, Proc, http_get, wait_for};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

#[test]
fn the_embedded_default_config_accepts_the_python_sdk() {
    let grpc: SocketAddr = "127.0.0.1:4317".parse().unwrap();
    let http: SocketAddr = "127.0.0.1:4318".parse().unwrap();
    let health: SocketAddr = "127.0.0.1:13133".parse().unwrap();
    let metrics: SocketAddr = "127.0.0.1:8888".parse().unwrap();
    for addr in [grpc, http, health, metrics] {
        assert!(
            TcpListener::bind(addr).is_ok(),
            "{addr} is taken: stop whatever listens there (another collector, `make run`?) and rerun"
        );
    }

    let mut ferrotel = Proc::spawn("ferrotel", Command::new(procs::ferrotel_bin()));
    for addr in [grpc, http, health] {
        ferrotel.wait_for_port(addr, START_TIMEOUT);
    }
    let (status, body) = http_get(health, "/").expect("health check answers");
    assert_eq!(status, 200, "health_check: {body}");

    send_with_python_sdk("grpc", grpc, "none", "default-config", None);
    send_with_python_sdk("http", http, "gzip", "default-config", None);

    // 2 spans per run; the debug exporter prints them once the batch processor lets them go.
    let accepted = wait_for(Duration::from_secs(10), || {
        let (_, text) = http_get(metrics, "/metrics").ok()?;
        let accepted = common::metric_sum(
            &text,
            "otelcol_receiver_accepted_spans_total",
            &[("receiver", "otlp")],
        );
        (accepted >= 4.0).then_some(accepted)
    });
    assert_eq!(
        accepted,
        Some(4.0),
        "self-metrics on :8888 count the 4 spans accepted"
    );
    let printed = wait_for(Duration::from_secs(10), || {
        ferrotel.output().contains("spans").then_some(())
    });
    assert!(
        printed.is_some(),
        "the debug exporter printed nothing about spans:\n{}",
        ferrotel.output()
    );
    // as root (CI), the ebpf receiver of the default config reports this host's metrics too
    let ebpf_points = wait_for(Duration::from_secs(30), || {
        let (_, text) = http_get(metrics, "/metrics").ok()?;
        let labels = [("receiver", "ebpf")];
        let points = common::metric_sum(
            &text,
            "otelcol_receiver_accepted_metric_points_total",
            &labels,
        );
        (points > 0.0).then_some(points)
    });
    assert!(
        ebpf_points.is_some(),
        "no metric points from the ebpf receiver in 30 s:\n{}",
        ferrotel.output()
    );
    ferrotel.assert_running();
}
