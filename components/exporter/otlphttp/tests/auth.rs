//! `auth.authenticator` with the real `bearertokenauth` and `basicauth` extensions: the
//! credentials go on every request, as HTTP headers, with configured `headers` winning.

mod common;

use common::*;
use ferrotel_core::Signal;
use ferrotel_core::component::{ExtensionFactory, PipeRef};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlphttp::OtlpHttpExporterFactory;
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
    create_exporter_with_extension(
        extension,
        ext_id,
        ext_yaml,
        &OtlpHttpExporterFactory,
        ID,
        yaml,
    )
}

#[tokio::test]
async fn the_bearer_token_goes_on_every_request_over_tls() {
    let pki = TestPki::new();
    let server = pki.issue("server", &["localhost"]);
    let backend = Backend::default();
    let addr = backend.serve(Some(server.server_config())).await;
    let (exporter, telemetry) = create(
        "bearertokenauth/out",
        "header: X-Api-Key\nscheme: \"\"\ntokens: [first, second]\n",
        &format!(
            "endpoint: https://localhost:{}\ntls:\n  ca_file: {}\nauth:\n  authenticator: bearertokenauth/out\n",
            addr.port(),
            pki.ca_file()
        ),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Traces, 3).1).await.unwrap();
    exporter.consume(batch(Signal::Logs, 1).1).await.unwrap();
    eventually("both deliveries", || backend.records().len() == 2).await;
    for record in backend.records() {
        assert_eq!(record.headers["x-api-key"], "first");
        assert!(record.headers.get("authorization").is_none());
    }
    eventually("the spans counted as sent", || {
        metric(&telemetry, "otelcol_exporter_sent_spans_total") == 3.0
    })
    .await;
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn basic_credentials_go_over_plain_http_too_and_headers_win() {
    // otelcol's HTTP client sends credentials whatever the scheme; only gRPC insists on TLS.
    let backend = Backend::default();
    let addr = backend.serve(None).await;
    let (exporter, _) = create(
        "basicauth/client",
        "client_auth:\n  username: username\n  password: password\n",
        &format!("endpoint: http://{addr}\nauth:\n  authenticator: basicauth/client\n"),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Metrics, 1).1).await.unwrap();
    eventually("delivery", || backend.records().len() == 1).await;
    assert_eq!(
        backend.records()[0].headers["authorization"],
        "Basic dXNlcm5hbWU6cGFzc3dvcmQ="
    );
    exporter.shutdown().await.unwrap();

    let (exporter, _) = create(
        "basicauth/client",
        "client_auth:\n  username: username\n  password: password\n",
        &format!(
            "endpoint: http://{addr}\nauth:\n  authenticator: basicauth/client\nheaders:\n  Authorization: Custom xyz\n"
        ),
    )
    .unwrap();
    exporter.start().await.unwrap();
    exporter.consume(batch(Signal::Metrics, 1).1).await.unwrap();
    eventually("delivery", || backend.records().len() == 2).await;
    assert_eq!(backend.records()[1].headers["authorization"], "Custom xyz");
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unknown_authenticator_is_an_error_at_creation() {
    let err = create(
        "basicauth/client",
        "client_auth:\n  username: u\n",
        "endpoint: http://localhost:4318\nauth:\n  authenticator: basicauth/server\n",
    )
    .err()
    .unwrap();
    assert!(
        format!("{err:#}").contains("failed to resolve authenticator \"basicauth/server\""),
        "{err:#}"
    );
}
