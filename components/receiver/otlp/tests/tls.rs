//! TLS on both protocols with certificates made by the test (rcgen, ring): server-only TLS,
//! client-certificate verification (`client_ca_file`) and certificate reload.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrotel_core::signal::Signal;
use ferrotel_core::tls::TlsClientSetting;
use ferrotel_testkit::TestPki;
use ferrotel_testkit::pki::certs;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use rustls::pki_types::ServerName;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files
/// (`ca.crt`, `server.crt`/`.key`, `client.crt`/`.key`).
fn server_and_client_pki() -> TestPki {
    let pki = TestPki::new();
    pki.issue("server", &["localhost", "127.0.0.1"]);
    pki.issue("client", &["client"]);
    pki
}

fn tls_yaml(pki: &TestPki, extra: &str) -> String {
    format!(
        "      cert_file: {}\n      key_file: {}\n{extra}",
        pki.path("server.crt"),
        pki.path("server.key")
    )
}

async fn grpc_channel(
    url: String,
    tls: ClientTlsConfig,
) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(url)
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

#[tokio::test]
async fn both_protocols_serve_over_tls() {
    let pki = server_and_client_pki();
    let tls = tls_yaml(&pki, "");
    let yaml = format!(
        "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}  http:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}"
    );
    let h = start_with(&yaml, &Signal::ALL).await;

    let grpc_url = format!("https://{}", h.receiver.grpc_addr().unwrap());
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("localhost");
    let mut client = TraceServiceClient::new(grpc_channel(grpc_url, tls).await.unwrap());
    client.export(traces(2)).await.unwrap();

    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(pki.client_config())
        .https_only()
        .enable_http1()
        .build();
    let http_client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let url = format!(
        "https://localhost:{}/v1/traces",
        h.receiver.http_addr().unwrap().port()
    );
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(traces(3).encode_to_vec())))
        .unwrap();
    let response = http_client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    assert_eq!(h.recorder.items(Signal::Traces), 5);

    // Plain HTTP to the TLS port gets no OTLP answer.
    let plain: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("http://{}/v1/traces", h.receiver.http_addr().unwrap());
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert!(plain.request(request).await.is_err());
}

#[tokio::test]
async fn client_ca_file_requires_a_client_certificate() {
    let pki = server_and_client_pki();
    let tls = tls_yaml(
        &pki,
        &format!("      client_ca_file: {}\n", pki.path("ca.crt")),
    );
    let h = start_with(
        &format!("protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}"),
        &Signal::ALL,
    )
    .await;
    let url = format!("https://{}", h.receiver.grpc_addr().unwrap());
    let anonymous = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("localhost");
    let refused = match grpc_channel(url.clone(), anonymous).await {
        Err(_) => true,
        Ok(channel) => TraceServiceClient::new(channel)
            .export(traces(1))
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client without a certificate must not get through"
    );

    let identity = Identity::from_pem(pki.read("client.crt"), pki.read("client.key"));
    let with_cert = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("localhost")
        .identity(identity);
    TraceServiceClient::new(grpc_channel(url, with_cert).await.unwrap())
        .export(traces(1))
        .await
        .unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 1);
}

/// The certificate a fresh TLS connection to `port` is served.
async fn served_certificate(pki: &TestPki, port: u16) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(pki.client_config()));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn certificates_reload_after_the_interval() {
    let pki = server_and_client_pki();
    std::fs::copy(pki.path("server.crt"), pki.path("current.crt")).unwrap();
    std::fs::copy(pki.path("server.key"), pki.path("current.key")).unwrap();
    let yaml = format!(
        "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    tls:\n      cert_file: {}\n      key_file: {}\n      reload_interval: 200ms\n",
        pki.path("current.crt"),
        pki.path("current.key")
    );
    let h = start_with(&yaml, &Signal::ALL).await;
    let port = h.receiver.http_addr().unwrap().port();
    assert_eq!(
        served_certificate(&pki, port).await,
        certs(&pki.read("server.crt"))[0].to_vec()
    );

    // Another certificate written over the served files is picked up once the interval has passed.
    std::fs::copy(pki.path("client.crt"), pki.path("current.crt")).unwrap();
    std::fs::copy(pki.path("client.key"), pki.path("current.key")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The "client" certificate is not valid for localhost, so look at what is offered.
    assert_eq!(
        offered_certificate(port).await,
        certs(&pki.read("client.crt"))[0].to_vec()
    );
}

/// Handshakes with a client that accepts anything (`tls::insecure_skip_verify`) and reports the
/// certificate it saw.
async fn offered_certificate(port: u16) -> Vec<u8> {
    let config = TlsClientSetting {
        insecure_skip_verify: true,
        ..Default::default()
    }
    .client_config()
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}
