//! TLS to a tonic server whose certificate comes from a CA made by the test (rcgen, ring).

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_testkit::TestPki;
use std::time::Duration;

#[tokio::test]
async fn tls_with_a_private_ca_from_ca_file() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["localhost"]);
    let backend = Backend::default();
    let addr = backend.serve(Some((server.cert_pem, server.key_pem))).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: localhost:{}\ntls:\n  ca_file: {}\n",
        addr.port(),
        pki.ca_file()
    ))
    .await;
    let (bytes, batch) = batch(Signal::Traces, 4);
    exporter.consume(batch).await.unwrap();
    eventually("delivery over TLS", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 4.0
    })
    .await;
    assert_eq!(backend.records()[0].bytes, bytes.to_vec());
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_name_override_names_the_certificate_to_expect() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["collector.internal"]);
    let backend = Backend::default();
    let addr = backend.serve(Some((server.cert_pem, server.key_pem))).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: https://{addr}\ntls:\n  ca_file: {}\n  server_name_override: collector.internal\n",
        pki.ca_file()
    ))
    .await;
    exporter.consume(batch(Signal::Logs, 2).1).await.unwrap();
    eventually("delivery over TLS", || {
        metric(&telemetry, "otelcol_exporter_sent_log_records_total") == 2.0
    })
    .await;
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_delivers_nothing() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["collector.internal"]);
    let backend = Backend::default();
    let addr = backend.serve(Some((server.cert_pem, server.key_pem))).await;
    let cases = [
        // No CA given: the public roots do not know the test CA.
        format!("endpoint: localhost:{}\n", addr.port()),
        // The right CA, but the certificate is not for 127.0.0.1.
        format!("endpoint: {addr}\ntls:\n  ca_file: {}\n", pki.ca_file()),
    ];
    for yaml in cases {
        let (exporter, telemetry) =
            exporter(&format!("{yaml}retry_on_failure:\n  enabled: false\n")).await;
        exporter.consume(batch(Signal::Metrics, 3).1).await.unwrap();
        eventually("the failure", || {
            metric(
                &telemetry,
                "otelcol_exporter_send_failed_metric_points_total",
            ) == 3.0
        })
        .await;
        exporter.shutdown().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(backend.records().is_empty());
}

#[tokio::test]
async fn insecure_skip_verify_trusts_any_certificate() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["collector.internal"]);
    let backend = Backend::default();
    let addr = backend.serve(Some((server.cert_pem, server.key_pem))).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: {addr}\ntls:\n  insecure_skip_verify: true\n"
    ))
    .await;
    exporter.consume(batch(Signal::Traces, 1).1).await.unwrap();
    eventually("delivery", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 1.0
    })
    .await;
    exporter.shutdown().await.unwrap();
}
