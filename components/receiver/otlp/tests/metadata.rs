//! `include_metadata`: the client's request headers (gRPC metadata) travel with its data, for
//! `metadata_keys` downstream; without it nothing does.

mod common;

use bytes::Bytes;
use common::*;
use ferrotel_core::signal::Signal;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;

const WITH_METADATA: &str = "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    include_metadata: true\n  http:\n    endpoint: 127.0.0.1:0\n    include_metadata: true\n";

async fn send_grpc(h: &Harness, tenant: &str) {
    let channel = Channel::from_shared(h.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(traces(2));
    request
        .metadata_mut()
        .insert("x-tenant", tenant.parse().unwrap());
    TraceServiceClient::new(channel)
        .export(request)
        .await
        .unwrap();
}

async fn send_http(h: &Harness, tenant: &str) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("X-Tenant", tenant)
        .body(Full::new(Bytes::from(request_bytes(Signal::Traces, 2))))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
}

fn tenants(h: &Harness) -> Vec<Vec<String>> {
    h.recorder
        .take()
        .iter()
        .map(|data| {
            data.context()
                .metadata
                .as_ref()
                .map_or_else(Vec::new, |m| m.get("x-tenant").to_vec())
        })
        .collect()
}

#[tokio::test]
async fn with_include_metadata_request_headers_travel_with_the_data() {
    let h = start_with(WITH_METADATA, &Signal::ALL).await;
    send_grpc(&h, "blue").await;
    send_http(&h, "green").await;
    assert_eq!(
        tenants(&h),
        [vec!["blue".to_string()], vec!["green".to_string()]]
    );
}

#[tokio::test]
async fn without_it_no_metadata_is_attached() {
    let h = start().await;
    send_grpc(&h, "blue").await;
    send_http(&h, "green").await;
    let received = h.recorder.take();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|d| d.context().metadata.is_none()));
}
