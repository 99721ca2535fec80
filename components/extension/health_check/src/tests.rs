//! The extension on real loopback sockets, probed with a real hyper client, plain and over TLS.

use bytes::Bytes;
use ferrotel_core::component::{
    ComponentId, CreateSettings, ExtensionFactory, Host, Kind, Lifecycle,
};
use ferrotel_core::config::{Node, decode_validated};
use ferrotel_core::telemetry::SelfTelemetry;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{HealthCheckConfig, HealthCheckExtension, HealthCheckExtensionFactory};

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

async fn get_over<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    path: &str,
) -> Reply {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    get_over(TcpStream::connect(addr).await.unwrap(), path).await
}

async fn started(yaml: &str) -> (HealthCheckExtension, Arc<Host>, SocketAddr) {
    let config: HealthCheckConfig =
        decode_validated(&Node::parse(yaml, "health_check.yaml").unwrap()).unwrap();
    let host = Arc::new(Host::default());
    let extension = HealthCheckExtension::new("health_check".into(), config, host.clone());
    extension.start().await.unwrap();
    let addr = extension.local_addr().expect("bound");
    (extension, host, addr)
}

#[tokio::test]
async fn reports_readiness_as_the_host_changes() {
    let (extension, host, addr) = started("endpoint: 127.0.0.1:0\n").await;

    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reply.body,
        r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
    );

    host.set_ready(true);
    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["status"], "Server available");
    let up_since = body["upSince"].as_str().unwrap();
    assert!(
        up_since.ends_with('Z') && up_since.len() >= 20 && !up_since.starts_with("0001"),
        "{up_since}"
    );
    assert!(!body["uptime"].as_str().unwrap().is_empty());
    // The same moment on every probe while ready.
    let again: serde_json::Value = serde_json::from_str(&get(addr, "/").await.body).unwrap();
    assert_eq!(again["upSince"], body["upSince"]);

    host.set_ready(false);
    assert_eq!(get(addr, "/").await.status, StatusCode::SERVICE_UNAVAILABLE);

    extension.shutdown().await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed at shutdown"
    );
}

#[tokio::test]
async fn serves_only_its_path_as_go_serve_mux_does() {
    let (extension, host, addr) = started("endpoint: 127.0.0.1:0\npath: /health\n").await;
    host.set_ready(true);
    assert_eq!(get(addr, "/health").await.status, StatusCode::OK);
    let reply = get(addr, "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NOT_FOUND, "404 page not found\n")
    );
    assert_eq!(
        get(addr, "/health/more").await.status,
        StatusCode::NOT_FOUND
    );
    extension.shutdown().await.unwrap();

    let (extension, host, addr) = started("endpoint: 127.0.0.1:0\npath: /status/\n").await;
    host.set_ready(true);
    assert_eq!(get(addr, "/status/anything").await.status, StatusCode::OK);
    assert_eq!(get(addr, "/statusx").await.status, StatusCode::NOT_FOUND);
    extension.shutdown().await.unwrap();
}

#[tokio::test]
async fn fixed_response_bodies() {
    let yaml =
        "endpoint: 127.0.0.1:0\nresponse_body:\n  healthy: I'm OK\n  unhealthy: I'm not well\n";
    let (extension, host, addr) = started(yaml).await;
    let reply = get(addr, "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "I'm not well")
    );
    host.set_ready(true);
    let reply = get(addr, "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "I'm OK")
    );
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    extension.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_taken_port_fails_start_naming_the_endpoint() {
    let (first, _, addr) = started("endpoint: 127.0.0.1:0\n").await;
    let config = HealthCheckConfig {
        endpoint: addr.to_string(),
        ..Default::default()
    };
    let second =
        HealthCheckExtension::new("health_check/2".into(), config, Arc::new(Host::default()));
    let err = second.start().await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("failed to bind to address {addr}: ")),
        "{err}"
    );
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn serves_over_tls_with_the_shared_tls_settings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let yaml = format!(
        "endpoint: 127.0.0.1:0\ntls:\n  cert_file: {dir}/server.pem\n  key_file: {dir}/server.key\n"
    );
    let (extension, host, addr) = started(&yaml).await;
    host.set_ready(true);

    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(format!("{dir}/ca.pem")).unwrap();
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let reply = get_over(tls, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("Server available"), "{}", reply.body);

    // Plain HTTP to the TLS port gets no health answer.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(
        TcpStream::connect(addr).await.unwrap(),
    ))
    .await
    .unwrap();
    tokio::spawn(connection);
    let plain = sender
        .send_request(Request::get("/").body(Empty::<Bytes>::new()).unwrap())
        .await;
    assert!(plain.is_err(), "plain HTTP must not be answered");
    extension.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_factory_builds_from_a_legacy_config() {
    let node = Node::parse(
        "endpoint: 127.0.0.1:0\ncheck_collector_pipeline:\n  enabled: true\n  interval: 5m\n  exporter_failure_threshold: 5\n",
        "health_check.yaml",
    )
    .unwrap();
    let set = CreateSettings::new(
        ComponentId::new("health_check", None),
        Kind::Extension,
        SelfTelemetry::new(&[]),
    );
    let extension = HealthCheckExtensionFactory.create(set, &node).unwrap();
    extension.start().await.unwrap();
    extension.shutdown().await.unwrap();

    let bad = Node::parse("tls:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\nendpoint: 127.0.0.1:0\n", "h.yaml").unwrap();
    let set = CreateSettings::new(
        ComponentId::new("health_check", None),
        Kind::Extension,
        SelfTelemetry::new(&[]),
    );
    let extension = HealthCheckExtensionFactory.create(set, &bad).unwrap();
    let err = format!("{:#}", extension.start().await.unwrap_err());
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}
