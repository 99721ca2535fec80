//! gRPC over HTTP/2 through the ebpf receiver: a real grpcio server and client (the recording
//! script of the unit-test fixtures, components/l7/testdata/http2/grpc_pair.py) make several
//! unary calls on one channel. Only the first call's header block spells the method out; the
//! later ones point into the connection's HPACK table, which the receiver rebuilds from the
//! 128-byte heads it sees (the first block cut among them). Every call's server span must name
//! it, and so must the client spans, whose writes are many small iovecs (see below). Each call's
//! gRPC status comes from its trailers, read with the server's HPACK table (the receiver rebuilds
//! it from the 256-byte heads of the replies); a last call to a method the server lacks ends
//! UNIMPLEMENTED.
//!
//! Needs root and grpcio in the project's venv.

mod common;

use std::process::Command;
use std::time::Duration;

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::{python, servers};
use ferrotel_integration_tests::otlp_query::spans;
use ferrotel_integration_tests::procs::{free_port, venv_python, workspace_root};
use ferrotel_integration_tests::recorder::Recorded;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

const CALLS: u32 = 4;

fn grpc_pair() -> std::path::PathBuf {
    workspace_root().join("components/l7/testdata/http2/grpc_pair.py")
}

/// The HTTP/2 client and server spans of the server on `port`.
fn http2_spans(recorded: &Recorded, port: u16) -> (Vec<Span>, Vec<Span>) {
    spans(recorded)
        .into_iter()
        .map(|(_, span)| span)
        .filter(|s| {
            attr(s, "l7.protocol").as_deref() == Some("http2")
                && attr(s, "server.port") == Some(port.to_string())
        })
        .partition(|s| s.kind == SpanKind::Client as i32)
}

fn assert_say_hello(span: &Span, stream: &str) {
    assert_eq!(
        span.name, "helloworld.Greeter/SayHello",
        "stream {stream}: {span:?}"
    );
    assert_attrs(
        span,
        &[
            ("rpc.system", "grpc"),
            ("rpc.service", "helloworld.Greeter"),
            ("rpc.method", "SayHello"),
            ("network.protocol.version", "2"),
        ],
    );
    assert_eq!(attr(span, "http.route"), None, "stream {stream}");
    // the conventions want the protocol's name only when it is not HTTP's
    assert_eq!(attr(span, "network.protocol.name"), None, "stream {stream}");
    assert_eq!(attr(span, "error.type"), None, "stream {stream}: {span:?}");
    assert_eq!(
        attr(span, "rpc.grpc.status_code").as_deref(),
        Some("0"),
        "stream {stream}: {span:?}"
    );
}

/// The call to the method the server does not have: a failure on both sides.
fn assert_unimplemented(span: &Span) {
    assert_eq!(span.name, "helloworld.Greeter/Missing", "{span:?}");
    assert_attrs(
        span,
        &[
            ("rpc.grpc.status_code", "12"),
            ("error.type", "UNIMPLEMENTED"),
        ],
    );
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2), "{span:?}");
}

#[test]
fn grpc_calls_on_one_channel_carry_their_method() {
    assert_root();
    let port = free_port();
    let mut server = Command::new(venv_python());
    server.arg(grpc_pair()).args(["server", &port.to_string()]);
    let mut server = servers::listening("grpc-server", server, port, Duration::from_secs(30));
    let pipeline = Pipeline::start("");

    let (port_arg, calls) = (port.to_string(), CALLS.to_string());
    let args = [
        grpc_pair().into_os_string(),
        "client".into(),
        port_arg.into(),
        calls.into(),
    ];
    python::run("grpcio", args);

    // a span per call on each side, on streams 1, 3, 5, …; then the missing method's
    let streams: Vec<String> = (0..CALLS).map(|i| (2 * i + 1).to_string()).collect();
    let missing = (2 * CALLS + 1).to_string();
    let of_stream = |spans: &[Span], id: &String| -> Option<Span> {
        spans
            .iter()
            .find(|s| attr(s, "l7.stream_id").as_ref() == Some(id))
            .cloned()
    };
    let (clients, servers) = pipeline.wait("a client and a server span for every call", |r| {
        let (clients, servers) = http2_spans(r, port);
        let all = |spans: &[Span]| {
            streams
                .iter()
                .chain([&missing])
                .all(|id| of_stream(spans, id).is_some())
        };
        (all(&clients) && all(&servers)).then_some((clients, servers))
    });
    // the server reads each request whole: every call is named, the later ones through the
    // HPACK table the first (cut at 128 bytes) and the second built
    for id in &streams {
        let span = of_stream(&servers, id).unwrap();
        assert_say_hello(&span, id);
    }
    // grpc-core's client writes a HEADERS frame as many small iovecs (frame header and two bytes,
    // the name, its length, the value, …); the kernel gathers the first 128 bytes over them, so
    // the later calls, whose blocks point into the HPACK table, are named on the client too. The
    // first call's block is cut at 128 bytes (the table the later ones need is rebuilt from it):
    // its span is named, or at least not named wrongly.
    for (i, id) in streams.iter().enumerate() {
        let span = of_stream(&clients, id).unwrap();
        if i > 0 || span.name == "helloworld.Greeter/SayHello" {
            assert_say_hello(&span, id);
        } else {
            eprintln!("client span of stream {id}: {:?}", span.name);
            assert!(["http2", "POST"].contains(&span.name.as_str()), "{span:?}");
            assert_eq!(attr(&span, "rpc.method"), None, "{span:?}");
            assert_eq!(attr(&span, "url.path"), None, "{span:?}");
        }
    }
    assert_unimplemented(&of_stream(&servers, &missing).unwrap());
    assert_unimplemented(&of_stream(&clients, &missing).unwrap());
    server.assert_running();
}
