//! OTLP/gRPC: the three `Export` methods, routed by hand as tonic's generated servers do, with the
//! raw codec so request bytes go into the pipeline undecoded.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use ferrotel_core::batching::ClientMetadata;
use ferrotel_core::consumer::ConsumeError;
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::wire::Limits;
use http::{Request, Response};
use hyper::body::Incoming;
use tonic::codec::{CompressionEncoding, Streaming};
use tonic::server::{ClientStreamingService, Grpc};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::codec::RawCodec;
use crate::export::{Exporter, response_protobuf};
use crate::listener::Handler;

pub(crate) const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
pub(crate) const METRICS_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
pub(crate) const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

pub(crate) struct GrpcHandler {
    pub exporter: Exporter,
    /// Largest accepted message, counted after decompression.
    pub max_recv_msg_size: usize,
    /// What one request may hold (`limits:`), checked before it is passed on.
    pub limits: Limits,
    /// `auth.authenticator`: checked before the message is read.
    pub auth: Option<crate::auth::RequestAuth>,
}

fn signal_of(path: &str) -> Option<Signal> {
    match path {
        TRACES_PATH => Some(Signal::Traces),
        METRICS_PATH => Some(Signal::Metrics),
        LOGS_PATH => Some(Signal::Logs),
        _ => None,
    }
}

impl Handler for GrpcHandler {
    type Body = tonic::body::Body;

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Self::Body> {
        // A signal without a pipeline is not registered, so its method is unknown (as in otelcol).
        let Some(signal) =
            signal_of(request.uri().path()).filter(|s| self.exporter.consumers.get(*s).is_some())
        else {
            return Status::unimplemented(format!("unknown method {}", request.uri().path()))
                .into_http();
        };
        if let Some(auth) = &self.auth
            && let Err(error) = auth.check(request.headers(), None)
        {
            return Status::unauthenticated(error.to_string()).into_http();
        }
        let mut grpc = Grpc::new(RawCodec)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Deflate)
            .max_decoding_message_size(self.max_recv_msg_size);
        let metadata = self.exporter.client_metadata(request.headers());
        grpc.client_streaming(
            ExportCall {
                handler: self,
                signal,
                metadata,
            },
            request,
        )
        .await
    }
}

/// One `Export` call. Declared client-streaming so decode errors reach us and can be mapped to
/// the codes grpc-go gives; on the wire a unary call and a one-message client stream are the same.
struct ExportCall {
    handler: Arc<GrpcHandler>,
    signal: Signal,
    metadata: Option<Arc<ClientMetadata>>,
}

impl ClientStreamingService<Bytes> for ExportCall {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let handler = self.handler.clone();
        let signal = self.signal;
        let metadata = self.metadata.clone();
        Box::pin(async move {
            let mut stream = request.into_inner();
            let message = match stream.message().await {
                Ok(Some(message)) => message,
                Ok(None) => return Err(Status::invalid_argument("missing request message")),
                Err(status) => return Err(decode_status(status)),
            };
            let mut data = Telemetry::from_encoded_checked(signal, message, &handler.limits)
                .map_err(|e| {
                    Status::invalid_argument(handler.exporter.refuse_undecodable(signal, &e))
                })?;
            data.context_mut().metadata = metadata;
            match handler.exporter.export(data).await {
                Ok(partial) => Ok(tonic::Response::new(response_protobuf(signal, partial))),
                Err(error) => Err(consume_status(&error)),
            }
        })
    }
}

/// grpc-go answers an oversized message with RESOURCE_EXHAUSTED; tonic says OUT_OF_RANGE before
/// decompression (and RESOURCE_EXHAUSTED after). A message that does not decompress is bad input.
fn decode_status(status: Status) -> Status {
    match status.code() {
        Code::OutOfRange => Status::resource_exhausted(status.message().to_owned()),
        Code::Internal if status.message().starts_with("Error decompressing") => {
            Status::invalid_argument(status.message().to_owned())
        }
        _ => status,
    }
}

/// A refusal is "try later" (UNAVAILABLE, with RetryInfo when the pipeline knows when); a
/// permanent rejection is the client's data (INVALID_ARGUMENT). Never INTERNAL.
pub(crate) fn consume_status(error: &ConsumeError) -> Status {
    match error {
        ConsumeError::Refused {
            retry_after: Some(delay),
            ..
        } => Status::with_error_details(
            Code::Unavailable,
            error.to_string(),
            ErrorDetails::with_retry_info(Some(*delay)),
        ),
        ConsumeError::Refused {
            retry_after: None, ..
        } => Status::unavailable(error.to_string()),
        ConsumeError::Permanent(_) => Status::invalid_argument(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refusals_map_to_retryable_codes() {
        let refused = ConsumeError::Refused {
            reason: "queue full".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        let status = consume_status(&refused);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            consume_status(&ConsumeError::refused("x")).code(),
            Code::Unavailable
        );
        assert_eq!(
            consume_status(&ConsumeError::Permanent("bad".into())).code(),
            Code::InvalidArgument
        );
    }

    #[test]
    fn paths_route_to_signals() {
        assert_eq!(signal_of(TRACES_PATH), Some(Signal::Traces));
        assert_eq!(signal_of(METRICS_PATH), Some(Signal::Metrics));
        assert_eq!(signal_of(LOGS_PATH), Some(Signal::Logs));
        assert_eq!(
            signal_of(
                "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
            ),
            None
        );
    }
}
