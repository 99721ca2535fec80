//! One OTLP client connection for the load generator: h2c for gRPC, HTTP/1.1 keep-alive for
//! OTLP/HTTP, sending bodies that are already compressed and framed, and classifying each answer.

use crate::codec::{self, Compression};
use bytes::Bytes;
use ferrotel_core::Signal;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::time::Duration;
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Grpc,
    Http,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// How the server answered one export request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; `rejected` items were refused by a partial success.
    Acknowledged {
        rejected: u64,
    },
    /// "Try later": the server is overloaded or its queue is full.
    Refused(String),
    Failed(String),
}

enum Sender {
    Grpc(http2::SendRequest<Full<Bytes>>),
    Http(http1::SendRequest<Full<Bytes>>),
}

pub struct Connection {
    protocol: Protocol,
    compression: Compression,
    authority: String,
    /// `None` after a transport error: the next export reconnects.
    sender: Option<Sender>,
}

impl Connection {
    async fn connect(protocol: Protocol, authority: &str) -> std::io::Result<Sender> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        let to_io = |e: hyper::Error| std::io::Error::other(e);
        Ok(match protocol {
            Protocol::Grpc => {
                let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                    .initial_stream_window_size(4 << 20)
                    .initial_connection_window_size(16 << 20)
                    .handshake(io)
                    .await
                    .map_err(to_io)?;
                tokio::spawn(connection);
                Sender::Grpc(sender)
            }
            Protocol::Http => {
                let (sender, connection) = http1::handshake(io).await.map_err(to_io)?;
                tokio::spawn(connection);
                Sender::Http(sender)
            }
        })
    }

    /// Connects, retrying while the server is not listening yet, for at most `patience`.
    pub async fn open_retrying(
        protocol: Protocol,
        authority: &str,
        compression: Compression,
        patience: Duration,
    ) -> anyhow::Result<Connection> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match Self::connect(protocol, authority).await {
                Ok(sender) => {
                    return Ok(Connection {
                        protocol,
                        compression,
                        authority: authority.to_string(),
                        sender: Some(sender),
                    });
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    anyhow::bail!("cannot connect to {authority} within {patience:?}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Another handle on the same h2 connection (gRPC multiplexes); HTTP/1.1 connections are not shared.
    pub fn share(&self) -> Option<Connection> {
        match &self.sender {
            Some(Sender::Grpc(sender)) => Some(Connection {
                protocol: self.protocol,
                compression: self.compression,
                authority: self.authority.clone(),
                sender: Some(Sender::Grpc(sender.clone())),
            }),
            _ => None,
        }
    }

    /// Drops the connection; the next export opens a new one.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    /// A transport error leaves the connection unusable: the next export reconnects.
    fn broken(&mut self, error: hyper::Error) -> Outcome {
        self.sender = None;
        Outcome::Failed(format!("transport: {error}"))
    }

    /// Sends one prepared body (compressed, and framed for gRPC) and classifies the answer.
    pub async fn export(&mut self, signal: Signal, body: Bytes) -> Outcome {
        self.export_with_hint(signal, body).await.0
    }

    /// As [`Connection::export`], also returning the server's "retry after" wish on a refusal
    /// (HTTP `Retry-After`, gRPC `RetryInfo`), which a well-behaved client waits for.
    pub async fn export_with_hint(
        &mut self,
        signal: Signal,
        body: Bytes,
    ) -> (Outcome, Option<Duration>) {
        if self.sender.is_none() {
            match Self::connect(self.protocol, &self.authority).await {
                Ok(sender) => self.sender = Some(sender),
                Err(e) => return (Outcome::Failed(format!("connect: {e}")), None),
            }
        }
        let encoding = self.compression.header_value();
        match self.sender.as_mut().expect("connected above") {
            Sender::Grpc(sender) => {
                let mut request = Request::post(format!(
                    "http://{}{}",
                    self.authority,
                    codec::grpc_path(signal)
                ))
                .header(header::CONTENT_TYPE, "application/grpc")
                .header(header::TE, "trailers")
                .header("grpc-accept-encoding", "identity,gzip");
                if let Some(encoding) = encoding {
                    request = request.header("grpc-encoding", encoding);
                }
                let request = request.body(Full::new(body)).expect("valid request");
                let sent = match sender.ready().await {
                    Ok(()) => sender.send_request(request).await,
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(response) => grpc_outcome(signal, response).await,
                    Err(e) => (self.broken(e), None),
                }
            }
            Sender::Http(sender) => {
                let mut request = Request::post(codec::http_path(signal))
                    .header(header::HOST, &self.authority)
                    .header(header::CONTENT_TYPE, "application/x-protobuf");
                if let Some(encoding) = encoding {
                    request = request.header(header::CONTENT_ENCODING, encoding);
                }
                let request = request.body(Full::new(body)).expect("valid request");
                let sent = match sender.ready().await {
                    Ok(()) => sender.send_request(request).await,
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(response) => http_outcome(signal, response).await,
                    Err(e) => (self.broken(e), None),
                }
            }
        }
    }
}

/// Items a partial success refused, from an encoded Export*ServiceResponse.
fn rejected_items(signal: Signal, response: &[u8]) -> u64 {
    let rejected = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_spans),
        Signal::Metrics => ExportMetricsServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_data_points),
        Signal::Logs => ExportLogsServiceResponse::decode(response)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| p.rejected_log_records),
    };
    rejected.unwrap_or(0).max(0) as u64
}

