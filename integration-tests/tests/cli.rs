//! `ferrotel validate` as otelcol's: exit 0 on a good config; exit 1 and an `Error:` on stderr that
//! names the file and line for each kind of mistake, including ones made by `--set` or by a later
//! `--config` file. (`components` and `--version` are covered by distro/tests/cli.rs.)

use ferrotel_integration_tests::procs::{self, write_file};
use std::path::Path;
use std::process::{Command, Output};

const GOOD: &str = "\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
processors:
  batch:
    timeout: 2s
exporters:
  debug:
    verbosity: basic
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
";

fn ferrotel(args: &[&str], configs: &[&Path]) -> Output {
    let mut command = Command::new(procs::ferrotel_bin());
    command.args(args);
    for config in configs {
        command.arg("--config").arg(config);
    }
    command.output().expect("run ferrotel")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Validates `text` saved as `name` and expects exit 1 with an `Error:` naming the file and `line`.
fn expect_invalid(name: &str, text: &str, line: usize, mentions: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), name, text);
    let output = ferrotel(&["validate"], &[&path]);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{name}: exit code; stderr:\n{err}"
    );
    assert!(
        err.contains("Error:"),
        "{name}: no `Error:` in stderr:\n{err}"
    );
    assert!(
        err.contains(&format!("{name}:{line}:")),
        "{name}: stderr does not point at {name}:{line}:\n{err}"
    );
    assert!(
        err.contains(mentions),
        "{name}: stderr does not mention {mentions:?}:\n{err}"
    );
}

#[test]
fn validate_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "good.yaml", GOOD);
    let output = ferrotel(&["validate"], &[&path]);
    assert!(
        output.status.success(),
        "validate failed on a good config:\n{}",
        stderr(&output)
    );
}

#[test]
fn validate_rejects_an_unknown_key_and_suggests_the_right_one() {
    expect_invalid(
        "typo.yaml",
        &GOOD.replace("    timeout: 2s", "    timout: 2s"),
        8,
        "timout",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "typo.yaml",
        &GOOD.replace("    timeout: 2s", "    timout: 2s"),
    );
    assert!(
        stderr(&ferrotel(&["validate"], &[&path])).contains("timeout"),
        "no suggestion of `timeout`"
    );
}

#[test]
fn validate_rejects_a_bad_value() {
    expect_invalid(
        "duration.yaml",
        &GOOD.replace("timeout: 2s", "timeout: soon"),
        8,
        "soon",
    );
}

#[test]
fn validate_rejects_an_unknown_component_type() {
    expect_invalid(
        "kind.yaml",
        &GOOD.replace("  debug:\n", "  nosuchexporter:\n"),
        10,
        "nosuchexporter",
    );
}

#[test]
fn validate_rejects_a_pipeline_naming_an_undefined_component() {
    expect_invalid(
        "undefined.yaml",
        &GOOD.replace(
            "exporters: [debug]",
            "exporters: [debug, otlp_grpc/missing]",
        ),
        17,
        "otlp_grpc/missing",
    );
}

#[test]
fn validate_rejects_broken_yaml() {
    expect_invalid(
        "syntax.yaml",
        &GOOD.replace("    verbosity: basic", "    verbosity: basic: loud"),
        11,
        "syntax.yaml",
    );
}

#[test]
fn validate_rejects_a_missing_file() {
    let output = ferrotel(&["validate"], &[Path::new("/nonexistent/ferrotel.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("Error:") && err.contains("/nonexistent/ferrotel.yaml"),
        "{err}"
    );
}

#[test]
fn set_overrides_a_value_after_merging() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "good.yaml", GOOD);
    let output = ferrotel(
        &["validate", "--set", "processors.batch.timeout=5s"],
        &[&path],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = ferrotel(
        &["validate", "--set", "processors.batch.timeout=later"],
        &[&path],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "a bad --set value must fail validation"
    );
    assert!(stderr(&output).contains("Error:"));
}

#[test]
fn several_configs_merge_later_ones_win() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_file(
        dir.path(),
        "base.yaml",
        &GOOD.replace("    timeout: 2s", "    timout: 2s"),
    );
    let fix = write_file(
        dir.path(),
        "fix.yaml",
        "processors:\n  batch:\n    timeout: 3s\n",
    );
    // The typo in base.yaml stays after merging: maps merge key by key.
    assert_eq!(
        ferrotel(&["validate"], &[&base, &fix]).status.code(),
        Some(1)
    );
    let good = write_file(dir.path(), "good.yaml", GOOD);
    let bad_timeout = write_file(
        dir.path(),
        "bad.yaml",
        "processors:\n  batch:\n    timeout: soon\n",
    );
    let output = ferrotel(&["validate"], &[&good, &bad_timeout]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("bad.yaml:3:"),
        "the error points at the file that set the value:\n{}",
        stderr(&output)
    );
    assert!(
        ferrotel(&["validate"], &[&bad_timeout, &good])
            .status
            .success(),
        "the later file wins"
    );
}
