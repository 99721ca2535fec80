//! `auth.authenticator` with the real `bearertokenauth` and `basicauth` extensions: credentials on
//! every call, re-read when a token file changes, and never over plaintext gRPC.

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_core::component::{ExtensionFactory, PipeRef};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlp::OtlpExporterFactory;
use ferrotel_extension_basicauth::BasicAuthExtensionFactory;
use ferrotel_extension_bearertokenauth::BearerTokenAuthExtensionFactory;
use ferrotel_testkit::{TestPki, create_exporter_with_extension};
use std::sync::Arc;

/// The exporter `yaml` describes, with the auth extension `ext_id` made from `ext_yaml` first.
fn create(
    ext_id: &str,
    ext_yaml: &str,
    yaml: &str,
) -> anyhow::Result<(PipeRef, Arc<SelfTelemetry>)> {
    let extension: &dyn ExtensionFactory = if ext_id.starts_with("basicauth") {
        &BasicAuthExtensionFactory
    } else {
        &BearerTokenAuthExtensionFactory
    };
    create_exporter_with_extension(extension, ext_id, ext_yaml, &OtlpExporterFactory, ID, yaml)
}

async fn tls_backend(pki: &TestPki) -> (Backend, std::net::SocketAddr) {
    let server = pki.issue("server", &["localhost"]);
    let backend = Backend::default();
    let addr = backend.serve(Some((server.cert_pem, server.key_pem))).await;
    (backend, addr)
}

#[tokio::test]
async fn every_call_carries_the_current_bearer_token() {
    let pki = TestPki::new();
    let (backend, addr) = tls_backend(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "first-token\n").unwrap();
    let (exporter, telemetry) = create(
        "bearertokenauth/out",
        &format!("filename: {}\n", token_file.display()),
        &format!(
            "endpoint: localhost:{}\ntls:\n  ca_file: {}\nauth:\n  authenticator: bearertokenauth/out\nheaders:\n  x-tenant: acme\n",
            addr.port(),
            pki.ca_file()
        ),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Traces, 2).1).await.unwrap();
    eventually("first delivery", || backend.records().len() == 1).await;
    std::fs::write(&token_file, "second-token-after-rotation\n").unwrap();
    exporter.consume(batch(Signal::Logs, 1).1).await.unwrap();
    eventually("second delivery", || backend.records().len() == 2).await;

    let records = backend.records();
    assert_eq!(
        records[0].metadata.get("authorization").unwrap(),
        "Bearer first-token"
    );
    assert_eq!(
        records[1].metadata.get("authorization").unwrap(),
        "Bearer second-token-after-rotation"
    );
    assert_eq!(records[1].metadata.get("x-tenant").unwrap(), "acme");
    eventually("the spans counted as sent", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 2.0
    })
    .await;
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn basic_credentials_are_sent_and_configured_headers_win() {
    let pki = TestPki::new();
    let (backend, addr) = tls_backend(&pki).await;
    let (exporter, _) = create(
        "basicauth/client",
        "client_auth:\n  username: username\n  password: password\n",
        &format!(
            "endpoint: https://localhost:{}\ntls:\n  ca_file: {}\nauth:\n  authenticator: basicauth/client\n",
            addr.port(),
            pki.ca_file()
        ),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Metrics, 1).1).await.unwrap();
    eventually("delivery", || backend.records().len() == 1).await;
    assert_eq!(
        backend.records()[0].metadata.get("authorization").unwrap(),
        "Basic dXNlcm5hbWU6cGFzc3dvcmQ="
    );
    exporter.shutdown().await.unwrap();

    // A configured `authorization` header overrides the authenticator's, as in otelcol.
    let (exporter, _) = create(
        "basicauth/client",
        "client_auth:\n  username: username\n  password: password\n",
        &format!(
            "endpoint: https://localhost:{}\ntls:\n  ca_file: {}\nauth:\n  authenticator: basicauth/client\nheaders:\n  authorization: Custom xyz\n",
            addr.port(),
            pki.ca_file()
        ),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Metrics, 1).1).await.unwrap();
    eventually("delivery", || backend.records().len() == 2).await;
    assert_eq!(
        backend.records()[1].metadata.get("authorization").unwrap(),
        "Custom xyz"
    );
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn credentials_are_never_sent_over_plaintext_grpc() {
    for endpoint in [
        "http://localhost:4317",
        "localhost:4317\ntls:\n  insecure: true",
    ] {
        let err = create(
            "bearertokenauth",
            "token: never-in-the-clear\n",
            &format!("endpoint: {endpoint}\nauth:\n  authenticator: bearertokenauth\n"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("require transport security"), "{err}");
        assert!(!err.contains("never-in-the-clear"), "{err}");
    }
    let missing = create(
        "bearertokenauth",
        "token: t\n",
        "endpoint: localhost:4317\nauth:\n  authenticator: bearertokenauth/other\n",
    )
    .err()
    .unwrap();
    assert!(
        format!("{missing:#}")
            .contains("failed to resolve authenticator \"bearertokenauth/other\""),
        "{missing:#}"
    );
}