/// grpc-message is percent-encoded.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The delay of a `google.rpc.RetryInfo` in a gRPC status's details, if there is one.
fn grpc_retry_delay(headers: &HeaderMap) -> Option<Duration> {
    use tonic_types::StatusExt;
    let status = tonic::Status::from_header_map(headers)?;
    status.get_details_retry_info()?.retry_delay
}

async fn grpc_outcome(
    signal: Signal,
    response: http::Response<hyper::body::Incoming>,
) -> (Outcome, Option<Duration>) {
    let (parts, body) = response.into_parts();
    if parts.status != StatusCode::OK {
        return (
            Outcome::Failed(format!("HTTP {} on a gRPC call", parts.status)),
            None,
        );
    }
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(e) => return (Outcome::Failed(format!("reading the answer: {e}")), None),
    };
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();
    let field = |name: &str| -> Option<String> {
        trailers
            .get(name)
            .or_else(|| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(code) = field("grpc-status").and_then(|code| code.parse::<u32>().ok()) else {
        return (
            Outcome::Failed("answer without grpc-status".to_string()),
            None,
        );
    };
    let message = field("grpc-message")
        .map(|m| percent_decode(&m))
        .unwrap_or_default();
    match code {
        0 => {
            let compression = Compression::from_header(
                parts
                    .headers
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok()),
            );
            let frame = codec::grpc_unframe(data)
                .ok()
                .and_then(|frames| frames.into_iter().next());
            let rejected = match (frame, compression) {
                (Some((false, message)), _) => rejected_items(signal, &message),
                (Some((true, message)), Ok(compression)) => compression
                    .decompress(&message, 1 << 20)
                    .map(|m| rejected_items(signal, &m))
                    .unwrap_or(0),
                _ => 0,
            };
            (Outcome::Acknowledged { rejected }, None)
        }
        8 | 14 => {
            let status_headers = if trailers.contains_key("grpc-status") {
                &trailers
            } else {
                &parts.headers
            };
            (
                Outcome::Refused(format!(
                    "gRPC {}: {message}",
                    ferrotel_l7::grpc_code_name(code).unwrap_or("?")
                )),
                grpc_retry_delay(status_headers),
            )
        }
        _ => (
            Outcome::Failed(format!(
                "gRPC {}: {message}",
                ferrotel_l7::grpc_code_name(code).unwrap_or("?")
            )),
            None,
        ),
    }
}

/// google.rpc.Status, the body of an OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn is_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-protobuf"))
}

async fn http_outcome(
    signal: Signal,
    response: http::Response<hyper::body::Incoming>,
) -> (Outcome, Option<Duration>) {
    let (parts, body) = response.into_parts();
    let data = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return (Outcome::Failed(format!("reading the answer: {e}")), None),
    };
    let status = parts.status;
    if status == StatusCode::OK {
        let rejected = if is_protobuf(&parts.headers) {
            rejected_items(signal, &data)
        } else {
            0
        };
        return (Outcome::Acknowledged { rejected }, None);
    }
    let detail = match RpcStatus::decode(data.as_ref()) {
        Ok(rpc) if is_protobuf(&parts.headers) => rpc.message,
        _ => String::from_utf8_lossy(&data[..data.len().min(200)])
            .trim()
            .to_string(),
    };
    let message = format!("HTTP {}: {detail}", status.as_u16());
    // Retry-After in delta-seconds; the HTTP-date form is not used by OTLP servers.
    let retry_after = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match status.as_u16() {
        429 | 502 | 503 | 504 => (Outcome::Refused(message), retry_after),
        _ => (Outcome::Failed(message), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode("queue%20is%20full"), "queue is full");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E2%9C%93 ok"), "✓ ok");
    }

    #[test]
    fn partial_success_counts_rejected_items() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 7,
                error_message: "too old".into(),
            }),
        };
        assert_eq!(rejected_items(Signal::Traces, &response.encode_to_vec()), 7);
        assert_eq!(rejected_items(Signal::Traces, &[]), 0);
    }
}
