//! The ebpf receiver's kernel side against the real kernel: exchanges that are not spans are
//! counted and timed in the kernel (no record each), the fallback to per-syscall tracepoints sees
//! the same traffic, the port filters, and a full requests map is counted. Each test runs its own
//! ferrotel exporting straight to a recorder owned by the test. Needs root.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Ferrotel;
use ferrotel_integration_tests::otlp_query::{get, max_value, points, spans};
use ferrotel_integration_tests::procs::{Proc, free_addr, http_get, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

const WAIT: Duration = Duration::from_secs(30);

unsafe extern "C" {
    fn geteuid() -> u32;
}

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { geteuid() }, 0, "the ebpf tests need root");
}

/// ferrotel with `receiver` (the ebpf receiver's YAML, indented under `ebpf:`) feeding `signals`.
fn start(receiver: &str, signals: &[&str], recorder: &RecorderServer) -> Ferrotel {
    let pipelines: String = signals
        .iter()
        .map(|s| format!("    {s}:\n      receivers: [ebpf]\n      exporters: [otlp]\n"))
        .collect();
    let config = format!(
        "receivers:\n  ebpf:\n    collection_interval: 1s\n    flush_interval: 200ms\n{receiver}\
         exporters:\n  otlp:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n{{telemetry}}  pipelines:\n{pipelines}",
        recorder.addr
    );
    let ferrotel = Ferrotel::start("ferrotel-ebpf", &config, &[]);
    let attached = wait_for(WAIT, || {
        let out = ferrotel.proc.output();
        out.contains("ebpf programs attached").then_some(out)
    });
    assert!(attached.is_some(), "{}", ferrotel.proc.output());
    ferrotel
}

/// A Python HTTP server on loopback: its 404s are the exchanges the tests count.
fn http_server() -> (Proc, std::net::SocketAddr) {
    let addr = free_addr();
    let mut server = Proc::spawn("http.server", {
        let mut c = Command::new("python3");
        c.args(["-m", "http.server", &addr.port().to_string()]);
        c.args(["--bind", "127.0.0.1"]);
        c
    });
    server.wait_for_port(addr, WAIT);
    (server, addr)
}

/// One Python process making `n` requests, one connection each (each answered 404); its pid.
fn client(addr: std::net::SocketAddr, n: usize) -> u32 {
    let script = format!(
        "import urllib.request, urllib.error\nfor i in range({n}):\n    try:\n        urllib.request.urlopen('http://{addr}/kernel-{{}}'.format(i))\n    except urllib.error.HTTPError as e:\n        assert e.code == 404\n"
    );
    let child = Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .expect("python3");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    pid
}

fn requests_of(recorded: &Recorded, pid: u32) -> Option<f64> {
    max_value(
        recorded,
        "l7.requests",
        &[("process.pid", &pid.to_string())],
        &[("l7.protocol", "http"), ("l7.status_class", "4xx")],
    )
}

fn self_metric(ferrotel: &Ferrotel, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, text) = http_get(ferrotel.metrics, "/metrics").unwrap();
    common::metric_sum(&text, name, labels)
}

#[test]
fn without_spans_every_exchange_is_counted_in_the_kernel() {
    assert_root();
    let recorder = RecorderServer::start();
    // DNS always leaves the kernel as records (user space reads the question): a resolver lookup
    // by anything else on the machine must not make this test's count of records fail
    let ferrotel = start("    exclude:\n      ports: [53]\n", &["metrics"], &recorder);
    let (_server, addr) = http_server();
    let pid = client(addr, 5);
    let count = recorder
        .recorder
        .wait_until(WAIT, |r| requests_of(r, pid) == Some(5.0))
        .map(|r| requests_of(&r, pid));
    assert!(count.is_ok(), "l7.requests never reached 5 for {pid}");
    // the latency histogram has the same five, in the kernel's buckets
    let recorded = recorder.recorder.snapshot();
    let durations = max_value(
        &recorded,
        "l7.request.duration",
        &[("process.pid", &pid.to_string())],
        &[("l7.protocol", "http"), ("l7.role", "client")],
    );
    assert_eq!(durations, Some(5.0));
    // ... and no exchange left the kernel as a record
    let labels = [("type", "l7")];
    assert_eq!(
        self_metric(&ferrotel, "otelcol_receiver_ebpf_records_total", &labels),
        0.0
    );
    assert!(
        self_metric(
            &ferrotel,
            "otelcol_receiver_ebpf_records_total",
            &[("type", "event")]
        ) > 0.0
    );
}

