//! Two clients the other L7 tests leave out, through the ebpf receiver in its default mode:
//! redis-cli pipelining several commands in one write, and curl speaking HTTP/2 without TLS (h2c,
//! prior knowledge) to nginx. Both servers are `scripts/servers.sh start redis nginx`'s.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// `args` as one RESP array of bulk strings.
fn resp(args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    out
}

#[test]
fn pipelined_redis_and_h2c_requests_are_named() {
    assert_root();
    let p = Pipeline::start("");

    // three commands in one write: the first names the exchange, values never show
    let redis = common::env_port("FERROTEL_REDIS_PORT", 16379);
    let commands = [
        resp(&["SET", "pipe:user:42", "secret-value-1"]),
        resp(&["INCR", "pipe:counter"]),
        resp(&["GET", "pipe:user:42"]),
    ]
    .concat();
    let mut cli = Command::new("redis-cli")
        .args(["-p", &redis.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    cli.stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = cli.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("errors: 0, replies: 3"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, span) = p.client_span("the pipelined SET", "redis", redis, |s| {
        attr(s, "db.query.text").is_some_and(|q| q.contains("pipe:user:42"))
    });
    assert_eq!(span.name, "SET", "{span:?}");
    assert_attrs(
        &span,
        &[
            ("db.system.name", "redis"),
            ("db.operation.name", "SET"),
            ("db.query.text", "SET pipe:user:42 ?"),
        ],
    );
    // the write held all three commands
    let size: usize = attr(&span, "l7.request.size").unwrap().parse().unwrap();
    assert!(
        size >= commands.len(),
        "{size} < {}: {span:?}",
        commands.len()
    );
    p.assert_spans_hide("redis", redis, &["secret-value-1"]);

    // h2c: curl sends the preface, SETTINGS and its HEADERS; nginx answers 404
    let h2c = common::env_port("FERROTEL_NGINX_H2C_PORT", 18082);
    let url = format!("http://127.0.0.1:{h2c}/orders/12345/items?token=secret");
    let out = Command::new("curl")
        .args(["-s", "--http2-prior-knowledge", "-o", "/dev/null"])
        .args(["-w", "%{http_version} %{http_code}", &url])
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2 404");
    let (_, span) = p.client_span("curl's h2c request", "http2", h2c, |s| {
        attr(s, "url.path").is_some()
    });
    assert_eq!(span.name, "GET /orders/{id}/items", "{span:?}");
    assert_attrs(
        &span,
        &[
            ("http.request.method", "GET"),
            ("url.path", "/orders/12345/items"),
            ("http.route", "/orders/{id}/items"),
            ("network.protocol.version", "2"),
            ("http.response.status_code", "404"),
        ],
    );
    // nginx's side of the same request
    let server = p.wait("nginx's h2c span", |r| {
        ferrotel_integration_tests::otlp_query::spans(r)
            .into_iter()
            .map(|(_, s)| s)
            .find(|s| {
                s.kind == SpanKind::Server as i32
                    && attr(s, "l7.protocol").as_deref() == Some("http2")
                    && attr(s, "server.port") == Some(h2c.to_string())
            })
    });
    assert_eq!(server.name, "GET /orders/{id}/items", "{server:?}");
    p.assert_spans_hide("http2", h2c, &["token=secret"]);
}
