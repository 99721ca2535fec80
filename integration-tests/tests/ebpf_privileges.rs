//! The ebpf receiver's least privilege, against the real kernel: once the collector has started,
//! every thread of ferrotel keeps only the capabilities the running receiver uses (bounding set
//! included), spans still flow, and secrets in command lines never leave the process. Needs root,
//! as the receiver does.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Ferrotel;
use ferrotel_integration_tests::otlp_query::{get, has, logs, spans};
use ferrotel_integration_tests::procs::{Proc, free_addr, wait_for};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

const WAIT: Duration = Duration::from_secs(30);

const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn mask(caps: &[u32]) -> u64 {
    caps.iter().map(|cap| 1u64 << cap).sum()
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { geteuid() };
    assert_eq!(uid, 0, "the ebpf tests load kernel programs and need root");
}

fn nonce() -> String {
    format!("{:x}{:x}", std::process::id(), free_addr().port())
}

/// ferrotel with the ebpf receiver (`receiver` is its YAML body) in traces, metrics and logs
/// pipelines exporting to a recorder; returned once it says it dropped its capabilities.
fn start(name: &str, receiver: &str) -> (Ferrotel, RecorderServer) {
    let recorder = RecorderServer::start();
    let pipelines = ["traces", "metrics", "logs"]
        .map(|s| format!("    {s}:\n      receivers: [ebpf]\n      exporters: [otlp]\n"))
        .concat();
    let ferrotel = Ferrotel::start(
        name,
        &format!(
            "receivers:\n  ebpf:\n    collection_interval: 1s\n    flush_interval: 200ms\n{receiver}\
             exporters:\n  otlp:\n    endpoint: {}\n    tls:\n      insecure: true\n\
             service:\n{{telemetry}}  pipelines:\n{pipelines}",
            recorder.addr
        ),
        &[],
    );
    let dropped = wait_for(WAIT, || {
        let out = ferrotel.proc.output();
        out.contains("capabilities dropped").then_some(out)
    });
    let out = ferrotel.proc.output();
    let dropped = dropped.unwrap_or_else(|| panic!("{name} never dropped capabilities:\n{out}"));
    assert!(dropped.contains("ebpf programs attached"), "{dropped}");
    (ferrotel, recorder)
}

/// (path, CapEff, CapPrm, CapBnd, CapInh, CapAmb) of the process and of each of its threads.
fn capabilities(pid: u32) -> Vec<(String, [u64; 5])> {
    let mut files = vec![format!("/proc/{pid}/status")];
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().file_name().into_string().unwrap();
        files.push(format!("/proc/{pid}/task/{task}/status"));
    }
    files
        .into_iter()
        .filter_map(|path| {
            let status = std::fs::read_to_string(&path).ok()?; // a thread may have ended
            let field = |name: &str| {
                let line = status.lines().find(|l| l.starts_with(name)).unwrap();
                u64::from_str_radix(line[name.len() + 1..].trim(), 16).unwrap()
            };
            let sets = ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"].map(field);
            Some((path, sets))
        })
        .collect()
}

fn assert_capabilities(ferrotel: &Ferrotel, kept: u64) {
    let all = capabilities(ferrotel.proc.pid());
    // the receiver starts inside a multi-threaded runtime: every thread must have been reached
    assert!(all.len() > 2, "{all:?}");
    for (path, [eff, prm, bnd, inh, amb]) in all {
        assert_eq!(eff, kept, "CapEff of {path}: {eff:x}, expected {kept:x}");
        assert_eq!(prm, kept, "CapPrm of {path}: {prm:x}, expected {kept:x}");
        assert_eq!(bnd, kept, "CapBnd of {path}: {bnd:x}, expected {kept:x}");
        assert_eq!(bnd & mask(&[CAP_SYS_ADMIN, CAP_BPF]), 0, "{path}");
        assert_eq!((inh, amb), (0, 0), "CapInh/CapAmb of {path}");
    }
}

fn wait<T>(recorder: &RecorderServer, what: &str, found: impl Fn(&Recorded) -> Option<T>) -> T {
    wait_for(WAIT, || found(&recorder.recorder.snapshot()))
        .unwrap_or_else(|| panic!("{what}: not recorded within {WAIT:?}"))
}

