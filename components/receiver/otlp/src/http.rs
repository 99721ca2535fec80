//! OTLP/HTTP: POST of protobuf or JSON export requests on three paths, answered in the request's
//! encoding; errors are `google.rpc.Status` bodies with the status codes otelcol uses.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrotel_core::consumer::ConsumeError;
use ferrotel_core::otlp_json::{self, JsonError, OtlpMessage};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::wire::{Limits, WireError};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use prost::Message;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

use crate::body::{self, BodyError, Encoding};
use crate::cors::Cors;
use crate::export::{Exporter, PartialSuccess, response_protobuf, retry_after_secs};
use crate::listener::Handler;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn from_content_type(headers: &HeaderMap) -> Option<Format> {
        let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let media_type = value.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case(PROTOBUF) {
            Some(Format::Protobuf)
        } else if media_type.eq_ignore_ascii_case(JSON) {
            Some(Format::Json)
        } else {
            None
        }
    }
}

pub(crate) struct HttpHandler {
    pub exporter: Exporter,
    /// (path, signal) for the signals that have a pipeline.
    pub routes: Vec<(String, Signal)>,
    pub max_body_size: usize,
    /// What one request may hold (`limits:`), checked before it is passed on.
    pub limits: Limits,
    pub encodings: Vec<String>,
    pub cors: Option<Cors>,
    pub response_headers: HeaderMap,
    /// confighttp `read_timeout`: the whole body must arrive within it (0: no limit).
    pub read_timeout: Option<Duration>,
    /// `auth.authenticator`: checked before anything else about the request.
    pub auth: Option<crate::auth::RequestAuth>,
}

type Reply = Response<Full<Bytes>>;

/// JSON bodies at least this large are transcoded on a blocking thread.
const BLOCKING_JSON_BYTES: usize = 64 << 10;

impl Handler for HttpHandler {
    type Body = Full<Bytes>;

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Reply {
        let origin = self
            .cors
            .as_ref()
            .and_then(|_| request.headers().get(header::ORIGIN).cloned());
        let mut response = match &self.cors {
            Some(cors) if Cors::is_preflight(&request) => cors.preflight(&request),
            _ => self.route(request).await,
        };
        let headers = response.headers_mut();
        for (name, value) in &self.response_headers {
            headers.insert(name, value.clone());
        }
        if let Some(cors) = &self.cors {
            cors.decorate(origin.as_ref(), headers);
        }
        response
    }
}

impl HttpHandler {
    fn route_for(&self, path: &str) -> Option<Signal> {
        self.routes
            .iter()
            .find(|(route, _)| {
                route == path || (route.ends_with('/') && path.starts_with(route.as_str()))
            })
            .map(|(_, s)| *s)
    }

