//! `limits:` over the wire: a request too deep, with too many attributes or too long a string is
//! refused whole with a message naming the limit (gRPC INVALID_ARGUMENT, HTTP 400 in the
//! request's encoding), its items are counted as failed, and the next good request is served.

mod common;

use bytes::Bytes;
use common::*;
use ferrotel_core::otlp_json::{self, OtlpMessage};
use ferrotel_core::signal::Signal;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList};
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

const SMALL: &str = "protocols:
  grpc:
    endpoint: 127.0.0.1:0
  http:
    endpoint: 127.0.0.1:0
limits:
  max_value_depth: 3
  max_attributes: 4
  max_value_length: 64
";

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.into())),
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// `depth` kvlists inside one another around a string.
fn nested(depth: usize) -> AnyValue {
    (0..depth).fold(string("leaf"), |inner, _| AnyValue {
        value: Some(Value::KvlistValue(KeyValueList {
            values: vec![kv("k", inner)],
        })),
    })
}

fn span_with(attributes: Vec<KeyValue>) -> ExportTraceServiceRequest {
    let mut request = traces(1);
    request.resource_spans[0].scope_spans[0].spans[0].attributes = attributes;
    request
}

fn attrs(n: usize) -> Vec<KeyValue> {
    (0..n).map(|i| kv(&format!("k{i}"), string("v"))).collect()
}

/// (request over a limit, the words its error must hold, the same at the limit).
fn cases() -> Vec<(
    ExportTraceServiceRequest,
    &'static str,
    ExportTraceServiceRequest,
)> {
    vec![
        (
            span_with(vec![kv("deep", nested(4))]),
            "a value in a span is nested at least 4 levels deep, over max_value_depth (3)",
            span_with(vec![kv("deep", nested(3))]),
        ),
        (
            span_with(attrs(5)),
            "a span has 5 attributes, over max_attributes (4)",
            span_with(attrs(4)),
        ),
        (
            span_with(vec![kv("long", string(&"x".repeat(65)))]),
            "a string or bytes field in a span is 65 bytes long, over max_value_length (64)",
            span_with(vec![kv("long", string(&"x".repeat(64)))]),
        ),
    ]
}

async fn channel(h: &Harness) -> Channel {
    Channel::from_shared(h.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn grpc_refuses_each_limit_with_invalid_argument_and_serves_the_next_request() {
    let h = start_with(SMALL, &Signal::ALL).await;
    let mut client = TraceServiceClient::new(channel(&h).await);
    for (over, words, at) in cases() {
        let status = client.export(over).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(
            status.message(),
            format!("traces request refused: limit exceeded: {words}")
        );
        client.export(at).await.unwrap();
    }
    assert_eq!(h.recorder.items(Signal::Traces), 3, "only the good ones");
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_failed_spans_total{receiver="otlp/test",transport="grpc"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"otelcol_receiver_accepted_spans_total{receiver="otlp/test",transport="grpc"} 3"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn http_refuses_each_limit_with_400_in_protobuf_and_json() {
    let h = start_with(SMALL, &Signal::ALL).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = h.http_url("/v1/traces");
    let post = |content_type: &'static str, body: Vec<u8>| {
        let request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let client = client.clone();
        async move {
            let response = client.request(request).await.unwrap();
            let status = response.status();
            (
                status,
                response.into_body().collect().await.unwrap().to_bytes(),
            )
        }
    };
    for (over, words, at) in cases() {
        let expected = format!("traces request refused: limit exceeded: {words}");
        let (status, body) = post("application/x-protobuf", over.encode_to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let rpc = tonic_types::Status::decode(body).unwrap();
        assert_eq!((rpc.code, rpc.message.as_str()), (3, expected.as_str()));

        let json = otlp_json::protobuf_to_json(
            OtlpMessage::Request(Signal::Traces),
            &over.encode_to_vec(),
        )
        .unwrap();
        let (status, body) = post("application/json", json).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], 3);
        assert_eq!(body["message"], expected.as_str());

        let (status, _) = post("application/x-protobuf", at.encode_to_vec()).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(h.recorder.items(Signal::Traces), 3, "only the good ones");
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_failed_spans_total{receiver="otlp/test",transport="http"} 6"#
        ),
        "{text}"
    );
}

/// Without a `limits:` section the defaults hold: a log body nested past what ferrotel can decode
/// never reaches the pipeline, where a decoding processor would fail on the whole batch.
#[tokio::test]
async fn default_limits_keep_undecodable_nesting_out() {
    let h = start().await;
    let body = |depth| {
        let mut request: ExportLogsServiceRequest = logs(1);
        request.resource_logs[0].scope_logs[0].log_records[0].body = Some(nested(depth));
        request
    };
    let mut client = LogsServiceClient::new(channel(&h).await);
    let status = client.export(body(31)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains(
            "a value in a log record is nested at least 31 levels deep, over max_value_depth (30)"
        ),
        "{status:?}"
    );
    client.export(body(30)).await.unwrap();
    let mut received = h.recorder.take();
    assert_eq!(received.len(), 1);
    let decoded = received[0].logs().expect("what was let in decodes");
    assert_eq!(decoded.resource_logs.len(), 1);
}
