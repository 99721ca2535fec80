//! The OTLP/gRPC [`Sender`]: one lazily connected HTTP/2 channel per exporter, status handling
//! per the OTLP specification, and partial success read from the response.

use async_trait::async_trait;
use bytes::Bytes;
use ferrotel_core::exporterhelper::{Delivered, SendError, Sender};
use ferrotel_core::{Signal, Telemetry};
use hyper_rustls::{FixedServerNameResolver, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::config::{OtlpGrpcConfig, Target};
use crate::grpc::{CallError, CallSettings, export};

enum Connector {
    Plain(HttpConnector),
    Tls(hyper_rustls::HttpsConnector<HttpConnector>),
    Unix,
}

pub struct GrpcSender {
    endpoint: Endpoint,
    connector: Connector,
    channel: OnceLock<Channel>,
    call: CallSettings,
    wait_for_ready: bool,
}

impl GrpcSender {
    pub fn new(config: &OtlpGrpcConfig) -> anyhow::Result<Self> {
        let target = config.target().map_err(anyhow::Error::msg)?;
        let (uri, connector, origin_authority) = match &target {
            Target::Tcp { authority, tls } => {
                let mut http = HttpConnector::new();
                http.enforce_http(false);
                http.set_nodelay(true);
                let (scheme, connector) = if *tls {
                    let tls_config = config.tls.client_config()?;
                    let builder = HttpsConnectorBuilder::new().with_tls_config(tls_config).https_or_http();
                    let builder = match config.tls.server_name()? {
                        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name)),
                        None => builder,
                    };
                    ("https", Connector::Tls(builder.enable_http2().wrap_connector(http)))
                } else {
                    ("http", Connector::Plain(http))
                };
                (format!("{scheme}://{authority}"), connector, format!("{scheme}://{authority}"))
            }
            Target::Unix { path } => (format!("unix://{path}"), Connector::Unix, "http://localhost".to_string()),
        };
        let mut endpoint = Endpoint::from_shared(uri.clone()).map_err(|e| anyhow::anyhow!("endpoint {uri:?}: {e}"))?;
        if let Some(keepalive) = &config.keepalive {
            if !keepalive.time.is_zero() {
                endpoint = endpoint.http2_keep_alive_interval(keepalive.time.0).keep_alive_while_idle(keepalive.permit_without_stream);
                if !keepalive.timeout.is_zero() {
                    endpoint = endpoint.keep_alive_timeout(keepalive.timeout.0);
                }
            }
        }
        let origin = if config.authority.is_empty() {
            origin_authority
        } else {
            let scheme = origin_authority.split("://").next().unwrap_or("http");
            format!("{scheme}://{}", config.authority)
        };
        origin.parse::<http::Uri>().map_err(|e| anyhow::anyhow!("authority {:?}: {e}", config.authority))?;
        Ok(GrpcSender {
            endpoint,
            connector,
            channel: OnceLock::new(),
            call: CallSettings {
                origin,
                headers: config.headers.to_header_map()?,
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

    async fn call(&self, signal: Signal, payload: Bytes) -> Result<Bytes, Status> {
        let mut pause = Duration::from_millis(50);
        loop {
            match export(self.channel(), &self.call, signal, payload.clone()).await {
                Ok(message) => return Ok(message),
                Err(CallError::Server(status)) => return Err(status),
                // wait_for_ready: a connection that is down is waited for (the exporter's timeout
                // bounds the wait) rather than failing the attempt at once.
                Err(CallError::Transport(status)) if self.wait_for_ready && status.code() == Code::Unavailable => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(CallError::Transport(status)) => return Err(status),
            }
        }
    }
}

/// Sorts a status per the OTLP specification: RESOURCE_EXHAUSTED is retried only when the
/// server said when (RetryInfo), whose delay becomes the floor of the next wait.
pub fn classify(status: &Status) -> SendError {
    let msg = format!("rpc error: code = {:?} desc = {}", status.code(), status.message());
    let retry_info = status.get_details_retry_info();
    let retry_after = retry_info.as_ref().and_then(|r| r.retry_delay);
    match status.code() {
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Aborted | Code::OutOfRange | Code::DataLoss => {
            SendError::Retryable { msg, retry_after }
        }
        Code::ResourceExhausted if retry_info.is_some() => SendError::Retryable { msg, retry_after },
        _ => SendError::Permanent(msg),
    }
}

/// The rejected count and message of an `Export*ServiceResponse`.
fn partial_success(signal: Signal, response: &[u8]) -> Delivered {
    let decoded = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(response)
            .map(|r| r.partial_success.map(|p| (p.rejected_spans, p.error_message))),
        Signal::Metrics => ExportMetricsServiceResponse::decode(response)
            .map(|r| r.partial_success.map(|p| (p.rejected_data_points, p.error_message))),
        Signal::Logs => ExportLogsServiceResponse::decode(response)
            .map(|r| r.partial_success.map(|p| (p.rejected_log_records, p.error_message))),
    };
    match decoded {
        Ok(Some((rejected, message))) => Delivered::partial(usize::try_from(rejected).unwrap_or(0), message),
        Ok(None) => Delivered::all(),
        Err(e) => {
            tracing::debug!(error = %e, "the export response could not be decoded; taking it as full success");
            Delivered::all()
        }
    }
}

#[async_trait]
impl Sender for GrpcSender {
    async fn start(&self) -> anyhow::Result<()> {
        self.channel();
        Ok(())
    }

    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        let signal = data.signal();
        let response = self.call(signal, data.to_encoded()).await.map_err(|status| classify(&status))?;
        Ok(partial_success(signal, &response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn statuses_are_sorted_per_the_otlp_spec() {
        for code in [Code::Unavailable, Code::Cancelled, Code::DeadlineExceeded, Code::Aborted, Code::OutOfRange, Code::DataLoss] {
            assert!(matches!(classify(&Status::new(code, "x")), SendError::Retryable { retry_after: None, .. }), "{code:?}");
        }
        for code in [Code::InvalidArgument, Code::Unauthenticated, Code::PermissionDenied, Code::Unimplemented, Code::Internal, Code::ResourceExhausted] {
            assert!(matches!(classify(&Status::new(code, "x")), SendError::Permanent(_)), "{code:?}");
        }
        let throttled = Status::with_error_details(Code::ResourceExhausted, "slow down", ErrorDetails::with_retry_info(Some(Duration::from_secs(3))));
        assert_eq!(
            classify(&throttled),
            SendError::Retryable { msg: "rpc error: code = ResourceExhausted desc = slow down".into(), retry_after: Some(Duration::from_secs(3)) }
        );
    }

    #[test]
    fn partial_success_is_read_per_signal() {
        use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;
        let response = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess { rejected_data_points: 4, error_message: "stale".into() }),
        };
        assert_eq!(partial_success(Signal::Metrics, &response.encode_to_vec()), Delivered::partial(4, "stale"));
        assert_eq!(partial_success(Signal::Traces, &[]), Delivered::all());
    }
}
