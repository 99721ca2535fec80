//! The OTLP/gRPC [`Sender`]: one lazily connected HTTP/2 channel per exporter, status handling
//! per the OTLP specification, and partial success read from the response.

use async_trait::async_trait;
use bytes::Bytes;
use ferrotel_core::auth::ClientAuthenticator;
use ferrotel_core::exporterhelper::{Delivered, SendError, Sender, response};
use ferrotel_core::{Signal, Telemetry};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::config::{OtlpGrpcConfig, Target};
use crate::grpc::{self, CallError, CallSettings, export};

enum Connector {
    Plain(HttpConnector),
    Tls(TlsConnector),
    Unix,
}

/// TCP, then TLS with ferrotel's own rustls config (versions, suites, client certificate,
/// server name override) and ALPN h2. tonic's TLS is left off: it cannot take such a config.
#[derive(Clone)]
struct TlsConnector {
    http: HttpConnector,
    tls: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connect = self.http.call(uri);
        let (tls, name) = (self.tls.clone(), self.server_name.clone());
        Box::pin(async move {
            let tcp = connect.await?.into_inner();
            Ok(TokioIo::new(tls.connect(name, tcp).await?))
        })
    }
}

pub struct GrpcSender {
    endpoint: Endpoint,
    connector: Connector,
    channel: OnceLock<Channel>,
    call: CallSettings,
    wait_for_ready: bool,
}

impl GrpcSender {
    pub fn new(
        config: &OtlpGrpcConfig,
        auth: Option<Arc<dyn ClientAuthenticator>>,
    ) -> anyhow::Result<Self> {
        let target = config.target().map_err(anyhow::Error::msg)?;
        let plaintext = !matches!(target, Target::Tcp { tls: true, .. });
        if plaintext
            && auth
                .as_ref()
                .is_some_and(|a| a.requires_transport_security())
        {
            anyhow::bail!(
                "auth::authenticator {:?}: its credentials require transport security, but the connection to {:?} is not TLS (set tls, or an https:// endpoint)",
                config
                    .auth
                    .as_ref()
                    .map_or("", |a| a.authenticator.as_str()),
                config.endpoint
            );
        }
        // tonic connects to the endpoint's address; the origin names scheme and authority in requests.
        let (uri, scheme, connector) = match &target {
            Target::Tcp { authority, tls } => {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_nodelay(true);
                if *tls {
                    let mut tls_config = config.tls.client_config()?;
                    tls_config.alpn_protocols = vec![b"h2".to_vec()];
                    let server_name = match config.tls.server_name()? {
                        Some(name) => name,
                        None => host_name(authority)?,
                    };
                    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config));
                    (
                        format!("http://{authority}"),
                        "https",
                        Connector::Tls(TlsConnector {
                            http,
                            tls,
                            server_name,
                        }),
                    )
                } else {
                    (
                        format!("http://{authority}"),
                        "http",
                        Connector::Plain(http),
                    )
                }
            }
            Target::Unix { path } => (format!("unix://{path}"), "http", Connector::Unix),
        };
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| anyhow::anyhow!("endpoint {uri:?}: {e}"))?;
        let authority = match (&target, config.authority.as_str()) {
            (_, named) if !named.is_empty() => named.to_string(),
            (Target::Tcp { authority, .. }, _) => authority.clone(),
            (Target::Unix { .. }, _) => "localhost".to_string(),
        };
        let origin: http::Uri = format!("{scheme}://{authority}")
            .parse()
            .map_err(|e| anyhow::anyhow!("authority {authority:?}: {e}"))?;
        endpoint = endpoint.origin(origin);
        if let Some(keepalive) = config.keepalive.as_ref().filter(|k| !k.time.is_zero()) {
            endpoint = endpoint
                .http2_keep_alive_interval(keepalive.time.0)
                .keep_alive_while_idle(keepalive.permit_without_stream);
            if !keepalive.timeout.is_zero() {
                endpoint = endpoint.keep_alive_timeout(keepalive.timeout.0);
            }
        }
        Ok(GrpcSender {
            endpoint,
            connector,
            channel: OnceLock::new(),
            call: CallSettings {
                headers: config.headers.to_header_map()?,
                auth,
                compression: config.compression,
                timeout: config.timeout.0,
            },
            wait_for_ready: config.wait_for_ready,
        })
    }

    /// The channel connects on first use and reconnects by itself after a failure.
    fn channel(&self) -> &Channel {
        self.channel.get_or_init(|| match &self.connector {
            Connector::Plain(http) => self.endpoint.connect_with_connector_lazy(http.clone()),
            Connector::Tls(https) => self.endpoint.connect_with_connector_lazy(https.clone()),
            Connector::Unix => self.endpoint.connect_lazy(),
        })
    }

    /// The compressed gRPC message of a batch.
    fn message(&self, data: &Telemetry) -> Result<Bytes, SendError> {
        grpc::message(&self.call, data.to_encoded())
            .map_err(|e| SendError::permanent(format!("compressing the request failed: {e}")))
    }

    async fn call(&self, signal: Signal, payload: Bytes) -> Result<Bytes, Status> {
        let mut pause = Duration::from_millis(50);
        loop {
            match export(self.channel(), &self.call, signal, payload.clone()).await {
                Ok(message) => return Ok(message),
                Err(CallError::Server(status)) => return Err(status),
                // wait_for_ready: a connection that is down is waited for (the exporter's timeout
                // bounds the wait) rather than failing the attempt at once.
                Err(CallError::Transport(status))
                    if self.wait_for_ready && status.code() == Code::Unavailable =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(CallError::Transport(status)) => return Err(status),
            }
        }
    }
}

