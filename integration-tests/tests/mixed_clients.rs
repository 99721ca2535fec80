//! Many clients, one collector: what one client does must never cost the others their spans.
//!
//! - A client sending requests that a strict decoder refuses (a string that is not UTF-8, a trace id
//!   that is not 16 bytes) must be refused by ferrotel's receiver itself — gRPC `INVALID_ARGUMENT` /
//!   HTTP 400 naming the field — and not acknowledged, batched with good clients' spans and then
//!   refused downstream together with them by a strict backend (here the sink in strict mode, which
//!   refuses a whole request as otelcol's pdata-based backends do).
//! - A Python SDK with its default `BatchSpanProcessor` (queue 2048, batches of 512) creating spans
//!   flat out must lose no more through ferrotel than when it exports straight to a backend: ferrotel
//!   has to acknowledge once spans are queued, not hold each export until its batch is sent. Each
//!   way runs twice, interleaved, and the best runs are compared, so that a burst of load from
//!   elsewhere on the machine decides nothing.
//!
//! Run: `cargo build -p ferrotel && cargo test -p ferrotel-integration-tests --test mixed_clients`
//! (needs the venv of scripts/setup.sh; FERROTEL_BIN picks another ferrotel binary).

mod common;

use bytes::Bytes;
use common::Ferrotel;
use ferrotel_core::Signal;
use ferrotel_integration_tests::codec::{self, Compression};
use ferrotel_integration_tests::procs::{self, Proc, free_addr, wait_for};
use ferrotel_integration_tests::sink::{self, SignalSnapshot, SinkHandle, SinkOptions};
use ferrotel_integration_tests::transport::{Connection, Outcome, Protocol};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde::Deserialize;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Both tests measure (a rate, a loss) on a 2-core machine: run them one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a Python SDK process may run.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the sink count may take to settle once every client is done.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A sink served by its own runtime (dropped after the sink).
struct Sink {
    handle: SinkHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Sink {
    fn start(strict: bool) -> Sink {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("sink runtime");
        let options = SinkOptions {
            strict,
            ..SinkOptions::default()
        };
        let handle = runtime
            .block_on(sink::start("127.0.0.1:0".parse().unwrap(), options))
            .expect("start the sink");
        Sink {
            handle,
            _runtime: runtime,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.addr
    }

    fn traces(&self) -> SignalSnapshot {
        self.handle.counts.snapshot().traces
    }

    /// Waits until the span count reaches `expected` and then stays put for a second, or stops
    /// moving for 5 s (what has not arrived by then is not coming: nothing retries a refusal), or
    /// `SETTLE_TIMEOUT` passes.
    fn settle(&self, expected: u64) -> SignalSnapshot {
        let start = Instant::now();
        let mut last = self.traces();
        let mut last_change = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.traces();
            if now.items != last.items {
                last_change = Instant::now();
            }
            last = now;
            let quiet = last_change.elapsed();
            if (last.items >= expected && quiet >= Duration::from_secs(1))
                || quiet >= Duration::from_secs(5)
                || start.elapsed() >= SETTLE_TIMEOUT
            {
                return last;
            }
        }
    }
}

/// What `python/sdk_flood.py` printed.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // printed with {:?}
struct FloodReport {
    service: String,
    created: u64,
    seconds: f64,
    rate: f64,
    flush_seconds: f64,
    exports: u64,
    submitted: u64,
    exported_ok: u64,
    export_failed: u64,
    dropped: u64,
    dropped_metric: Option<u64>,
    queue_full_logged: bool,
}

/// Starts `python/sdk_flood.py`: an SDK with the default BatchSpanProcessor exporting over OTLP gRPC.
fn start_flood(endpoint: SocketAddr, service: &str, spans: u64, rate: u64) -> Proc {
    let mut command = Command::new(procs::venv_python());
    command
        .arg(procs::python_scripts().join("sdk_flood.py"))
        .args(["--endpoint", &endpoint.to_string()])
        .args(["--spans", &spans.to_string(), "--rate", &rate.to_string()])
        .args(["--service", service]);
    Proc::spawn(service, command)
}

/// Waits for a flood process to end and parses its report.
fn finish_flood(proc: &mut Proc) -> FloodReport {
    let status = wait_for(PYTHON_TIMEOUT, || proc.exited());
    let output = proc.output();
    let status = status.unwrap_or_else(|| {
        panic!("the Python SDK process ran past {PYTHON_TIMEOUT:?}; output so far:\n{output}")
    });
    assert!(
        status.success(),
        "the Python SDK process failed ({status}):\n{output}"
    );
    let line = output
        .lines()
        .rev()
        .find(|line| line.starts_with("{\"service\""))
        .unwrap_or_else(|| panic!("no report from the Python SDK process:\n{output}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad report {line:?}: {e}"))
}

/// `otlp (gRPC and HTTP) → batch (defaults) → otlp` to `sink`.
fn relay_config(grpc: SocketAddr, http: SocketAddr, sink: SocketAddr) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {grpc}\n      http:\n        endpoint: {http}\n\
         processors:\n  batch:\n\
         exporters:\n  otlp:\n    endpoint: {sink}\n    tls:\n      insecure: true\n\
         service:\n{{telemetry}}  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [otlp]\n"
    )
}

