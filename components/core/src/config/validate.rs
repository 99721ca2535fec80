//! otelcol's config checks, run by [`super::load`] before anything is built: known component
//! types, each component's own settings, references between sections, pipeline shape, signal
//! support, connector use and cycles. Messages are worded as otelcol's; each names where it was
//! written.

use std::collections::HashMap;

use super::model::{ComponentConfig, Config, IdRef, PipelineConfig};
use super::node::Mark;
use super::{ConfigError, did_you_mean};
use crate::component::{ComponentId, Kind, Registry, Stability};
use crate::signal::Signal;

/// Checks `config` against the factories in `registry`; returns warnings (deprecated aliases,
/// unused components) or the first problem found.
pub fn validate(config: &Config, registry: &Registry) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    for kind in Kind::ALL {
        for component in config.section(kind) {
            check_component(kind, component, registry, &mut warnings)?;
        }
    }
    check_sections(config)?;
    for extension in &config.service.extensions {
        check_reference(config, extension, &[Kind::Extension], "service::extensions")?;
    }
    check_pipelines(config, registry)?;
    check_connectors(config, registry)?;
    find_cycle(config, registry)?;
    warn_unused(config, &mut warnings);
    Ok(warnings)
}

fn suggest(message: &mut String, wrong: &str, candidates: impl IntoIterator<Item = String>) {
    let candidates: Vec<String> = candidates.into_iter().collect();
    if let Some(near) = did_you_mean(wrong, candidates.iter().map(String::as_str)) {
        message.push_str(&format!(" (did you mean {near:?}?)"));
    }
}

fn check_component(
    kind: Kind,
    component: &ComponentConfig,
    registry: &Registry,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let type_name = &component.id.type_name;
    let path = format!("{}::{}", kind.section(), component.id);
    let Some((factory, alias)) = registry.factory(kind, type_name) else {
        if type_name == "logging" {
            let message =
                "the logging exporter has been deprecated, use the debug exporter instead";
            return Err(ConfigError::new(
                Some(component.mark.clone()),
                kind.section(),
                message,
            ));
        }
        let all = registry.type_names(kind);
        let primary: Vec<&str> = all
            .iter()
            .copied()
            .filter(|t| matches!(registry.factory(kind, t), Some((_, false))))
            .collect();
        let mut message = format!(
            "unknown type: {type_name:?} for id: {:?} (valid values: [{}])",
            component.id.to_string(),
            primary.join(", ")
        );
        suggest(&mut message, type_name, all.iter().map(|t| t.to_string()));
        if let Some(other) = Kind::ALL
            .into_iter()
            .find(|k| *k != kind && registry.factory(*k, type_name).is_some())
        {
            message.push_str(&format!(
                "; {type_name:?} exists under {}, not {}",
                other.section(),
                kind.section()
            ));
        }
        return Err(ConfigError::new(
            Some(component.mark.clone()),
            kind.section(),
            message,
        ));
    };
    if alias {
        warnings.push(format!(
            "{}: {path}: {type_name:?} alias is deprecated; use {:?} instead",
            component.mark,
            factory.type_name()
        ));
    }
    factory.validate(&component.node).map_err(|e| {
        let full = if e.path.is_empty() {
            path.clone()
        } else {
            format!("{path}::{}", e.path)
        };
        ConfigError::new(
            e.mark.or_else(|| Some(component.mark.clone())),
            full,
            e.message,
        )
    })
}

fn check_sections(config: &Config) -> Result<(), ConfigError> {
    if Kind::ALL
        .iter()
        .all(|kind| config.section(*kind).is_empty())
    {
        return Err(ConfigError::new(None, "", "empty configuration file"));
    }
    if config.receivers.is_empty() {
        return Err(ConfigError::new(
            None,
            "",
            "no receiver configuration specified in config",
        ));
    }
    if config.exporters.is_empty() {
        return Err(ConfigError::new(
            None,
            "",
            "no exporter configuration specified in config",
        ));
    }
    for connector in &config.connectors {
        for kind in [Kind::Exporter, Kind::Receiver] {
            if config.component(kind, &connector.id).is_some() {
                let id = connector.id.to_string();
                let message = format!(
                    "ambiguous ID: Found both {id:?} {kind} and {id:?} connector. Change one of the components' IDs to \
                     eliminate ambiguity (e.g. rename {id:?} connector to \"{id}/connector\")"
                );
                return Err(ConfigError::new(
                    Some(connector.mark.clone()),
                    format!("connectors::{id}"),
                    message,
                ));
            }
        }
    }
    Ok(())
}

