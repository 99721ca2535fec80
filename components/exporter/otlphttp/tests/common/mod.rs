//! A real OTLP/HTTP backend (hyper server on 127.0.0.1, HTTP/1.1 and HTTP/2, optional TLS) that
//! records requests and answers from a script, a CONNECT proxy, and the shared test kit bound to
//! this exporter.

// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

use bytes::Bytes;
use ferrotel_core::component::{CreateSettings, Kind, PipeRef};
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_exporter_otlphttp::OtlpHttpExporterFactory;
use ferrotel_testkit::{create_settings, metric_value, start_exporter};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the backend answers the next request.
#[derive(Clone, Debug)]
pub enum Reply {
    Ok,
    /// 200 with this body and content type (a partial success).
    OkWith(Vec<u8>, &'static str),
    /// An error status, with an optional Retry-After and body (content type, bytes).
    Fail(u16, Option<&'static str>, Option<(&'static str, Vec<u8>)>),
}

#[derive(Clone, Debug)]
pub struct Record {
    pub path: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    /// The body as received (maybe compressed).
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Record {
    /// The body after undoing its Content-Encoding.
    pub fn decoded_body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self
            .headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap())
        {
            None => out = self.body.clone(),
            Some("gzip") => drop(
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .unwrap(),
            ),
            Some("deflate") => drop(
                flate2::read::ZlibDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .unwrap(),
            ),
            Some("zstd") => out = zstd::stream::decode_all(&self.body[..]).unwrap(),
            Some(other) => panic!("unexpected content-encoding {other}"),
        }
        out
    }
}

#[derive(Default)]
struct State {
    records: Vec<Record>,
    script: VecDeque<Reply>,
}

#[derive(Clone, Default)]
pub struct Backend(Arc<Mutex<State>>);

impl Backend {
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.0.lock().unwrap().script.extend(replies);
    }

    pub fn records(&self) -> Vec<Record> {
        self.0.lock().unwrap().records.clone()
    }

    async fn handle(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<http::Response<Full<Bytes>>, hyper::Error> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        let reply = {
            let mut state = self.0.lock().unwrap();
            state.records.push(Record {
                path: parts.uri.path().to_string(),
                version: parts.version,
                headers: parts.headers,
                body,
                at: Instant::now(),
            });
            state.script.pop_front().unwrap_or(Reply::Ok)
        };
        let (status, retry_after, content_type, body) = match reply {
            Reply::Ok => (200, None, "application/x-protobuf", Vec::new()),
            Reply::OkWith(body, content_type) => (200, None, content_type, body),
            Reply::Fail(status, retry_after, body) => {
                let (content_type, body) = body.unwrap_or(("application/x-protobuf", Vec::new()));
                (status, retry_after, content_type, body)
            }
        };
        let mut response = http::Response::builder()
            .status(status)
            .header("content-type", content_type);
        if let Some(retry_after) = retry_after {
            response = response.header("retry-after", retry_after);
        }
        Ok(response.body(Full::new(Bytes::from(body))).unwrap())
    }

    /// Serves on 127.0.0.1; with `tls`, over rustls offering h2 and http/1.1.
    pub async fn serve(&self, tls: Option<rustls::ServerConfig>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tls.map(|mut config| {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let backend = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let backend = backend.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let backend = backend.clone();
                        async move { backend.handle(request).await }
                    });
                    let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ =
                                    server.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = server.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        addr
    }
}

/// An HTTP CONNECT proxy on 127.0.0.1 that records each CONNECT head and relays the bytes.
pub async fn connect_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split_whitespace().nth(1).unwrap().to_string();
                seen.lock().unwrap().push(head);
                let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, heads)
}

pub use ferrotel_testkit::{FAST_RETRY, batch, dead_port, eventually};

pub const ID: &str = "otlp_http/test";

pub fn settings(telemetry: &Arc<SelfTelemetry>) -> CreateSettings {
    create_settings(ID, Kind::Exporter, telemetry)
}

/// An exporter made by the factory from `yaml`, started.
pub async fn exporter(yaml: &str) -> (PipeRef, Arc<SelfTelemetry>) {
    start_exporter(&OtlpHttpExporterFactory, ID, yaml).await
}

/// A self-metric of the test exporter (0 if never written).
pub fn metric(telemetry: &SelfTelemetry, name: &str) -> f64 {
    metric_value(telemetry, name, &format!("exporter=\"{ID}\""))
}
