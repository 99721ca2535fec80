//! The `l7protocol` processor on a gateway: ferrotel A's ebpf receiver exports each exchange's
//! raw bytes (`export_payload`) and leaves them unread (`semantics: false`); ferrotel B parses
//! them in its l7protocol processor. What arrives behind B must be the semantic span A would have
//! made itself (as integration-tests/tests/ebpf.rs asserts for the same clients), without the
//! payload. Needs root and the PostgreSQL of `scripts/servers.sh start`.

mod common;

use std::process::Command;

use common::ebpf::{Pipeline, assert_root};
use ferrotel_integration_tests::otlp_query::{get, spans};
use ferrotel_integration_tests::procs::free_addr;

#[test]
fn a_gateway_turns_captured_payloads_into_semantic_spans() {
    assert_root();
    let p = Pipeline::with_gateway_processor(
        "      export_payload: true\n      semantics: false\n",
        Some(("l7protocol", "")),
    );
    let port = common::env_port("FERROTEL_PG_PORT", 15432);
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-tA",
        ])
        .args(["-c", "select 'gateway-probe-4711' as probe"])
        .env("PGPASSWORD", "otelpass")
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed (is PostgreSQL up? scripts/servers.sh start): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, span) = p.client_span("the psql query, parsed at B", "postgresql", port, |span| {
        get(&span.attributes, "db.query.text").is_some_and(|q| q.contains("as probe"))
    });
    assert_eq!(span.name, "SELECT", "{span:?}");
    let attr = |key| get(&span.attributes, key);
    assert_eq!(attr("db.system.name").as_deref(), Some("postgresql"));
    assert_eq!(attr("db.operation.name").as_deref(), Some("SELECT"));
    assert_eq!(attr("db.query.text").as_deref(), Some("select ? as probe"));
    for payload in ["l7.request.payload", "l7.response.payload"] {
        assert_eq!(attr(payload), None, "{payload} left B: {span:?}");
    }

    // an HTTP exchange: named by method and templated route
    let addr = free_addr();
    let _server = common::ebpf::python_http_server(addr);
    let script = format!(
        "import urllib.request, urllib.error\ntry:\n    urllib.request.urlopen('http://{addr}/orders/98765?key=secret')\nexcept urllib.error.HTTPError as e:\n    print(e.code)\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "404");
    let (_, span) = p.client_span(
        "the HTTP request, parsed at B",
        "http",
        addr.port(),
        |span| span.name != "http",
    );
    assert_eq!(span.name, "GET /orders/{id}", "{span:?}");
    assert_eq!(
        get(&span.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        get(&span.attributes, "url.path").as_deref(),
        Some("/orders/98765")
    );
    assert_eq!(
        get(&span.attributes, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert!(!format!("{span:?}").contains("secret"), "{span:?}");

    // the names above are B's work: A was told not to parse (`semantics: false`), and B
    // counted what its processor parsed
    let text = ferrotel_integration_tests::procs::http_get(p.b.metrics, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let parsed = common::metric_sum(
        &text,
        "otelcol_processor_l7protocol_spans_total",
        &[("outcome", "parsed")],
    );
    assert!(parsed >= 2.0, "{text}");
    assert!(
        spans(&p.recorder.recorder.snapshot())
            .iter()
            .all(|(_, s)| { s.attributes.iter().all(|kv| kv.key != "l7.request.payload") })
    );
}
