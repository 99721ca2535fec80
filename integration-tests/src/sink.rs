//! A counting OTLP server: gRPC and HTTP on one port, items counted from the wire without decoding
//! (`Telemetry::from_encoded` walks the framing only), so the sink costs far less than what it
//! measures. `GET /count` answers with the counts as JSON.
//!
//! In strict mode the sink behaves as a strict backend does: every export request is decoded in full
//! with prost (the `opentelemetry-proto` types), and a request that does not decode, or that carries
//! a trace id other than 16 bytes or a span id other than 8 bytes (when not empty, as otelcol's pdata
//! refuses them), is refused whole as a permanent error — gRPC `INVALID_ARGUMENT`, HTTP 400 — and
//! counted as `rejected`; none of its items is counted.

use crate::codec::{self, Compression};
use bytes::Bytes;
use ferrotel_core::{Signal, Telemetry};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, metric};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Infallible>;

/// What the sink does besides counting.
#[derive(Clone, Copy, Debug)]
pub struct SinkOptions {
    /// Largest request body accepted, after decompression.
    pub max_body_bytes: usize,
    /// Refuse every Nth export request as "try later" (gRPC UNAVAILABLE / HTTP 503); 0 refuses none.
    pub refuse_every: u64,
    /// Decode every request in full and refuse, whole and for good, one that a strict backend
    /// refuses (not valid protobuf or UTF-8, a trace id not 16 bytes, a span id not 8 bytes).
    pub strict: bool,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            max_body_bytes: 64 << 20,
            refuse_every: 0,
            strict: false,
        }
    }
}

#[derive(Default, Debug)]
struct SignalCounters {
    requests: AtomicU64,
    items: AtomicU64,
    wire_bytes: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
}

/// Live counters, shared by every connection.
#[derive(Debug)]
pub struct Counts {
    per_signal: [SignalCounters; 3],
    export_requests: AtomicU64,
    started: Instant,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            per_signal: Default::default(),
            export_requests: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// Counts of one signal at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalSnapshot {
    /// Export requests accepted.
    pub requests: u64,
    /// Spans, metric data points or log records in accepted requests.
    pub items: u64,
    /// Request bytes as received (compressed when the client compressed).
    pub wire_bytes: u64,
    /// Requests answered with "try later" on purpose (`refuse_every`).
    pub refused: u64,
    /// Requests rejected as malformed.
    pub errors: u64,
    /// Requests refused whole by strict mode (a strict decoder refused them); their items are not
    /// counted.
    #[serde(default)]
    pub rejected: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub traces: SignalSnapshot,
    pub metrics: SignalSnapshot,
    pub logs: SignalSnapshot,
    pub uptime_seconds: f64,
}