/// `reference` must name a configured component of one of `kinds` (the first is the one named in
/// the error: a pipeline's receiver may also be a connector).
fn check_reference(
    config: &Config,
    reference: &IdRef,
    kinds: &[Kind],
    path: &str,
) -> Result<(), ConfigError> {
    if kinds
        .iter()
        .any(|kind| config.component(*kind, &reference.id).is_some())
    {
        return Ok(());
    }
    let id = reference.id.to_string();
    let mut message = format!("references {} {id:?} which is not configured", kinds[0]);
    let configured = kinds
        .iter()
        .flat_map(|kind| config.section(*kind))
        .map(|c| c.id.to_string());
    suggest(&mut message, &id, configured);
    Err(ConfigError::new(
        Some(reference.mark.clone()),
        path,
        message,
    ))
}

fn is_connector(config: &Config, id: &ComponentId) -> bool {
    config.component(Kind::Connector, id).is_some()
}

fn check_pipelines(config: &Config, registry: &Registry) -> Result<(), ConfigError> {
    let pipelines = &config.service.pipelines;
    if pipelines.is_empty() {
        let mark = config.service.pipelines_mark.clone();
        return Err(ConfigError::new(
            mark,
            "service::pipelines",
            "service must have at least one pipeline",
        ));
    }
    for pipeline in pipelines {
        let path = format!("service::pipelines::{}", pipeline.id);
        let fail = |mark: &Mark, message: String| {
            ConfigError::new(Some(mark.clone()), path.clone(), message)
        };
        if pipeline.receivers.is_empty() {
            return Err(fail(
                &pipeline.mark,
                "must have at least one receiver".into(),
            ));
        }
        if pipeline.exporters.is_empty() {
            return Err(fail(
                &pipeline.mark,
                "must have at least one exporter".into(),
            ));
        }
        for receiver in &pipeline.receivers {
            check_reference(config, receiver, &[Kind::Receiver, Kind::Connector], &path)?;
        }
        for processor in &pipeline.processors {
            check_reference(config, processor, &[Kind::Processor], &path)?;
        }
        for exporter in &pipeline.exporters {
            check_reference(config, exporter, &[Kind::Exporter, Kind::Connector], &path)?;
        }
        for (index, processor) in pipeline.processors.iter().enumerate() {
            if pipeline.processors[..index]
                .iter()
                .any(|earlier| earlier.id == processor.id)
            {
                return Err(fail(
                    &processor.mark,
                    format!(
                        "references processor {:?} multiple times",
                        processor.id.to_string()
                    ),
                ));
            }
        }
        let signal = pipeline.id.signal;
        let lists = [
            (Kind::Receiver, &pipeline.receivers),
            (Kind::Processor, &pipeline.processors),
            (Kind::Exporter, &pipeline.exporters),
        ];
        for (kind, refs) in lists {
            for reference in refs.iter().filter(|r| !is_connector(config, &r.id)) {
                let supported = signals(registry, kind, &reference.id.type_name);
                if !supported.iter().any(|(s, _)| *s == signal) {
                    let names: Vec<&str> = supported.iter().map(|(s, _)| s.as_str()).collect();
                    let message = format!(
                        "{kind} {:?} does not support data type {:?}: telemetry type is not supported (supported: {})",
                        reference.id.to_string(),
                        signal.as_str(),
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    );
                    return Err(fail(&reference.mark, message));
                }
            }
        }
    }
    Ok(())
}

fn signals(registry: &Registry, kind: Kind, type_name: &str) -> &'static [(Signal, Stability)] {
    let found = match kind {
        Kind::Receiver => registry.receiver(type_name).map(|(f, _)| f.signals()),
        Kind::Processor => registry.processor(type_name).map(|(f, _)| f.signals()),
        Kind::Exporter => registry.exporter(type_name).map(|(f, _)| f.signals()),
        Kind::Connector | Kind::Extension => None,
    };
    found.unwrap_or(&[])
}

