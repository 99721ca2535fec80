//! HTTPS to a hyper server whose certificate comes from a CA made by the test (rcgen, ring).

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_testkit::TestPki;

#[tokio::test]
async fn https_with_a_private_ca_negotiates_http2() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["localhost"]);
    let backend = Backend::default();
    let addr = backend.serve(Some(server.server_config())).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: https://localhost:{}\ntls:\n  ca_file: {}\n",
        addr.port(),
        pki.ca_file()
    ))
    .await;
    let (bytes, batch) = batch(Signal::Traces, 3);
    exporter.consume(batch).await.unwrap();
    eventually("delivery over TLS", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 3.0
    })
    .await;
    let record = &backend.records()[0];
    assert_eq!(record.version, http::Version::HTTP_2);
    assert_eq!(record.decoded_body(), bytes.to_vec());
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn force_attempt_http2_false_stays_on_http1_and_server_name_override_is_used() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["otlp.internal"]);
    let backend = Backend::default();
    let addr = backend.serve(Some(server.server_config())).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: https://{addr}\nforce_attempt_http2: false\ntls:\n  ca_file: {}\n  server_name_override: otlp.internal\n",
        pki.ca_file()
    ))
    .await;
    exporter.consume(batch(Signal::Logs, 2).1).await.unwrap();
    eventually("delivery over TLS", || {
        metric(&telemetry, "otelcol_exporter_sent_log_records_total") == 2.0
    })
    .await;
    assert_eq!(backend.records()[0].version, http::Version::HTTP_11);
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_delivers_nothing() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["localhost"]);
    let backend = Backend::default();
    let addr = backend.serve(Some(server.server_config())).await;
    let (exporter, telemetry) = exporter(&format!(
        "endpoint: https://localhost:{}\nretry_on_failure:\n  enabled: false\n",
        addr.port()
    ))
    .await;
    exporter.consume(batch(Signal::Metrics, 2).1).await.unwrap();
    eventually("the failure", || {
        metric(
            &telemetry,
            "otelcol_exporter_send_failed_metric_points_total",
        ) == 2.0
    })
    .await;
    exporter.shutdown().await.unwrap();
    assert!(backend.records().is_empty());
}
