//! The OTLP/HTTP [`Sender`]: one POST per batch, status handling per the OTLP/HTTP specification.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use ferrotel_core::auth::ClientAuthenticator;
use ferrotel_core::exporterhelper::{Compression, Delivered, SendError, Sender, response};
use ferrotel_core::otlp_json::{OtlpMessage, encode_json, json_to_protobuf};
use ferrotel_core::{Signal, Telemetry};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use http_body_util::{BodyExt, Full};
use prost::Message;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::client::HttpClient;
use crate::config::{Encoding, OtlpHttpConfig};

/// At most this much of a response body is read (as otelcol does).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub struct HttpSender {
    client: HttpClient,
    urls: [Option<http::Uri>; 3],
    headers: http::HeaderMap,
    /// Credentials asked for anew on every request (a rotated token is picked up).
    auth: Option<Arc<dyn ClientAuthenticator>>,
    compression: Compression,
    level: Option<i32>,
    encoding: Encoding,
    user_agent: HeaderValue,
}

/// google.rpc.Status, the OTLP/HTTP error body (its details are not needed for a log line).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

impl HttpSender {
    pub fn new(
        config: &OtlpHttpConfig,
        auth: Option<Arc<dyn ClientAuthenticator>>,
    ) -> anyhow::Result<Self> {
        let mut urls: [Option<http::Uri>; 3] = Default::default();
        for signal in Signal::ALL {
            if let Some(url) = config.signal_url(signal) {
                urls[signal as usize] = Some(url.parse().map_err(|e| {
                    anyhow::anyhow!("{signal}_endpoint {url:?} must be a valid URL: {e}")
                })?);
            }
        }
        let user_agent = format!(
            "ferrotel/{} ({}/{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        Ok(HttpSender {
            client: HttpClient::new(config)?,
            urls,
            headers: config.headers.to_header_map()?,
            auth,
            compression: config.compression,
            level: config.compression_params.level(),
            encoding: config.encoding,
            user_agent: HeaderValue::from_str(&user_agent)?,
        })
    }

    fn content_type(&self) -> &'static str {
        match self.encoding {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// The request body of a batch, encoded and compressed as configured.
    fn body(&self, data: &Telemetry) -> Result<Bytes, SendError> {
        let payload = match self.encoding {
            Encoding::Proto => data.to_encoded(),
            Encoding::Json => Bytes::from(encode_json(data).map_err(|e| {
                SendError::permanent(format!("encoding the batch as OTLP/JSON failed: {e}"))
            })?),
        };
        self.compression
            .compress(payload, self.level)
            .map_err(|e| SendError::permanent(format!("compressing the request failed: {e}")))
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Every cause of a client error, joined (hyper's own message is only "client error (Connect)").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn read_limited(body: hyper::body::Incoming) -> Bytes {
    let mut body = body;
    let mut out = BytesMut::new();
    while out.len() < MAX_RESPONSE_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_RESPONSE_BYTES - out.len();
                    out.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    out.freeze()
}

fn decode_as(message: OtlpMessage, body: &[u8], json: bool) -> Option<Vec<u8>> {
    if json {
        json_to_protobuf(message, body).ok()
    } else {
        Some(body.to_vec())
    }
}

#[async_trait]
impl Sender for HttpSender {
    fn prepare(&self, data: &Telemetry) -> Result<Option<Bytes>, SendError> {
        self.body(data).map(Some)
    }

    async fn send(&self, data: &Telemetry) -> Result<Delivered, SendError> {
        self.send_prepared(data, &self.body(data)?).await
    }

    async fn send_prepared(&self, data: &Telemetry, body: &Bytes) -> Result<Delivered, SendError> {
        let signal = data.signal();
        let Some(url) = &self.urls[signal as usize] else {
            return Err(SendError::permanent(format!(
                "no URL for {signal}: set endpoint or {signal}_endpoint"
            )));
        };
        let content_type = self.content_type();
        let mut request = http::Request::post(url.clone())
            .body(Full::new(body.clone()))
            .map_err(|e| SendError::permanent(format!("building the request failed: {e}")))?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(USER_AGENT, self.user_agent.clone());
        if let Some(encoding) = self.compression.encoding() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        if let Some(auth) = &self.auth {
            let credentials = auth.headers().map_err(|e| {
                SendError::retryable(format!("the client authenticator gave no credentials: {e}"))
            })?;
            headers.extend(credentials);
        }
        // Configured headers win over the defaults and the authenticator's, as in otelcol.
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }

        let response = self.client.request(request).await.map_err(|e| {
            SendError::retryable(format!("failed to make an HTTP request: {}", describe(&e)))
        })?;
        let status = response.status();
        let delay = retry_after(response.headers());
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = read_limited(response.into_body()).await;

        if status.is_success() {
            let decoded = decode_as(OtlpMessage::Response(signal), &body, json);
            return Ok(decoded
                .and_then(|bytes| response::partial_success(signal, &bytes).ok())
                .unwrap_or_default());
        }
        let detail = decode_as(OtlpMessage::RpcStatus, &body, json)
            .and_then(|bytes| RpcStatus::decode(bytes.as_slice()).ok())
            .filter(|s| !s.message.is_empty())
            .map(|s| format!(", Message={}", s.message))
            .unwrap_or_default();
        let msg = format!(
            "error exporting items, request to {url} responded with HTTP Status Code {}{detail}",
            status.as_u16()
        );
        match status.as_u16() {
            429 | 502 | 503 | 504 => Err(SendError::Retryable {
                msg,
                retry_after: delay,
            }),
            _ => Err(SendError::Permanent(msg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = http::HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
