//! otelcol's own test configs (tests/data/otelcol, copied from opentelemetry-collector) loaded with
//! the `nop` test factories: the valid ones load, each invalid one fails with otelcol's message at
//! the line that caused it.

use ferrotel_core::Signal;
use ferrotel_core::component::{Registry, Stability};
use ferrotel_core::config::{self, ConfigError, LoadedConfig};
use ferrotel_core::testing::{NopFactory, nop_registry};
use std::sync::Arc;

fn data(path: &str) -> String {
    format!("{}/tests/data/otelcol/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn load_with(path: &str, registry: &Registry) -> Result<LoadedConfig, ConfigError> {
    config::load(&[data(path)], &[], registry, None)
}

fn load(path: &str) -> Result<LoadedConfig, ConfigError> {
    load_with(path, &nop_registry())
}

/// The error's message (exact), its file and line.
fn assert_fails(result: Result<LoadedConfig, ConfigError>, file: &str, line: usize, message: &str) {
    let error = result.expect_err("the config should be rejected");
    let mark = error
        .mark
        .clone()
        .unwrap_or_else(|| panic!("error without a location: {error}"));
    assert_eq!(error.message, message, "{error}");
    assert_eq!(*mark.file, data(file), "{error}");
    assert_eq!(mark.line, line, "{error}");
}

#[test]
fn otelcol_nop_is_the_full_valid_config() {
    let loaded = load("testdata/otelcol-nop.yaml").unwrap();
    let config = &loaded.config;
    assert_eq!(config.receivers.len(), 1);
    assert_eq!(config.connectors[0].id.to_string(), "nop/con");
    assert_eq!(config.service.extensions[0].id.to_string(), "nop");
    let ids: Vec<String> = config
        .service
        .pipelines
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(ids, ["traces", "metrics", "logs"]);
    let traces = &config.service.pipelines[0];
    let exporters: Vec<String> = traces.exporters.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(exporters, ["nop", "nop/con"]);
    assert_eq!(
        (traces.exporters[1].mark.line, traces.exporters[1].mark.col),
        (22, 24)
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn valid_connector_use_loads() {
    let loaded = load("testdata/otelcol-valid-connector-use.yaml").unwrap();
    assert_eq!(loaded.config.service.pipelines.len(), 3);
}

#[test]
fn undefined_processor_reference() {
    assert_fails(
        load("testdata/otelcol-invalid.yaml"),
        "testdata/otelcol-invalid.yaml",
        14,
        "references processor \"invalid\" which is not configured",
    );
    let error = load("testdata/otelcol-invalid.yaml").unwrap_err();
    assert!(
        error.to_string().ends_with(":14:20: service::pipelines::traces: references processor \"invalid\" which is not configured"),
        "{error}"
    );
}

#[test]
fn unknown_telemetry_key() {
    assert_fails(
        load("testdata/otelcol-invalid-telemetry.yaml"),
        "testdata/otelcol-invalid-telemetry.yaml",
        9,
        "'service.telemetry' has invalid keys: unknown",
    );
}

#[test]
fn unknown_component_type() {
    assert_fails(
        load("testdata/otelcol-invalid-components.yaml"),
        "testdata/otelcol-invalid-components.yaml",
        6,
        "unknown type: \"nosuchprocessor\" for id: \"nosuchprocessor\" (valid values: [nop])",
    );
}

#[test]
fn connector_used_on_one_side_only() {
    assert_fails(
        load("testdata/otelcol-invalid-connector-unused-exp.yaml"),
        "testdata/otelcol-invalid-connector-unused-exp.yaml",
        17,
        "connector \"nop/connector1\" used as receiver in [logs/in2] pipeline but not used in any supported exporter pipeline",
    );
    assert_fails(
        load("testdata/otelcol-invalid-connector-unused-rec.yaml"),
        "testdata/otelcol-invalid-connector-unused-rec.yaml",
        19,
        "connector \"nop/connector1\" used as exporter in [logs/in2] pipeline but not used in any supported receiver pipeline",
    );
}

#[test]
fn cyclic_connector() {
    assert_fails(
        load("testdata/otelcol-cyclic-connector.yaml"),
        "testdata/otelcol-cyclic-connector.yaml",
        15,
        "cycle detected: connector \"nop/forward\" (traces to traces) -> connector \"nop/forward\" (traces to traces)",
    );
}

#[test]
fn logs_only_receiver_in_a_traces_pipeline() {
    // With only `nop` factories (otelcol's own test setup) the type is unknown.
    assert_fails(
        load("testdata/otelcol-invalid-receiver-type.yaml"),
        "testdata/otelcol-invalid-receiver-type.yaml",
        2,
        "unknown type: \"nop_logs\" for id: \"nop_logs\" (valid values: [nop])",
    );
    // With a logs-only `nop_logs` factory it is the signal that is wrong.
    let mut registry = nop_registry();
    const LOGS: &[(Signal, Stability)] = &[(Signal::Logs, Stability::Stable)];
    registry
        .receivers
        .push(Arc::new(NopFactory::new("nop_logs").with_signals(LOGS)));
    assert_fails(
        load_with("testdata/otelcol-invalid-receiver-type.yaml", &registry),
        "testdata/otelcol-invalid-receiver-type.yaml",
        13,
        "receiver \"nop_logs\" does not support data type \"traces\": telemetry type is not supported (supported: logs)",
    );
}

#[test]
fn metrics_level_none_serves_no_self_metrics() {
    let loaded = load("testdata/otelcol-otelconftelemetry.yaml").unwrap();
    let telemetry = &loaded.config.service.telemetry;
    assert_eq!(telemetry.metrics_level, "none");
    assert_eq!(telemetry.metrics_endpoint, None);
}

#[test]
fn status_watcher_config_with_its_test_factories() {
    assert_fails(
        load("testdata/otelcol-statuswatcher.yaml"),
        "testdata/otelcol-statuswatcher.yaml",
        6,
        "unknown type: \"unhealthy\" for id: \"unhealthy\" (valid values: [nop])",
    );
    let mut registry = nop_registry();
    registry
        .processors
        .push(Arc::new(NopFactory::new("unhealthy")));
    registry
        .extensions
        .push(Arc::new(NopFactory::new("statuswatcher")));
    let loaded = load_with("testdata/otelcol-statuswatcher.yaml", &registry).unwrap();
    for pipeline in &loaded.config.service.pipelines {
        let processors: Vec<String> = pipeline
            .processors
            .iter()
            .map(|p| p.id.to_string())
            .collect();
        assert_eq!(processors, ["nop", "unhealthy"]);
    }
}

#[test]
fn windows_log_to_file_config() {
    let mut registry = Registry::default();
    registry
        .receivers
        .push(Arc::new(NopFactory::new("otlp").with_any_settings()));
    registry
        .exporters
        .push(Arc::new(NopFactory::new("debug").with_any_settings()));
    registry
        .extensions
        .push(Arc::new(NopFactory::new("zpages").with_any_settings()));
    let loaded = load_with("testdata/otelcol-log-to-file.yaml", &registry).unwrap();
    assert_eq!(loaded.config.service.telemetry.logs_level, "info");
    let file = data("testdata/otelcol-log-to-file.yaml");
    // `${ProgramData}` is unset here: it expands to nothing, with a warning at its line.
    assert!(
        loaded.warnings.contains(&format!(
            "{file}:20:11: service::telemetry::logs::output_paths[0]: environment variable \"ProgramData\" is not set; \
             it expands to an empty value"
        )),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn whole_list_from_an_environment_variable() {
    // SAFETY: both tests that read RECEIVERS set the same value; nothing else uses it.
    unsafe { std::env::set_var("RECEIVERS", "[nop]") };
    for file in [
        "otelcoltest/testdata/config_env.yaml",
        "otelcoltest/testdata/config_default_scheme.yaml",
    ] {
        let loaded = load(file).unwrap();
        let traces = &loaded.config.service.pipelines[0];
        let receivers: Vec<String> = traces.receivers.iter().map(|r| r.id.to_string()).collect();
        assert_eq!(receivers, ["nop"], "{file}");
        // The list came from the environment; it is reported where `${…}` was written.
        assert_eq!(
            (traces.receivers[0].mark.line, traces.receivers[0].mark.col),
            (10, 24),
            "{file}"
        );
    }
}

fn value(node: &config::Node) -> serde_json::Value {
    config::decode(node).unwrap()
}

#[test]
fn two_files_merge_into_the_golden_output() {
    let sources = [
        data("testdata/configs/1-config-first.yaml"),
        data("testdata/configs/1-config-second.yaml"),
    ];
    let merged = config::resolve::resolve(&sources, &[], None).unwrap();
    let golden = config::Node::parse(
        &std::fs::read_to_string(data("testdata/configs/1-config-output.yaml")).unwrap(),
        "g",
    )
    .unwrap();
    assert_eq!(value(&merged.root), value(&golden));
    // Each value still points at the file that wrote it.
    let foo = merged.root.get("receivers").unwrap().get("foo").unwrap();
    assert_eq!((&*foo.mark.file, foo.mark.line), (sources[1].as_str(), 3));
}

#[test]
fn yaml_uris_and_set_flags_give_the_second_golden_output() {
    let golden = value(
        &config::Node::parse(
            &std::fs::read_to_string(data("testdata/configs/2-config-output.yaml")).unwrap(),
            "g",
        )
        .unwrap(),
    );
    let files = [
        data("testdata/configs/1-config-first.yaml"),
        data("testdata/configs/1-config-second.yaml"),
    ];
    let mut sources = files.to_vec();
    sources.push("yaml:service::pipelines::logs::receivers: [foo,bar]".into());
    sources.push("yaml:service::pipelines::logs::exporters: [foo,bar]".into());
    assert_eq!(
        value(&config::resolve::resolve(&sources, &[], None).unwrap().root),
        golden
    );
    let sets = [
        "service::pipelines::logs::receivers=[foo,bar]".to_owned(),
        "service.pipelines.logs.exporters=[foo,bar]".to_owned(),
    ];
    assert_eq!(
        value(&config::resolve::resolve(&files, &sets, None).unwrap().root),
        golden
    );
}
