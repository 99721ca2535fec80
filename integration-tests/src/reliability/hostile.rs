//! (e) Hostile input while tracked good load flows: truncated protobuf, gzip bombs, oversize
//! bodies, deeply nested AnyValues, huge attribute counts, invalid JSON, over HTTP and gRPC, plus
//! slow clients that hold connections open byte by byte. ferrotel must answer each hostile request
//! with a client error (4xx / INVALID_ARGUMENT, RESOURCE_EXHAUSTED for sizes), stay up, and lose
//! none of the good items it acknowledged.

use crate::codec::{self, Compression};
use crate::reliability::collector::{Collector, ExporterKind};
use crate::reliability::harness::{Finished, Harness};
use crate::reliability::scenarios::{BATCH_LATENCY, blocked, reliable_spec};
use crate::reliability::{Length, Report};
use crate::transport::{Connection, Outcome, Protocol};
use crate::workload::{self, Shape};
use bytes::Bytes;
use ferrotel_core::Signal;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const LIMIT_MIB: usize = 4;
const LIMIT: usize = LIMIT_MIB << 20;
const NESTING_DEPTH: usize = 1000;
const ATTRIBUTES: usize = 200_000;

/// The hostile bodies, built once.
struct Payloads {
    truncated: Vec<u8>,
    bomb: Vec<u8>,
    oversize: Vec<u8>,
    deep: Vec<u8>,
    wide: Vec<u8>,
}

fn one_span_request(attributes: Vec<KeyValue>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![7; 8],
                    name: "hostile".into(),
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

impl Payloads {
    fn build() -> Payloads {
        let good = workload::encode(
            Shape {
                signal: Signal::Traces,
                batch_size: 20,
                attributes: 10,
            },
            3,
        );
        let mut nested = AnyValue {
            value: Some(any_value::Value::StringValue("bottom".into())),
        };
        for _ in 0..NESTING_DEPTH {
            nested = AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(nested),
                        key_strindex: 0,
                    }],
                })),
            };
        }
        let deep = one_span_request(vec![KeyValue {
            key: "deep".into(),
            value: Some(nested),
            key_strindex: 0,
        }]);
        let wide = one_span_request(
            (0..ATTRIBUTES)
                .map(|i| KeyValue {
                    key: format!("a{i}"),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(i as i64)),
                    }),
                    key_strindex: 0,
                })
                .collect(),
        );
        let oversize = workload::encode(
            Shape {
                signal: Signal::Traces,
                batch_size: 2 * LIMIT / 500,
                attributes: 10,
            },
            4,
        );
        Payloads {
            truncated: good[..good.len() / 2].to_vec(),
            // 32 MiB of zeros gzip to ~32 KiB: tiny on the wire, 8x the limit once inflated.
            bomb: Compression::Gzip.compress(&vec![0u8; 8 * LIMIT]),
            oversize,
            deep,
            wide,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    HttpTruncated,
    HttpBomb,
    HttpOversize,
    HttpDeep,
    HttpWide,
    HttpInvalidJson,
    GrpcTruncated,
    GrpcBomb,
    GrpcOversize,
    GrpcDeep,
    GrpcWide,
}

const CASES: [Case; 11] = [
    Case::HttpTruncated,
    Case::HttpBomb,
    Case::HttpOversize,
    Case::HttpDeep,
    Case::HttpWide,
    Case::HttpInvalidJson,
    Case::GrpcTruncated,
    Case::GrpcBomb,
    Case::GrpcOversize,
    Case::GrpcDeep,
    Case::GrpcWide,
];

/// One HTTP/1.1 POST to /v1/traces on a fresh connection: the status, or why there was none.
async fn http_post(
    addr: SocketAddr,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> String {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut request = http::Request::post("/v1/traces")
            .header("host", addr.to_string())
            .header("content-type", content_type);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Ok::<_, String>(format!("HTTP {status}"))
    };
    match tokio::time::timeout(Duration::from_secs(20), attempt).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => format!("no answer: {e}"),
        Err(_) => "no answer within 20 s".into(),
    }
}

