//! A ferrotel process gets bad requests — truncated protobuf, wrong content type, oversize bodies,
//! a gzip bomb, invalid JSON, wrong method and path — answers each with otelcol's status, and
//! afterwards still serves good requests, delivers them, and stops gracefully on SIGTERM.

mod common;

use bytes::Bytes;
use common::Ferrotel;
use ferrotel_core::Signal;
use ferrotel_integration_tests::codec::{self, Compression};
use ferrotel_integration_tests::procs::free_addr;
use ferrotel_integration_tests::recorder::RecorderServer;
use ferrotel_integration_tests::transport::{Connection, Outcome, Protocol};
use ferrotel_integration_tests::workload::{self, Shape};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;

const BODY_LIMIT: usize = 1 << 20;

/// One HTTP/1.1 request on a fresh connection: (status, body).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), sender.send_request(request))
        .await
        .expect("an answer within 20 s")
        .expect("an HTTP answer, not a dropped connection");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn post(
    addr: SocketAddr,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let mut headers = vec![("content-type", content_type)];
    if let Some(encoding) = encoding {
        headers.push(("content-encoding", encoding));
    }
    send(addr, "POST", "/v1/traces", &headers, body).await
}

fn spans(count: usize, variant: u64) -> Vec<u8> {
    workload::encode(
        Shape {
            signal: Signal::Traces,
            batch_size: count,
            attributes: 10,
        },
        variant,
    )
}

#[test]
fn bad_requests_get_otelcol_statuses_and_the_process_keeps_serving() {
    let recorder = RecorderServer::start();
    let (grpc, http) = (free_addr(), free_addr());
    let config = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {grpc}\n        max_recv_msg_size_mib: 1\n      http:\n        endpoint: {http}\n        max_request_body_size: {BODY_LIMIT}\n\
         exporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n{{telemetry}}  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp_grpc]\n",
        recorder.addr
    );
    let mut ferrotel = Ferrotel::start("ferrotel", &config, &[grpc, http]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let good = spans(5, 1);
        let protobuf = "application/x-protobuf";

        let (status, _) = post(http, protobuf, None, good[..good.len() / 2].to_vec()).await;
        assert_eq!(status, 400, "truncated protobuf");

        let (status, _) = post(http, "text/plain", None, good.clone()).await;
        assert_eq!(status, 415, "wrong content type");

        let (status, _) = post(http, "application/json", None, br#"{"resourceSpans": [{"scopeSpans": "#.to_vec()).await;
        assert_eq!(status, 400, "invalid JSON");

        // otelcol answers a body over max_request_body_size with 400; ferrotel says 413, which is
        // what the status means (a documented difference, see the README).
        let (status, _) = post(http, protobuf, None, spans(2 * BODY_LIMIT / 500, 2)).await;
        assert_eq!(status, 413, "oversize body");

        // 64 MiB of zeros gzip to ~64 KiB: under the limit on the wire, far over it inflated.
        let bomb = Compression::Gzip.compress(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < BODY_LIMIT);
        let (status, _) = post(http, protobuf, Some("gzip"), bomb).await;
        assert_eq!(status, 413, "gzip bomb, over the limit once inflated");

        let (status, _) = post(http, protobuf, Some("gzip"), b"this is not gzip".to_vec()).await;
        assert_eq!(status, 400, "corrupt gzip");

        let (status, _) = send(http, "GET", "/v1/traces", &[], Vec::new()).await;
        assert_eq!(status, 405, "GET on an export path");

        let (status, _) = send(http, "POST", "/v1/nothing", &[("content-type", protobuf)], good.clone()).await;
        assert_eq!(status, 404, "unknown path");

        let authority = grpc.to_string();
        let patience = Duration::from_secs(5);
        let mut client = Connection::open_retrying(Protocol::Grpc, &authority, Compression::None, patience).await.unwrap();
        let outcome = client.export(Signal::Traces, codec::grpc_frame(&good[..good.len() - 3], false)).await;
        // grpc-go, and so otelcol, answers an undecodable message with INTERNAL; ferrotel says
        // INVALID_ARGUMENT (also not retryable, and names the client's fault).
        assert!(
            matches!(&outcome, Outcome::Failed(m) if m.starts_with("gRPC INVALID_ARGUMENT")),
            "truncated protobuf over gRPC: {outcome:?}"
        );
        let outcome = client.export(Signal::Traces, codec::grpc_frame(&spans(2 * BODY_LIMIT / 500, 3), false)).await;
        assert!(
            matches!(&outcome, Outcome::Refused(m) if m.starts_with("gRPC RESOURCE_EXHAUSTED")),
            "message over max_recv_msg_size_mib: {outcome:?}"
        );

        // Good requests still go through, on every path.
        let (status, body) = post(http, protobuf, None, spans(3, 4)).await;
        assert_eq!(status, 200, "good protobuf after the bad ones: {body}");
        let (status, body) = post(http, protobuf, Some("gzip"), Compression::Gzip.compress(&spans(4, 5))).await;
        assert_eq!(status, 200, "good gzip protobuf: {body}");
        let json = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"json-span","kind":1,"startTimeUnixNano":"1000","endTimeUnixNano":"2000"}]}]}]}"#;
        let (status, body) = post(http, "application/json", None, json.to_vec()).await;
        assert_eq!(status, 200, "good JSON: {body}");
        let mut client = Connection::open_retrying(Protocol::Grpc, &authority, Compression::Gzip, patience).await.unwrap();
        let framed = codec::grpc_frame(&Compression::Gzip.compress(&spans(6, 6)), true);
        assert_eq!(client.export(Signal::Traces, framed).await, Outcome::Acknowledged { rejected: 0 });
    });

    let delivered = recorder.recorder.wait_until(Duration::from_secs(20), |r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum::<usize>()
            >= 14
    });
    let delivered = delivered.unwrap_or_else(|partial| {
        panic!(
            "good spans not delivered: {} requests",
            partial.traces.len()
        )
    });
    let names: Vec<&str> = delivered
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        names.len(),
        14,
        "exactly the good spans: 3 + 4 + 1 (JSON) + 6"
    );
    assert!(names.contains(&"json-span"));

    ferrotel.proc.assert_running();
    let status = ferrotel
        .proc
        .terminate(Duration::from_secs(15))
        .expect("ferrotel stops within 15 s of SIGTERM");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}
