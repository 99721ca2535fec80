//! `ferrotel print-config`: the merged, resolved config (after `--set` and `${…}` expansion) as
//! YAML or JSON, validated first unless `--validate=false`, as otelcol's `print-config`.
//!
//! In the default `redacted` mode every secret is printed as `[REDACTED]`. otelcol knows its
//! secrets from the config types (`configopaque`); ferrotel prints the resolved tree, so the
//! secrets are named here, in three simple rules that cover the components it ships:
//! - [`SECRET_KEYS`]: a key with one of these names holds a secret wherever it appears;
//! - under an exporter, every value of `headers` is a secret (configopaque's header map);
//! - [`COMPONENT_SECRETS`]: a path that is secret in one component type only.
//!
//! A component with a new secret key adds its name or path to these lists.

use anyhow::Context;
use ferrotel_core::config::opaque::REDACTED;
use ferrotel_core::config::{self, Node, NodeKind};
use yaml_rust2::{Yaml, YamlEmitter};

use crate::cli::ConfigArgs;

/// Keys that hold a secret wherever they appear.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "tokens",
    "key_pem",
    "client_secret",
    "bearer_token",
    "api_key",
    "access_token",
    "secret_key",
    "private_key",
];

/// (section, component type, path below the component) that hold a secret.
pub const COMPONENT_SECRETS: &[(&str, &str, &[&str])] = &[
    // htpasswd accepts plaintext passwords.
    ("extensions", "basicauth", &["htpasswd", "inline"]),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Redacted,
    Unredacted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

pub fn print_config(
    args: &ConfigArgs,
    mode: Mode,
    format: Format,
    validate: bool,
) -> anyhow::Result<()> {
    if validate {
        // The same checks as `ferrotel validate`, so that nothing invalid is shown as if it ran.
        crate::run::validate(args)?;
    }
    let resolved = config::resolve::resolve(
        &args.configs,
        &args.sets,
        Some(("<default config>", crate::run::DEFAULT_CONFIG)),
    )
    .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
    let mut root = resolved.root;
    if mode == Mode::Redacted {
        redact_config(&mut root);
    }
    print!("{}", render(&root, format)?);
    Ok(())
}

/// Replaces every secret in a whole config tree by `[REDACTED]`.
pub fn redact_config(root: &mut Node) {
    walk(root, &mut Vec::new());
}

fn walk(node: &mut Node, path: &mut Vec<String>) {
    let NodeKind::Map(entries) = &mut node.kind else {
        if let NodeKind::Seq(items) = &mut node.kind {
            for item in items {
                walk(item, path);
            }
        }
        return;
    };
    for (key, value) in entries {
        path.push(key.name.clone());
        if is_exporter_headers(path) {
            redact_header_values(value);
        } else if is_secret(path) {
            redact_all(value);
        } else {
            walk(value, path);
        }
        path.pop();
    }
}

/// `path` is the keys from the top: `exporters`, `otlp_http/x`, `headers`, ….
fn is_secret(path: &[String]) -> bool {
    let key = path.last().map(String::as_str).unwrap_or("");
    if SECRET_KEYS.contains(&key) {
        return true;
    }
    if is_exporter_headers(path) {
        return true;
    }
    let (Some(section), Some(id)) = (path.first(), path.get(1)) else {
        return false;
    };
    let type_name = id.split('/').next().unwrap_or("").trim();
    COMPONENT_SECRETS.iter().any(|(s, t, below)| {
        s == section && *t == type_name && path.len() == 2 + below.len() && path[2..] == **below
    })
}

fn is_exporter_headers(path: &[String]) -> bool {
    path.len() == 3 && path[0] == "exporters" && path[2] == "headers"
}

/// `headers` is a map of names to values, or a list of `{name, value}`: the names stay.
fn redact_header_values(node: &mut Node) {
    match &mut node.kind {
        NodeKind::Seq(items) => {
            for item in items {
                match &mut item.kind {
                    NodeKind::Map(entries) => entries
                        .iter_mut()
                        .filter(|(k, _)| k.name != "name")
                        .for_each(|(_, v)| redact_all(v)),
                    _ => redact_all(item),
                }
            }
        }
        _ => redact_all(node),
    }
}

fn redact_all(node: &mut Node) {
    match &mut node.kind {
        NodeKind::Null => {}
        NodeKind::Scalar { value, quoted } => {
            *value = REDACTED.to_owned();
            *quoted = true;
        }
        NodeKind::Seq(items) => items.iter_mut().for_each(redact_all),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(_, v)| redact_all(v)),
    }
}

