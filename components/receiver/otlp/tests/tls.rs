//! TLS on both protocols with certificates made by the test (rcgen, ring): server-only TLS,
//! client-certificate verification (`client_ca_file`) and certificate reload.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrotel_core::signal::Signal;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    /// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files.
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        for (name, sans) in [
            (
                "server",
                vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ),
            ("client", vec!["client".to_string()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            std::fs::write(dir.path().join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        Pki {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn tls_yaml(&self, extra: &str) -> String {
        format!(
            "      cert_file: {}\n      key_file: {}\n{extra}",
            self.path("server.crt"),
            self.path("server.key")
        )
    }

    fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile_certs(&self.ca_pem) {
            roots.add(cert).unwrap();
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }
}

fn rustls_pemfile_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
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
    let pki = Pki::new();
    let tls = pki.tls_yaml("");
    let yaml = format!(
        "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}  http:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}"
    );
    let h = start_with(&yaml, &Signal::ALL).await;

    let grpc_url = format!("https://{}", h.receiver.grpc_addr().unwrap());
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
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
    let pki = Pki::new();
    let tls = pki.tls_yaml(&format!("      client_ca_file: {}\n", pki.path("ca.crt")));
    let h = start_with(
        &format!("protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    tls:\n{tls}"),
        &Signal::ALL,
    )
    .await;
    let url = format!("https://{}", h.receiver.grpc_addr().unwrap());
    let anonymous = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
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
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost")
        .identity(identity);
    TraceServiceClient::new(grpc_channel(url, with_cert).await.unwrap())
        .export(traces(1))
        .await
        .unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 1);
}

/// The certificate a fresh TLS connection to `port` is served.
async fn served_certificate(pki: &Pki, port: u16) -> Vec<u8> {
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
    let pki = Pki::new();
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
        rustls_pemfile_certs(&pki.read("server.crt"))[0].to_vec()
    );

    // Another certificate written over the served files is picked up once the interval has passed.
    std::fs::copy(pki.path("client.crt"), pki.path("current.crt")).unwrap();
    std::fs::copy(pki.path("client.key"), pki.path("current.key")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The "client" certificate is not valid for localhost, so look at what is offered.
    assert_eq!(
        offered_certificate(port).await,
        rustls_pemfile_certs(&pki.read("client.crt"))[0].to_vec()
    );
}

/// Handshakes with a client that accepts anything and reports the certificate it saw.
async fn offered_certificate(port: u16) -> Vec<u8> {
    #[derive(Debug)]
    struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}
