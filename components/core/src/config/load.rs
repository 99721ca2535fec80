//! From `--config`/`--set` to a validated [`Config`]: resolve and merge the sources, read the
//! top level strictly (component ids, the `service` section, telemetry), then validate.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::de::decode_at;
use super::model::{
    ComponentConfig, Config, IdRef, PipelineConfig, PipelineId, ServiceConfig, TelemetryConfig,
};
use super::node::{Key, Node, NodeKind};
use super::{ConfigError, GoDuration, did_you_mean, resolve, validate};
use crate::component::{ComponentId, Registry};
use crate::signal::Signal;

/// A config ready to build, with the warnings found on the way (deprecated aliases, unused
/// components, unset environment variables, telemetry settings that are accepted but not acted on).
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Loads `sources` in order (a path, `file:`, `env:` or `yaml:`), applies `sets` (`--set`), and
/// validates the result against `registry`. `default` (name, YAML) is used when `sources` is empty.
pub fn load(
    sources: &[String],
    sets: &[String],
    registry: &Registry,
    default: Option<(&str, &str)>,
) -> Result<LoadedConfig, ConfigError> {
    let resolved = resolve::resolve(sources, sets, default)?;
    let mut warnings = resolved.warnings;
    let config = read_config(&resolved.root, &mut warnings)?;
    warnings.extend(validate::validate(&config, registry)?);
    Ok(LoadedConfig { config, warnings })
}

const TOP_LEVEL: &[&str] = &[
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
    "service",
];

/// `'<section>' has invalid keys: <key>` with a suggestion, as the decoder words it.
fn invalid_key(section: &str, key: &Key, valid: &[&str]) -> ConfigError {
    let mut message = if section.is_empty() {
        format!("has invalid keys: {}", key.name)
    } else {
        format!("'{section}' has invalid keys: {}", key.name)
    };
    if let Some(near) = did_you_mean(&key.name, valid.iter().copied()) {
        message.push_str(&format!(" (did you mean {near:?}?)"));
    }
    ConfigError::new(Some(key.mark.clone()), "", message)
}

fn expect_map<'a>(node: &'a Node, path: &str) -> Result<&'a [(Key, Node)], ConfigError> {
    match &node.kind {
        NodeKind::Map(entries) => Ok(entries),
        NodeKind::Null => Ok(&[]),
        _ => Err(ConfigError::new(
            Some(node.mark.clone()),
            path,
            format!("expected a map, got {}", node.describe()),
        )),
    }
}

/// The top level: the five component sections (bodies kept as nodes) and `service`.
pub fn read_config(root: &Node, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    for (key, value) in expect_map(root, "")? {
        let section = match key.name.as_str() {
            "receivers" => &mut config.receivers,
            "processors" => &mut config.processors,
            "exporters" => &mut config.exporters,
            "connectors" => &mut config.connectors,
            "extensions" => &mut config.extensions,
            "service" => {
                config.service = read_service(key, value, warnings)?;
                continue;
            }
            _ => return Err(invalid_key("", key, TOP_LEVEL)),
        };
        *section = read_components(&key.name, value)?;
    }
    Ok(config)
}

/// Parses an id, trimming blanks as otelcol does; a second spelling of the same id is an error.
fn parse_id(
    key: &Key,
    path: &str,
    seen: &[(ComponentId, &Key)],
) -> Result<ComponentId, ConfigError> {
    let id = ComponentId::parse(&key.name)
        .map_err(|e| ConfigError::new(Some(key.mark.clone()), path, e))?;
    if let Some((_, earlier)) = seen.iter().find(|(other, _)| *other == id) {
        let message = format!(
            "duplicate name {:?}: {:?} (line {}) and {:?} are the same id",
            id.to_string(),
            earlier.name,
            earlier.mark.line,
            key.name
        );
        return Err(ConfigError::new(Some(key.mark.clone()), path, message));
    }
    Ok(id)
}

fn read_components(section: &str, node: &Node) -> Result<Vec<ComponentConfig>, ConfigError> {
    let entries = expect_map(node, section)?;
    let mut seen: Vec<(ComponentId, &Key)> = Vec::new();
    let mut components = Vec::new();
    for (key, body) in entries {
        let id = parse_id(key, section, &seen)?;
        seen.push((id.clone(), key));
        components.push(ComponentConfig {
            id,
            mark: key.mark.clone(),
            node: body.clone(),
        });
    }
    Ok(components)
}

