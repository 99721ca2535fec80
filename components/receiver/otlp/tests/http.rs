//! OTLP/HTTP against a real hyper client on 127.0.0.1.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferrotel_core::signal::Signal;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn send(client: &HttpClient, request: Request<Full<Bytes>>) -> Reply {
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn post(url: &str, content_type: &str) -> http::request::Builder {
    Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, content_type)
}

async fn post_body(
    client: &HttpClient,
    url: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Reply {
    let body: Bytes = body.into();
    send(
        client,
        post(url, content_type).body(Full::new(body)).unwrap(),
    )
    .await
}

fn path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/v1/traces",
        Signal::Metrics => "/v1/metrics",
        Signal::Logs => "/v1/logs",
    }
}

#[tokio::test]
async fn protobuf_and_json_round_trip_for_every_signal() {
    let h = start().await;
    let client = client();
    for (i, signal) in Signal::ALL.into_iter().enumerate() {
        let pb = request_bytes(signal, 3 + i);
        let reply = post_body(
            &client,
            &h.http_url(path(signal)),
            "application/x-protobuf",
            pb.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/x-protobuf"
        );
        assert!(reply.body.is_empty(), "full success has no partial_success");
        // The bytes reach the pipeline as they were sent.
        let got = h.recorder.take();
        assert_eq!(got[0].to_encoded(), Bytes::from(pb));
        assert_eq!(got[0].item_count(), 3 + i);

        let json = std::fs::read(format!(
            "{}/tests/data/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            if signal == Signal::Traces {
                "trace"
            } else {
                signal.as_str()
            }
        ))
        .unwrap();
        let reply = post_body(
            &client,
            &h.http_url(path(signal)),
            "application/json; charset=utf-8",
            json,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(reply.body, Bytes::from_static(b"{}"));
        let mut got = h.recorder.take();
        assert_eq!(got.len(), 1);
        match signal {
            Signal::Traces => {
                let span = &got[0].traces().unwrap().resource_spans[0].scope_spans[0].spans[0];
                assert_eq!(
                    hex::encode(&span.trace_id),
                    "5b8efff798038103d269b633813fc60c"
                );
                assert_eq!(
                    (span.kind, span.start_time_unix_nano),
                    (2, 1_544_712_660_000_000_000)
                );
            }
            Signal::Metrics => assert_eq!(got[0].item_count(), 4),
            Signal::Logs => assert_eq!(
                got[0].logs().unwrap().resource_logs[0].scope_logs[0].log_records[0]
                    .severity_number,
                10
            ),
        }
    }
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_accepted_spans_total{receiver="otlp/test",transport="http"} 4"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"otelcol_receiver_accepted_log_records_total{receiver="otlp/test",transport="http"} 6"#), "{text}");
}

#[tokio::test]
async fn bad_requests_get_otelcol_status_codes_and_the_server_keeps_serving() {
    let h = start().await;
    let client = client();
    let url = h.http_url("/v1/traces");
    let good = request_bytes(Signal::Traces, 2);
    let assert_still_serving = |reply: &Reply, what: &str| {
        assert!(reply.status.is_client_error(), "{what}: {}", reply.status)
    };

    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    let reply = post_body(&client, &url, "application/x-protobuf", truncated).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let status = tonic_types::Status::decode(reply.body.clone()).unwrap();
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert_still_serving(&reply, "truncated");

    let reply = post_body(&client, &url, "text/plain", good.clone()).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("application/json, application/x-protobuf")
    );

    let reply = send(&client, Request::get(&url).body(Full::default()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[header::ALLOW], "POST");

    let reply = post_body(
        &client,
        &url,
        "application/json",
        &b"{\"resourceSpans\": [ {"[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let body: serde_like::Status = serde_like::parse(&reply.body);
    assert_eq!(body.code, 3);
    assert!(body.message.contains("EOF"), "{}", body.message);

    let reply = post_body(
        &client,
        &h.http_url("/v1/nothing"),
        "application/x-protobuf",
        good.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let request = post(&url, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "br")
        .body(Full::new(Bytes::from(good.clone())))
        .unwrap();
    let reply = send(&client, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        tonic_types::Status::decode(reply.body)
            .unwrap()
            .message
            .contains("unsupported Content-Encoding: br")
    );

    let request = post(&url, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Full::new(Bytes::from_static(b"not gzip at all")))
        .unwrap();
    assert_eq!(send(&client, request).await.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        h.recorder.items(Signal::Traces),
        0,
        "nothing bad reached the pipeline"
    );
    let reply = post_body(&client, &url, "application/x-protobuf", good).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Traces), 2);
}

#[tokio::test]
async fn body_limits_hold_on_the_wire_and_after_decompression() {
    let yaml =
        "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    max_request_body_size: 100000\n";
    let h = start_with(yaml, &Signal::ALL).await;
    let client = client();
    let url = h.http_url("/v1/traces");

    let oversize = huge_traces(200_000).encode_to_vec();
    let reply = post_body(&client, &url, "application/x-protobuf", oversize.clone()).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Same limit without a Content-Length: a streamed (chunked) body.
    let chunks = futures::stream::iter(
        oversize
            .chunks(16 * 1024)
            .map(|c| {
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::copy_from_slice(
                    c,
                )))
            })
            .collect::<Vec<_>>(),
    );
    let streamed = http_body_util::StreamBody::new(chunks);
    let chunked_client: Client<HttpConnector, _> =
        Client::builder(TokioExecutor::new()).build_http();
    let response = chunked_client
        .request(
            Request::post(&url)
                .header(header::CONTENT_TYPE, "application/x-protobuf")
                .body(streamed)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A gzip bomb: a few hundred bytes on the wire, 5 MB once inflated.
    let bomb = gzip(&huge_traces(5_000_000).encode_to_vec());
    assert!(bomb.len() < 100_000);
    let request = post(&url, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Full::new(Bytes::from(bomb)))
        .unwrap();
    let reply = send(&client, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        tonic_types::Status::decode(reply.body).unwrap().code,
        tonic::Code::ResourceExhausted as i32
    );

    // Compressed and within the limit: accepted, for each encoding.
    let good = request_bytes(Signal::Traces, 5);
    let zstd = zstd::encode_all(good.as_slice(), 3).unwrap();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut zlib, &good).unwrap();
    for (encoding, body) in [
        ("gzip", gzip(&good)),
        ("zstd", zstd),
        ("deflate", zlib.finish().unwrap()),
    ] {
        let request = post(&url, "application/x-protobuf")
            .header(header::CONTENT_ENCODING, encoding)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        assert_eq!(
            send(&client, request).await.status,
            StatusCode::OK,
            "{encoding}"
        );
    }
    assert_eq!(h.recorder.items(Signal::Traces), 15);
}

