//! The real `ferrotel` binary's command line: validate, components, --version, and error reporting.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrotel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .output()
        .expect("ferrotel runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn validate(configs: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["validate"];
    for config in configs {
        args.push("--config");
        args.push(config);
    }
    args.extend_from_slice(extra);
    ferrotel(&args)
}

#[test]
fn every_shipped_config_validates() {
    let mut checked = 0;
    for dir in ["config", "config/examples"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.extension().is_none_or(|e| e != "yaml") || name.starts_with("04-overlay") {
                continue;
            }
            let out = validate(&[&path.display().to_string()], &[]);
            assert!(out.status.success(), "{name}: {}", stderr(&out));
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} configs checked");
}

#[test]
fn files_merge_in_order_and_lists_are_replaced() {
    // The overlay alone has no receivers; merged over the base it replaces the exporters list.
    let alone = validate(&["config/examples/04-overlay.yaml"], &[]);
    assert!(!alone.status.success());
    let merged = validate(
        &[
            "config/examples/04-base.yaml",
            "file:config/examples/04-overlay.yaml",
        ],
        &[],
    );
    assert!(merged.status.success(), "{}", stderr(&merged));
    // `debug` is no longer in any pipeline after the list was replaced: otelcol warns about it.
    assert!(
        stderr(&merged).contains("debug"),
        "expected an unused-component warning: {}",
        stderr(&merged)
    );
}

#[test]
fn set_overrides_are_applied_and_checked() {
    let ok = validate(
        &["config/examples/09-set-target.yaml"],
        &[
            "--set",
            "processors.batch.timeout=2s",
            "--set",
            "exporters::debug::verbosity=detailed",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = validate(
        &["config/examples/09-set-target.yaml"],
        &["--set", "exporters.debug.verbosity=loud"],
    );
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("--set") && err.contains("verbosity"), "{err}");
}

#[test]
fn env_expansion_feeds_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.yaml");
    std::fs::write(
        &path,
        "receivers:\n  otlp:\n    protocols:\n      grpc:\nprocessors:\n  batch:\n    send_batch_size: ${env:BATCH}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [debug]\n",
    )
    .unwrap();
    let run = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_ferrotel"))
            .args(["validate", "--config", &path.display().to_string()])
            .env("BATCH", value)
            .output()
            .unwrap()
    };
    let ok = run("100");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bad = run("lots");
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert!(
        err.contains("send_batch_size") && err.contains(":7:"),
        "{err}"
    );
}

#[test]
fn a_typo_names_file_line_key_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.yaml");
    std::fs::write(
        &path,
        "receivers:\n  otlp:\n    protocols:\n      htttp:\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n",
    )
    .unwrap();
    let out = validate(&[&path.display().to_string()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("Error: invalid configuration: "), "{err}");
    assert!(
        err.contains(&format!("{}:4:", path.display())),
        "file and line: {err}"
    );
    assert!(err.contains("receivers::otlp"), "component: {err}");
    assert!(
        err.contains("htttp") && err.contains("did you mean \"http\""),
        "key and suggestion: {err}"
    );
}

#[test]
fn an_unknown_type_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unknown.yaml");
    std::fs::write(&path, "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debgu:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debgu]\n").unwrap();
    let err = stderr(&validate(&[&path.display().to_string()], &[]));
    assert!(err.contains("unknown type: \"debgu\""), "{err}");
    assert!(
        err.contains("otlp_grpc") && err.contains("debug"),
        "valid values listed: {err}"
    );
    assert!(err.contains(":6:"), "line of the id: {err}");
}

