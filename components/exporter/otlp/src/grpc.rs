//! One OTLP/gRPC export call over a tonic `Channel`, written by hand rather than through a
//! generated client: the request body is the batch's protobuf bytes behind the 5-byte gRPC frame
//! header (no decode, no re-encode, no copy when uncompressed), compressed at ferrotel's fast
//! level. tonic still reads the response, its trailers and its status.

use bytes::{BufMut, Bytes, BytesMut};
use ferrotel_core::Signal;
use ferrotel_core::auth::ClientAuthenticator;
use ferrotel_core::exporterhelper::Compression;
use http::header::{CONTENT_TYPE, HeaderValue, TE, USER_AGENT};
use http_body::Frame;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tonic::body::Body;
use tonic::codec::{CompressionEncoding, DecodeBuf, Decoder, Streaming};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::ServiceExt;

/// The service path of each signal's `Export` method.
pub fn export_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

/// How every call is made: fixed per exporter.
pub struct CallSettings {
    pub headers: http::HeaderMap,
    /// Credentials asked for anew on every call (a rotated token is picked up).
    pub auth: Option<Arc<dyn ClientAuthenticator>>,
    pub compression: Compression,
    /// Sent as `grpc-timeout`, so the server can give up when we do.
    pub timeout: Duration,
}

/// The response message, as bytes (decoded by the caller: it is a few bytes of partial success).
struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Where a call failed: before the server answered (the connection), or with the server's status.
pub enum CallError {
    Transport(Status),
    Server(Status),
}

/// gRPC's `grpc-timeout` header value: at most 8 digits and a unit.
fn grpc_timeout(timeout: Duration) -> Option<HeaderValue> {
    if timeout.is_zero() {
        return None;
    }
    let millis = timeout.as_millis();
    let value = if millis < 100_000_000 {
        format!("{millis}m")
    } else {
        format!("{}S", timeout.as_secs().min(99_999_999))
    };
    HeaderValue::from_str(&value).ok()
}

fn user_agent() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "ferrotel/{} ({}/{}) grpc-rust-tonic",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    ))
    .expect("a static user agent is a valid header value")
}

/// The gRPC message for an encoded request, compressed as configured: made once per batch (on a
/// blocking thread when large) and reused by every attempt.
pub fn message(settings: &CallSettings, payload: Bytes) -> std::io::Result<Bytes> {
    settings.compression.compress(payload, None)
}

/// Sends one `Export` request whose `message` came from [`message`], and returns the response
/// message bytes.
pub async fn export(
    channel: &Channel,
    settings: &CallSettings,
    signal: Signal,
    message: Bytes,
) -> Result<Bytes, CallError> {
    let compressed = settings.compression.encoding().is_some();
    let length = u32::try_from(message.len()).map_err(|_| {
        CallError::Server(Status::resource_exhausted(
            "the batch exceeds gRPC's 4 GiB message limit",
        ))
    })?;
    let mut header = BytesMut::with_capacity(5);
    header.put_u8(u8::from(compressed));
    header.put_u32(length);
    let frames = [
        Ok::<_, Infallible>(Frame::data(header.freeze())),
        Ok(Frame::data(message)),
    ];
    let body = Body::new(http_body_util::StreamBody::new(futures::stream::iter(
        frames,
    )));

    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .version(http::Version::HTTP_2)
        // The channel fills in scheme and authority (its origin).
        .uri(export_path(signal))
        .body(body)
        .map_err(|e| {
            CallError::Server(Status::internal(format!(
                "building the request failed: {e}"
            )))
        })?;
    let headers = request.headers_mut();
    if let Some(auth) = &settings.auth {
        let credentials = auth.headers().map_err(|e| {
            CallError::Server(Status::unavailable(format!(
                "the client authenticator gave no credentials: {e}"
            )))
        })?;
        headers.extend(credentials);
    }
    // Configured headers win over the authenticator's, as in otelcol.
    headers.extend(settings.headers.clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert(USER_AGENT, user_agent());
    if let Some(encoding) = settings.compression.encoding() {
        headers.insert("grpc-encoding", HeaderValue::from_static(encoding));
    }
    if let Some(timeout) = grpc_timeout(settings.timeout) {
        headers.insert("grpc-timeout", timeout);
    }

    let response = channel
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| CallError::Transport(Status::from_error(Box::new(e))))?;

    // A trailers-only response carries the status in its headers.
    if let Some(status) = Status::from_header_map(response.headers()) {
        return if status.code() == Code::Ok {
            Ok(Bytes::new())
        } else {
            Err(CallError::Server(status))
        };
    }
    let encoding = match response
        .headers()
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => None,
        Some("gzip") => Some(CompressionEncoding::Gzip),
        Some("zstd") => Some(CompressionEncoding::Zstd),
        Some("deflate") => Some(CompressionEncoding::Deflate),
        Some(other) => {
            return Err(CallError::Server(Status::internal(format!(
                "the server answered with unknown grpc-encoding {other:?}"
            ))));
        }
    };
    let status_code = response.status();
    let mut stream = Streaming::new_response(
        RawDecoder,
        response.into_body(),
        status_code,
        encoding,
        None,
    );
    let message = stream.message().await.map_err(CallError::Server)?;
    // Reading on to the trailers surfaces a non-OK grpc-status sent after the message.
    stream.trailers().await.map_err(CallError::Server)?;
    Ok(message.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_written_in_grpc_units() {
        assert_eq!(grpc_timeout(Duration::from_secs(5)).unwrap(), "5000m");
        assert_eq!(
            grpc_timeout(Duration::from_secs(200_000)).unwrap(),
            "200000S"
        );
        assert!(grpc_timeout(Duration::ZERO).is_none());
    }
}