fn read_service(
    service_key: &Key,
    node: &Node,
    warnings: &mut Vec<String>,
) -> Result<ServiceConfig, ConfigError> {
    let mut service = ServiceConfig {
        pipelines_mark: Some(service_key.mark.clone()),
        ..ServiceConfig::default()
    };
    for (key, value) in expect_map(node, "service")? {
        match key.name.as_str() {
            "extensions" => service.extensions = read_id_list(value, "service::extensions")?,
            "pipelines" => {
                service.pipelines_mark = Some(key.mark.clone());
                service.pipelines = read_pipelines(value)?;
            }
            "telemetry" => service.telemetry = read_telemetry(value, warnings)?,
            _ => {
                return Err(invalid_key(
                    "service",
                    key,
                    &["extensions", "pipelines", "telemetry"],
                ));
            }
        }
    }
    Ok(service)
}

fn read_id_list(node: &Node, path: &str) -> Result<Vec<IdRef>, ConfigError> {
    let items: &[Node] = match &node.kind {
        NodeKind::Seq(items) => items,
        NodeKind::Null => &[],
        _ => {
            let message = format!("expected a list of component ids, got {}", node.describe());
            return Err(ConfigError::new(Some(node.mark.clone()), path, message));
        }
    };
    items
        .iter()
        .map(|item| {
            let text = item.as_str().ok_or_else(|| {
                ConfigError::new(
                    Some(item.mark.clone()),
                    path,
                    format!("expected a component id, got {}", item.describe()),
                )
            })?;
            let id = ComponentId::parse(text)
                .map_err(|e| ConfigError::new(Some(item.mark.clone()), path, e))?;
            Ok(IdRef {
                id,
                mark: item.mark.clone(),
            })
        })
        .collect()
}

