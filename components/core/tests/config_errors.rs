//! Every kind of config error, from fixtures in tests/data: the exact message, the key path, and
//! the file and line it points at.

use ferrotel_core::Signal;
use ferrotel_core::component::{
    CreateSettings, Factory, Lifecycle, ReceiverFactory, Registry, SignalConsumers, Stability,
};
use ferrotel_core::config::{
    self, ConfigError, GoDuration, LoadedConfig, Node, Validate, decode_validated,
};
use ferrotel_core::testing::{ALL_SIGNALS, NopFactory, nop_registry};
use serde::Deserialize;
use std::sync::Arc;

/// A receiver with real settings, shaped like the OTLP receiver's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FakeConfig {
    protocols: Protocols,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Protocols {
    grpc: Option<Grpc>,
    http: Option<Http>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(dead_code)]
struct Grpc {
    endpoint: String,
    timeout: GoDuration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(dead_code)]
struct Http {
    endpoint: String,
    max_body_mib: u32,
}

impl Validate for FakeConfig {
    fn validate(&self) -> Result<(), String> {
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            return Err("must specify at least one protocol when using the OTLP receiver".into());
        }
        Ok(())
    }
}

struct Fake;

impl Factory for Fake {
    fn type_name(&self) -> &'static str {
        "fake"
    }
    fn validate(&self, node: &Node) -> Result<(), ConfigError> {
        decode_validated::<FakeConfig>(node).map(|_| ())
    }
}

impl ReceiverFactory for Fake {
    fn signals(&self) -> &'static [(Signal, Stability)] {
        ALL_SIGNALS
    }
    fn create(
        &self,
        _: CreateSettings,
        _: &Node,
        _: SignalConsumers,
    ) -> anyhow::Result<Arc<dyn Lifecycle>> {
        anyhow::bail!("config tests build nothing")
    }
}

fn registry() -> Registry {
    const LOGS: &[(Signal, Stability)] = &[(Signal::Logs, Stability::Stable)];
    const TRACES_TO_METRICS: &[(Signal, Signal, Stability)] =
        &[(Signal::Traces, Signal::Metrics, Stability::Alpha)];
    let mut registry = nop_registry();
    registry.receivers.push(Arc::new(Fake));
    registry
        .exporters
        .push(Arc::new(NopFactory::new("logsonly").with_signals(LOGS)));
    registry.exporters.push(Arc::new(
        NopFactory::new("otlp_grpc").with_aliases(&["otlp"]),
    ));
    registry.connectors.push(Arc::new(
        NopFactory::new("tometrics").with_pairs(TRACES_TO_METRICS),
    ));
    registry.processors.push(Arc::new(NopFactory::new("batch")));
    registry
}