async fn grpc_call(addr: SocketAddr, compression: Compression, frame: Bytes) -> String {
    let attempt = async {
        let mut connection = Connection::open_retrying(
            Protocol::Grpc,
            &addr.to_string(),
            compression,
            Duration::ZERO,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(match connection.export(Signal::Traces, frame).await {
            Outcome::Acknowledged { .. } => "gRPC OK".to_string(),
            Outcome::Refused(m) | Outcome::Failed(m) => {
                m.split(':').next().unwrap_or_default().to_string()
            }
        })
    };
    match tokio::time::timeout(Duration::from_secs(20), attempt).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => format!("no answer: {e}"),
        Err(_) => "no answer within 20 s".into(),
    }
}

async fn send(case: Case, p: &Payloads, grpc: SocketAddr, http: SocketAddr) -> String {
    let protobuf = "application/x-protobuf";
    let frame = |body: &[u8]| codec::grpc_frame(body, false);
    match case {
        Case::HttpTruncated => http_post(http, protobuf, None, p.truncated.clone()).await,
        Case::HttpBomb => http_post(http, protobuf, Some("gzip"), p.bomb.clone()).await,
        Case::HttpOversize => http_post(http, protobuf, None, p.oversize.clone()).await,
        Case::HttpDeep => http_post(http, protobuf, None, p.deep.clone()).await,
        Case::HttpWide => http_post(http, protobuf, None, p.wide.clone()).await,
        Case::HttpInvalidJson => {
            let json = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 12, "#;
            http_post(http, "application/json", None, json.to_vec()).await
        }
        Case::GrpcTruncated => grpc_call(grpc, Compression::None, frame(&p.truncated)).await,
        Case::GrpcBomb => {
            grpc_call(grpc, Compression::Gzip, codec::grpc_frame(&p.bomb, true)).await
        }
        Case::GrpcOversize => grpc_call(grpc, Compression::None, frame(&p.oversize)).await,
        Case::GrpcDeep => grpc_call(grpc, Compression::None, frame(&p.deep)).await,
        Case::GrpcWide => grpc_call(grpc, Compression::None, frame(&p.wide)).await,
    }
}

/// A client error, as the brief for each case: 4xx over HTTP; INVALID_ARGUMENT over gRPC, or
/// RESOURCE_EXHAUSTED where the request is too big (grpc-go's and otelcol's answer).
fn expected(case: Case, answer: &str) -> bool {
    let http_4xx = answer
        .strip_prefix("HTTP ")
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|s| (400..500).contains(&s) && s != 429);
    match case {
        Case::GrpcBomb | Case::GrpcOversize => {
            answer == "gRPC INVALID_ARGUMENT" || answer == "gRPC RESOURCE_EXHAUSTED"
        }
        Case::GrpcTruncated | Case::GrpcDeep | Case::GrpcWide => answer == "gRPC INVALID_ARGUMENT",
        // The server answers 413 once the limit is read and closes; a client still writing the
        // rest may see the reset before the answer.
        Case::HttpOversize => http_4xx || answer.starts_with("no answer: error writing a body"),
        _ => http_4xx,
    }
}

/// A client that sends `preface` one byte every 200 ms, then `filler` bytes at the same pace (or
/// nothing, holding the connection idle), until `until` or until the server hangs up; true when
/// the server hung up.
async fn slow_client(
    addr: SocketAddr,
    preface: Vec<u8>,
    filler: Option<u8>,
    until: Instant,
) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return true;
    };
    let mut bytes = preface.into_iter().chain(std::iter::from_fn(|| filler));
    let mut scratch = [0u8; 4096];
    loop {
        let tick = tokio::time::sleep(Duration::from_millis(200));
        tokio::select! {
            read = stream.read(&mut scratch) => match read {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            },
            _ = tick => {}
        }
        if Instant::now() >= until {
            return false;
        }
        if let Some(byte) = bytes.next()
            && stream.write_all(&[byte]).await.is_err()
        {
            return true;
        }
    }
}