/// The two ways a request can be one a strict decoder refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// A string attribute value that is not UTF-8.
    Utf8,
    /// A 15-byte trace id.
    TraceId,
}

impl Bad {
    /// Whether a refusal's message names what is wrong.
    fn named_in(self, message: &str) -> bool {
        let message = message.to_lowercase();
        match self {
            Bad::Utf8 => message.contains("utf-8") || message.contains("utf8"),
            Bad::TraceId => message.contains("trace id") || message.contains("trace_id"),
        }
    }
}

/// A well-framed ExportTraceServiceRequest of one span, bad in one way only. The span is encoded
/// with prost; the invalid UTF-8 is patched into the bytes of a same-length marker string (prost
/// cannot hold it in a `String`), so every length prefix stays right.
fn bad_request(kind: Bad, seq: u64) -> Vec<u8> {
    const MARKER: &[u8] = b"@@NOT-UTF-8-MARKER@@";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let string = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    };
    let mut trace_id = [0xbau8; 16].to_vec();
    trace_id[..8].copy_from_slice(&seq.to_be_bytes());
    if kind == Bad::TraceId {
        trace_id.truncate(15);
    }
    let span = Span {
        trace_id,
        span_id: (seq + 1).to_be_bytes().to_vec(),
        name: "bad-client.op".into(),
        start_time_unix_nano: now - 1_000_000,
        end_time_unix_nano: now,
        attributes: vec![string(
            "bad.value",
            std::str::from_utf8(MARKER).expect("ASCII"),
        )],
        ..Default::default()
    };
    let mut bytes = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "bad-client")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    if kind == Bad::Utf8 {
        let at = bytes
            .windows(MARKER.len())
            .position(|window| window == MARKER)
            .expect("marker encoded");
        // 0xff never occurs in UTF-8; 0xc3 0x28 is a truncated two-byte sequence.
        bytes[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
        assert!(std::str::from_utf8(&bytes[at..at + MARKER.len()]).is_err());
    }
    bytes
}

/// google.rpc.Status, the body of an OTLP/HTTP error answer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// One OTLP/HTTP protobuf trace export on a fresh connection, its answer classified as
/// `transport` does but with the whole error message (google.rpc.Status, or the body as text).
async fn post_protobuf(addr: SocketAddr, body: Vec<u8>) -> Outcome {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = http::Request::post(codec::http_path(Signal::Traces))
            .header(http::header::HOST, addr.to_string())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        anyhow::Ok((parts, body.collect().await?.to_bytes()))
    };
    let (parts, body) = match tokio::time::timeout(Duration::from_secs(30), exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return Outcome::Failed(format!("transport: {e}")),
        Err(_) => return Outcome::Failed("no answer within 30 s".into()),
    };
    if parts.status == http::StatusCode::OK {
        return Outcome::Acknowledged { rejected: 0 };
    }
    let protobuf = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-protobuf"));
    let message = match RpcStatus::decode(body.as_ref()) {
        Ok(status) if protobuf => status.message,
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    Outcome::Failed(format!("HTTP {}: {message}", parts.status.as_u16()))
}

/// How ferrotel answered one bad request.
#[derive(Debug)]
struct Answer {
    kind: Bad,
    transport: &'static str,
    outcome: Outcome,
}

impl Answer {
    /// `None` when the answer is the refusal expected; else what is wrong with it.
    fn problem(&self) -> Option<String> {
        let (prefix, message) = match (&self.outcome, self.transport) {
            (Outcome::Failed(message), "grpc") => ("gRPC INVALID_ARGUMENT: ", message),
            (Outcome::Failed(message), _) => ("HTTP 400: ", message),
            (other, _) => return Some(format!("{other:?}")),
        };
        match message.strip_prefix(prefix) {
            Some(detail) if self.kind.named_in(detail) => None,
            Some(_) => Some(format!("{message:?} does not name the field")),
            None => Some(format!(
                "{message:?} is not {}",
                prefix.trim_end_matches(": ")
            )),
        }
    }
}