#[test]
fn the_fallback_tracepoints_see_the_same_exchanges() {
    assert_root();
    let recorder = RecorderServer::start();
    let ferrotel = start(
        "    syscall_probes: tracepoint\n",
        &["traces", "metrics"],
        &recorder,
    );
    assert!(
        ferrotel
            .proc
            .output()
            .contains("syscall_probes=\"tracepoint\""),
        "{}",
        ferrotel.proc.output()
    );
    let (_server, addr) = http_server();
    let pid = client(addr, 2);
    let client_spans = |r: &Recorded| {
        spans(r)
            .into_iter()
            .filter(|(res, span)| {
                get(res, "process.pid") == Some(pid.to_string())
                    && span.kind == SpanKind::Client as i32
                    && get(&span.attributes, "url.path").is_some_and(|p| p.starts_with("/kernel-"))
            })
            .count()
    };
    let seen = recorder
        .recorder
        .wait_until(WAIT, |r| client_spans(r) == 2)
        .is_ok();
    assert!(seen, "two client spans, with their paths, not seen");
    let recorded = recorder.recorder.snapshot();
    let method = spans(&recorded)
        .into_iter()
        .find(|(res, _)| get(res, "process.pid") == Some(pid.to_string()))
        .and_then(|(_, span)| get(&span.attributes, "http.request.method"));
    assert_eq!(method.as_deref(), Some("GET"));
    // spans come from records, and the metrics count them once
    let counted = recorder
        .recorder
        .wait_until(WAIT, |r| requests_of(r, pid) == Some(2.0))
        .is_ok();
    assert!(counted, "{:?}", requests_of(&recorded, pid));
}

#[test]
fn an_excluded_port_is_not_followed() {
    assert_root();
    let recorder = RecorderServer::start();
    let (_hidden, hidden) = http_server();
    let (_shown, shown) = http_server();
    let receiver = format!("    exclude:\n      ports: [{}]\n", hidden.port());
    let _ferrotel = start(&receiver, &["metrics"], &recorder);
    let hidden_client = client(hidden, 3);
    let shown_client = client(shown, 3);
    let seen = recorder
        .recorder
        .wait_until(WAIT, |r| requests_of(r, shown_client) == Some(3.0))
        .is_ok();
    assert!(
        seen,
        "the exchanges on the port not excluded were not counted"
    );
    let recorded = recorder.recorder.snapshot();
    assert_eq!(requests_of(&recorded, hidden_client), None);
    let on_hidden_port = points(&recorded, "l7.requests")
        .into_iter()
        .any(|(_, attrs, _)| get(&attrs, "server.port") == Some(hidden.port().to_string()));
    assert!(
        !on_hidden_port,
        "an exchange on the excluded port was counted"
    );
}

#[test]
fn a_full_requests_map_is_counted() {
    assert_root();
    let recorder = RecorderServer::start();
    // requests that will be spans wait in the `requests` map (the others in their socket)
    let ferrotel = start(
        "    l7:\n      max_pending_requests: 1\n",
        &["traces", "metrics"],
        &recorder,
    );
    // three clients wait at once on a server that answers after a second: one request fits
    let addr = free_addr();
    let script = format!(
        "import http.server, socketserver, time\n\
         class H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        time.sleep(1)\n        self.send_response(204)\n        self.end_headers()\n\
         socketserver.ThreadingTCPServer(('127.0.0.1', {}), H).serve_forever()\n",
        addr.port()
    );
    let mut server = Proc::spawn("slow-server", {
        let mut c = Command::new("python3");
        c.args(["-c", &script]);
        c
    });
    server.wait_for_port(addr, WAIT);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", &format!("http://{addr}/slow")])
                .spawn()
                .expect("curl")
        })
        .collect();
    for mut c in clients {
        c.wait().unwrap();
    }
    let labels = [("reason", "requests_map_full")];
    let full = wait_for(WAIT, || {
        let n = self_metric(
            &ferrotel,
            "otelcol_receiver_ebpf_lost_events_total",
            &labels,
        );
        (n > 0.0).then_some(n)
    });
    assert!(full.is_some(), "requests_map_full never counted");
}
