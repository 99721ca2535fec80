//! The ebpf receiver's test pipeline: ferrotel A runs the receiver in traces, metrics and logs
//! pipelines that export to `debug` and, over OTLP/gRPC, to ferrotel B, which relays to a recorder
//! owned by the test. Every assertion is on what arrived behind the second collector.

use std::time::Duration;

use super::Ferrotel;
use ferrotel_integration_tests::otlp_query::{get, spans};
use ferrotel_integration_tests::procs::{free_addr, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

pub const WAIT: Duration = Duration::from_secs(30);

pub fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc_geteuid() };
    assert_eq!(
        uid, 0,
        "the ebpf tests load kernel programs and need root (CI runs as root)"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

pub struct Pipeline {
    pub a: Ferrotel,
    pub b: Ferrotel,
    pub recorder: RecorderServer,
}

impl Pipeline {
    /// `l7`: the receiver's `l7:` section, indented by six spaces per line (empty: the defaults,
    /// which read no payload out of the process).
    pub fn start(l7: &str) -> Pipeline {
        Self::with_gateway_processor(l7, None)
    }

    /// As `start`, with B running `processor` (its id and its config section, indented by four
    /// spaces) in its traces pipeline.
    pub fn with_gateway_processor(l7: &str, processor: Option<(&str, &str)>) -> Pipeline {
        let recorder = RecorderServer::start();
        let b_grpc = free_addr();
        let (processors, b_pipelines) = match processor {
            None => (String::new(), pipelines("otlp", "otlp")),
            Some((id, config)) => (
                format!("processors:\n  {id}:\n{config}"),
                pipelines("otlp", "otlp").replacen(
                    "      exporters:",
                    &format!("      processors: [{id}]\n      exporters:"),
                    1,
                ),
            ),
        };
        let b = Ferrotel::start(
            "ferrotel-b",
            &format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {b_grpc}\n\
                 {processors}\
                 exporters:\n  otlp:\n    endpoint: {}\n    tls:\n      insecure: true\n\
                 service:\n{{telemetry}}  pipelines:\n{b_pipelines}",
                recorder.addr,
            ),
            &[b_grpc],
        );
        let health = free_addr();
        let l7 = if l7.is_empty() {
            String::new()
        } else {
            format!("    l7:\n{l7}")
        };
        let a = Ferrotel::start(
            "ferrotel-a",
            &format!(
                "receivers:\n  ebpf:\n    collection_interval: 1s\n    flush_interval: 200ms\n{l7}\
                 exporters:\n  debug:\n  otlp:\n    endpoint: {b_grpc}\n    tls:\n      insecure: true\n\
                 extensions:\n  health_check:\n    endpoint: {health}\n\
                 service:\n  extensions: [health_check]\n{{telemetry}}  pipelines:\n{}",
                pipelines("ebpf", "debug, otlp")
            ),
            &[health],
        );
        // the programs are attached once the receiver says so
        let attached = wait_for(WAIT, || {
            a.proc
                .output()
                .contains("ebpf programs attached")
                .then_some(())
        });
        assert!(
            attached.is_some(),
            "A never attached its programs:\n{}",
            a.proc.output()
        );
        Pipeline { a, b, recorder }
    }

    /// Waits until `found` finds something in what reached the recorder.
    pub fn wait<T>(&self, what: &str, found: impl Fn(&Recorded) -> Option<T>) -> T {
        let mut last = None;
        let result = wait_for(WAIT, || {
            let snapshot = self.recorder.recorder.snapshot();
            let hit = found(&snapshot);
            last = Some(snapshot);
            hit
        });
        result.unwrap_or_else(|| {
            let last = last.unwrap_or_default();
            panic!(
                "{what}: not seen behind the second collector within {WAIT:?} ({} trace, {} metric, {} log requests arrived); A's output ends:\n{}",
                last.traces.len(),
                last.metrics.len(),
                last.logs.len(),
                tail(&self.a.proc.output(), 40)
            )
        })
    }

    /// The first client span of `protocol` to `server_port` that `matches`, with its resource.
    pub fn client_span(
        &self,
        what: &str,
        protocol: &str,
        server_port: u16,
        matches: impl Fn(&Span) -> bool,
    ) -> (Vec<KeyValue>, Span) {
        self.wait(what, |r| {
            spans(r).into_iter().find(|(_, span)| {
                span.kind == SpanKind::Client as i32
                    && get(&span.attributes, "l7.protocol").as_deref() == Some(protocol)
                    && get(&span.attributes, "server.port") == Some(server_port.to_string())
                    && matches(span)
            })
        })
    }

    /// The first client span of `protocol` to `server_port` named `name`.
    pub fn span_named(&self, protocol: &str, server_port: u16, name: &str) -> Span {
        let what = format!("the {protocol} span `{name}`");
        self.client_span(&what, protocol, server_port, |s| s.name == name)
            .1
    }

    /// Asserts that none of `secrets` shows anywhere (name, attributes, events) in the client
    /// spans of `protocol` to `server_port` that have arrived so far.
    pub fn assert_spans_hide(&self, protocol: &str, server_port: u16, secrets: &[&str]) {
        for span in self.client_spans(protocol, server_port) {
            let shown = format!("{span:?}");
            for secret in secrets {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    /// Every client span of `protocol` to `server_port` that has arrived so far.
    pub fn client_spans(&self, protocol: &str, server_port: u16) -> Vec<Span> {
        spans(&self.recorder.recorder.snapshot())
            .into_iter()
            .map(|(_, span)| span)
            .filter(|span| {
                span.kind == SpanKind::Client as i32
                    && get(&span.attributes, "l7.protocol").as_deref() == Some(protocol)
                    && get(&span.attributes, "server.port") == Some(server_port.to_string())
            })
            .collect()
    }
}

/// The attribute `key` of `span`, as text.
pub fn attr(span: &Span, key: &str) -> Option<String> {
    get(&span.attributes, key)
}

/// Asserts that `span` has each attribute of `expected` with its value.
pub fn assert_attrs(span: &Span, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(
            attr(span, key).as_deref(),
            Some(*value),
            "{key} of {span:?}"
        );
    }
}

/// Python's http.server on `addr` (404 for every path but `/`), ready when this returns.
pub fn python_http_server(addr: std::net::SocketAddr) -> ferrotel_integration_tests::procs::Proc {
    let mut command = std::process::Command::new("python3");
    command.args([
        "-m",
        "http.server",
        &addr.port().to_string(),
        "--bind",
        "127.0.0.1",
    ]);
    let mut server = ferrotel_integration_tests::procs::Proc::spawn("http.server", command);
    server.wait_for_port(addr, WAIT);
    server
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn pipelines(receiver: &str, exporters: &str) -> String {
    ["traces", "metrics", "logs"]
        .map(|s| {
            format!("    {s}:\n      receivers: [{receiver}]\n      exporters: [{exporters}]\n")
        })
        .concat()
}