#[test]
fn bad_client_never_costs_good_clients_their_spans() {
    const GOOD_CLIENTS: usize = 3;
    const SPANS_PER_CLIENT: u64 = 3_000;
    /// Paced so that the SDK's own queue never overflows, even behind a slow acknowledgement: this
    /// test is about the bad client only.
    const RATE_PER_CLIENT: u64 = 1_000;
    const MIN_BAD_GRPC: usize = 40;
    const BAD_HTTP: usize = 4;

    let _serial = one_at_a_time();
    let sink = Sink::start(true);
    let (grpc, http) = (free_addr(), free_addr());
    let mut ferrotel = Ferrotel::start(
        "ferrotel",
        &relay_config(grpc, http, sink.addr()),
        &[grpc, http],
    );

    let mut good: Vec<Proc> = (0..GOOD_CLIENTS)
        .map(|i| {
            start_flood(
                grpc,
                &format!("good-client-{i}"),
                SPANS_PER_CLIENT,
                RATE_PER_CLIENT,
            )
        })
        .collect();

    // The bad client: pairs of raw gRPC requests (one of each kind), every 100 ms, for as long as
    // the good clients send and at least MIN_BAD_GRPC, so that bad spans land in every batch the
    // good clients' spans are in; then a few over OTLP/HTTP.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answers: Vec<Answer> = runtime.block_on(async {
        let patience = Duration::from_secs(10);
        let mut grpc_client = Connection::open_retrying(
            Protocol::Grpc,
            &grpc.to_string(),
            Compression::None,
            patience,
        )
        .await
        .expect("connect over gRPC");
        let mut answers = Vec::new();
        let mut seq = 0u64;
        let started = Instant::now();
        loop {
            for kind in [Bad::Utf8, Bad::TraceId] {
                let body = codec::grpc_frame(&bad_request(kind, seq), false);
                seq += 1;
                let outcome = tokio::time::timeout(
                    Duration::from_secs(30),
                    grpc_client.export(Signal::Traces, body),
                )
                .await
                .unwrap_or_else(|_| Outcome::Failed("no answer within 30 s".into()));
                answers.push(Answer {
                    kind,
                    transport: "grpc",
                    outcome,
                });
            }
            let good_running = good.iter_mut().any(|p| p.exited().is_none());
            if answers.len() >= MIN_BAD_GRPC && !good_running {
                break;
            }
            assert!(
                started.elapsed() < PYTHON_TIMEOUT,
                "the good clients ran past {PYTHON_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for i in 0..BAD_HTTP {
            let kind = [Bad::Utf8, Bad::TraceId][i % 2];
            let outcome = post_protobuf(http, bad_request(kind, seq)).await;
            seq += 1;
            answers.push(Answer {
                kind,
                transport: "http",
                outcome,
            });
        }
        answers
    });

    let reports: Vec<FloodReport> = good.iter_mut().map(finish_flood).collect();
    let created: u64 = reports.iter().map(|r| r.created).sum();
    let arrived = sink.settle(created);
    ferrotel.proc.assert_running();

    let wrong: Vec<String> = answers
        .iter()
        .filter_map(|a| {
            a.problem()
                .map(|p| format!("{:?} over {}: {p}", a.kind, a.transport))
        })
        .collect();
    eprintln!("good clients:");
    for report in &reports {
        eprintln!("  {report:?}");
    }
    eprintln!(
        "bad requests: {} sent ({} over gRPC, {} over HTTP), {} not refused as expected",
        answers.len(),
        answers.len() - BAD_HTTP,
        BAD_HTTP,
        wrong.len()
    );
    for line in wrong.iter().take(6) {
        eprintln!("  {line}");
    }
    eprintln!(
        "strict sink: {} of {created} good spans arrived in {} requests; {} requests rejected",
        arrived.items, arrived.requests, arrived.rejected
    );

    for report in &reports {
        assert_eq!(
            (report.dropped, report.export_failed),
            (0, 0),
            "a good client lost spans in its own SDK (dropped) or had exports fail: {report:?}"
        );
    }
    assert!(
        wrong.is_empty(),
        "ferrotel must refuse every bad request itself (gRPC INVALID_ARGUMENT / HTTP 400 naming the \
         field), not acknowledge it; {} of {} were not, the first: {:#?}",
        wrong.len(),
        answers.len(),
        &wrong[..wrong.len().min(6)]
    );
    assert_eq!(
        arrived.rejected, 0,
        "the strict sink refused requests ferrotel sent it: ferrotel passed on bytes a strict decoder refuses"
    );
    assert_eq!(
        arrived.items, created,
        "every good span must arrive at the strict sink, exactly once"
    );
    ferrotel.proc.assert_running();
}

