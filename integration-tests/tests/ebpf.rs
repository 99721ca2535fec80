//! The ebpf receiver against the real kernel, real servers and real clients.
//!
//! ferrotel A runs the receiver in traces, metrics and logs pipelines that export to `debug` and,
//! over OTLP/gRPC, to ferrotel B, which relays to a recorder owned by the test: every assertion is
//! on what arrived behind the second collector. The servers (PostgreSQL, Redis, dnsmasq) are the
//! ones `scripts/servers.sh start` runs on loopback (`make test` does it). Needs root, as the
//! receiver does; the unprivileged case is its own test below.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::ebpf::{Pipeline, WAIT, assert_root};
use ferrotel_integration_tests::otlp_query::{self, bytes, get, has, logs, max_value, spans};
use ferrotel_integration_tests::procs::{self, Proc, free_addr, http_get, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

fn nonce() -> String {
    format!(
        "{:x}",
        std::process::id() as u64 * 1_000_003 + procs::free_port() as u64
    )
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> (u32, std::process::Output) {
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (scripts/servers.sh installs it)"));
    let pid = child.id();
    let output = child.wait_with_output().expect("wait");
    (pid, output)
}

fn me() -> String {
    std::process::id().to_string()
}

#[test]
fn the_kernel_shows_connections_requests_dns_disk_and_processes() {
    assert_root();
    let pipeline = Pipeline::start("      export_payload: true\n      semconv_metrics: true\n");
    let pipeline = &pipeline;
    // each check waits for its own evidence; all run against one pair of collectors
    tcp_connect_to_a_closed_port_fails(pipeline);
    tcp_connection_bytes_are_counted(pipeline);
    http_exchange_is_a_server_and_a_client_span(pipeline);
    postgres_query_through_psql(pipeline);
    redis_command_through_redis_cli(pipeline);
    dns_query_to_the_local_resolver(pipeline);
    direct_disk_writes_are_measured(pipeline);
    process_start_and_exit_are_logged(pipeline);
    // the receiver ignores its own process: none of A's traffic is reported
    let a_pid = pipeline.a.proc.pid().to_string();
    let recorded = pipeline.recorder.recorder.snapshot();
    assert!(
        !spans(&recorded)
            .iter()
            .any(|(res, _)| get(res, "process.pid") == Some(a_pid.clone())),
        "A reported its own exports to B"
    );
    // A counts what the receiver handed to the pipelines in its self-telemetry
    let (_, text) = http_get(pipeline.a.metrics, "/metrics").unwrap();
    let labels = [("receiver", "ebpf"), ("transport", "ebpf")];
    let accepted = common::metric_sum(&text, "otelcol_receiver_accepted_spans_total", &labels);
    assert!(accepted >= 4.0, "{accepted}");
    assert!(
        text.contains(
            "otelcol_receiver_ebpf_lost_events_total{receiver=\"ebpf\",reason=\"ring_buffer_full\"}"
        ),
        "the receiver's loss counter is not reported:\n{text}"
    );
    // A printed what it exported with `debug` too
    let out = pipeline.a.proc.output();
    assert!(
        out.contains("ferrotel_exporter_debug") && out.contains("spans"),
        "no debug output from A"
    );
}

fn tcp_connect_to_a_closed_port_fails(p: &Pipeline) {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = TcpStream::connect(("127.0.0.1", closed)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let port = closed.to_string();
    let failures = p.wait("a refused connect", |r| {
        max_value(
            r,
            "tcp.connection.failures",
            &[("process.pid", &me())],
            &[("destination.port", &port), ("error.type", "ECONNREFUSED")],
        )
    });
    assert!(failures >= 1.0);
    let attempts = max_value(
        &p.recorder.recorder.snapshot(),
        "tcp.connection.attempts",
        &[("process.pid", &me())],
        &[("destination.port", &port)],
    );
    assert!(attempts >= Some(1.0), "{attempts:?}");
}

fn tcp_connection_bytes_are_counted(p: &Pipeline) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = vec![0u8; 1000];
        conn.read_exact(&mut got).unwrap();
        conn.write_all(&vec![7u8; 2345]).unwrap();
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(&[1u8; 1000]).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply.len(), 2345);
    drop(client);
    server.join().unwrap();
    let port = addr.port().to_string();
    let outbound = [
        ("destination.port", port.as_str()),
        ("network.connection.direction", "outbound"),
    ];
    let sent = p.wait("bytes sent on a closed connection", |r| {
        let attrs = [
            outbound[0],
            outbound[1],
            ("network.io.direction", "transmit"),
        ];
        max_value(r, "tcp.io", &[("process.pid", &me())], &attrs)
    });
    let recorded = p.recorder.recorder.snapshot();
    let attrs = [
        outbound[0],
        outbound[1],
        ("network.io.direction", "receive"),
    ];
    let received = max_value(&recorded, "tcp.io", &[("process.pid", &me())], &attrs);
    assert_eq!(sent, 1000.0);
    assert_eq!(received, Some(2345.0));
    let established = max_value(
        &recorded,
        "tcp.connection.successes",
        &[("process.pid", &me())],
        &[("destination.port", &port)],
    );
    assert_eq!(established, Some(1.0));
}

fn http_exchange_is_a_server_and_a_client_span(p: &Pipeline) {
    let addr = free_addr();
    let server = common::ebpf::python_http_server(addr);
    let path = format!("/ebpf-probe-{}", nonce());
    let url = format!("http://{addr}{path}");
    let script = format!(
        "import urllib.request, urllib.error\ntry:\n    urllib.request.urlopen('{url}')\nexcept urllib.error.HTTPError as e:\n    print(e.code)\n"
    );
    let (client_pid, out) = run("python3", &["-c", &script], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "404");
    let request_line = format!("GET {path} HTTP/1.1");
    let find = |kind: SpanKind, pid: u32| {
        let request_line = request_line.clone();
        move |r: &Recorded| {
            spans(r).into_iter().find(|(res, span)| {
                span.kind == kind as i32
                    && get(res, "process.pid") == Some(pid.to_string())
                    && get(&span.attributes, "l7.protocol").as_deref() == Some("http")
                    && bytes(&span.attributes, "l7.request.payload")
                        .is_some_and(|b| b.starts_with(request_line.as_bytes()))
            })
        }
    };
    let (_, server_span) = p.wait("the server span", find(SpanKind::Server, server.pid()));
    let (_, client_span) = p.wait("the client span", find(SpanKind::Client, client_pid));
    for span in [&server_span, &client_span] {
        assert!(
            span.end_time_unix_nano > span.start_time_unix_nano,
            "{span:?}"
        );
        assert_eq!(get(&span.attributes, "l7.status").as_deref(), Some("404"));
        assert_eq!(
            get(&span.attributes, "server.port"),
            Some(addr.port().to_string())
        );
        let response = bytes(&span.attributes, "l7.response.payload").unwrap();
        assert!(
            response.starts_with(b"HTTP/1.0 404"),
            "{:?}",
            String::from_utf8_lossy(&response)
        );
    }
    // the server answered after it was asked: its span lies within the client's
    assert!(server_span.start_time_unix_nano >= client_span.start_time_unix_nano);
    assert!(server_span.end_time_unix_nano <= client_span.end_time_unix_nano + 1_000_000);
    let requests = p.wait("the HTTP request metric", |r| {
        max_value(
            r,
            "l7.requests",
            &[("process.pid", &client_pid.to_string())],
            &[
                ("l7.protocol", "http"),
                ("l7.status_class", "4xx"),
                ("l7.role", "client"),
            ],
        )
    });
    assert_eq!(requests, 1.0);
    // l7.semconv_metrics: the conventions' histograms, by method, status and templated route
    let route = get(&server_span.attributes, "http.route").expect("the server span's route");
    let (server_pid, port) = (server.pid().to_string(), addr.port().to_string());
    let served = p.wait("http.server.request.duration", |r| {
        max_value(
            r,
            "http.server.request.duration",
            &[("process.pid", &server_pid)],
            &[
                ("http.request.method", "GET"),
                ("http.response.status_code", "404"),
                ("http.route", &route),
            ],
        )
    });
    assert_eq!(served, 1.0);
    let asked = p.wait("http.client.request.duration", |r| {
        max_value(
            r,
            "http.client.request.duration",
            &[("process.pid", &client_pid.to_string())],
            &[
                ("http.request.method", "GET"),
                ("http.response.status_code", "404"),
                ("server.port", &port),
            ],
        )
    });
    assert_eq!(asked, 1.0);
}

fn span_from(
    p: &Pipeline,
    what: &str,
    pid: u32,
    protocol: &'static str,
    marker: String,
) -> opentelemetry_proto::tonic::trace::v1::Span {
    let (resource, span) = p.wait(what, move |r| {
        spans(r).into_iter().find(|(res, span)| {
            get(res, "process.pid") == Some(pid.to_string())
                && get(&span.attributes, "l7.protocol").as_deref() == Some(protocol)
                && bytes(&span.attributes, "l7.request.payload")
                    .is_some_and(|b| String::from_utf8_lossy(&b).contains(&marker))
        })
    });
    assert_eq!(span.kind, SpanKind::Client as i32, "{span:?}");
    assert!(get(&resource, "process.executable.name").is_some());
    assert_eq!(
        get(&span.attributes, "l7.status").as_deref(),
        Some("0"),
        "{span:?}"
    );
    span
}

fn postgres_query_through_psql(p: &Pipeline) {
    let marker = format!("ebpf-probe-{}", nonce());
    let pg = common::env_port("FERROTEL_PG_PORT", 15432).to_string();
    let sql = format!("select '{marker}' as probe");
    let (pid, out) = run(
        "psql",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &pg,
            "-U",
            "postgres",
            "-tA",
            "-c",
            &sql,
        ],
        &[("PGPASSWORD", "otelpass"), ("PGSSLMODE", "disable")],
    );
    assert!(
        out.status.success(),
        "psql failed (is PostgreSQL up? scripts/servers.sh start): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let span = span_from(p, "the psql query", pid, "postgresql", marker.clone());
    // semantic conventions, read in-process from the request; the literal is sanitised away
    assert_eq!(span.name, "SELECT", "{span:?}");
    let attr = |key| get(&span.attributes, key);
    assert_eq!(attr("db.system.name").as_deref(), Some("postgresql"));
    assert_eq!(attr("db.operation.name").as_deref(), Some("SELECT"));
    let query = attr("db.query.text").unwrap_or_default();
    assert_eq!(query, "select ? as probe", "{span:?}");
    assert!(!query.contains(&marker));
}

fn redis_command_through_redis_cli(p: &Pipeline) {
    let marker = format!("ebpf-probe-{}", nonce());
    let redis = common::env_port("FERROTEL_REDIS_PORT", 16379).to_string();
    let (pid, out) = run(
        "redis-cli",
        &["-h", "127.0.0.1", "-p", &redis, "SET", &marker, "1"],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "redis-cli failed (is Redis up? scripts/servers.sh start): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let span = span_from(p, "the redis-cli command", pid, "redis", marker.clone());
    assert_eq!(span.name, "SET", "{span:?}");
    assert_eq!(
        get(&span.attributes, "db.system.name").as_deref(),
        Some("redis")
    );
    // the key is kept, the value is not
    assert_eq!(
        get(&span.attributes, "db.query.text"),
        Some(format!("SET {marker} ?"))
    );
}

fn dns_query_to_the_local_resolver(p: &Pipeline) {
    let name = format!("probe-{}.ferrotel-test.example", nonce());
    let mut query = vec![0x4a, 0x11, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let resolver = ("127.0.0.1", common::env_port("FERROTEL_DNS_PORT", 15353));
    socket.send_to(&query, resolver).unwrap();
    let mut answer = [0u8; 512];
    let (n, _) = socket
        .recv_from(&mut answer)
        .expect("no answer from the resolver (is dnsmasq up? scripts/servers.sh start)");
    assert!(n > 12 && answer[..2] == [0x4a, 0x11], "not our answer");
    assert_eq!(answer[3] & 0xf, 0, "the resolver did not answer NOERROR");
    let count = p.wait("the DNS query", |r| {
        max_value(
            r,
            "dns.requests",
            &[("process.pid", &me())],
            &[
                ("dns.question.name", &name),
                ("dns.question.type", "A"),
                ("dns.response.code", "NOERROR"),
            ],
        )
    });
    assert_eq!(count, 1.0);
    let span = spans(&p.recorder.recorder.snapshot())
        .into_iter()
        .find(|(_, s)| get(&s.attributes, "dns.question.name") == Some(name.clone()));
    let (_, span) = span.expect("a span for the DNS query");
    assert_eq!(
        get(&span.attributes, "network.transport").as_deref(),
        Some("udp")
    );
    assert_eq!(
        get(&span.attributes, "server.port").as_deref(),
        Some("15353")
    );
}

fn direct_disk_writes_are_measured(p: &Pipeline) {
    // O_DIRECT bypasses the page cache: every block reaches the device while dd runs
    let file = procs::target_dir().join(format!("ebpf-dd-{}.bin", nonce()));
    let of = format!("of={}", file.display());
    let (pid, out) = run(
        "dd",
        &["if=/dev/zero", &of, "bs=1M", "count=8", "oflag=direct"],
        &[],
    );
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "dd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid_text = pid.to_string();
    let written = p.wait("dd's direct writes", |r| {
        max_value(
            r,
            "process.disk.io",
            &[("process.pid", &pid_text)],
            &[("disk.io.direction", "write")],
        )
        .filter(|&bytes| bytes >= 8.0 * 1024.0 * 1024.0)
    });
    assert!(written <= 9.0 * 1024.0 * 1024.0, "{written}");
    let recorded = p.recorder.recorder.snapshot();
    let ops = max_value(
        &recorded,
        "system.disk.operations",
        &[],
        &[("disk.io.direction", "write")],
    );
    assert!(ops >= Some(8.0), "{ops:?}");
    let latency = otlp_query::points(&recorded, "system.disk.operation.duration");
    assert!(
        latency
            .iter()
            .any(|(_, a, count)| has(a, &[("disk.io.direction", "write")]) && *count >= 8.0)
    );
}

fn process_start_and_exit_are_logged(p: &Pipeline) {
    let marker = format!("ebpf-probe-{}", nonce());
    let (pid, out) = run("sh", &["-c", "exit 3", &marker], &[]);
    assert_eq!(out.status.code(), Some(3));
    let pid_text = pid.to_string();
    let started = p.wait("the process start", |r| {
        logs(r).into_iter().find(|(_, log)| {
            has(
                &log.attributes,
                &[("event.name", "process.start"), ("process.pid", &pid_text)],
            )
        })
    });
    let command_line = get(&started.1.attributes, "process.command_line").unwrap_or_default();
    assert!(command_line.contains(&marker), "{command_line}");
    let exe = get(&started.1.attributes, "process.executable.name").unwrap_or_default();
    assert!(["dash", "sh", "bash"].contains(&exe.as_str()), "{exe}");
    let exited = p.wait("the process exit", |r| {
        logs(r).into_iter().find(|(_, log)| {
            has(
                &log.attributes,
                &[("event.name", "process.exit"), ("process.pid", &pid_text)],
            )
        })
    });
    assert_eq!(
        get(&exited.1.attributes, "process.exit.code").as_deref(),
        Some("3")
    );
}

/// As `nobody`, ferrotel starts, says once what it lacks, and its OTLP pipeline still relays.
#[test]
fn without_privileges_the_receiver_is_off_and_the_rest_runs() {
    assert_root();
    let recorder = RecorderServer::start();
    let grpc = free_addr();
    let metrics = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "receivers:\n  ebpf:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {grpc}\n\
         exporters:\n  otlp:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n{}  pipelines:\n    metrics:\n      receivers: [ebpf, otlp]\n      exporters: [otlp]\n\
         \x20   traces:\n      receivers: [otlp]\n      exporters: [otlp]\n\
         \x20   logs:\n      receivers: [otlp]\n      exporters: [otlp]\n",
        recorder.addr,
        common::telemetry_section(metrics.port())
    );
    let path = procs::write_file(dir.path(), "nobody.yaml", &config);
    // the temp dir is root's: let nobody read the config
    let _ = Command::new("chmod")
        .args(["755", &dir.path().display().to_string()])
        .status();
    let _ = Command::new("chmod")
        .args(["644", &path.display().to_string()])
        .status();
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(procs::ferrotel_bin())
        .arg("--config")
        .arg(&path);
    let mut proc = Proc::spawn("ferrotel-nobody", command);
    proc.wait_for_port(grpc, WAIT);
    proc.wait_for_port(metrics, WAIT);
    let logged = wait_for(WAIT, || {
        let out = proc.output();
        out.contains("The ebpf receiver is off").then_some(out)
    })
    .unwrap_or_else(|| panic!("no error about the ebpf receiver:\n{}", proc.output()));
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one clear error, not many:\n{logged}");
    assert!(
        errors[0].contains("CAP_BPF")
            && errors[0].contains("CAP_PERFMON")
            && errors[0].contains("uid 65534"),
        "{}",
        errors[0]
    );
    // the other pipeline still relays: a span sent over OTLP arrives
    common::send_with_python_sdk("grpc", grpc, "none", "ebpf-unprivileged", None);
    let arrived = recorder
        .recorder
        .wait_until(WAIT, |r| !r.traces.is_empty())
        .is_ok();
    assert!(
        arrived,
        "the OTLP pipeline did not relay:\n{}",
        proc.output()
    );
    let (status, _) = http_get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    proc.assert_running();
}