fn data(file: &str) -> String {
    format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn load(files: &[&str], sets: &[&str]) -> Result<LoadedConfig, ConfigError> {
    let sources: Vec<String> = files.iter().map(|f| data(f)).collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    config::load(&sources, &sets, &registry(), None)
}

/// Loading `file` fails at `line` of it (or of `file_shown`, e.g. `--set`), under `path`, with `message`.
#[track_caller]
fn assert_error(error: ConfigError, file_shown: &str, line: usize, path: &str, message: &str) {
    assert_eq!(error.message, message, "{error}");
    assert_eq!(error.path, path, "{error}");
    let mark = error
        .mark
        .clone()
        .unwrap_or_else(|| panic!("no location in {error}"));
    assert_eq!(&*mark.file, file_shown, "{error}");
    assert_eq!(mark.line, line, "{error}");
}

#[track_caller]
fn assert_fails(file: &str, line: usize, path: &str, message: &str) {
    let error = load(&[file], &[]).expect_err("the config should be rejected");
    assert_error(error, &data(file), line, path, message);
}

#[test]
fn unknown_component_key_suggests_the_nearest() {
    let file = "err-component-unknown-key.yaml";
    assert_fails(
        file,
        4,
        "receivers::fake",
        "'protocols' has invalid keys: htttp (did you mean \"http\"?)",
    );
    let shown = load(&[file], &[]).unwrap_err().to_string();
    assert_eq!(
        shown,
        format!(
            "{}:4:7: receivers::fake: 'protocols' has invalid keys: htttp (did you mean \"http\"?)",
            data(file)
        )
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let file = "err-component-wrong-type.yaml";
    assert_fails(
        file,
        6,
        "receivers::fake::protocols::grpc::timeout",
        "expected a duration such as \"5s\", got \"5\" (missing unit)",
    );
    // With the duration fixed by --set, the next bad value is found.
    let error = load(&[file], &["receivers::fake::protocols::grpc::timeout=5s"]).unwrap_err();
    assert_error(
        error,
        &data(file),
        8,
        "receivers::fake::protocols::http::max_body_mib",
        "expected an integer, got \"lots\"",
    );
}

#[test]
fn component_validation_errors_point_at_the_section() {
    assert_fails(
        "err-component-validate.yaml",
        3,
        "receivers::fake",
        "must specify at least one protocol when using the OTLP receiver",
    );
    assert_fails(
        "err-nop-settings.yaml",
        3,
        "receivers::nop",
        "has invalid keys: endpoint",
    );
}

#[test]
fn unknown_top_level_and_service_keys() {
    assert_fails(
        "err-top-level-key.yaml",
        1,
        "",
        "has invalid keys: recievers (did you mean \"receivers\"?)",
    );
    assert_fails(
        "err-service-key.yaml",
        6,
        "",
        "'service' has invalid keys: pipelnes (did you mean \"pipelines\"?)",
    );
}

#[test]
fn ids_that_trim_to_the_same_name_are_duplicates() {
    assert_fails(
        "err-duplicate-ids.yaml",
        3,
        "receivers",
        "duplicate name \"nop/myreceiver\": \"nop /myreceiver \" (line 2) and \" nop/ myreceiver\" are the same id",
    );
    assert_fails(
        "err-duplicate-pipelines.yaml",
        10,
        "service::pipelines",
        "duplicate name \"traces/pipe\": \"traces/ pipe\" (line 7) and \"traces /pipe\" are the same id",
    );
}

#[test]
fn references_to_undefined_components() {
    assert_fails(
        "err-undefined-exporter.yaml",
        9,
        "service::pipelines::logs",
        "references exporter \"nop/2\" which is not configured (did you mean \"nop/1\"?)",
    );
    assert_fails(
        "err-service-extension.yaml",
        8,
        "service::extensions",
        "references extension \"nop/2\" which is not configured (did you mean \"nop\"?)",
    );
}

#[test]
fn pipeline_shape() {
    assert_fails(
        "err-processor-twice.yaml",
        12,
        "service::pipelines::metrics",
        "references processor \"nop\" multiple times",
    );
    let error = load(&["err-processor-twice.yaml"], &[]).unwrap_err();
    assert_eq!(error.mark.unwrap().col, 32, "the second `nop`");
    assert_fails(
        "err-no-pipelines.yaml",
        9,
        "service::pipelines",
        "service must have at least one pipeline",
    );
    assert_fails(
        "err-no-receivers-in-pipeline.yaml",
        10,
        "service::pipelines::logs/empty",
        "must have at least one receiver",
    );
    assert_fails(
        "err-unknown-signal.yaml",
        7,
        "service::pipelines",
        "unknown signal \"trace\" in pipeline id \"trace\" (valid values: [traces, metrics, logs]) (did you mean \"traces\"?)",
    );
}

#[test]
fn signals_a_component_does_not_support() {
    assert_fails(
        "err-unsupported-signal.yaml",
        12,
        "service::pipelines::metrics",
        "exporter \"logsonly\" does not support data type \"metrics\": telemetry type is not supported (supported: logs)",
    );
}

#[test]
fn connectors() {
    assert_fails(
        "err-connector-pair.yaml",
        11,
        "",
        "connector \"tometrics\" used as exporter in [traces] pipeline but not used in any supported receiver pipeline",
    );
    assert_fails(
        "err-cycle.yaml",
        16,
        "",
        "cycle detected: connector \"nop/fwd\" (traces to traces) -> processor \"nop/p\" in pipeline \"traces/b\" -> \
         connector \"nop/back\" (traces to traces) -> processor \"nop\" in pipeline \"traces/a\" -> \
         connector \"nop/fwd\" (traces to traces)",
    );
    assert_fails(
        "err-ambiguous-id.yaml",
        7,
        "connectors::nop/x",
        "ambiguous ID: Found both \"nop/x\" receiver and \"nop/x\" connector. Change one of the components' IDs to \
         eliminate ambiguity (e.g. rename \"nop/x\" connector to \"nop/x/connector\")",
    );
}

#[test]
fn unknown_types_suggest_a_near_name_or_the_right_section() {
    assert_fails(
        "err-unknown-type-section.yaml",
        3,
        "receivers",
        "unknown type: \"otlp_grpc\" for id: \"otlp_grpc\" (valid values: [fake, nop]); \"otlp_grpc\" exists under exporters, \
         not receivers",
    );
    // Bodies are checked after types, in file order.
    let error = load(&["err-unknown-type-section.yaml"], &["receivers::nop=[]"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--set:1:1: receivers::nop: expected a map, got a list"
    );
    assert_fails(
        "err-unknown-type-typo.yaml",
        4,
        "processors",
        "unknown type: \"bacth\" for id: \"bacth\" (valid values: [batch, nop]) (did you mean \"batch\"?)",
    );
}

#[test]
fn removed_logging_exporter() {
    assert_fails(
        "err-logging-exporter.yaml",
        4,
        "exporters",
        "the logging exporter has been deprecated, use the debug exporter instead",
    );
}

#[test]
fn empty_and_incomplete_configs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let registry = registry();
    let empty = write("empty.yaml", "# nothing\n");
    let error = config::load(&[empty], &[], &registry, None).unwrap_err();
    assert_eq!(
        (error.message.as_str(), error.mark),
        ("empty configuration file", None)
    );
    let no_exporters = write("no-exporters.yaml", "receivers:\n  nop:\n");
    let error = config::load(&[no_exporters], &[], &registry, None).unwrap_err();
    assert_eq!(
        error.message,
        "no exporter configuration specified in config"
    );
    let error = config::load(&[], &[], &registry, None).unwrap_err();
    assert_eq!(error.message, "at least one config flag must be provided");
    let error = config::load(
        &[dir.path().join("missing.yaml").display().to_string()],
        &[],
        &registry,
        None,
    )
    .unwrap_err();
    assert!(
        error.message.starts_with("cannot read config file"),
        "{error}"
    );
    let bad = write("bad.yaml", "receivers:\n  nop: [\n");
    let error = config::load(std::slice::from_ref(&bad), &[], &registry, None).unwrap_err();
    assert!(error.message.starts_with("cannot parse YAML"), "{error}");
    assert_eq!(*error.mark.unwrap().file, bad);
}

#[test]
fn warnings_for_aliases_and_unused_components() {
    let loaded = load(&["warnings.yaml"], &[]).unwrap();
    let file = data("warnings.yaml");
    assert_eq!(
        loaded.warnings,
        [
            format!(
                "{file}:5:3: exporters::otlp: \"otlp\" alias is deprecated; use \"otlp_grpc\" instead"
            ),
            format!(
                "{file}:3:3: receivers::nop/unused: receiver \"nop/unused\" is configured but not used in any pipeline"
            ),
            format!(
                "{file}:7:3: extensions::nop: extension \"nop\" is configured but not enabled in service::extensions"
            ),
        ]
    );
}