fn supports_pair(registry: &Registry, id: &ComponentId, from: Signal, to: Signal) -> bool {
    registry
        .connector(&id.type_name)
        .is_some_and(|(f, _)| f.pairs().iter().any(|(a, b, _)| *a == from && *b == to))
}

/// Pipelines listing `id` as an exporter (`as_exporter`) or as a receiver, with the list entry.
fn uses<'a>(
    config: &'a Config,
    id: &ComponentId,
    as_exporter: bool,
) -> Vec<(&'a PipelineConfig, &'a IdRef)> {
    let list = |p: &'a PipelineConfig| {
        if as_exporter {
            &p.exporters
        } else {
            &p.receivers
        }
    };
    config
        .service
        .pipelines
        .iter()
        .filter_map(|p| Some((p, list(p).iter().find(|r| &r.id == id)?)))
        .collect()
}

/// Each way a connector is used must be matched by a supported use on its other side.
fn check_connectors(config: &Config, registry: &Registry) -> Result<(), ConfigError> {
    for connector in &config.connectors {
        let id = &connector.id;
        let as_exporter = uses(config, id, true);
        let as_receiver = uses(config, id, false);
        let sides = [
            (&as_exporter, &as_receiver, "exporter", "receiver"),
            (&as_receiver, &as_exporter, "receiver", "exporter"),
        ];
        for (this_side, other_side, role, other_role) in sides {
            let mut seen = Vec::new();
            for (pipeline, reference) in this_side {
                let signal = pipeline.id.signal;
                if seen.contains(&signal) {
                    continue;
                }
                seen.push(signal);
                let matched = other_side.iter().any(|(other, _)| {
                    let (from, to) = if role == "exporter" {
                        (signal, other.id.signal)
                    } else {
                        (other.id.signal, signal)
                    };
                    supports_pair(registry, id, from, to)
                });
                if !matched {
                    let names: Vec<String> = this_side
                        .iter()
                        .filter(|(p, _)| p.id.signal == signal)
                        .map(|(p, _)| p.id.to_string())
                        .collect();
                    let message = format!(
                        "connector {:?} used as {role} in [{}] pipeline but not used in any supported {other_role} pipeline",
                        id.to_string(),
                        names.join(" ")
                    );
                    return Err(ConfigError::new(Some(reference.mark.clone()), "", message));
                }
            }
        }
    }
    Ok(())
}

/// A node of the data-flow graph otelcol builds: what a cycle report names, plus each pipeline's
/// entry (after its receivers) and fan-out (before its exporters).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Step {
    Connector(ComponentId, Signal, Signal),
    Processor(usize, usize),
    Entry(usize),
    FanOut(usize),
}

