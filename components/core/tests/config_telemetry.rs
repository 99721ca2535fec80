//! `service.telemetry`: otelcol's telemetry test sections (tests/data/otelconftelemetry) placed in
//! a full config, plus the derived self-metrics endpoint, levels and resource.

use ferrotel_core::config::{self, ConfigError, LoadedConfig};
use ferrotel_core::testing::nop_registry;

const HEADER: &str = "receivers:\n  nop:\nexporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n      receivers: [nop]\n      exporters: [nop]\n  telemetry:\n";
/// Lines before the telemetry section's own first line.
const OFFSET: usize = 10;

/// Loads a full config whose `service.telemetry` is `section`; returns the result and the file.
fn load_section(section: &str) -> (Result<LoadedConfig, ConfigError>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("telemetry.yaml");
    let indented: String = section
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    std::fs::write(&path, format!("{HEADER}{indented}")).unwrap();
    let path = path.display().to_string();
    (
        config::load(std::slice::from_ref(&path), &[], &nop_registry(), None),
        path,
        dir,
    )
}

fn upstream(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/data/otelconftelemetry/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[track_caller]
fn assert_fails(section: &str, line: usize, message: &str) {
    let (result, path, _dir) = load_section(section);
    let error = result.expect_err("the telemetry section should be rejected");
    assert_eq!(error.message, message, "{error}");
    let mark = error.mark.unwrap();
    assert_eq!(
        (&*mark.file, mark.line),
        (path.as_str(), OFFSET + line),
        "{message}"
    );
}

#[test]
fn removed_and_unknown_metrics_keys() {
    assert_fails(
        &upstream("config_deprecated_address.yaml"),
        5,
        "'service.telemetry.metrics' has invalid keys: address",
    );
    assert_fails(
        &upstream("config_invalid_unknown_field.yaml"),
        2,
        "'service.telemetry.metrics' has invalid keys: unknown",
    );
}

#[test]
fn otelcol_validation_rules() {
    assert_fails(
        &upstream("config_invalid_metrics_empty_readers.yaml"),
        3,
        "collector telemetry metrics reader should exist when metric level is not none",
    );
    assert_fails(
        &upstream("config_invalid_metrics_views_level.yaml"),
        3,
        "service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed",
    );
    assert_fails(
        "logs:\n  level: inof\n",
        2,
        "unknown value \"inof\" (valid values: [debug, info, warn, error, dpanic, panic, fatal]) (did you mean \"info\"?)",
    );
}

#[test]
fn every_logs_key_is_accepted() {
    let (result, _, _dir) = load_section(&upstream("config_logs.yaml"));
    let loaded = result.unwrap();
    let telemetry = &loaded.config.service.telemetry;
    assert_eq!(
        (
            telemetry.logs_level.as_str(),
            telemetry.logs_encoding.as_str()
        ),
        ("info", "console")
    );
    let ignored: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("accepted but not acted on"))
        .collect();
    assert_eq!(ignored.len(), 2, "sampling and processors: {ignored:?}");
}

#[test]
fn prometheus_pull_reader_sets_the_self_metrics_endpoint() {
    let (result, _, _dir) = load_section(&upstream("config_prometheus_host_only.yaml"));
    assert_eq!(
        result
            .unwrap()
            .config
            .service
            .telemetry
            .metrics_endpoint
            .as_deref(),
        Some("[::0]:8888")
    );
    let section = "metrics:\n  level: detailed\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n            host: 0.0.0.0\n            port: 9999\n";
    let (result, _, _dir) = load_section(section);
    let telemetry = result.unwrap().config.service.telemetry;
    assert_eq!(
        (
            telemetry.metrics_level.as_str(),
            telemetry.metrics_endpoint.as_deref()
        ),
        ("detailed", Some("0.0.0.0:9999"))
    );
    let (result, _, _dir) = load_section(
        "metrics:\n  readers:\n    - pull:\n        exporter:\n          prometheus:\n            host: \"::1\"\n",
    );
    assert_eq!(
        result
            .unwrap()
            .config
            .service
            .telemetry
            .metrics_endpoint
            .as_deref(),
        Some("[::1]:8888")
    );
}

#[test]
fn defaults_and_resource() {
    let (result, _, _dir) = load_section(
        "resource:\n  service.name: gateway\n  deployment.environment: prod\n  host.name: null\n",
    );
    let telemetry = result.unwrap().config.service.telemetry;
    assert_eq!(
        (
            telemetry.logs_level.as_str(),
            telemetry.metrics_level.as_str()
        ),
        ("info", "normal")
    );
    assert_eq!(
        telemetry.metrics_endpoint.as_deref(),
        Some("localhost:8888")
    );
    let resource: Vec<(&str, &str)> = telemetry
        .resource
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        resource,
        [
            ("deployment.environment", "prod"),
            ("service.name", "gateway")
        ]
    );
}