    async fn route(&self, request: Request<Incoming>) -> Reply {
        let (parts, body) = request.into_parts();
        if let Some(auth) = &self.auth
            && let Err(error) = auth.check(&parts.headers, parts.uri.query())
        {
            // 401 in the request's encoding, as otlpreceiver's error handler answers confighttp.
            let format = Format::from_content_type(&parts.headers).unwrap_or(Format::Json);
            let message = error.to_string();
            return status_reply(
                format,
                StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                &message,
                None,
            );
        }
        // As in confighttp, an unknown Content-Encoding is refused before the path is looked at.
        let encoding_header = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("?"))
            .unwrap_or("");
        let encoding = match Encoding::parse(encoding_header, &self.encodings) {
            Ok(encoding) => encoding,
            Err(message) => {
                let format = Format::from_content_type(&parts.headers).unwrap_or(Format::Json);
                return status_reply(
                    format,
                    StatusCode::BAD_REQUEST,
                    Code::InvalidArgument,
                    &message,
                    None,
                );
            }
        };
        let Some(signal) = self.route_for(parts.uri.path()) else {
            return text_reply(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        if parts.method != Method::POST {
            let mut reply = text_reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "405 method not allowed, supported: [POST]",
            );
            reply
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return reply;
        }
        let Some(format) = Format::from_content_type(&parts.headers) else {
            return text_reply(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("415 unsupported media type, supported: [{JSON}, {PROTOBUF}]"),
            );
        };
        let content_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let read = body::read_limited(body, content_length, self.max_body_size);
        let wire = match self.read_timeout {
            Some(limit) => match tokio::time::timeout(limit, read).await {
                Ok(result) => result,
                Err(_) => {
                    return status_reply(
                        format,
                        StatusCode::REQUEST_TIMEOUT,
                        Code::DeadlineExceeded,
                        "timed out reading the request body",
                        None,
                    );
                }
            },
            None => read.await,
        };
        let bytes = match wire {
            Ok(bytes) => bytes,
            Err(e) => return body_error_reply(format, &e),
        };
        let bytes = match encoding {
            Some(encoding) => match body::decompress(encoding, bytes, self.max_body_size).await {
                Ok(bytes) => bytes,
                Err(e) => return body_error_reply(format, &e),
            },
            None => bytes,
        };
        let bytes_len = bytes.len();
        let decoded = match format {
            Format::Protobuf => Telemetry::from_encoded_checked(signal, bytes, &self.limits)
                .map_err(|e| self.exporter.refuse_undecodable(signal, &e)),
            Format::Json => {
                let limits = self.limits;
                let decode = move || otlp_json::decode_json_checked(signal, &bytes, &limits);
                // Transcoding a large JSON body takes milliseconds: not on an async worker.
                let decoded = if bytes_len >= BLOCKING_JSON_BYTES {
                    tokio::task::spawn_blocking(decode)
                        .await
                        .unwrap_or(Err(JsonError::Wire(WireError(
                            "the JSON decoding task failed",
                        ))))
                } else {
                    decode()
                };
                decoded.map_err(|e| self.exporter.refuse_bad_json(signal, &e))
            }
        };
        let mut data = match decoded {
            Ok(data) => data,
            Err(message) => {
                return status_reply(
                    format,
                    StatusCode::BAD_REQUEST,
                    Code::InvalidArgument,
                    &message,
                    None,
                );
            }
        };
        data.context_mut().metadata = self.exporter.client_metadata(&parts.headers);
        match self.exporter.export(data).await {
            Ok(partial) => success_reply(format, signal, partial),
            Err(error) => consume_error_reply(format, &error),
        }
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text_reply(status: StatusCode, text: &str) -> Reply {
    reply(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(text.as_bytes()),
    )
}

fn success_reply(format: Format, signal: Signal, partial: Option<PartialSuccess>) -> Reply {
    let protobuf = response_protobuf(signal, partial);
    match format {
        Format::Protobuf => reply(StatusCode::OK, PROTOBUF, protobuf),
        Format::Json => match otlp_json::protobuf_to_json(OtlpMessage::Response(signal), &protobuf)
        {
            Ok(json) => reply(StatusCode::OK, JSON, json),
            Err(e) => status_reply(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                &e.to_string(),
                None,
            ),
        },
    }
}

/// A `google.rpc.Status` body; 503 answers carry `Retry-After` and, in protobuf, a RetryInfo.
fn status_reply(
    format: Format,
    http_status: StatusCode,
    code: Code,
    message: &str,
    retry_after: Option<u64>,
) -> Reply {
    // tonic-types writes a google.rpc.Status with its details; without details, prost does.
    let protobuf: Bytes = match retry_after {
        Some(secs) => {
            let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(secs)));
            Bytes::copy_from_slice(
                tonic::Status::with_error_details(code, message, details).details(),
            )
        }
        None => tonic_types::Status {
            code: code as i32,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec()
        .into(),
    };
    let mut response = match format {
        Format::Protobuf => reply(http_status, PROTOBUF, protobuf),
        Format::Json => match otlp_json::protobuf_to_json(OtlpMessage::RpcStatus, &protobuf) {
            Ok(json) => reply(http_status, JSON, json),
            Err(_) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                JSON,
                Bytes::from_static(br#"{"code":13,"message":"failed to marshal error message"}"#),
            ),
        },
    };
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn body_error_reply(format: Format, error: &BodyError) -> Reply {
    let (status, code) = match error {
        BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
        BodyError::Read(_) | BodyError::Corrupt(_) => {
            (StatusCode::BAD_REQUEST, Code::InvalidArgument)
        }
    };
    status_reply(format, status, code, &error.to_string(), None)
}

/// Refused → 503 with Retry-After (retryable); permanent → 400. Never a 500 for a refusal.
fn consume_error_reply(format: Format, error: &ConsumeError) -> Reply {
    match error {
        ConsumeError::Refused { retry_after, .. } => status_reply(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            &error.to_string(),
            Some(retry_after_secs(*retry_after)),
        ),
        ConsumeError::Permanent(_) => status_reply(
            format,
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            &error.to_string(),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(reply: Reply) -> Bytes {
        reply.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn refusals_carry_retry_after_in_both_encodings() {
        let refused = ConsumeError::Refused {
            reason: "queue is full".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        let json = consume_error_reply(Format::Json, &refused);
        assert_eq!(json.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json.headers()[header::RETRY_AFTER], "7");
        assert_eq!(
            body_of(json).await,
            Bytes::from_static(
                br#"{"code":14,"message":"data refused, retry later: queue is full"}"#
            )
        );
        let pb = consume_error_reply(Format::Protobuf, &refused);
        assert_eq!(pb.headers()[header::CONTENT_TYPE], PROTOBUF);
        let status = tonic_types::Status::decode(body_of(pb).await).unwrap();
        assert_eq!((status.code, status.details.len()), (14, 1));
        let info = tonic_types::pb::RetryInfo::decode(status.details[0].value.as_slice()).unwrap();
        assert_eq!(info.retry_delay.unwrap().seconds, 7);
        let permanent = consume_error_reply(Format::Json, &ConsumeError::Permanent("bad".into()));
        assert_eq!(permanent.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn content_types_ignore_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(Format::from_content_type(&headers), Some(Format::Json));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(Format::from_content_type(&headers), Some(Format::Protobuf));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(Format::from_content_type(&headers), None);
    }
}
