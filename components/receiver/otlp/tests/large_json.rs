//! A JSON body large enough to be transcoded on a blocking thread arrives whole, and a broken one
//! is still a 400 from there.

mod common;

use bytes::Bytes;
use common::*;
use ferrotel_core::otlp_json::{OtlpMessage, protobuf_to_json};
use ferrotel_core::signal::Signal;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;

async fn post_json(h: &Harness, body: Vec<u8>) -> http::StatusCode {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(h.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    client.request(request).await.unwrap().status()
}

#[tokio::test]
async fn a_large_json_body_is_transcoded_off_the_async_workers() {
    let h = start().await;
    let request = huge_traces(256 << 10);
    let json = protobuf_to_json(
        OtlpMessage::Request(Signal::Traces),
        &request.encode_to_vec(),
    )
    .unwrap();
    assert!(json.len() > 256 << 10);
    assert_eq!(post_json(&h, json.clone()).await, http::StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Traces), 1);
    let mut broken = json;
    broken.truncate(broken.len() - 10);
    assert_eq!(post_json(&h, broken).await, http::StatusCode::BAD_REQUEST);
}
