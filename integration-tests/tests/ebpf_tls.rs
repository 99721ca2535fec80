//! The ebpf receiver reads TLS plaintext through uprobes: OpenSSL (nginx serving HTTPS, curl as
//! its client) and Go's crypto/tls (integration-tests/go/tlspeer, built here with `go build`).
//!
//! ferrotel starts first, then the TLS processes: the uprobes are attached as they start (the
//! receiver logs each library or binary it attaches to, which the test waits for). Spans carry
//! the request and response payloads (`l7.export_payload`): a `GET /<path>` read in the clear and
//! an `HTTP/1.1 200` answer prove the plaintext was read, and no span of these processes may hold
//! TLS records (the encrypted bytes on the socket). Needs root, nginx, curl and Go.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Ferrotel;
use ferrotel_integration_tests::otlp_query::{bytes, get, spans};
use ferrotel_integration_tests::procs::{self, Proc, free_addr, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use ferrotel_testkit::TestPki;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

const WAIT: Duration = Duration::from_secs(30);
/// Requests per connection: net/http's server splits a request that arrives while its handler
/// still runs (tls.bpf.h, go_tls_byte), which takes a few requests in a row to happen.
const REQUESTS: usize = 20;

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc_geteuid() };
    assert_eq!(uid, 0, "the ebpf tests load kernel programs and need root");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct Collector {
    ferrotel: Ferrotel,
    recorder: RecorderServer,
}

impl Collector {
    fn start() -> Collector {
        let recorder = RecorderServer::start();
        let ferrotel = Ferrotel::start(
            "ferrotel-tls",
            &format!(
                "receivers:\n  ebpf:\n    collection_interval: 1s\n    flush_interval: 200ms\n\
                 \x20   l7:\n      export_payload: true\n\
                 exporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n\
                 service:\n{{telemetry}}  pipelines:\n    traces:\n      receivers: [ebpf]\n      exporters: [otlp_grpc]\n",
                recorder.addr
            ),
            &[],
        );
        let collector = Collector { ferrotel, recorder };
        collector.log_line("the ebpf programs attached", &["ebpf programs attached"]);
        collector
    }

    /// Waits for a line of ferrotel's output holding every one of `words`.
    fn log_line(&self, what: &str, words: &[&str]) {
        let found = wait_for(WAIT, || {
            let out = self.ferrotel.proc.output();
            out.lines()
                .any(|line| words.iter().all(|w| line.contains(w)))
                .then_some(())
        });
        assert!(
            found.is_some(),
            "{what}: no line with {words:?} in ferrotel's output:\n{}",
            tail(&self.ferrotel.proc.output(), 40)
        );
    }

    fn wait<T>(&self, what: &str, found: impl Fn(&Recorded) -> Option<T>) -> T {
        wait_for(WAIT, || found(&self.recorder.recorder.snapshot())).unwrap_or_else(|| {
            let recorded = self.recorder.recorder.snapshot();
            // the same span told once with its count; the test's own gRPC (the recorder) left out
            let mut seen = std::collections::BTreeMap::<String, usize>::new();
            for (res, s) in spans(&recorded) {
                if get(&s.attributes, "l7.protocol").is_some()
                    && get(&res, "process.pid") != Some(std::process::id().to_string())
                {
                    *seen.entry(describe(&res, &s)).or_default() += 1;
                }
            }
            let seen: Vec<String> = seen.iter().map(|(s, n)| format!("{n} × {s}")).collect();
            panic!(
                "{what}: not seen within {WAIT:?}. L7 spans seen:\n{}\nferrotel's output ends:\n{}",
                tail(&seen.join("\n"), 30),
                tail(&self.ferrotel.proc.output(), 40)
            )
        })
    }
}

fn describe(resource: &[opentelemetry_proto::tonic::common::v1::KeyValue], span: &Span) -> String {
    let payload = |key| {
        bytes(&span.attributes, key)
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(24)]).into_owned())
    };
    format!(
        "pid {:?} kind {} protocol {:?} tls {:?} request {:?} response {:?}",
        get(resource, "process.pid"),
        span.kind,
        get(&span.attributes, "l7.protocol"),
        get(&span.attributes, "tls"),
        payload("l7.request.payload"),
        payload("l7.response.payload"),
    )
}

