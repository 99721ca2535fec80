//! Security end to end, with real processes: the OpenTelemetry Python SDK sends over TLS with a
//! bearer token to ferrotel A (a wrong token is refused and nothing of it delivered); ferrotel A
//! exports over mutual TLS with basic auth (`otlp_grpc`) and over TLS with a bearer token
//! (`otlp_http`) to ferrotel B, behind which a recorder checks what arrived; and no process's
//! output, nor `ferrotel print-config`, shows a token or a password (unless asked to with
//! `--mode unredacted`).

mod common;

use common::{Ferrotel, RELAY_TIMEOUT, send_with_python_sdk, telemetry_section};
use ferrotel_integration_tests::procs::{self, free_addr};
use ferrotel_integration_tests::recorder::{Recorded, RecorderServer};
use ferrotel_testkit::TestPki;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Secrets that must never show in any output; each distinct so a leak names its source.
const SDK_TOKEN: &str = "sdk-token-Zq81xv";
const WRONG_TOKEN: &str = "wrong-token-Pk27mw";
const RELAY_TOKEN: &str = "relay-token-Hb55tn";
const RELAY_PASSWORD: &str = "relay-password-Jw93ce";
const WRONG_PASSWORD: &str = "wrong-password-Ud40ra";
const SECRETS: [&str; 5] = [
    SDK_TOKEN,
    WRONG_TOKEN,
    RELAY_TOKEN,
    RELAY_PASSWORD,
    WRONG_PASSWORD,
];

/// The service section's telemetry (self-metrics on a free port) with debug logs, so that as much
/// as possible is logged where a secret could slip out.
const TELEMETRY: &str = "{telemetry}    logs:\n      level: debug\n";

fn pipelines(exporters: &str) -> String {
    ["traces", "metrics", "logs"]
        .map(|signal| {
            format!("    {signal}:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [{exporters}]\n")
        })
        .concat()
}

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate.
fn pki() -> TestPki {
    let pki = TestPki::new();
    pki.issue("server", &["localhost", "127.0.0.1"]);
    pki.issue("client", &["ferrotel-a"]);
    pki
}

/// Runs send_secure.py; returns (exit success, stdout + stderr).
fn send_secure(
    protocol: &str,
    endpoint: SocketAddr,
    pki: &TestPki,
    token: &str,
    run_id: &str,
) -> (bool, String) {
    let script = procs::python_scripts().join("send_secure.py");
    let output = Command::new(procs::venv_python())
        .arg(&script)
        .args(["--protocol", protocol, "--endpoint", &endpoint.to_string()])
        .args(["--ca-file", &pki.ca_file(), "--run-id", run_id])
        .args(["--header", &format!("authorization=Bearer {token}")])
        // requests lets these override the CA file the exporter is given.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("run the Python SDK sender");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn has_run(
    resource: &Option<opentelemetry_proto::tonic::resource::v1::Resource>,
    run_id: &str,
) -> bool {
    resource.as_ref().is_some_and(|r| {
        r.attributes.iter().any(|kv| {
            kv.key == "test.run"
                && kv.value
                    == Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                run_id.to_owned(),
                            ),
                        ),
                    })
        })
    })
}

