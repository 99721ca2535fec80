//! The load generator and the counting sink against each other and against independent clients
//! (tonic's generated OTLP client, a raw HTTP request), over real loopback sockets.

use bytes::Bytes;
use ferrotel_core::Signal;
use ferrotel_integration_tests::codec::{self, Compression};
use ferrotel_integration_tests::loadgen::{self, Limit, LoadConfig, Report};
use ferrotel_integration_tests::sink::{self, SinkOptions};
use ferrotel_integration_tests::transport::{Connection, Outcome, Protocol};
use ferrotel_integration_tests::workload::{self, Shape};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use std::net::SocketAddr;
use std::time::Duration;

fn config(
    endpoint: SocketAddr,
    protocol: Protocol,
    signal: Signal,
    compression: Compression,
    items: u64,
) -> LoadConfig {
    LoadConfig {
        endpoint: endpoint.to_string(),
        protocol,
        shape: Shape {
            signal,
            batch_size: 25,
            attributes: 4,
        },
        rate: None,
        concurrency: 3,
        connections: 2,
        limit: Limit::Items(items),
        compression,
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
    }
}

async fn run(config: LoadConfig) -> Report {
    tokio::time::timeout(Duration::from_secs(60), loadgen::run(config))
        .await
        .expect("bounded run")
        .expect("load runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_sent_is_counted_for_each_signal_protocol_and_compression() {
    let sink = sink::start("127.0.0.1:0".parse().unwrap(), SinkOptions::default())
        .await
        .unwrap();
    let mut expected = [0u64; 3];
    for protocol in [Protocol::Grpc, Protocol::Http] {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            for signal in Signal::ALL {
                let report = run(config(sink.addr, protocol, signal, compression, 500)).await;
                let what = format!("{signal} over {protocol:?} with {compression:?}");
                assert_eq!(report.requests_sent, 20, "{what}");
                assert_eq!(
                    (report.requests_acknowledged, report.items_acknowledged),
                    (20, 500),
                    "{what}: {report:?}"
                );
                assert_eq!(
                    report.requests_failed + report.requests_refused,
                    0,
                    "{what}: {:?}",
                    report.errors
                );
                expected[signal as usize] += 500;
            }
        }
    }
    let counts = sink.counts.snapshot();
    for signal in Signal::ALL {
        assert_eq!(
            counts.signal(signal).items,
            expected[signal as usize],
            "{signal}"
        );
        assert_eq!(counts.signal(signal).requests, 120, "{signal}");
        assert_eq!(counts.signal(signal).errors, 0, "{signal}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_reported_as_refused_not_failed() {
    let options = SinkOptions {
        refuse_every: 4,
        ..SinkOptions::default()
    };
    let sink = sink::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let report = run(config(
            sink.addr,
            protocol,
            Signal::Traces,
            Compression::None,
            1000,
        ))
        .await;
        assert_eq!(report.requests_sent, 40);
        assert_eq!(
            (report.requests_refused, report.requests_failed),
            (10, 0),
            "{protocol:?}: {report:?}"
        );
        assert_eq!(report.items_acknowledged, 750);
    }
    assert_eq!(sink.counts.snapshot().traces.items, 1500);
    assert_eq!(sink.counts.snapshot().traces.refused, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_run_keeps_to_its_rate() {
    let sink = sink::start("127.0.0.1:0".parse().unwrap(), SinkOptions::default())
        .await
        .unwrap();
    let mut config = config(
        sink.addr,
        Protocol::Grpc,
        Signal::Logs,
        Compression::None,
        0,
    );
    config.rate = Some(1000.0);
    config.limit = Limit::Duration(Duration::from_millis(1500));
    let report = run(config).await;
    // 1000 items/s in requests of 25 is one request every 25 ms: 60 start within 1.5 s. Pacing is
    // by schedule, not by timing, so the count is exact whatever the machine's speed.
    assert_eq!(report.requests_sent, 60, "{report:?}");
    assert_eq!(sink.counts.snapshot().logs.items, 1500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_counts_what_tonics_own_client_sends() {
    let sink = sink::start("127.0.0.1:0".parse().unwrap(), SinkOptions::default())
        .await
        .unwrap();
    let shape = Shape {
        signal: Signal::Traces,
        batch_size: 17,
        attributes: 10,
    };
    let request = ExportTraceServiceRequest::decode(workload::encode(shape, 5).as_slice()).unwrap();
    let mut client = TraceServiceClient::connect(format!("http://{}", sink.addr))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    for _ in 0..3 {
        client
            .export(request.clone())
            .await
            .expect("the sink accepts tonic's export");
    }
    let counts = sink.counts.snapshot().traces;
    assert_eq!((counts.requests, counts.items), (3, 51));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_rejected_and_counted() {
    let sink = sink::start("127.0.0.1:0".parse().unwrap(), SinkOptions::default())
        .await
        .unwrap();
    let authority = sink.addr.to_string();
    let good = workload::encode(
        Shape {
            signal: Signal::Metrics,
            batch_size: 3,
            attributes: 2,
        },
        0,
    );
    let truncated = &good[..good.len() - 7];

    let mut grpc = Connection::open_retrying(
        Protocol::Grpc,
        &authority,
        Compression::None,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let outcome = grpc
        .export(Signal::Metrics, codec::grpc_frame(truncated, false))
        .await;
    assert!(
        matches!(&outcome, Outcome::Failed(m) if m.starts_with("gRPC INVALID_ARGUMENT")),
        "{outcome:?}"
    );
    let outcome = grpc
        .export(Signal::Metrics, codec::grpc_frame(&good, false))
        .await;
    assert_eq!(
        outcome,
        Outcome::Acknowledged { rejected: 0 },
        "the connection still serves"
    );

    let mut http = Connection::open_retrying(
        Protocol::Http,
        &authority,
        Compression::Gzip,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let outcome = http
        .export(
            Signal::Metrics,
            Bytes::from(Compression::Gzip.compress(truncated)),
        )
        .await;
    assert!(
        matches!(&outcome, Outcome::Failed(m) if m.starts_with("HTTP 400")),
        "{outcome:?}"
    );
    let outcome = http
        .export(Signal::Metrics, Bytes::from_static(b"not gzip at all"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Failed(m) if m.starts_with("HTTP 400")),
        "{outcome:?}"
    );

    let counts = sink.counts.snapshot().metrics;
    assert_eq!((counts.requests, counts.items, counts.errors), (1, 3, 3));
}

#[test]
fn counts_are_served_as_json() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sink = runtime
        .block_on(sink::start(
            "127.0.0.1:0".parse().unwrap(),
            SinkOptions::default(),
        ))
        .unwrap();
    let (status, body) = ferrotel_integration_tests::procs::http_get(sink.addr, "/count").unwrap();
    assert_eq!(status, 200);
    let snapshot: sink::Snapshot = serde_json::from_str(&body).unwrap();
    assert_eq!(snapshot.traces.items, 0);
    let (status, _) =
        ferrotel_integration_tests::procs::http_get(sink.addr, "/v1/profiles").unwrap();
    assert_eq!(status, 404);
}
