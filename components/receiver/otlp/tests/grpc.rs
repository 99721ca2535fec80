//! OTLP/gRPC against real tonic clients on 127.0.0.1.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrotel_core::component::{Lifecycle, SignalConsumers};
use ferrotel_core::signal::Signal;
use ferrotel_core::telemetry::SelfTelemetry;
use ferrotel_receiver_otlp::OtlpReceiver;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

async fn channel(h: &Harness) -> Channel {
    Channel::from_shared(h.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn raw_call(channel: Channel, path: &'static str, body: Vec<u8>) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(Bytes::from(body)),
        http::uri::PathAndQuery::from_static(path),
        Raw,
    )
    .await
    .map(|r| r.into_inner())
}

const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[tokio::test]
async fn every_signal_round_trips_with_each_compression() {
    let h = start().await;
    let ch = channel(&h).await;
    let encodings = [
        None,
        Some(CompressionEncoding::Gzip),
        Some(CompressionEncoding::Zstd),
        Some(CompressionEncoding::Deflate),
    ];
    for encoding in encodings {
        let mut traces_client = TraceServiceClient::new(ch.clone());
        let mut metrics_client = MetricsServiceClient::new(ch.clone());
        let mut logs_client = LogsServiceClient::new(ch.clone());
        if let Some(e) = encoding {
            traces_client = traces_client.send_compressed(e);
            metrics_client = metrics_client.send_compressed(e);
            logs_client = logs_client.send_compressed(e);
        }
        let response = traces_client.export(traces(3)).await.unwrap().into_inner();
        assert_eq!(response.partial_success, None);
        metrics_client.export(metrics(2)).await.unwrap();
        logs_client.export(logs(1)).await.unwrap();
    }
    assert_eq!(
        (
            h.recorder.items(Signal::Traces),
            h.recorder.items(Signal::Metrics),
            h.recorder.items(Signal::Logs)
        ),
        (12, 8, 4)
    );
    // Undecoded: the pipeline gets the request bytes as the client encoded them.
    let first = h
        .recorder
        .take()
        .into_iter()
        .find(|t| t.signal() == Signal::Traces)
        .unwrap();
    assert_eq!(first.to_encoded(), Bytes::from(traces(3).encode_to_vec()));
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_accepted_spans_total{receiver="otlp/test",transport="grpc"} 12"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"otelcol_receiver_accepted_metric_points_total{receiver="otlp/test",transport="grpc"} 8"#), "{text}");
}

#[tokio::test]
async fn malformed_and_oversized_messages_are_refused_and_serving_goes_on() {
    let h = start().await;
    let ch = channel(&h).await;
    let mut truncated = traces(2).encode_to_vec();
    truncated.truncate(truncated.len() - 3);
    assert_eq!(
        raw_call(ch.clone(), TRACES, truncated)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    // Over the default 4 MiB, uncompressed and as a gzip bomb (checked after decompression).
    let huge = huge_traces(5 * 1024 * 1024);
    let err = TraceServiceClient::new(ch.clone())
        .export(huge.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    let err = TraceServiceClient::new(ch.clone())
        .send_compressed(CompressionEncoding::Gzip)
        .export(huge)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    assert!(err.message().contains("decompressing"), "{err}");

    // Just under the limit is fine.
    let big = huge_traces(4 * 1024 * 1024 - 100);
    TraceServiceClient::new(ch.clone())
        .send_compressed(CompressionEncoding::Zstd)
        .export(big)
        .await
        .unwrap();

    assert_eq!(
        raw_call(
            ch.clone(),
            "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
            vec![]
        )
        .await
        .unwrap_err()
        .code(),
        Code::Unimplemented
    );
    TraceServiceClient::new(ch).export(traces(1)).await.unwrap();
    assert_eq!(h.recorder.items(Signal::Traces), 2);
}

#[tokio::test]
async fn larger_limit_is_configurable() {
    // The test's one huge string is also over the default `limits.max_value_length` (4 MiB).
    let h = start_with(
        "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    max_recv_msg_size_mib: 8\nlimits:\n  max_value_length: 16777216\n",
        &Signal::ALL,
    )
    .await;
    let mut client =
        TraceServiceClient::new(channel(&h).await).send_compressed(CompressionEncoding::Gzip);
    client.export(huge_traces(6 * 1024 * 1024)).await.unwrap();
    assert_eq!(
        client
            .export(huge_traces(9 * 1024 * 1024))
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
}

#[tokio::test]
async fn refusals_are_unavailable_with_retry_info() {
    let h = start().await;
    let mut client = LogsServiceClient::new(channel(&h).await);
    h.recorder
        .set_mode(Mode::Refuse(Some(Duration::from_secs(4))));
    let err = client.export(logs(3)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(
        err.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_secs(4))
    );

    h.recorder.set_mode(Mode::Refuse(None));
    let err = client.export(logs(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.get_details_retry_info().is_none());

    h.recorder.set_mode(Mode::Reject);
    assert_eq!(
        client.export(logs(1)).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    h.recorder.set_mode(Mode::Accept);
    client.export(logs(2)).await.unwrap();
    // An empty request is answered without reaching the pipeline.
    client.export(logs(0)).await.unwrap();
    assert_eq!(h.recorder.take().len(), 1);
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_refused_log_records_total{receiver="otlp/test",transport="grpc"} 5"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"otelcol_receiver_accepted_log_records_total{receiver="otlp/test",transport="grpc"} 2"#), "{text}");
}

#[tokio::test]
async fn a_signal_without_a_pipeline_is_unimplemented() {
    let h = start_with(BOTH, &[Signal::Traces]).await;
    let ch = channel(&h).await;
    let err = LogsServiceClient::new(ch.clone())
        .export(logs(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert_eq!(
        raw_call(ch.clone(), LOGS, logs(1).encode_to_vec())
            .await
            .unwrap_err()
            .code(),
        Code::Unimplemented
    );
    TraceServiceClient::new(ch).export(traces(1)).await.unwrap();
}

#[tokio::test]
async fn a_taken_port_is_a_start_error_naming_the_endpoint() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = squatter.local_addr().unwrap().to_string();
    let yaml = format!(
        "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n  http:\n    endpoint: {endpoint}\n"
    );
    let telemetry = SelfTelemetry::new(&[]);
    let receiver = OtlpReceiver::new(
        config(&yaml),
        settings(&telemetry),
        SignalConsumers::default(),
    )
    .unwrap();
    let err = format!("{:#}", receiver.start().await.unwrap_err());
    assert!(err.contains(&endpoint), "{err}");
    assert!(
        receiver.grpc_addr().is_none(),
        "the gRPC server started first is stopped again"
    );
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_requests_and_frees_the_port() {
    struct Slow(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    #[async_trait::async_trait]
    impl ferrotel_core::consumer::Consumer for Slow {
        async fn consume(
            &self,
            _: ferrotel_core::signal::Telemetry,
        ) -> Result<(), ferrotel_core::consumer::ConsumeError> {
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let telemetry = SelfTelemetry::new(&[]);
    let mut next = SignalConsumers::default();
    next.set(Signal::Traces, std::sync::Arc::new(Slow(done.clone())));
    let receiver = OtlpReceiver::new(config(BOTH), settings(&telemetry), next).unwrap();
    receiver.start().await.unwrap();
    let addr = receiver.grpc_addr().unwrap();
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let in_flight =
        tokio::spawn(async move { TraceServiceClient::new(ch).export(traces(1)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    receiver.shutdown().await.unwrap();
    assert_eq!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the in-flight request finished before shutdown returned"
    );
    assert!(in_flight.await.unwrap().is_ok());
    std::net::TcpListener::bind(addr).expect("the port is free again");
}