/// Runs python3 with secrets in its argv; returns its pid and the secrets.
fn run_with_secrets() -> (u32, [String; 3]) {
    let n = nonce();
    let secrets = [format!("tok-{n}"), format!("pw-{n}"), format!("pass-{n}")];
    let url = format!("postgres://app:{}@127.0.0.1/x", secrets[1]);
    let password = format!("--password={}", secrets[2]);
    let mut child = Command::new("python3")
        .args(["-c", "import time; time.sleep(0.3)", "--token", &secrets[0]])
        .args([url.as_str(), password.as_str()])
        .spawn()
        .expect("python3");
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    (pid, secrets)
}

/// The process.start and process.exit records of `pid`'s command line.
fn command_lines(recorder: &RecorderServer, pid: u32) -> Vec<String> {
    let pid = pid.to_string();
    ["process.start", "process.exit"]
        .iter()
        .map(|event| {
            let (_, log) = wait(recorder, event, |r| {
                logs(r).into_iter().find(|(_, log)| {
                    has(
                        &log.attributes,
                        &[("event.name", event), ("process.pid", &pid)],
                    )
                })
            });
            get(&log.attributes, "process.command_line").unwrap_or_default()
        })
        .collect()
}

/// Everything the recorder received, as the bytes that went over the wire.
fn all_bytes(recorded: &Recorded) -> Vec<u8> {
    let mut bytes = Vec::new();
    recorded
        .traces
        .iter()
        .for_each(|r| bytes.extend(r.encode_to_vec()));
    recorded
        .metrics
        .iter()
        .for_each(|r| bytes.extend(r.encode_to_vec()));
    recorded
        .logs
        .iter()
        .for_each(|r| bytes.extend(r.encode_to_vec()));
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn by_default_only_ptrace_and_the_tls_uprobe_capabilities_are_kept_and_secrets_are_redacted() {
    assert_root();
    let (ferrotel, recorder) = start("ferrotel-least-privilege", "");
    assert_capabilities(
        &ferrotel,
        mask(&[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_PERFMON]),
    );

    // the ring buffer, the maps and /proc still serve: an HTTP exchange becomes a server span
    let addr = free_addr();
    let mut server = Proc::spawn("http.server", {
        let mut c = Command::new("python3");
        let port = addr.port().to_string();
        c.args(["-m", "http.server", &port, "--bind", "127.0.0.1"]);
        c
    });
    server.wait_for_port(addr, WAIT);
    let url = format!("http://{addr}/least-privilege-{}", nonce());
    let script = format!(
        "import urllib.request, urllib.error\ntry:\n    urllib.request.urlopen('{url}')\nexcept urllib.error.HTTPError as e:\n    print(e.code)\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "404");
    let server_pid = server.pid().to_string();
    let (resource, _) = wait(&recorder, "the http.server's span", |r| {
        spans(r).into_iter().find(|(res, span)| {
            span.kind == SpanKind::Server as i32
                && get(res, "process.pid").as_deref() == Some(server_pid.as_str())
        })
    });
    // /proc/<pid>/exe was still readable
    assert!(get(&resource, "process.executable.name").is_some_and(|n| n.starts_with("python")));

    let (pid, secrets) = run_with_secrets();
    for line in command_lines(&recorder, pid) {
        assert!(line.contains("python3 -c import time"), "{line}");
        assert!(
            line.contains("--token ***")
                && line.contains("postgres://app:***@127.0.0.1/x")
                && line.contains("--password=***"),
            "{line}"
        );
    }
    // nowhere in anything exported, resource attributes of spans and metrics included
    let bytes = all_bytes(&recorder.recorder.snapshot());
    for secret in &secrets {
        assert!(!contains(&bytes, secret), "{secret} was exported");
    }
    assert!(!ferrotel.proc.output().contains(&secrets[0]));
}

#[test]
fn without_tls_only_ptrace_is_kept_and_raw_command_lines_are_raw() {
    assert_root();
    let receiver =
        "    l7:\n      tls:\n        enabled: false\n    process:\n      command_line: raw\n";
    let (ferrotel, recorder) = start("ferrotel-no-tls-raw", receiver);
    assert_capabilities(&ferrotel, mask(&[CAP_SYS_PTRACE]));
    // the redaction above is what hides the secrets: raw, they are exported
    let (pid, secrets) = run_with_secrets();
    for line in command_lines(&recorder, pid) {
        for secret in &secrets {
            assert!(line.contains(secret.as_str()), "{secret} not in {line}");
        }
    }
}