/// Data must not flow from a connector back into itself: otelcol's "cycle detected".
fn find_cycle(config: &Config, registry: &Registry) -> Result<(), ConfigError> {
    let pipelines = &config.service.pipelines;
    let mut steps: Vec<Step> = Vec::new();
    let mut index: HashMap<Step, usize> = HashMap::new();
    let mut edges: Vec<Vec<usize>> = Vec::new();
    let mut node = |step: Step, steps: &mut Vec<Step>, edges: &mut Vec<Vec<usize>>| {
        *index.entry(step.clone()).or_insert_with(|| {
            steps.push(step);
            edges.push(Vec::new());
            steps.len() - 1
        })
    };
    for (p, pipeline) in pipelines.iter().enumerate() {
        let mut previous = node(Step::Entry(p), &mut steps, &mut edges);
        for q in 0..pipeline.processors.len() {
            let next = node(Step::Processor(p, q), &mut steps, &mut edges);
            edges[previous].push(next);
            previous = next;
        }
        let fan_out = node(Step::FanOut(p), &mut steps, &mut edges);
        edges[previous].push(fan_out);
        let signal = pipeline.id.signal;
        for exporter in pipeline
            .exporters
            .iter()
            .filter(|e| is_connector(config, &e.id))
        {
            for (target, downstream) in pipelines.iter().enumerate() {
                if !downstream.receivers.iter().any(|r| r.id == exporter.id) {
                    continue;
                }
                let to = downstream.id.signal;
                if supports_pair(registry, &exporter.id, signal, to) {
                    let connector = node(
                        Step::Connector(exporter.id.clone(), signal, to),
                        &mut steps,
                        &mut edges,
                    );
                    let entry = node(Step::Entry(target), &mut steps, &mut edges);
                    edges[fan_out].push(connector);
                    edges[connector].push(entry);
                }
            }
        }
    }
    let Some(cycle) = first_cycle(&edges) else {
        return Ok(());
    };
    let start = cycle
        .iter()
        .position(|&n| matches!(steps[n], Step::Connector(..)))
        .unwrap_or(0);
    let mut ordered: Vec<usize> = cycle[start..]
        .iter()
        .chain(&cycle[..start])
        .copied()
        .collect();
    ordered.push(ordered[0]);
    let names: Vec<String> = ordered
        .iter()
        .filter_map(|&n| match &steps[n] {
            Step::Connector(id, from, to) => {
                Some(format!("connector {:?} ({from} to {to})", id.to_string()))
            }
            Step::Processor(p, q) => {
                let pipeline = &pipelines[*p];
                Some(format!(
                    "processor {:?} in pipeline {:?}",
                    pipeline.processors[*q].id.to_string(),
                    pipeline.id.to_string()
                ))
            }
            Step::Entry(_) | Step::FanOut(_) => None,
        })
        .collect();
    let mark = match &steps[ordered[0]] {
        Step::Connector(id, from, _) => pipelines
            .iter()
            .filter(|p| p.id.signal == *from)
            .find_map(|p| p.exporters.iter().find(|e| &e.id == id))
            .map(|e| e.mark.clone()),
        _ => None,
    };
    Err(ConfigError::new(
        mark,
        "",
        format!("cycle detected: {}", names.join(" -> ")),
    ))
}

/// A cycle in the graph (its nodes in flow order), found by depth-first search.
fn first_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; edges.len()];
    for root in 0..edges.len() {
        if state[root] != State::New {
            continue;
        }
        // (node, next edge to follow); the stack is the current path.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::OnPath;
        while let Some((node, edge)) = stack.last().copied() {
            match edges[node].get(edge) {
                Some(&next) => {
                    stack.last_mut().expect("non-empty").1 += 1;
                    match state[next] {
                        State::OnPath => {
                            let from = stack
                                .iter()
                                .position(|(n, _)| *n == next)
                                .expect("on the path");
                            return Some(stack[from..].iter().map(|(n, _)| *n).collect());
                        }
                        State::New => {
                            state[next] = State::OnPath;
                            stack.push((next, 0));
                        }
                        State::Done => {}
                    }
                }
                None => {
                    state[node] = State::Done;
                    stack.pop();
                }
            }
        }
    }
    None
}

fn warn_unused(config: &Config, warnings: &mut Vec<String>) {
    let pipelines = &config.service.pipelines;
    let used = |kind: Kind, id: &ComponentId| {
        pipelines.iter().any(|p| {
            let in_receivers = p.receivers.iter().any(|r| &r.id == id);
            let in_exporters = p.exporters.iter().any(|r| &r.id == id);
            match kind {
                Kind::Receiver => in_receivers,
                Kind::Processor => p.processors.iter().any(|r| &r.id == id),
                Kind::Exporter => in_exporters,
                Kind::Connector => in_receivers || in_exporters,
                Kind::Extension => config.service.extensions.iter().any(|e| &e.id == id),
            }
        }) || (kind == Kind::Extension && config.service.extensions.iter().any(|e| &e.id == id))
    };
    for kind in Kind::ALL {
        for component in config.section(kind).iter().filter(|c| !used(kind, &c.id)) {
            let place = if kind == Kind::Extension {
                "enabled in service::extensions"
            } else {
                "used in any pipeline"
            };
            warnings.push(format!(
                "{}: {}::{}: {kind} {:?} is configured but not {place}",
                component.mark,
                kind.section(),
                component.id,
                component.id.to_string()
            ));
        }
    }
}
