//! Interop: the OpenTelemetry Python SDK sends traces, metrics and logs over gRPC and over HTTP to
//! ferrotel A; A exports with `otlp_grpc` to ferrotel B and with `otlp_http` to rotel; B and rotel
//! export to recording servers owned by the test. The SDK also sends the identical data straight to
//! a reference recorder, and what arrives through each relay must equal it item for item: every
//! resource, scope, attribute, event, link, status, data point and log field.

mod common;

use common::sdk_data::{self, Item};
use common::{Ferrotel, RELAY_TIMEOUT, send_with_python_sdk, start_rotel};
use ferrotel_integration_tests::procs::free_addr;
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};

const TRANSPORTS: [&str; 2] = ["grpc", "http"];

fn pipelines(exporters: &str) -> String {
    ["traces", "metrics", "logs"]
        .map(|signal| {
            format!("    {signal}:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [{exporters}]\n")
        })
        .concat()
}

/// Asserts that the relayed recording holds exactly the reference data of both runs.
fn assert_same(relayed: &Recorded, reference: &Recorded, via: &str) {
    for transport in TRANSPORTS {
        let what = format!("sent over {transport}, relayed via {via}");
        assert_items(
            sdk_data::spans(relayed, transport),
            sdk_data::spans(reference, transport),
            "spans",
            &what,
        );
        assert_items(
            sdk_data::metrics(relayed, transport),
            sdk_data::metrics(reference, transport),
            "metrics",
            &what,
        );
        assert_items(
            sdk_data::logs(relayed, transport),
            sdk_data::logs(reference, transport),
            "log records",
            &what,
        );
    }
}

fn assert_items<T: PartialEq + std::fmt::Debug>(
    relayed: Vec<Item<T>>,
    reference: Vec<Item<T>>,
    kind: &str,
    what: &str,
) {
    assert_eq!(relayed.len(), reference.len(), "number of {kind} {what}");
    for (relayed, reference) in relayed.iter().zip(&reference) {
        assert_eq!(
            relayed, reference,
            "{kind} {what} differ from what the SDK sent"
        );
    }
}

fn wait_complete(server: &RecorderServer, via: &str) -> Recorded {
    server
        .recorder
        .wait_until(RELAY_TIMEOUT, |r| TRANSPORTS.iter().all(|t| sdk_data::complete(r, t)))
        .unwrap_or_else(|partial| {
            panic!(
                "{via} did not deliver both runs within {RELAY_TIMEOUT:?}: {} trace, {} metric, {} log requests",
                partial.traces.len(),
                partial.metrics.len(),
                partial.logs.len()
            )
        })
}

#[test]
fn python_sdk_data_arrives_intact_through_ferrotel_to_ferrotel_and_rotel() {
    let reference = RecorderServer::start();
    let behind_b = RecorderServer::start();
    let behind_rotel = RecorderServer::start();

    let b_grpc = free_addr();
    let b_config = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {b_grpc}\n\
         processors:\n  batch:\n    timeout: 100ms\n\
         exporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n{{telemetry}}  pipelines:\n{}",
        behind_b.addr,
        pipelines("otlp_grpc")
    );
    let b = Ferrotel::start("ferrotel-b", &b_config, &[b_grpc]);

    let dir = tempfile::tempdir().unwrap();
    let (rotel_grpc, rotel_http) = (free_addr(), free_addr());
    let _rotel = start_rotel(rotel_grpc, rotel_http, behind_rotel.addr, dir.path());

    let (a_grpc, a_http) = (free_addr(), free_addr());
    let a_config = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {a_grpc}\n      http:\n        endpoint: {a_http}\n\
         processors:\n  batch:\n    timeout: 100ms\n\
         exporters:\n  otlp_grpc:\n    endpoint: {b_grpc}\n    tls:\n      insecure: true\n  otlp_http:\n    endpoint: http://{rotel_http}\n\
         service:\n{{telemetry}}  pipelines:\n{}",
        pipelines("otlp_grpc, otlp_http")
    );
    let mut a = Ferrotel::start("ferrotel-a", &a_config, &[a_grpc, a_http]);

    let run_id = format!("interop-{}", std::process::id());
    send_with_python_sdk("grpc", a_grpc, "none", &run_id, Some(reference.addr));
    send_with_python_sdk("http", a_http, "gzip", &run_id, Some(reference.addr));

    let reference = wait_complete(&reference, "the SDK");
    for transport in TRANSPORTS {
        sdk_data::check_sdk_data(&reference, transport, &run_id);
    }
    assert_same(
        &wait_complete(&behind_b, "ferrotel A -> otlp_grpc -> ferrotel B"),
        &reference,
        "ferrotel B",
    );
    assert_same(
        &wait_complete(&behind_rotel, "ferrotel A -> otlp_http -> rotel"),
        &reference,
        "rotel",
    );

    // A's self-metrics saw it all: 2 spans per run accepted, and sent by each exporter.
    a.proc.assert_running();
    let otlp = [("receiver", "otlp")];
    assert_eq!(
        a.metric_reaches("otelcol_receiver_accepted_spans_total", &otlp, 4.0),
        4.0
    );
    assert_eq!(
        a.metric_reaches("otelcol_receiver_accepted_log_records_total", &otlp, 4.0),
        4.0
    );
    for exporter in ["otlp_grpc", "otlp_http"] {
        let sent = a.metric_reaches(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", exporter)],
            4.0,
        );
        assert_eq!(sent, 4.0, "spans sent by {exporter}");
    }
    assert_eq!(
        b.metric_reaches("otelcol_receiver_accepted_spans_total", &[], 4.0),
        4.0
    );
}

/// The harness checking itself: the SDK → rotel → recorder path is lossless, so a difference in the
/// test above points at ferrotel, not at rotel or the comparison.
#[test]
fn python_sdk_data_arrives_intact_through_rotel_alone() {
    let reference = RecorderServer::start();
    let behind_rotel = RecorderServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (rotel_grpc, rotel_http) = (free_addr(), free_addr());
    let _rotel = start_rotel(rotel_grpc, rotel_http, behind_rotel.addr, dir.path());
    let run_id = format!("rotel-{}", std::process::id());
    send_with_python_sdk("grpc", rotel_grpc, "gzip", &run_id, Some(reference.addr));
    send_with_python_sdk("http", rotel_http, "none", &run_id, Some(reference.addr));
    let reference = wait_complete(&reference, "the SDK");
    for transport in TRANSPORTS {
        sdk_data::check_sdk_data(&reference, transport, &run_id);
    }
    assert_same(&wait_complete(&behind_rotel, "rotel"), &reference, "rotel");
}
