//! `auth.authenticator` on both protocols with the real `bearertokenauth` and `basicauth`
//! extensions, real tonic and hyper clients on 127.0.0.1, plain and over TLS with client
//! certificates (`client_ca_file`).

mod common;

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use common::*;
use ferrotel_core::component::{
    ComponentId, CreateSettings, ExtensionFactory, Host, Kind, Lifecycle, SignalConsumers,
};
use ferrotel_core::config::Node;
use ferrotel_core::signal::Signal;
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_extension_basicauth::BasicAuthExtensionFactory;
use ferrotel_extension_bearertokenauth::BearerTokenAuthExtensionFactory;
use ferrotel_receiver_otlp::OtlpReceiver;
use ferrotel_testkit::{TestPki, metric_value};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const TOKEN: &str = "s3cr3t-token-for-tests";

/// A receiver whose host has the extensions `extensions` (id, YAML) created on it.
async fn start_authenticated(extensions: &[(&str, &str)], yaml: &str) -> Harness {
    let host = Arc::new(Host::default());
    let telemetry = SelfTelemetry::new(&[]);
    for (id, config) in extensions {
        let id = ComponentId::parse(id).unwrap();
        let factory: &dyn ExtensionFactory = match id.type_name.as_str() {
            "bearertokenauth" => &BearerTokenAuthExtensionFactory,
            "basicauth" => &BasicAuthExtensionFactory,
            other => panic!("no factory for {other}"),
        };
        let set = CreateSettings {
            id,
            kind: Kind::Extension,
            telemetry: telemetry.clone(),
            host: host.clone(),
        };
        factory
            .create(set, &Node::parse(config, "ext.yaml").unwrap())
            .unwrap();
    }
    let recorder = Recorder::new();
    let mut next = SignalConsumers::default();
    for signal in Signal::ALL {
        next.set(signal, recorder.clone());
    }
    let set = CreateSettings {
        id: ComponentId::parse("otlp/test").unwrap(),
        kind: Kind::Receiver,
        telemetry: telemetry.clone(),
        host,
    };
    let receiver = OtlpReceiver::new(config(yaml), set, next).unwrap();
    receiver.start().await.unwrap();
    Harness {
        receiver,
        recorder,
        telemetry,
    }
}

fn bearer_both() -> String {
    "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    auth:\n      authenticator: bearertokenauth\n  http:\n    endpoint: 127.0.0.1:0\n    auth:\n      authenticator: bearertokenauth\n".into()
}

fn bearer_extension() -> (&'static str, String) {
    ("bearertokenauth", format!("token: {TOKEN}\n"))
}

fn grpc_request(
    spans: usize,
    authorization: Option<&str>,
) -> tonic::Request<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(traces(spans));
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    request
}

fn accepted(h: &Harness, transport: &str) -> f64 {
    metric_value(
        &h.telemetry,
        "otelcol_receiver_accepted_spans_total",
        &format!("transport=\"{transport}\""),
    )
}

#[tokio::test]
async fn grpc_requires_the_bearer_token() {
    let (id, ext) = bearer_extension();
    let h = start_authenticated(&[(id, &ext)], &bearer_both()).await;
    let mut client = TraceServiceClient::connect(h.grpc_url()).await.unwrap();

    let wrong = format!("Bearer {TOKEN}x");
    for (authorization, what) in [
        (None, "no header"),
        (Some(wrong.as_str()), "a wrong token"),
        (Some(TOKEN), "the token without its scheme"),
    ] {
        let status = client
            .export(grpc_request(3, authorization))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
        assert!(!status.message().contains(TOKEN), "{what}: {status:?}");
    }
    assert_eq!(h.recorder.items(Signal::Traces), 0, "nothing passed on");

    let right = format!("Bearer {TOKEN}");
    client.export(grpc_request(2, Some(&right))).await.unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 2);
    // Refusals before the receiver's own handling are not counted, as in otelcol.
    assert_eq!(accepted(&h, "grpc"), 2.0);
    assert_eq!(
        metric_value(
            &h.telemetry,
            "otelcol_receiver_refused_spans_total",
            "transport=\"grpc\""
        ),
        0.0
    );
}

type PlainClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn http_post(
    client: &PlainClient,
    url: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let mut request = Request::post(url).header(header::CONTENT_TYPE, content_type);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = client
        .request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn http_requires_the_bearer_token_before_reading_the_body() {
    let (id, ext) = bearer_extension();
    let h = start_authenticated(&[(id, &ext)], &bearer_both()).await;
    let client: PlainClient = Client::builder(TokioExecutor::new()).build_http();
    let url = h.http_url("/v1/traces");
    let body = Bytes::from(traces(4).encode_to_vec());

    let (status, reply) = http_post(&client, &url, None, "application/json", body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let json: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(json["code"], 16, "{json}");
    assert_eq!(
        json["message"],
        "missing or empty authorization header: authorization"
    );

    let wrong = format!("Bearer not-{TOKEN}");
    let (status, reply) = http_post(
        &client,
        &url,
        Some(&wrong),
        "application/x-protobuf",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status_pb = tonic_types::Status::decode(reply).unwrap();
    assert_eq!(status_pb.code, Code::Unauthenticated as i32);
    assert!(!status_pb.message.contains(TOKEN), "{}", status_pb.message);

    // A body that would not decode is still answered 401: it is never read.
    let (status, _) = http_post(
        &client,
        &url,
        None,
        "application/x-protobuf",
        Bytes::from_static(b"\xff\xff not protobuf"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.recorder.items(Signal::Traces), 0, "nothing passed on");

    let right = format!("Bearer {TOKEN}");
    let (status, _) = http_post(&client, &url, Some(&right), "application/x-protobuf", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Traces), 4);
    assert_eq!(accepted(&h, "http"), 4.0);
}

#[tokio::test]
async fn request_params_can_carry_the_credentials() {
    let (id, ext) = bearer_extension();
    let yaml = "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    auth:\n      authenticator: bearertokenauth\n      request_params: [authorization]\n";
    let h = start_authenticated(&[(id, &ext)], yaml).await;
    let client: PlainClient = Client::builder(TokioExecutor::new()).build_http();
    let body = Bytes::from(traces(1).encode_to_vec());
    let with_param = h.http_url(&format!("/v1/traces?authorization=Bearer+{TOKEN}"));
    let (status, _) = http_post(
        &client,
        &with_param,
        None,
        "application/x-protobuf",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let wrong_param = h.http_url("/v1/traces?authorization=Bearer+nope");
    let (status, _) = http_post(&client, &wrong_param, None, "application/x-protobuf", body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.recorder.items(Signal::Traces), 1);
}

#[tokio::test]
async fn grpc_basic_auth_checks_the_htpasswd_entry() {
    let htpasswd = format!(
        "htpasswd:\n  inline: \"alice:{}\"\n",
        "{SHA}vFznddje0Ht4+pmO0FaxwrUKN/M="
    );
    let yaml = "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    auth:\n      authenticator: basicauth/server\n";
    let h = start_authenticated(&[("basicauth/server", &htpasswd)], yaml).await;
    let mut client = TraceServiceClient::connect(h.grpc_url()).await.unwrap();
    let basic = |credentials: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    };
    let status = client
        .export(grpc_request(1, Some(&basic("alice:wrong"))))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "invalid credentials");
    client
        .export(grpc_request(1, Some(&basic("alice:htpasswd-sha"))))
        .await
        .unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 1);
}

/// A CA with a server certificate for 127.0.0.1/localhost and a client certificate.
fn pki() -> TestPki {
    let pki = TestPki::new();
    pki.issue("server", &["localhost", "127.0.0.1"]);
    pki.issue("client", &["client"]);
    pki
}

fn mtls_yaml(pki: &TestPki, protocol: &str) -> String {
    format!(
        "protocols:\n  {protocol}:\n    endpoint: 127.0.0.1:0\n    tls:\n      cert_file: {}\n      key_file: {}\n      client_ca_file: {}\n    auth:\n      authenticator: bearertokenauth\n",
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.ca_file()
    )
}

/// An HTTPS client trusting the test CA, presenting the client certificate when asked to.
fn https_client(
    pki: &TestPki,
    with_cert: bool,
) -> Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in ferrotel_testkit::pki::certs(&pki.ca_pem()) {
        roots.add(cert).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        builder
            .with_client_auth_cert(
                ferrotel_testkit::pki::certs(&pki.read("client.crt")),
                PrivateKeyDer::from_pem_slice(pki.read("client.key").as_bytes()).unwrap(),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

#[tokio::test]
async fn http_over_mtls_needs_both_the_certificate_and_the_token() {
    let pki = pki();
    let (id, ext) = bearer_extension();
    let h = start_authenticated(&[(id, &ext)], &mtls_yaml(&pki, "http")).await;
    let url = format!(
        "https://localhost:{}/v1/traces",
        h.receiver.http_addr().unwrap().port()
    );
    let body = Bytes::from(traces(2).encode_to_vec());
    let post = |authorization: &str| {
        Request::post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(header::AUTHORIZATION, authorization)
            .body(Full::new(body.clone()))
            .unwrap()
    };
    let right = format!("Bearer {TOKEN}");

    let anonymous = https_client(&pki, false);
    assert!(
        anonymous.request(post(&right)).await.is_err(),
        "a client without a certificate must not get through"
    );

    let with_cert = https_client(&pki, true);
    let refused = with_cert.request(post("Bearer nope")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let response = with_cert.request(post(&right)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Traces), 2);
}

async fn tls_channel(
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
async fn grpc_over_mtls_needs_both_the_certificate_and_the_token() {
    let pki = pki();
    let (id, ext) = bearer_extension();
    let h = start_authenticated(&[(id, &ext)], &mtls_yaml(&pki, "grpc")).await;
    let url = format!("https://{}", h.receiver.grpc_addr().unwrap());
    let right = format!("Bearer {TOKEN}");

    let anonymous = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("localhost");
    let refused = match tls_channel(url.clone(), anonymous).await {
        Err(_) => true,
        Ok(channel) => TraceServiceClient::new(channel)
            .export(grpc_request(1, Some(&right)))
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client without a certificate must not get through"
    );

    let with_cert = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca_pem()))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            pki.read("client.crt"),
            pki.read("client.key"),
        ));
    let mut client = TraceServiceClient::new(tls_channel(url, with_cert).await.unwrap());
    let status = client.export(grpc_request(1, None)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    client.export(grpc_request(3, Some(&right))).await.unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 3);
}