/// One flood run of `spans` spans at `rate` spans/s to `endpoint`, behind which `sink` counts: the
/// SDK's report and how many of its spans reached the sink.
fn flood_run(
    sink: &Sink,
    endpoint: SocketAddr,
    service: &str,
    spans: u64,
    rate: u64,
) -> (FloodReport, u64) {
    let before = sink.traces().items;
    let mut proc = start_flood(endpoint, service, spans, rate);
    let report = finish_flood(&mut proc);
    let arrived = sink.settle(before + report.submitted).items - before;
    (report, arrived)
}

#[test]
fn one_sdk_at_a_rate_it_sustains_loses_nothing_through_ferrotel() {
    const SPANS: u64 = 40_000;
    /// Runs each way, interleaved; the best of each is compared, so that a burst of load from
    /// elsewhere on the machine (which makes the SDK drop whatever it exports to) decides nothing.
    const ROUNDS: usize = 2;
    // The SDK creates spans as fast as its own exporter keeps up with: flat out, a Python SDK on
    // this 2-core machine creates ~10k spans/s and then drops a varying 5-15% by itself, even
    // straight to a sink, which would drown the comparison in GIL scheduling noise. So it runs at
    // a rate its exporter sustains here (5,000 spans/s; $FERROTEL_SDK_FLOOD_RATE sets
    // it). That is still twice what a collector holding each 512-span export for a 200 ms batch
    // timeout lets through (2,560 spans/s, what ferrotel's old `batch` did): its 2,048 queue would
    // overflow and drop about half. The achieved rate is checked so a starved machine cannot pass
    // vacuously.
    let rate: u64 = std::env::var("FERROTEL_SDK_FLOOD_RATE")
        .ok()
        .and_then(|rate| rate.parse().ok())
        .unwrap_or(5_000);
    let min_rate = rate as f64 * 0.8;

    let _serial = one_at_a_time();
    // Straight to a backend: what the SDK alone delivers; and through ferrotel's default relay.
    let direct_sink = Sink::start(false);
    let relay_sink = Sink::start(false);
    let (grpc, http) = (free_addr(), free_addr());
    let mut ferrotel = Ferrotel::start(
        "ferrotel",
        &relay_config(grpc, http, relay_sink.addr()),
        &[grpc, http],
    );
    let mut direct = Vec::new();
    let mut relayed = Vec::new();
    for round in 0..ROUNDS {
        let service = format!("flood-direct-{round}");
        direct.push(flood_run(
            &direct_sink,
            direct_sink.addr(),
            &service,
            SPANS,
            rate,
        ));
        let service = format!("flood-ferrotel-{round}");
        relayed.push(flood_run(&relay_sink, grpc, &service, SPANS, rate));
        ferrotel.proc.assert_running();
    }

    for (report, arrived) in &direct {
        eprintln!("direct:   {report:?}\n          {arrived} spans arrived at the sink");
    }
    for (report, arrived) in &relayed {
        eprintln!(
            "ferrotel: {report:?}\n          {arrived} spans arrived at the sink through ferrotel"
        );
    }
    let best =
        |runs: &[(FloodReport, u64)]| runs.iter().map(|(_, arrived)| *arrived).max().unwrap();
    let (direct_arrived, relayed_arrived) = (best(&direct), best(&relayed));
    let direct_rate = direct.iter().map(|(r, _)| r.rate).fold(0.0, f64::max);
    let direct_dropped: Vec<u64> = direct.iter().map(|(r, _)| r.dropped).collect();
    let relayed_dropped: Vec<u64> = relayed.iter().map(|(r, _)| r.dropped).collect();
    let share = relayed_arrived as f64 / direct_arrived.max(1) as f64;
    eprintln!(
        "best of {ROUNDS}: {direct_arrived} of {SPANS} spans straight to the sink (up to {direct_rate:.0} \
         spans/s created), {relayed_arrived} through ferrotel: {:.1}%",
        share * 100.0
    );

    assert!(
        share >= 0.99,
        "through ferrotel the SDK delivered at best {relayed_arrived} spans, {:.1}% of the \
         {direct_arrived} it delivered straight to the sink (needs >= 99%): its BatchSpanProcessor \
         dropped {relayed_dropped:?} spans (queue full) waiting on ferrotel's acknowledgements, against \
         {direct_dropped:?} when exporting directly",
        share * 100.0
    );
    // A loss is conclusive at any rate; no loss means something only when the SDK created spans
    // fast enough to overflow its queue behind a slow acknowledgement.
    assert!(
        direct_rate >= min_rate,
        "this machine cannot run the test: the SDK created at best {direct_rate:.0} spans/s straight \
         to the sink, asked for {rate} (FERROTEL_SDK_FLOOD_RATE sets it): too slow to show that \
         nothing is lost"
    );
}