/// The spans of `pid`'s HTTP exchanges whose request starts with `request_line`.
fn exchanges(r: &Recorded, pid: u32, kind: SpanKind, request_line: &str) -> Vec<Span> {
    spans(r)
        .into_iter()
        .filter(|(res, span)| {
            span.kind == kind as i32
                && get(res, "process.pid") == Some(pid.to_string())
                && get(&span.attributes, "l7.protocol").as_deref() == Some("http")
                && bytes(&span.attributes, "l7.request.payload")
                    .is_some_and(|b| b.starts_with(request_line.as_bytes()))
        })
        .map(|(_, span)| span)
        .collect()
}

/// A TLS record header: handshake (0x16) or application data (0x17), version 3.x.
fn is_tls_record(payload: &[u8]) -> bool {
    payload.len() >= 2 && (payload[0] == 0x16 || payload[0] == 0x17) && payload[1] == 0x03
}

/// Both sides of `count` HTTPS exchanges on one connection, read in the clear: as many server
/// spans (`server`) and client spans (`client`), `tls` = true, request `GET <path>`, response 200;
/// and nothing built from the encrypted bytes in either process.
fn assert_plaintext_exchanges(
    c: &Collector,
    what: &str,
    (server, client): (u32, u32),
    path: &str,
    count: usize,
) {
    let request_line = format!("GET {path} HTTP/1.1");
    let all = |pid, kind| {
        let request_line = request_line.clone();
        move |r: &Recorded| {
            let found = exchanges(r, pid, kind, &request_line);
            (found.len() >= count).then_some(found)
        }
    };
    let server_span = c.wait(
        &format!("{what}: {count} server spans (pid {server})"),
        all(server, SpanKind::Server),
    )[0]
    .clone();
    let client_span = c.wait(
        &format!("{what}: {count} client spans (pid {client})"),
        all(client, SpanKind::Client),
    )[0]
    .clone();
    for (side, span) in [("server", &server_span), ("client", &client_span)] {
        assert_eq!(
            get(&span.attributes, "tls").as_deref(),
            Some("true"),
            "{what}: the {side} span does not say tls: {:?}",
            span.attributes
        );
        assert_eq!(
            get(&span.attributes, "l7.status").as_deref(),
            Some("200"),
            "{what} {side}"
        );
        let response = bytes(&span.attributes, "l7.response.payload").unwrap_or_default();
        assert!(
            response.starts_with(b"HTTP/1.1 200"),
            "{what}: the {side} span's response is not the plaintext: {:?}",
            String::from_utf8_lossy(&response)
        );
        println!(
            "{what} {side}: tls={:?} status={:?} request={:?} response={:?}",
            get(&span.attributes, "tls"),
            get(&span.attributes, "l7.status"),
            request_line,
            String::from_utf8_lossy(&response[..response.len().min(15)])
        );
    }
    // late records would show a double report (two probes on one function) or a span from the
    // encrypted bytes: give them time to arrive
    std::thread::sleep(Duration::from_secs(2));
    let recorded = c.recorder.recorder.snapshot();
    for (pid, kind) in [(server, SpanKind::Server), (client, SpanKind::Client)] {
        let found = exchanges(&recorded, pid, kind, &request_line);
        assert_eq!(found.len(), count, "{what}: {kind:?} spans");
        for span in found {
            assert_eq!(get(&span.attributes, "tls").as_deref(), Some("true"));
            assert_eq!(get(&span.attributes, "l7.status").as_deref(), Some("200"));
        }
    }
    for (res, span) in spans(&recorded) {
        let pid = get(&res, "process.pid");
        if pid != Some(server.to_string()) && pid != Some(client.to_string()) {
            continue;
        }
        for key in ["l7.request.payload", "l7.response.payload"] {
            let payload = bytes(&span.attributes, key).unwrap_or_default();
            assert!(
                !is_tls_record(&payload),
                "{what}: a span from encrypted bytes: {}",
                describe(&res, &span)
            );
        }
        if get(&span.attributes, "l7.protocol").is_some() {
            assert_eq!(
                get(&span.attributes, "tls").as_deref(),
                Some("true"),
                "{what}: an L7 span of a TLS-only process without tls: {}",
                describe(&res, &span)
            );
        }
    }
}

fn nonce() -> String {
    format!(
        "{:x}",
        std::process::id() as u64 * 1_000_003 + procs::free_port() as u64
    )
}

