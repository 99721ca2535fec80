//! A well-framed request holding what a decoder refuses (a string that is not UTF-8, which prost
//! refuses; a trace or span id of the wrong length, which otelcol refuses) is refused whole with a
//! message naming the field and the element (gRPC INVALID_ARGUMENT, HTTP 400), never passed on to
//! be batched with other clients' data; its items are counted as failed, and the next good request
//! is served.

mod common;

use bytes::Bytes;
use common::*;
use ferrotel_core::signal::Signal;
use http::uri::PathAndQuery;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;

const MARK: &str = "@@MARK@@";

/// One span with `trace_id`, and an attribute keyed `key`.
fn span(trace_id: Vec<u8>, key: &str) -> ExportTraceServiceRequest {
    let mut request = traces(1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.trace_id = trace_id;
    span.attributes.push(KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue("v".into())),
        }),
        ..Default::default()
    });
    request
}

/// A span whose attribute key is not UTF-8 (the framing intact): prost refuses it.
fn not_utf8() -> Bytes {
    let mut bytes = span(vec![1; 16], MARK).encode_to_vec();
    let at = bytes
        .windows(MARK.len())
        .position(|w| w == MARK.as_bytes())
        .unwrap();
    bytes[at] = 0xff;
    assert!(ExportTraceServiceRequest::decode(bytes.as_slice()).is_err());
    bytes.into()
}

const NOT_UTF8: &str = "traces request refused: invalid data: a string field (attribute key) in a span is not valid UTF-8";
const SHORT_ID: &str =
    "traces request refused: invalid data: a span's trace_id is 15 bytes; must be 16 or empty";

#[tokio::test]
async fn grpc_refuses_invalid_data_with_invalid_argument_and_serves_the_next_request() {
    let h = start().await;
    let channel = Channel::from_shared(h.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TraceServiceClient::new(channel.clone());
    let status = client.export(span(vec![1; 15], "k")).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, SHORT_ID)
    );

    let mut raw = tonic::client::Grpc::new(channel.clone());
    raw.ready().await.unwrap();
    let path =
        PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    let status = raw
        .unary(tonic::Request::new(not_utf8()), path, Raw)
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, NOT_UTF8)
    );

    let mut request = logs(1);
    request.resource_logs[0].scope_logs[0].log_records[0].span_id = vec![1; 4];
    let status = LogsServiceClient::new(channel)
        .export(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "logs request refused: invalid data: a log record's span_id is 4 bytes; must be 8 or empty"
    );

    client.export(span(vec![1; 16], "k")).await.unwrap();
    client.export(span(Vec::new(), "k")).await.unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 2, "only the good ones");
    assert_eq!(h.recorder.items(Signal::Logs), 0);
    let text = h.telemetry.encode();
    for line in [
        r#"otelcol_receiver_failed_spans_total{receiver="otlp/test",transport="grpc"} 2"#,
        r#"otelcol_receiver_failed_log_records_total{receiver="otlp/test",transport="grpc"} 1"#,
        r#"otelcol_receiver_accepted_spans_total{receiver="otlp/test",transport="grpc"} 2"#,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[tokio::test]
async fn http_refuses_invalid_data_with_400_and_serves_the_next_request() {
    let h = start().await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = h.http_url("/v1/traces");
    let post = |body: Bytes| {
        let request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(body))
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
    for (body, expected) in [
        (not_utf8(), NOT_UTF8),
        (span(vec![1; 15], "k").encode_to_vec().into(), SHORT_ID),
    ] {
        let (status, reply) = post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let rpc = tonic_types::Status::decode(reply).unwrap();
        assert_eq!((rpc.code, rpc.message.as_str()), (3, expected));
    }
    let (status, _) = post(span(vec![1; 16], "k").encode_to_vec().into()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Traces), 1, "only the good one");
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_failed_spans_total{receiver="otlp/test",transport="http"} 2"#
        ),
        "{text}"
    );
}