impl Snapshot {
    pub fn signal(&self, signal: Signal) -> &SignalSnapshot {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

impl Counts {
    fn of(&self, signal: Signal) -> &SignalCounters {
        &self.per_signal[signal as usize]
    }

    pub fn snapshot(&self) -> Snapshot {
        let read = |signal| {
            let c = self.of(signal);
            SignalSnapshot {
                requests: c.requests.load(Ordering::Relaxed),
                items: c.items.load(Ordering::Relaxed),
                wire_bytes: c.wire_bytes.load(Ordering::Relaxed),
                refused: c.refused.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                rejected: c.rejected.load(Ordering::Relaxed),
            }
        };
        Snapshot {
            traces: read(Signal::Traces),
            metrics: read(Signal::Metrics),
            logs: read(Signal::Logs),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// A sink serving in the background of the current tokio runtime; stops when dropped.
pub struct SinkHandle {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SinkHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` (port 0 for an ephemeral port) and serves until the handle is dropped.
pub async fn start(addr: SocketAddr, options: SinkOptions) -> std::io::Result<SinkHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(Counts::default());
    let task = tokio::spawn(serve(listener, counts.clone(), options));
    Ok(SinkHandle { addr, counts, task })
}

/// Accepts connections forever; HTTP/1.1 and h2c (gRPC) are told apart by the connection preface.
pub async fn serve(listener: TcpListener, counts: Arc<Counts>, options: SinkOptions) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let counts = counts.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let counts = counts.clone();
                async move { Ok::<_, Infallible>(handle(request, &counts, options).await) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http2()
                .max_concurrent_streams(1024)
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(16 << 20);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    counts: &Counts,
    options: SinkOptions,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    if request.method() == Method::GET && path == "/count" {
        let json = serde_json::to_vec(&counts.snapshot()).expect("counts serialize");
        return respond(StatusCode::OK, "application/json", json);
    }
    let Some(signal) = codec::signal_for_path(&path) else {
        return respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("no OTLP endpoint at {path}"),
        );
    };
    if request.method() != Method::POST {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "405 method not allowed, supported: [POST]",
        );
    }
    let content_type = header_str(request.headers(), header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_string();
    if content_type.starts_with("application/grpc") {
        grpc_export(request, signal, counts, options).await
    } else {
        http_export(request, &content_type, signal, counts, options).await
    }
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, String> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| e.to_string())
}

/// Counts one export request's payload; `Err` carries the reason it is malformed.
fn count(counts: &Counts, signal: Signal, payload: Bytes, wire_bytes: usize) -> Result<(), String> {
    let items = Telemetry::from_encoded(signal, payload)
        .map_err(|e| e.to_string())?
        .item_count();
    let c = counts.of(signal);
    c.requests.fetch_add(1, Ordering::Relaxed);
    c.items.fetch_add(items as u64, Ordering::Relaxed);
    c.wire_bytes.fetch_add(wire_bytes as u64, Ordering::Relaxed);
    Ok(())
}

/// Whether this export request is one `refuse_every` asks to refuse; counts it if so.
fn refuse_now(counts: &Counts, signal: Signal, options: SinkOptions) -> bool {
    let n = counts.export_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let refuse = options.refuse_every > 0 && n.is_multiple_of(options.refuse_every);
    if refuse {
        counts.of(signal).refused.fetch_add(1, Ordering::Relaxed);
    }
    refuse
}

async fn http_export(
    request: Request<Incoming>,
    content_type: &str,
    signal: Signal,
    counts: &Counts,
    options: SinkOptions,
) -> Response<Body> {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if mime != "application/x-protobuf" {
        return respond(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
            format!(
                "415 unsupported media type {mime:?}: this sink counts application/x-protobuf only"
            ),
        );
    }
    let fail = |message: String| {
        counts.of(signal).errors.fetch_add(1, Ordering::Relaxed);
        respond(StatusCode::BAD_REQUEST, "text/plain", message)
    };
    let compression =
        match Compression::from_header(header_str(request.headers(), header::CONTENT_ENCODING)) {
            Ok(compression) => compression,
            Err(message) => return fail(message),
        };
    let body = match read_body(request.into_body(), options.max_body_bytes).await {
        Ok(body) => body,
        Err(message) => return fail(message),
    };
    let payload = match compression.decompress(&body, options.max_body_bytes) {
        Ok(payload) => Bytes::from(payload),
        Err(message) => return fail(message),
    };
    if refuse_now(counts, signal, options) {
        let mut response = respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "refused on purpose",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    if options.strict
        && let Err(message) = strict_check(signal, &payload)
    {
        counts.of(signal).rejected.fetch_add(1, Ordering::Relaxed);
        return respond(StatusCode::BAD_REQUEST, "text/plain", message);
    }
    match count(counts, signal, payload, body.len()) {
        Ok(()) => respond(StatusCode::OK, "application/x-protobuf", Bytes::new()),
        Err(message) => fail(message),
    }
}

/// A gRPC answer carrying only a status: headers and trailers in one HEADERS frame.
fn grpc_status_only(code: u16, message: &str) -> Response<Body> {
    let mut response = respond(StatusCode::OK, "application/grpc", Bytes::new());
    let headers = response.headers_mut();
    headers.insert("grpc-status", HeaderValue::from(code));
    let message = message.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), " ");
    if let Ok(value) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", value);
    }
    response
}

const GRPC_INVALID_ARGUMENT: u16 = 3;
const GRPC_RESOURCE_EXHAUSTED: u16 = 8;
const GRPC_UNIMPLEMENTED: u16 = 12;
const GRPC_UNAVAILABLE: u16 = 14;

async fn grpc_export(
    request: Request<Incoming>,
    signal: Signal,
    counts: &Counts,
    options: SinkOptions,
) -> Response<Body> {
    let fail = |code: u16, message: String| {
        counts.of(signal).errors.fetch_add(1, Ordering::Relaxed);
        grpc_status_only(code, &message)
    };
    let compression = match Compression::from_header(header_str(request.headers(), "grpc-encoding"))
    {
        Ok(compression) => compression,
        Err(message) => return fail(GRPC_UNIMPLEMENTED, message),
    };
    // The framing adds 5 bytes per message on top of the payload limit.
    let body = match read_body(request.into_body(), options.max_body_bytes + 5).await {
        Ok(body) => body,
        Err(message) => return fail(GRPC_RESOURCE_EXHAUSTED, message),
    };
    let wire_bytes = body.len();
    let frames = match codec::grpc_unframe(body) {
        Ok(frames) if frames.len() == 1 => frames,
        Ok(frames) => {
            return fail(
                GRPC_INVALID_ARGUMENT,
                format!("unary call with {} messages", frames.len()),
            );
        }
        Err(message) => return fail(GRPC_INVALID_ARGUMENT, message),
    };
    let (compressed, message) = frames.into_iter().next().expect("one frame");
    let payload = if compressed {
        match compression {
            Compression::None => {
                return fail(
                    GRPC_INVALID_ARGUMENT,
                    "compressed frame without grpc-encoding".into(),
                );
            }
            compression => match compression.decompress(&message, options.max_body_bytes) {
                Ok(payload) => Bytes::from(payload),
                Err(message) => return fail(GRPC_RESOURCE_EXHAUSTED, message),
            },
        }
    } else {
        message
    };
    if refuse_now(counts, signal, options) {
        return grpc_status_only(GRPC_UNAVAILABLE, "refused on purpose");
    }
    if options.strict
        && let Err(message) = strict_check(signal, &payload)
    {
        counts.of(signal).rejected.fetch_add(1, Ordering::Relaxed);
        return grpc_status_only(GRPC_INVALID_ARGUMENT, &message);
    }
    if let Err(message) = count(counts, signal, payload, wire_bytes) {
        return fail(GRPC_INVALID_ARGUMENT, message);
    }
    grpc_ok()
}

/// A successful gRPC export answer: an empty Export*ServiceResponse encodes to zero bytes, so one
/// empty frame, then the OK status.
pub(crate) fn grpc_ok() -> Response<Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(codec::grpc_frame(&[], false))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut response = Response::new(StreamBody::new(futures::stream::iter(frames)).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

/// What a strict backend does with an export request: decode it in full with prost (which refuses
/// invalid protobuf and strings that are not UTF-8), then check the length of every trace and span id
/// present, as otelcol's pdata does. `Err` says what is wrong.
pub fn strict_check(signal: Signal, payload: &[u8]) -> Result<(), String> {
    match signal {
        Signal::Traces => {
            let request = ExportTraceServiceRequest::decode(payload)
                .map_err(|e| format!("strict decode of ExportTraceServiceRequest: {e}"))?;
            for span in request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                check_id("span.trace_id", &span.trace_id, 16)?;
                check_id("span.span_id", &span.span_id, 8)?;
                check_id("span.parent_span_id", &span.parent_span_id, 8)?;
                for link in &span.links {
                    check_id("span.links.trace_id", &link.trace_id, 16)?;
                    check_id("span.links.span_id", &link.span_id, 8)?;
                }
            }
        }
        Signal::Metrics => {
            let request = ExportMetricsServiceRequest::decode(payload)
                .map_err(|e| format!("strict decode of ExportMetricsServiceRequest: {e}"))?;
            for data in request
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .filter_map(|m| m.data.as_ref())
            {
                let exemplars: Vec<&Exemplar> = match data {
                    metric::Data::Gauge(g) => {
                        g.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    metric::Data::Sum(s) => {
                        s.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    metric::Data::Histogram(h) => {
                        h.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    metric::Data::ExponentialHistogram(h) => {
                        h.data_points.iter().flat_map(|p| &p.exemplars).collect()
                    }
                    metric::Data::Summary(_) => Vec::new(),
                };
                for exemplar in exemplars {
                    check_id("exemplar.trace_id", &exemplar.trace_id, 16)?;
                    check_id("exemplar.span_id", &exemplar.span_id, 8)?;
                }
            }
        }
        Signal::Logs => {
            let request = ExportLogsServiceRequest::decode(payload)
                .map_err(|e| format!("strict decode of ExportLogsServiceRequest: {e}"))?;
            for record in request
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                check_id("log_record.trace_id", &record.trace_id, 16)?;
                check_id("log_record.span_id", &record.span_id, 8)?;
            }
        }
    }
    Ok(())
}

/// An id is either absent (empty) or exactly `len` bytes.
fn check_id(field: &str, id: &[u8], len: usize) -> Result<(), String> {
    if id.is_empty() || id.len() == len {
        Ok(())
    } else {
        Err(format!(
            "{field} is {} bytes long, must be {len} or empty",
            id.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(trace_id: Vec<u8>, span_id: Vec<u8>, value: &str) -> Vec<u8> {
        let span = Span {
            trace_id,
            span_id,
            name: "op".into(),
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(value.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn strict_check_refuses_what_pdata_refuses() {
        let good = request(vec![1; 16], vec![2; 8], "fine");
        assert_eq!(strict_check(Signal::Traces, &good), Ok(()));
        let no_ids = request(Vec::new(), Vec::new(), "fine");
        assert_eq!(strict_check(Signal::Traces, &no_ids), Ok(()));

        let short_trace = request(vec![1; 15], vec![2; 8], "fine");
        let error = strict_check(Signal::Traces, &short_trace).unwrap_err();
        assert!(error.contains("trace_id"), "{error}");
        let long_span = request(vec![1; 16], vec![2; 9], "fine");
        let error = strict_check(Signal::Traces, &long_span).unwrap_err();
        assert!(error.contains("span_id"), "{error}");

        // Same length as the marker, so the framing stays intact.
        let mut bad_utf8 = request(vec![1; 16], vec![2; 8], "MARK");
        let at = bad_utf8.windows(4).position(|w| w == b"MARK").unwrap();
        bad_utf8[at..at + 4].copy_from_slice(b"\xff\xfe\xc3\x28");
        assert!(strict_check(Signal::Traces, &bad_utf8).is_err());
        assert!(strict_check(Signal::Traces, &good[..good.len() - 3]).is_err());
    }
}