/// The host of `host:port` as a TLS server name (a DNS name or an IP address).
fn host_name(authority: &str) -> anyhow::Result<ServerName<'static>> {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| anyhow::anyhow!("endpoint host {host:?} is not a valid TLS server name"))
}

/// Sorts a status per the OTLP specification: RESOURCE_EXHAUSTED is retried only when the
/// server said when (RetryInfo), whose delay becomes the floor of the next wait.
pub fn classify(status: &Status) -> SendError {
    let msg = format!(
        "rpc error: code = {:?} desc = {}",
        status.code(),
        status.message()
    );
    let retry_info = status.get_details_retry_info();
    let retry_after = retry_info.as_ref().and_then(|r| r.retry_delay);
    match status.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => SendError::Retryable { msg, retry_after },
        Code::ResourceExhausted if retry_info.is_some() => {
            SendError::Retryable { msg, retry_after }
        }
        _ => SendError::Permanent(msg),
    }
}

/// The response's partial success; a response that does not decode is taken as full success.
fn partial_success(signal: Signal, response: &[u8]) -> Delivered {
    response::partial_success(signal, response).unwrap_or_else(|e| {
        tracing::debug!(error = %e, "the export response could not be decoded; taking it as full success");
        Delivered::all()
    })
}

#[async_trait]
impl Sender for GrpcSender {
    async fn start(&self) -> anyhow::Result<()> {
        self.channel();
        Ok(())
    }

    fn prepare(&self, data: &Telemetry) -> Result<Option<Bytes>, SendError> {
        self.message(data).map(Some)
    }

    async fn send_prepared(&self, data: &Telemetry, body: &Bytes) -> Result<Delivered, SendError> {
        let signal = data.signal();
        let response = self
            .call(signal, body.clone())
            .await
            .map_err(|status| classify(&status))?;
        Ok(partial_success(signal, &response))
    }

    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        self.send_prepared(data, &self.message(data)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn statuses_are_sorted_per_the_otlp_spec() {
        for code in [
            Code::Unavailable,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::DataLoss,
        ] {
            assert!(
                matches!(
                    classify(&Status::new(code, "x")),
                    SendError::Retryable {
                        retry_after: None,
                        ..
                    }
                ),
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            assert!(
                matches!(classify(&Status::new(code, "x")), SendError::Permanent(_)),
                "{code:?}"
            );
        }
        let throttled = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(3))),
        );
        assert_eq!(
            classify(&throttled),
            SendError::Retryable {
                msg: "rpc error: code = ResourceExhausted desc = slow down".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }
}