#[tokio::test]
async fn refusals_are_503_with_retry_after_and_rejections_400() {
    let h = start().await;
    let client = client();
    let url = h.http_url("/v1/logs");
    h.recorder
        .set_mode(Mode::Refuse(Some(Duration::from_secs(5))));
    let reply = post_body(
        &client,
        &url,
        "application/x-protobuf",
        request_bytes(Signal::Logs, 4),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers[header::RETRY_AFTER], "5");
    assert_eq!(
        tonic_types::Status::decode(reply.body).unwrap().code,
        tonic::Code::Unavailable as i32
    );

    h.recorder.set_mode(Mode::Refuse(None));
    let reply = post_body(
        &client,
        &url,
        "application/json",
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");

    h.recorder.set_mode(Mode::Reject);
    let reply = post_body(
        &client,
        &url,
        "application/x-protobuf",
        request_bytes(Signal::Logs, 2),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    h.recorder.set_mode(Mode::Accept);
    assert_eq!(
        post_body(
            &client,
            &url,
            "application/x-protobuf",
            request_bytes(Signal::Logs, 1)
        )
        .await
        .status,
        StatusCode::OK
    );
    let text = h.telemetry.encode();
    assert!(
        text.contains(
            r#"otelcol_receiver_refused_log_records_total{receiver="otlp/test",transport="http"} 7"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"otelcol_receiver_accepted_log_records_total{receiver="otlp/test",transport="http"} 1"#), "{text}");
}

#[tokio::test]
async fn signals_without_a_pipeline_are_404_and_custom_paths_route() {
    let yaml = "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    traces_url_path: ingest/traces\n    response_headers:\n      X-Served-By: ferrotel\n";
    let h = start_with(yaml, &[Signal::Traces]).await;
    let client = client();
    let reply = post_body(
        &client,
        &h.http_url("/v1/logs"),
        "application/x-protobuf",
        request_bytes(Signal::Logs, 1),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.headers["x-served-by"], "ferrotel");
    assert_eq!(
        post_body(
            &client,
            &h.http_url("/v1/traces"),
            "application/x-protobuf",
            request_bytes(Signal::Traces, 1)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let reply = post_body(
        &client,
        &h.http_url("/ingest/traces"),
        "application/x-protobuf",
        request_bytes(Signal::Traces, 1),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["x-served-by"], "ferrotel");
}

#[tokio::test]
async fn h2c_and_cors_preflight_work_over_the_wire() {
    let yaml = "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n    cors:\n      allowed_origins: [\"https://*.example.com\"]\n      max_age: 600\n";
    let h = start_with(yaml, &Signal::ALL).await;
    let h2: HttpClient = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let reply = post_body(
        &h2,
        &h.http_url("/v1/metrics"),
        "application/x-protobuf",
        request_bytes(Signal::Metrics, 2),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(h.recorder.items(Signal::Metrics), 2);

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri(h.http_url("/v1/traces"))
        .header(header::ORIGIN, "https://app.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), preflight).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(reply.headers[header::ACCESS_CONTROL_MAX_AGE], "600");

    let request = post(&h.http_url("/v1/traces"), "application/json")
        .header(header::ORIGIN, "https://app.example.com")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let reply = send(&client(), request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
}

/// Just enough JSON reading for a `google.rpc.Status` body.
mod serde_like {
    pub struct Status {
        pub code: i64,
        pub message: String,
    }

    pub fn parse(body: &[u8]) -> Status {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        Status {
            code: value["code"].as_i64().unwrap(),
            message: value["message"].as_str().unwrap().to_owned(),
        }
    }
}

#[tokio::test]
async fn unix_socket_transport_serves_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("otlp-http.sock");
    let yaml = format!(
        "protocols:\n  http:\n    transport: unix\n    endpoint: {}\n",
        socket.display()
    );
    let h = start_with(&yaml, &Signal::ALL).await;
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = post("/v1/logs", "application/x-protobuf")
        .header(header::HOST, "localhost")
        .body(Full::new(Bytes::from(request_bytes(Signal::Logs, 3))))
        .unwrap();
    assert_eq!(
        sender.send_request(request).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(h.recorder.items(Signal::Logs), 3);
    ferrotel_core::component::Lifecycle::shutdown(&h.receiver)
        .await
        .unwrap();
    assert!(!socket.exists(), "the socket file is removed on shutdown");
}