#[test]
fn components_lists_what_the_binary_ships() {
    let out = ferrotel(&["components"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "otlp",
        "batch",
        "memory_limiter",
        "otlp_grpc",
        "otlp_http",
        "debug",
        "health_check",
    ] {
        assert!(
            text.contains(&format!("- name: {name}\n")),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains("deprecated_aliases: [otlp]"), "{text}");
    assert!(text.contains("traces: Stable"), "{text}");
}

#[test]
fn version_is_printed() {
    let out = ferrotel(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

const SECRET_CONFIG: &str = "extensions:\n  bearertokenauth/in:\n    token: tok-s3cr3t-1\n  bearertokenauth/out:\n    tokens: [tok-s3cr3t-2]\n  basicauth/server:\n    htpasswd:\n      inline: \"alice:plain-s3cr3t-3\"\n  basicauth/client:\n    client_auth:\n      username: alice\n      password: ${env:FERROTEL_TEST_PASSWORD}\n\
receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n        auth:\n          authenticator: basicauth/server\n      http:\n        endpoint: 127.0.0.1:4318\n        auth:\n          authenticator: bearertokenauth/in\n\
exporters:\n  otlp_grpc:\n    endpoint: https://backend.example:4317\n    auth:\n      authenticator: basicauth/client\n    headers:\n      x-api-key: hdr-s3cr3t-5\n  otlp_http:\n    endpoint: https://backend.example:4318\n    auth:\n      authenticator: bearertokenauth/out\n\
service:\n  extensions: [bearertokenauth/in, bearertokenauth/out, basicauth/server, basicauth/client]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp_grpc, otlp_http]\n";

fn print_config(path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("print-config")
        .args(["--config", &path.display().to_string()])
        .args(extra)
        .env("FERROTEL_TEST_PASSWORD", "pw-s3cr3t-4")
        .env_remove("RUST_LOG")
        .output()
        .expect("ferrotel runs")
}

#[test]
fn print_config_redacts_secrets_unless_asked_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.yaml");
    std::fs::write(&path, SECRET_CONFIG).unwrap();

    let redacted = print_config(&path, &[]);
    assert!(redacted.status.success(), "{}", stderr(&redacted));
    let text = String::from_utf8(redacted.stdout.clone()).unwrap();
    assert!(!text.contains("s3cr3t"), "a secret was printed:\n{text}");
    assert!(
        !stderr(&redacted).contains("s3cr3t"),
        "{}",
        stderr(&redacted)
    );
    assert_eq!(text.matches("\"[REDACTED]\"").count(), 5, "{text}");
    // What is not secret is printed as resolved, ready to be read back.
    for kept in [
        "username: alice",
        "x-api-key:",
        "authenticator: basicauth/server",
    ] {
        assert!(text.contains(kept), "{kept} missing:\n{text}");
    }
    let again = dir.path().join("printed.yaml");
    std::fs::write(&again, &text).unwrap();
    let reread = ferrotel(&[
        "print-config",
        "--validate=false",
        "--config",
        again.to_str().unwrap(),
    ]);
    assert!(reread.status.success(), "{}", stderr(&reread));
    assert_eq!(String::from_utf8(reread.stdout).unwrap(), text);

    let unredacted = print_config(&path, &["--mode", "unredacted"]);
    assert!(unredacted.status.success(), "{}", stderr(&unredacted));
    let text = String::from_utf8(unredacted.stdout).unwrap();
    for secret in [
        "tok-s3cr3t-1",
        "tok-s3cr3t-2",
        "plain-s3cr3t-3",
        "pw-s3cr3t-4",
        "hdr-s3cr3t-5",
    ] {
        assert!(text.contains(secret), "{secret} missing:\n{text}");
    }
    assert!(!text.contains("REDACTED"), "{text}");

    let json = print_config(&path, &["--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        value["extensions"]["basicauth/client"]["client_auth"]["password"],
        "[REDACTED]"
    );
}

#[test]
fn print_config_validates_first_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    // The exporter names an authenticator that is not configured.
    std::fs::write(
        &path,
        SECRET_CONFIG.replace("authenticator: bearertokenauth/out", "authenticator: nope"),
    )
    .unwrap();
    let checked = print_config(&path, &[]);
    assert!(!checked.status.success());
    assert!(stderr(&checked).contains("nope"), "{}", stderr(&checked));
    assert!(checked.stdout.is_empty());
    let unchecked = print_config(&path, &["--validate=false"]);
    assert!(unchecked.status.success(), "{}", stderr(&unchecked));
    assert!(String::from_utf8_lossy(&unchecked.stdout).contains("authenticator: nope"));
}