pub fn hostile_input(length: Length) -> Report {
    let name = "hostile input under good load";
    let duration = length.pick(Duration::from_secs(10), Duration::from_secs(60));
    let rate = length.pick(1000.0, 5000.0);
    let slow_clients = length.pick(32, 256);
    let mut h = Harness::new();
    let mut spec = reliable_spec(Signal::Traces, ExporterKind::Grpc, length);
    spec.receiver_limits = Some((LIMIT_MIB as u32, LIMIT));
    let mut collector = match Collector::start(&spec, h.sink.addr) {
        Ok(collector) => collector,
        Err(e) => return blocked(name, e),
    };
    let payloads = Arc::new(Payloads::build());
    let loads: Vec<_> = [Protocol::Grpc, Protocol::Http]
        .into_iter()
        .map(|protocol| {
            let config = h
                .load_config(&collector, protocol, Signal::Traces)
                .paced(rate / 2.0, BATCH_LATENCY);
            (config.shape.run, h.start_load(config))
        })
        .collect();
    let until = Instant::now() + duration;
    let (grpc, http) = (collector.grpc, collector.http);
    let hung_up = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = (0..slow_clients)
        .map(|i| {
            // Headers that never end; a body that trickles; an h2 connection that never speaks.
            let (addr, preface, filler): (SocketAddr, &[u8], Option<u8>) = match i % 3 {
                0 => (http, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ", Some(b'a')),
                1 => (
                    http,
                    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000000\r\n\r\n",
                    Some(0x0a),
                ),
                _ => (grpc, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", None),
            };
            let hung_up = hung_up.clone();
            let preface = preface.to_vec();
            h.runtime.spawn(async move {
                if slow_client(addr, preface, filler, until).await {
                    hung_up.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let hostile = {
        let payloads = payloads.clone();
        h.runtime.spawn(async move {
            let mut answers: BTreeMap<Case, BTreeMap<String, u64>> = BTreeMap::new();
            while Instant::now() < until {
                for case in CASES {
                    let answer = send(case, &payloads, grpc, http).await;
                    *answers.entry(case).or_default().entry(answer).or_default() += 1;
                }
            }
            answers
        })
    };
    let answers = h
        .runtime
        .block_on(hostile)
        .expect("the hostile client runs");
    for slow in slow {
        let _ = h.runtime.block_on(slow);
    }
    let finished: Vec<Finished> = loads
        .into_iter()
        .map(|(run, load)| Finished {
            run,
            ledger: load.finish(),
        })
        .collect();
    h.wait_for_delivery(
        &finished,
        length.pick(Duration::from_secs(30), Duration::from_secs(60)),
    );
    let running = collector.running();
    let mut report = h.report(&format!("(e) {name}"), &finished, &collector);
    let mut unexpected = Vec::new();
    let mut total = 0;
    for (case, seen) in &answers {
        let line: Vec<String> = seen.iter().map(|(a, n)| format!("{n}× {a}")).collect();
        report.note(format!("{case:?}: {}", line.join(", ")));
        total += seen.values().sum::<u64>();
        for (answer, count) in seen {
            if !expected(*case, answer) {
                unexpected.push(format!("{case:?} got {count}× {answer}"));
            }
        }
    }
    report.note(format!(
        "{total} hostile requests; {slow_clients} slow clients, {} hung up on by the server",
        hung_up.load(Ordering::Relaxed)
    ));
    report.check(
        "every hostile request got a client error",
        unexpected.is_empty(),
        unexpected.join("; "),
    );
    let good_failures: u64 = finished
        .iter()
        .map(|f| f.ledger.failed + f.ledger.gave_up)
        .sum();
    report.check(
        "no good request failed",
        good_failures == 0,
        format!("{good_failures} good requests failed or were given up"),
    );
    report.check("ferrotel stayed up", running, "the process exited");
    let (untracked, _) = h.sink.untracked_and_requests();
    report.note(format!("{untracked} untracked items reached the backend"));
    report
}
