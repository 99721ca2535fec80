//! `${…}` expansion as otelcol does it: `${env:VAR}`, `${VAR}`, defaults, `$$` escapes, typed
//! whole values, text inside strings, and unset variables.

use ferrotel_core::config::{self, resolve::resolve};
use ferrotel_core::testing::nop_registry;
use serde_json::json;

fn data(file: &str) -> String {
    format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn resolved(file: &str) -> (serde_json::Value, Vec<String>) {
    let resolved = resolve(&[data(file)], &[], None).unwrap();
    (config::decode(&resolved.root).unwrap(), resolved.warnings)
}

#[test]
fn every_form_of_reference() {
    // SAFETY: these variables are used by this test only.
    unsafe {
        std::env::set_var("FT_ENV_TEXT", "hello");
        std::env::set_var("FT_ENV_NUMBER", "0x10");
        std::env::set_var("FT_ENV_LIST", "[a, 'b', 3]");
        std::env::set_var("FT_ENV_MAP", "{key: value, n: 1}");
    }
    let (value, warnings) = resolved("env-forms.yaml");
    assert_eq!(
        value,
        json!({
            "plain": "hello",
            "default_scheme": "hello",
            "inline": "before hello after",
            "default": "fallback",
            "unset": null,
            "unset_inline": "[]",
            "escaped": "${env:FT_ENV_TEXT} costs $5",
            "bare": "$FT_ENV_TEXT",
            "number": 16,
            "number_inline": "x0x10",
            "list": ["a", "b", 3],
            "map": {"key": "value", "n": 1},
            "regex": "^(.*)$",
            "short_default": "short",
        })
    );
    assert_eq!(
        warnings,
        [format!(
            "{}:5:8: unset: environment variable \"FT_ENV_UNSET_2\" is not set; it expands to an empty value",
            data("env-forms.yaml")
        )]
    );
}

#[test]
fn pipeline_lists_from_the_environment() {
    // SAFETY: these variables are used by this test only.
    unsafe {
        std::env::set_var("FT_ENV_RECEIVERS", "[nop, nop/from_env]");
        std::env::set_var("FT_ENV_PROCESSOR", "nop");
    }
    let loaded = config::load(&[data("env-pipeline.yaml")], &[], &nop_registry(), None).unwrap();
    let traces = &loaded.config.service.pipelines[0];
    let ids =
        |refs: &[config::model::IdRef]| refs.iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&traces.receivers), ["nop", "nop/from_env"]);
    assert_eq!(ids(&traces.processors), ["nop"]);
    assert_eq!(ids(&traces.exporters), ["nop/default"]);
    // Values from the environment are located where they were referenced.
    let mark = &traces.receivers[1].mark;
    assert_eq!(
        (&*mark.file, mark.line, mark.col),
        (data("env-pipeline.yaml").as_str(), 12, 18)
    );
    // nop (the exporter) is configured but unused; nothing else to report.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].ends_with("exporter \"nop\" is configured but not used in any pipeline")
    );
}

#[test]
fn otelcol_escaped_env_cases() {
    // SAFETY: these variables are used by this test only.
    unsafe {
        std::env::set_var("ENV_VALUE", "some expanded value");
        std::env::set_var(
            "ENV_LIST",
            "['$$ESCAPE_ME','$${ESCAPE_ME}','$${env:ESCAPE_ME}']",
        );
        std::env::set_var(
            "ENV_MAP",
            "{'key1':'$$ESCAPE_ME','key2':'$${ESCAPE_ME}','key3':'$${env:ESCAPE_ME}'}",
        );
        std::env::set_var("ENV_NESTED_DOLLARSIGN", "here is 1 $$");
        std::env::set_var("ENV_NESTED_DOLLARSIGN_ESCAPED", "here are 2 $$$");
        std::env::set_var(
            "ENV_EXPAND_NESTED",
            "${env:ENV_VALUE} came from nested expansion",
        );
    }
    let (value, _) = resolved("confmap/expand-escaped-env.yaml");
    let expected = json!({"test_map": {
        "key1": "$ENV_VALUE",
        "key2": "$$ENV_VALUE",
        "key3": "$some expanded value",
        "key4": "somesome expanded valuetext",
        "key5": "some${ENV_VALUE}text",
        "key6": "${ONE}${TWO}",
        "key7": "text$",
        "key8": "$",
        "key9": "${1}${env:2}",
        "key10": "some${env:ENV_VALUE}text",
        "key11": "${env:some expanded value}",
        "key12": "${env:${ENV_VALUE}}",
        "key13": "env:MAP_VALUE_2}${ENV_VALUE}{",
        "key14": "$some expanded value",
        "key15": "$ENV_VALUE",
        "key16": ["$ESCAPE_ME", "${ESCAPE_ME}", "${env:ESCAPE_ME}"],
        "key17": {"key1": "$ESCAPE_ME", "key2": "${ESCAPE_ME}", "key3": "${env:ESCAPE_ME}"},
        "key18": "here is 1 $",
        "key19": "here are 2 $$",
        "key20": "some expanded value came from nested expansion",
        "key21": "default_value",
        "key22": "${env:UNDEFINED_KEY}",
    }});
    assert_eq!(value, expected);
}

#[test]
fn otelcol_partial_and_full_env_expansion() {
    // SAFETY: these variables are used by this test only.
    unsafe {
        std::env::set_var("EXTRA", "some string");
        std::env::set_var("EXTRA_MAP_VALUE_1", "some map value_1");
        std::env::set_var("EXTRA_MAP_VALUE_2", "some map value_2");
        std::env::set_var("EXTRA_LIST_MAP_VALUE_1", "some list map value_1");
        std::env::set_var("EXTRA_LIST_MAP_VALUE_2", "some list map value_2");
        std::env::set_var("EXTRA_LIST_VALUE_1", "some list value_1");
        std::env::set_var("EXTRA_LIST_VALUE_2", "some list value_2");
    }
    let (golden, _) = resolved("confmap/expand-with-no-env.yaml");
    assert_eq!(resolved("confmap/expand-with-partial-env.yaml").0, golden);
    assert_eq!(resolved("confmap/expand-with-all-env.yaml").0, golden);
}

#[test]
fn invalid_names_and_schemes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "receivers:\n  nop:\nexporters:\n  nop:\n    endpoint: \"${env:hello.world}\"\n",
    )
    .unwrap();
    let error = resolve(&[path.display().to_string()], &[], None).unwrap_err();
    assert_eq!(error.path, "exporters::nop::endpoint");
    assert_eq!(
        error.message,
        "environment variable \"hello.world\" has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
    );
    assert_eq!(error.mark.unwrap().line, 5);
    std::fs::write(&path, "x: ${https://example.com/config.yaml}\n").unwrap();
    let error = resolve(&[path.display().to_string()], &[], None).unwrap_err();
    assert!(
        error.message.starts_with("unsupported scheme \"https\""),
        "{error}"
    );
}