fn nginx_bin() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn start_nginx(dir: &Path, addr: std::net::SocketAddr, cert: &str, key: &str) -> Proc {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         \x20 server {{\n    listen {addr} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
         \x20   root {d}/www;\n  }}\n}}\n"
    );
    let conf_path = procs::write_file(dir, "nginx.conf", &conf);
    let mut command = Command::new(nginx_bin());
    command
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"));
    let mut nginx = Proc::spawn("nginx", command);
    nginx.wait_for_port(addr, WAIT);
    nginx
}

/// integration-tests/go/tlspeer built into the target folder, again only when its source changed.
fn go_tlspeer() -> PathBuf {
    let source = procs::workspace_root().join("integration-tests/go/tlspeer");
    let out = procs::target_dir().join("go-tlspeer/tlspeer");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest_source = ["main.go", "go.mod"]
        .iter()
        .filter_map(|f| modified(&source.join(f)))
        .max();
    if modified(&out).is_none() || modified(&out) < newest_source {
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(&source)
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .status()
            .expect("running `go build` (Go must be installed)");
        assert!(status.success(), "go build of {} failed", source.display());
    }
    out
}

fn run(program: &Path, args: &[&str]) -> (u32, String) {
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn tls_plaintext_of_openssl_and_go_is_read_by_uprobes() {
    assert_root();
    let tlspeer = go_tlspeer();
    let pki = TestPki::new();
    pki.issue("server", &["127.0.0.1", "localhost"]);
    let (cert, key) = (pki.path("server.crt"), pki.path("server.key"));
    let mut collector = Collector::start();

    // OpenSSL: nginx starts after ferrotel, which attaches to its libssl as it starts
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let nginx = start_nginx(dir.path(), addr, &cert, &key);
    collector.log_line("OpenSSL attached", &["TLS uprobes attached", "libssl.so"]);
    let name = format!("tls-openssl-{}", nonce());
    std::fs::write(dir.path().join("www").join(&name), "hello over tls\n").unwrap();
    let url = format!("https://{addr}/{name}");
    // several requests on one connection (curl reuses it)
    let mut args = vec!["-sk", "--http1.1", "-w", "%{http_code} "];
    for _ in 0..REQUESTS {
        args.extend(["-o", "/dev/null", &url]);
    }
    let (curl, status) = run(Path::new("curl"), &args);
    assert_eq!(status, "200 ".repeat(REQUESTS));
    let pids = (nginx.pid(), curl);
    assert_plaintext_exchanges(
        &collector,
        "nginx/curl",
        pids,
        &format!("/{name}"),
        REQUESTS,
    );

    // Go: the server starts after ferrotel; the client is the same binary, already covered
    let addr = free_addr();
    let mut command = Command::new(&tlspeer);
    command.args(["server", &addr.to_string(), &cert, &key]);
    let mut server = Proc::spawn("tlspeer-server", command);
    server.wait_for_port(addr, WAIT);
    collector.log_line("Go attached", &["TLS uprobes attached", "tlspeer"]);
    let path = format!("/tls-go-{}", nonce());
    // the client's reading goroutine waits in Read between the requests
    let url = format!("https://{addr}{path}");
    let (client, out) = run(&tlspeer, &["client", &url, &REQUESTS.to_string()]);
    assert_eq!(out.matches("200\nhello ").count(), REQUESTS, "{out}");
    assert_plaintext_exchanges(&collector, "Go", (server.pid(), client), &path, REQUESTS);

    // a receiver that stops removes its probes from tracefs
    let ferrotel = &mut collector.ferrotel.proc;
    let group = format!("ferrotel_{}/", ferrotel.pid());
    for line in ferrotel
        .output()
        .lines()
        .filter(|l| l.contains("TLS uprobes"))
    {
        println!("{line}");
    }
    let probes = || std::fs::read_to_string(UPROBE_EVENTS).unwrap_or_default();
    assert!(
        probes().contains(&group),
        "no {group} probes in {UPROBE_EVENTS}"
    );
    ferrotel.terminate(WAIT);
    let left: Vec<String> = probes()
        .lines()
        .filter(|l| l.contains(&group))
        .map(String::from)
        .collect();
    assert!(
        left.is_empty(),
        "probes left after ferrotel stopped: {left:?}"
    );
}

const UPROBE_EVENTS: &str = "/sys/kernel/tracing/uprobe_events";