/// (spans, log records) of run `run_id` in a recording.
fn items_of_run(recorded: &Recorded, run_id: &str) -> (usize, usize) {
    let spans = recorded
        .traces
        .iter()
        .flat_map(|r| &r.resource_spans)
        .filter(|rs| has_run(&rs.resource, run_id))
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let logs = recorded
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .filter(|rl| has_run(&rl.resource, run_id))
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum();
    (spans, logs)
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

/// `ferrotel print-config` of `config` (its `{telemetry}` filled in): redacted by default, in full
/// with `--mode unredacted`.
fn check_print_config(name: &str, config: &str, dir: &Path, expected_secrets: &[&str]) {
    let config = config.replace("{telemetry}", &telemetry_section(free_addr().port()));
    let path = procs::write_file(dir, &format!("{name}.yaml"), &config);
    let print = |mode: &str| {
        let output = Command::new(procs::ferrotel_bin())
            .args(["print-config", "--mode", mode, "--config"])
            .arg(&path)
            .output()
            .expect("run ferrotel print-config");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "print-config of {name}: {stderr}");
        (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
    };
    let (redacted, stderr) = print("redacted");
    assert_no_secret(&format!("print-config of {name}"), &redacted);
    assert_no_secret(&format!("print-config of {name} (stderr)"), &stderr);
    assert!(redacted.contains("[REDACTED]"), "{redacted}");
    let (unredacted, _) = print("unredacted");
    for secret in expected_secrets {
        assert!(
            unredacted.contains(secret),
            "{name} unredacted lacks {secret}:\n{unredacted}"
        );
    }
}

#[test]
fn python_sdk_over_tls_needs_the_bearer_token() {
    let pki = pki();
    let behind_a = RecorderServer::start();
    let (a_grpc, a_http) = (free_addr(), free_addr());
    let tls = format!(
        "        tls:\n          cert_file: {}\n          key_file: {}\n        auth:\n          authenticator: bearertokenauth\n",
        pki.path("server.crt"),
        pki.path("server.key")
    );
    let config = format!(
        "extensions:\n  bearertokenauth:\n    token: {SDK_TOKEN}\n\
         receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {a_grpc}\n{tls}      http:\n        endpoint: {a_http}\n{tls}\
         processors:\n  batch:\n    timeout: 100ms\n\
         exporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n  extensions: [bearertokenauth]\n{TELEMETRY}  pipelines:\n{}",
        behind_a.addr,
        pipelines("otlp_grpc")
    );
    let mut a = Ferrotel::start("ferrotel-a", &config, &[a_grpc, a_http]);

    // The wrong token first: were it let through, it would be delivered before the good run is.
    let bad_run = format!("security-bad-{}", std::process::id());
    for (protocol, addr) in [("grpc", a_grpc), ("http", a_http)] {
        let (ok, output) = send_secure(protocol, addr, &pki, WRONG_TOKEN, &bad_run);
        assert!(!ok, "a wrong token was accepted over {protocol}:\n{output}");
        assert!(output.contains(r#""traces": "FAILURE""#), "{output}");
    }
    let good_run = format!("security-good-{}", std::process::id());
    for (protocol, addr) in [("grpc", a_grpc), ("http", a_http)] {
        let (ok, output) = send_secure(protocol, addr, &pki, SDK_TOKEN, &good_run);
        assert!(
            ok,
            "the right token over TLS was refused over {protocol}:\n{output}"
        );
    }

    let recorded = behind_a
        .recorder
        .wait_until(RELAY_TIMEOUT, |r| items_of_run(r, &good_run) == (4, 4))
        .unwrap_or_else(|r| {
            panic!(
                "the good runs did not arrive: {:?}",
                items_of_run(&r, &good_run)
            )
        });
    assert_eq!(
        items_of_run(&recorded, &bad_run),
        (0, 0),
        "refused data was delivered"
    );
    let otlp = [("receiver", "otlp")];
    assert_eq!(
        a.metric_reaches("otelcol_receiver_accepted_spans_total", &otlp, 4.0),
        4.0
    );
    assert_eq!(
        a.metric_reaches("otelcol_receiver_refused_spans_total", &otlp, 0.0),
        0.0
    );

    a.proc.assert_running();
    a.proc.terminate(Duration::from_secs(20));
    let output = a.proc.output();
    // Debug logging was on and saw the refusals, yet wrote no credential.
    assert!(
        output.contains("request refused: not authenticated"),
        "{output}"
    );
    assert_no_secret("ferrotel A's output", &output);
    let dir = tempfile::tempdir().unwrap();
    check_print_config("ferrotel-a", &config, dir.path(), &[SDK_TOKEN]);
}

#[test]
fn ferrotel_relays_to_ferrotel_over_mtls_with_basic_and_bearer_auth() {
    let pki = pki();
    let behind_b = RecorderServer::start();
    let hash = bcrypt::hash(RELAY_PASSWORD, 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let (b_grpc, b_http) = (free_addr(), free_addr());
    let b_config = format!(
        "extensions:\n  basicauth/server:\n    htpasswd:\n      inline: \"ferrotel-a:{hash}\"\n  bearertokenauth/server:\n    token: {RELAY_TOKEN}\n\
         receivers:\n  otlp:\n    protocols:\n\
         \x20     grpc:\n        endpoint: {b_grpc}\n        tls:\n          cert_file: {cert}\n          key_file: {key}\n          client_ca_file: {ca}\n        auth:\n          authenticator: basicauth/server\n\
         \x20     http:\n        endpoint: {b_http}\n        tls:\n          cert_file: {cert}\n          key_file: {key}\n        auth:\n          authenticator: bearertokenauth/server\n\
         processors:\n  batch:\n    timeout: 100ms\n\
         exporters:\n  otlp_grpc:\n    endpoint: {}\n    tls:\n      insecure: true\n\
         service:\n  extensions: [basicauth/server, bearertokenauth/server]\n{TELEMETRY}  pipelines:\n{}",
        behind_b.addr,
        pipelines("otlp_grpc"),
        cert = pki.path("server.crt"),
        key = pki.path("server.key"),
        ca = pki.ca_file(),
    );
    let mut b = Ferrotel::start("ferrotel-b", &b_config, &[b_grpc, b_http]);

    // A sends every signal both ways: over mTLS + basic auth, and over TLS + bearer token.
    let a_config = |password: &str, token: &str, a_grpc: SocketAddr| {
        format!(
            "extensions:\n  basicauth/client:\n    client_auth:\n      username: ferrotel-a\n      password: {password}\n  bearertokenauth/client:\n    token: {token}\n\
             receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: {a_grpc}\n\
             processors:\n  batch:\n    timeout: 100ms\n\
             exporters:\n\
             \x20 otlp_grpc:\n    endpoint: localhost:{}\n    tls:\n      ca_file: {ca}\n      cert_file: {}\n      key_file: {}\n    auth:\n      authenticator: basicauth/client\n    retry_on_failure:\n      enabled: false\n\
             \x20 otlp_http:\n    endpoint: https://localhost:{}\n    tls:\n      ca_file: {ca}\n    auth:\n      authenticator: bearertokenauth/client\n    retry_on_failure:\n      enabled: false\n\
             service:\n  extensions: [basicauth/client, bearertokenauth/client]\n{TELEMETRY}  pipelines:\n{}",
            b_grpc.port(),
            pki.path("client.crt"),
            pki.path("client.key"),
            b_http.port(),
            pipelines("otlp_grpc, otlp_http"),
            ca = pki.ca_file(),
        )
    };
    let a_grpc = free_addr();
    let good_config = a_config(RELAY_PASSWORD, RELAY_TOKEN, a_grpc);
    let mut a = Ferrotel::start("ferrotel-a", &good_config, &[a_grpc]);
    let wrong_grpc = free_addr();
    let wrong_config = a_config(WRONG_PASSWORD, WRONG_TOKEN, wrong_grpc);
    let mut wrong = Ferrotel::start("ferrotel-a-wrong", &wrong_config, &[wrong_grpc]);

    let pid = std::process::id();
    let (good_run, bad_run) = (format!("relay-good-{pid}"), format!("relay-bad-{pid}"));
    send_with_python_sdk("grpc", wrong_grpc, "none", &bad_run, None);
    // B refuses both of the wrong process's exporters: every span fails, permanently.
    for exporter in ["otlp_grpc", "otlp_http"] {
        let failed = wrong.metric_reaches(
            "otelcol_exporter_send_failed_spans_total",
            &[("exporter", exporter)],
            2.0,
        );
        assert_eq!(
            failed, 2.0,
            "spans the wrong credentials failed to send via {exporter}"
        );
    }
    send_with_python_sdk("grpc", a_grpc, "none", &good_run, None);

    // Each span and log record arrives twice behind B: once per way in.
    let recorded = behind_b
        .recorder
        .wait_until(RELAY_TIMEOUT, |r| items_of_run(r, &good_run) == (4, 4))
        .unwrap_or_else(|r| {
            panic!(
                "the relayed run did not arrive: {:?}",
                items_of_run(&r, &good_run)
            )
        });
    assert_eq!(
        items_of_run(&recorded, &bad_run),
        (0, 0),
        "refused data was delivered"
    );
    for transport in ["grpc", "http"] {
        let accepted = b.metric_reaches(
            "otelcol_receiver_accepted_spans_total",
            &[("transport", transport)],
            2.0,
        );
        assert_eq!(accepted, 2.0, "spans B accepted over {transport}");
    }
    for exporter in ["otlp_grpc", "otlp_http"] {
        let sent = a.metric_reaches(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", exporter)],
            2.0,
        );
        assert_eq!(sent, 2.0, "spans A sent via {exporter}");
    }

    for (name, process) in [
        ("A", &mut a),
        ("A with wrong credentials", &mut wrong),
        ("B", &mut b),
    ] {
        process.proc.assert_running();
        process.proc.terminate(Duration::from_secs(20));
        assert_no_secret(&format!("ferrotel {name}'s output"), &process.proc.output());
    }
    assert!(
        b.proc
            .output()
            .contains("request refused: not authenticated")
    );
    let dir = tempfile::tempdir().unwrap();
    check_print_config(
        "ferrotel-a",
        &good_config,
        dir.path(),
        &[RELAY_PASSWORD, RELAY_TOKEN],
    );
    check_print_config("ferrotel-b", &b_config, dir.path(), &[RELAY_TOKEN]);
}