fn read_pipelines(node: &Node) -> Result<Vec<PipelineConfig>, ConfigError> {
    let path = "service::pipelines";
    let mut seen: Vec<(ComponentId, &Key)> = Vec::new();
    let mut pipelines = Vec::new();
    for (key, body) in expect_map(node, path)? {
        let id = parse_id(key, path, &seen)?;
        seen.push((id.clone(), key));
        let Some(signal) = Signal::parse(&id.type_name) else {
            let valid = Signal::ALL.map(Signal::as_str);
            let mut message = format!(
                "unknown signal {:?} in pipeline id {:?} (valid values: [{}])",
                id.type_name,
                key.name,
                valid.join(", ")
            );
            if let Some(near) = did_you_mean(&id.type_name, valid) {
                message.push_str(&format!(" (did you mean {near:?}?)"));
            }
            return Err(ConfigError::new(Some(key.mark.clone()), path, message));
        };
        let id = PipelineId {
            signal,
            name: id.name,
        };
        let here = format!("{path}::{id}");
        let mut pipeline = PipelineConfig {
            id,
            mark: key.mark.clone(),
            receivers: Vec::new(),
            processors: Vec::new(),
            exporters: Vec::new(),
        };
        for (list_key, list) in expect_map(body, &here)? {
            let target = match list_key.name.as_str() {
                "receivers" => &mut pipeline.receivers,
                "processors" => &mut pipeline.processors,
                "exporters" => &mut pipeline.exporters,
                _ => {
                    let section = format!("service.pipelines.{}", pipeline.id);
                    return Err(invalid_key(
                        &section,
                        list_key,
                        &["receivers", "processors", "exporters"],
                    ));
                }
            };
            *target = read_id_list(list, &format!("{here}::{}", list_key.name))?;
        }
        pipelines.push(pipeline);
    }
    Ok(pipelines)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TelemetrySection {
    logs: LogsSection,
    metrics: MetricsSection,
    traces: TracesSection,
    /// The legacy inline map (`service.name: x`, null to drop an attribute) or the declarative
    /// form with `attributes: [{name, value}]`.
    resource: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
    Dpanic,
    Panic,
    Fatal,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum Encoding {
    #[default]
    Console,
    Json,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum Level {
    None,
    Basic,
    #[default]
    Normal,
    Detailed,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct LogsSection {
    level: LogLevel,
    encoding: Encoding,
    development: bool,
    disable_caller: bool,
    disable_stacktrace: bool,
    sampling: Option<Sampling>,
    output_paths: Option<Vec<String>>,
    error_output_paths: Option<Vec<String>>,
    initial_fields: BTreeMap<String, serde_json::Value>,
    processors: Vec<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[allow(dead_code)] // decoded to check keys and types; sampling itself is not acted on
struct Sampling {
    enabled: bool,
    tick: GoDuration,
    initial: u64,
    thereafter: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct MetricsSection {
    level: Level,
    readers: Option<Vec<Reader>>,
    views: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Reader {
    pull: Option<PullReader>,
    periodic: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct PullReader {
    exporter: PullExporter,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct PullExporter {
    prometheus: Option<Prometheus>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[allow(dead_code)] // the naming options are accepted; ferrotel's exposition is fixed
struct Prometheus {
    host: Option<String>,
    port: Option<u16>,
    without_scope_info: bool,
    without_type_suffix: bool,
    without_units: bool,
    without_target_info: bool,
    with_resource_constant_labels: Option<serde_json::Value>,
    translation_strategy: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TracesSection {
    level: Level,
    propagators: Vec<String>,
    processors: Vec<serde_json::Value>,
}

fn read_telemetry(node: &Node, warnings: &mut Vec<String>) -> Result<TelemetryConfig, ConfigError> {
    let path = "service::telemetry";
    let section: TelemetrySection = decode_at(node, path)?;
    let mut warn = |what: &str| {
        warnings.push(format!(
            "{}: {path}::{what} is accepted but not acted on",
            node.mark
        ))
    };
    let logs = &section.logs;
    if logs.sampling.is_some() {
        warn("logs::sampling");
    }
    let std_streams = |paths: &Option<Vec<String>>| {
        paths
            .iter()
            .flatten()
            .all(|p| p == "stderr" || p == "stdout")
    };
    if !std_streams(&logs.output_paths) {
        warn("logs::output_paths (logs go to stderr)");
    }
    if !std_streams(&logs.error_output_paths) {
        warn("logs::error_output_paths (logs go to stderr)");
    }
    if !logs.processors.is_empty() {
        warn("logs::processors");
    }
    if !section.traces.processors.is_empty() {
        warn("traces::processors");
    }
    let metrics = &section.metrics;
    let mark_of = |name: &str| {
        let key = node
            .get("metrics")
            .and_then(|m| m.entries().find(|(k, _)| k.name == name))
            .map(|(k, _)| &k.mark);
        Some(key.unwrap_or(&node.mark).clone())
    };
    if metrics.views.is_some() && metrics.level != Level::Detailed {
        let message = "service::telemetry::metrics::views can only be set when service::telemetry::metrics::level is detailed";
        return Err(ConfigError::new(mark_of("views"), "", message));
    }
    if metrics.views.is_some() {
        warn("metrics::views");
    }
    let metrics_endpoint = match &metrics.readers {
        _ if metrics.level == Level::None => None,
        None => Some("localhost:8888".to_owned()),
        Some(readers) if readers.is_empty() => {
            let message =
                "collector telemetry metrics reader should exist when metric level is not none";
            return Err(ConfigError::new(mark_of("readers"), "", message));
        }
        Some(readers) => {
            if readers.iter().any(|r| r.periodic.is_some()) {
                warn(
                    "metrics::readers[]::periodic (only a pull reader with a prometheus exporter is served)",
                );
            }
            readers
                .iter()
                .find_map(|r| r.pull.as_ref()?.exporter.prometheus.as_ref())
                .map(|prometheus| {
                    let host = prometheus
                        .host
                        .as_deref()
                        .filter(|h| !h.is_empty())
                        .unwrap_or("localhost");
                    let port = prometheus.port.unwrap_or(8888);
                    if host.contains(':') && !host.starts_with('[') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    }
                })
        }
    };
    let level_name = |level: Level| format!("{level:?}").to_lowercase();
    Ok(TelemetryConfig {
        logs_level: format!("{:?}", logs.level).to_lowercase(),
        logs_encoding: format!("{:?}", logs.encoding).to_lowercase(),
        metrics_level: level_name(metrics.level),
        metrics_endpoint,
        resource: resource_attributes(&section.resource),
    })
}

fn attribute_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn resource_attributes(resource: &BTreeMap<String, serde_json::Value>) -> Vec<(String, String)> {
    if let Some(serde_json::Value::Array(list)) = resource.get("attributes") {
        return list
            .iter()
            .filter_map(|attribute| {
                let name = attribute.get("name")?.as_str()?.to_owned();
                Some((name, attribute_text(attribute.get("value")?)?))
            })
            .collect();
    }
    resource
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), attribute_text(value)?)))
        .collect()
}
