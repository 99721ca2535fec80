//! Several `--config` sources and `--set` flags: maps merge deeply, lists are replaced, the later
//! source wins, and every value still points at the source that wrote it.

use ferrotel_core::config::{self, Node, resolve::merge};
use ferrotel_core::testing::nop_registry;

fn data(file: &str) -> String {
    format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn ids(refs: &[config::model::IdRef]) -> Vec<String> {
    refs.iter().map(|r| r.id.to_string()).collect()
}

#[test]
fn later_files_merge_maps_and_replace_lists() {
    let sources = [data("merge-base.yaml"), data("merge-override.yaml")];
    let loaded = config::load(&sources, &[], &nop_registry(), None).unwrap();
    let config = &loaded.config;
    let receivers: Vec<String> = config.receivers.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(receivers, ["nop", "nop/base", "nop/extra"]);
    let traces = &config.service.pipelines[0];
    assert_eq!(traces.id.to_string(), "traces");
    // The receivers list was replaced; the processors and exporters lists stayed.
    assert_eq!(ids(&traces.receivers), ["nop/extra"]);
    assert_eq!(ids(&traces.processors), ["nop"]);
    assert_eq!(ids(&traces.exporters), ["nop"]);
    assert_eq!(
        (
            &*traces.receivers[0].mark.file,
            traces.receivers[0].mark.line
        ),
        (sources[1].as_str(), 8)
    );
    assert_eq!(
        (
            &*traces.processors[0].mark.file,
            traces.processors[0].mark.line
        ),
        (sources[0].as_str(), 12)
    );
    let metrics = &config.service.pipelines[1];
    assert_eq!(
        (ids(&metrics.receivers), ids(&metrics.exporters)),
        (vec!["nop/base".to_owned()], vec!["nop/2".to_owned()])
    );
    // The plain nop receiver lost its only pipeline to the override.
    assert_eq!(
        loaded.warnings,
        [format!(
            "{}:2:3: receivers::nop: receiver \"nop\" is configured but not used in any pipeline",
            sources[0]
        )]
    );
}

#[test]
fn set_flags_override_files_with_either_separator() {
    let sets = [
        "service::pipelines::traces::exporters=[nop, nop/2]".to_owned(),
        "exporters.nop/2=".to_owned(),
    ];
    let loaded = config::load(&[data("merge-base.yaml")], &sets, &nop_registry(), None).unwrap();
    assert_eq!(
        loaded
            .config
            .exporters
            .iter()
            .map(|e| e.id.to_string())
            .collect::<Vec<_>>(),
        ["nop", "nop/2"]
    );
    let traces = &loaded.config.service.pipelines[0];
    assert_eq!(ids(&traces.exporters), ["nop", "nop/2"]);
    assert_eq!(traces.exporters[1].mark.to_string(), "--set:1:1");
    assert_eq!(loaded.config.exporters[1].mark.to_string(), "--set:2:1");
}

#[test]
fn errors_in_set_values_name_the_flag() {
    let sets = ["processors.batch.timeout=2s".to_owned()];
    let error = config::load(&[data("merge-base.yaml")], &sets, &nop_registry(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--set:1:1: processors: unknown type: \"batch\" for id: \"batch\" (valid values: [nop])"
    );
    let sets = ["receivers::nop::endpoint=localhost:4317".to_owned()];
    let error = config::load(&[data("merge-base.yaml")], &sets, &nop_registry(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--set:1:1: receivers::nop: has invalid keys: endpoint"
    );
    let sets = ["service.pipelines".to_owned()];
    let error = config::load(&[data("merge-base.yaml")], &sets, &nop_registry(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--set:1:1: --set \"service.pipelines\": missing equal sign"
    );
}

#[test]
fn the_default_config_stands_in_for_no_sources() {
    let default = "receivers: {nop: }\nexporters: {nop: }\nservice: {pipelines: {logs: {receivers: [nop], exporters: [nop]}}}\n";
    let loaded = config::load(
        &[],
        &[],
        &nop_registry(),
        Some(("<default config>", default)),
    )
    .unwrap();
    assert_eq!(
        loaded.config.service.pipelines[0].mark.to_string(),
        "<default config>:3:23"
    );
    // A given source replaces the default entirely.
    let loaded = config::load(
        &[data("merge-base.yaml")],
        &[],
        &nop_registry(),
        Some(("<default config>", "bad: [")),
    );
    assert!(loaded.is_ok());
}

/// otelcol's merge scenarios (confmap/testdata, default behaviour: lists are replaced).
#[test]
fn otelcol_merge_scenarios() {
    let text = std::fs::read_to_string(data(
        "confmap/merge-append-scenarios-featuregate-disabled.yaml",
    ))
    .unwrap();
    let scenarios = Node::parse(&text, "scenarios").unwrap();
    let config::NodeKind::Seq(scenarios) = scenarios.kind else {
        panic!("a list of scenarios")
    };
    assert!(scenarios.len() >= 3);
    for scenario in &scenarios {
        let name = scenario.get("name").and_then(Node::as_str).unwrap();
        let config::NodeKind::Seq(configs) = &scenario.get("configs").unwrap().kind else {
            panic!("configs")
        };
        let merged = configs.iter().cloned().reduce(merge).unwrap();
        let merged: serde_json::Value = config::decode(&merged).unwrap();
        let expected: serde_json::Value =
            config::decode(scenario.get("expected").unwrap()).unwrap();
        assert_eq!(merged, expected, "{name}");
    }
}