pub fn render(root: &Node, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Yaml => {
            let mut out = String::new();
            YamlEmitter::new(&mut out)
                .dump(&to_yaml(root))
                .context("failed to write the config as YAML")?;
            let body = out
                .strip_prefix("---")
                .unwrap_or(&out)
                .trim_start_matches('\n');
            Ok(format!("{body}\n"))
        }
        Format::Json => Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&to_json(root))?
        )),
    }
}

/// Plain scalars keep their exact text (the emitter writes a `Real` verbatim), so that `0123` or
/// `1e3` print as written rather than as the number YAML would make of them.
fn to_yaml(node: &Node) -> Yaml {
    match &node.kind {
        NodeKind::Null => Yaml::Null,
        NodeKind::Scalar {
            value,
            quoted: true,
        } => Yaml::String(value.clone()),
        NodeKind::Scalar {
            value,
            quoted: false,
        } => match Yaml::from_str(value) {
            Yaml::String(text) => Yaml::String(text),
            _ => Yaml::Real(value.clone()),
        },
        NodeKind::Seq(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        NodeKind::Map(entries) => Yaml::Hash(
            entries
                .iter()
                .map(|(k, v)| (Yaml::String(k.name.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Scalar {
            value,
            quoted: true,
        } => Value::String(value.clone()),
        NodeKind::Scalar {
            value,
            quoted: false,
        } => match Yaml::from_str(value) {
            Yaml::Integer(i) => Value::from(i),
            Yaml::Boolean(b) => Value::Bool(b),
            Yaml::Real(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.clone()), Value::Number),
            _ => Value::String(value.clone()),
        },
        NodeKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(yaml: &str) -> String {
        let mut root = Node::parse(yaml, "t.yaml").unwrap();
        redact_config(&mut root);
        render(&root, Format::Yaml).unwrap()
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_is_kept() {
        let out = redacted(
            "extensions:\n  bearertokenauth:\n    token: tok-s3cr3t\n    tokens: [a-s3cr3t, b-s3cr3t]\n  basicauth/server:\n    htpasswd:\n      file: /etc/htpasswd\n      inline: \"u:plain-s3cr3t\"\n  basicauth/client:\n    client_auth:\n      username: bob\n      password: pw-s3cr3t\n\
             exporters:\n  otlp_http:\n    endpoint: https://x:4318\n    headers:\n      x-api-key: hdr-s3cr3t\n    tls:\n      key_pem: key-s3cr3t\n  otlp_grpc/list:\n    headers:\n      - name: x\n        value: list-s3cr3t\n\
             receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:4317\n        max_recv_msg_size_mib: 0123\n",
        );
        assert!(!out.contains("s3cr3t"), "{out}");
        for kept in [
            "bob",
            "/etc/htpasswd",
            "x-api-key",
            "https://x:4318",
            "max_recv_msg_size_mib: 0123",
            "name: x",
        ] {
            assert!(out.contains(kept), "{kept}: {out}");
        }
        assert_eq!(out.matches(REDACTED).count(), 8, "{out}");
    }

    #[test]
    fn headers_are_secret_under_exporters_only() {
        assert!(is_secret(&[
            "exporters".into(),
            "otlp".into(),
            "headers".into()
        ]));
        assert!(!is_secret(&[
            "receivers".into(),
            "x".into(),
            "headers".into()
        ]));
        assert!(is_secret(&[
            "extensions".into(),
            "basicauth/s".into(),
            "htpasswd".into(),
            "inline".into()
        ]));
        assert!(!is_secret(&[
            "extensions".into(),
            "other".into(),
            "htpasswd".into(),
            "inline".into()
        ]));
    }

    #[test]
    fn json_types_plain_scalars() {
        let root = Node::parse("a: 1\nb: \"1\"\nc: true\nd: 2.5\ne: text\nf:\n", "t.yaml").unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&render(&root, Format::Json).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": 1, "b": "1", "c": true, "d": 2.5, "e": "text", "f": null})
        );
    }
}
