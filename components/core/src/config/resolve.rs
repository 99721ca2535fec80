//! otelcol's config resolution: every `--config` source parsed, merged in order (maps deep-merge,
//! anything else is replaced, later wins), `--set` overrides merged last, then `${…}` expanded.

use std::collections::BTreeSet;

use super::ConfigError;
use super::node::{Key, Mark, Node, NodeKind};

/// The merged, expanded tree, and what the user should hear about it.
#[derive(Debug)]
pub struct Resolved {
    pub root: Node,
    pub warnings: Vec<String>,
}

/// Resolves `sources` (paths, `file:`, `env:` or `yaml:` URIs) and `sets` (`--set key.path=value`).
/// `default` (a name and YAML text) stands in when no source is given.
pub fn resolve(
    sources: &[String],
    sets: &[String],
    default: Option<(&str, &str)>,
) -> Result<Resolved, ConfigError> {
    let mut layers = Vec::new();
    match default {
        Some((name, text)) if sources.is_empty() => layers.push(Node::parse(text, name)?),
        None if sources.is_empty() => {
            return Err(ConfigError::new(
                None,
                "",
                "at least one config flag must be provided",
            ));
        }
        _ => {}
    }
    for source in sources {
        layers.push(load_source(source)?);
    }
    for (index, set) in sets.iter().enumerate() {
        layers.push(parse_set(set, index + 1)?);
    }
    let mut layers = layers.into_iter();
    let mut root = layers.next().expect("at least one layer");
    for layer in layers {
        root = merge(root, layer);
    }
    let mut expander = Expander::default();
    let root = expander.node(root, "", 0)?;
    Ok(Resolved {
        root,
        warnings: expander.warnings,
    })
}

fn scheme_of(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = scheme.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    valid.then_some((scheme, rest))
}

/// One `--config` value. A value without a scheme is a file path, as in otelcol.
pub fn load_source(source: &str) -> Result<Node, ConfigError> {
    let node = match scheme_of(source) {
        None => read_file(source, source)?,
        Some(("file", path)) => read_file(path, source)?,
        Some(("env", name)) => match std::env::var(name) {
            Ok(text) => Node::parse(&text, source)?,
            Err(_) => {
                return Err(ConfigError::new(
                    None,
                    "",
                    format!("config source {source:?}: environment variable {name:?} is not set"),
                ));
            }
        },
        Some(("yaml", text)) => unflatten(Node::parse(text, source)?),
        Some((scheme, _)) => {
            let message = format!(
                "config source {source:?}: unsupported scheme {scheme:?} (supported: file, env, yaml)"
            );
            return Err(ConfigError::new(None, "", message));
        }
    };
    match node.kind {
        NodeKind::Map(_) | NodeKind::Null => Ok(node),
        _ => Err(ConfigError::new(
            Some(node.mark.clone()),
            "",
            format!("the config must be a map, got {}", node.describe()),
        )),
    }
}

fn read_file(path: &str, name: &str) -> Result<Node, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(None, "", format!("cannot read config file {path:?}: {e}"))
    })?;
    Node::parse(&text, name)
}

/// `--set key.path=value` (or `key::path=value`): a one-key map whose value is parsed as YAML. Its
/// marks name `--set`, with the flag's position (1 for the first `--set`) as the line.
pub fn parse_set(set: &str, position: usize) -> Result<Node, ConfigError> {
    let mark = Mark::new("--set", position, 1);
    let fail = |message: String| {
        ConfigError::new(Some(mark.clone()), "", format!("--set {set:?}: {message}"))
    };
    let (key, value) = set
        .split_once('=')
        .ok_or_else(|| fail("missing equal sign".into()))?;
    let separator = if key.contains("::") { "::" } else { "." };
    let path: Vec<&str> = key.trim().split(separator).map(str::trim).collect();
    if path.iter().any(|segment| segment.is_empty()) {
        return Err(fail(format!("empty key segment in {:?}", key.trim())));
    }
    let mut node = Node::parse(value.trim(), "--set").map_err(|e| fail(e.message))?;
    node.set_mark_deep(&mark);
    for segment in path.iter().rev() {
        node = Node::map(
            vec![(
                Key {
                    name: (*segment).to_owned(),
                    mark: mark.clone(),
                },
                node,
            )],
            mark.clone(),
        );
    }
    Ok(node)
}

/// Keys written `a::b::c` at the top of a `yaml:` source are nested maps, as confmap reads them.
fn unflatten(node: Node) -> Node {
    let NodeKind::Map(entries) = node.kind else {
        return node;
    };
    let mut out = Node::map(Vec::new(), node.mark.clone());
    for (key, value) in entries {
        let mut nested = value;
        for segment in key.name.split("::").collect::<Vec<_>>().into_iter().rev() {
            let (key, mark) = (
                Key {
                    name: segment.to_owned(),
                    mark: key.mark.clone(),
                },
                nested.mark.clone(),
            );
            nested = Node::map(vec![(key, nested)], mark);
        }
        out = merge(out, nested);
    }
    out
}

/// Deep-merges `over` onto `base`: maps merge key by key, anything else is replaced by `over`.
pub fn merge(base: Node, over: Node) -> Node {
    match (base.kind, over.kind) {
        (NodeKind::Map(mut entries), NodeKind::Map(overrides)) => {
            for (key, value) in overrides {
                match entries.iter().position(|(k, _)| k.name == key.name) {
                    Some(at) => {
                        let (earlier_key, earlier) = entries.remove(at);
                        // A section merged into keeps where it was first declared; a replaced
                        // value is reported where its replacement was written.
                        let key = if earlier.is_map() && value.is_map() {
                            earlier_key
                        } else {
                            key
                        };
                        entries.insert(at, (key, merge(earlier, value)));
                    }
                    None => entries.push((key, value)),
                }
            }
            Node::map(entries, base.mark)
        }
        (_, kind) => Node {
            kind,
            mark: over.mark,
        },
    }
}

/// Past this depth a value keeps expanding into itself (`A=${env:A}`).
const MAX_DEPTH: usize = 100;

#[derive(Default)]
struct Expander {
    warnings: Vec<String>,
    unset: BTreeSet<String>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}::{key}")
    }
}

/// The index of the `}` closing a `${` whose body starts at `from`; `$$` escapes are skipped and
/// braces inside nest, so `${env:X:-{a: b}}` and `${env:X:-$${Y}}` close where they should.
fn closing_brace(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, from);
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Expander {
    fn node(&mut self, node: Node, path: &str, depth: usize) -> Result<Node, ConfigError> {
        let mark = node.mark;
        let kind = match node.kind {
            NodeKind::Scalar { value, quoted } if value.contains('$') => {
                return self.scalar(value, quoted, mark, path, depth);
            }
            NodeKind::Seq(items) => NodeKind::Seq(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.node(item, &format!("{path}[{i}]"), depth))
                    .collect::<Result<_, _>>()?,
            ),
            NodeKind::Map(entries) => NodeKind::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let value = self.node(value, &join(path, &key.name), depth)?;
                        Ok((key, value))
                    })
                    .collect::<Result<_, ConfigError>>()?,
            ),
            other => other,
        };
        Ok(Node { kind, mark })
    }

    /// A scalar that is exactly one `${…}` takes the retrieved value's YAML type (a list, a map, a
    /// number); inside a longer text the value is spliced in as text.
    fn scalar(
        &mut self,
        text: String,
        quoted: bool,
        mark: Mark,
        path: &str,
        depth: usize,
    ) -> Result<Node, ConfigError> {
        if text.starts_with("${") && closing_brace(&text, 2) == Some(text.len() - 1) {
            let Some((raw, label)) = self.retrieve(&text[2..text.len() - 1], &mark, path, depth)?
            else {
                return Ok(Node::null(mark));
            };
            let mut value =
                Node::parse(&raw, &label).unwrap_or_else(|_| Node::string(raw, mark.clone()));
            value.set_mark_deep(&mark);
            return self.node(value, path, depth + 1);
        }
        let (expanded, substituted) = self.text(&text, &mark, path, depth)?;
        Ok(Node {
            kind: NodeKind::Scalar {
                value: expanded,
                quoted: quoted || substituted,
            },
            mark,
        })
    }

    /// Expands `$$` and every `${…}` in `text`; the flag says whether anything was substituted.
    fn text(
        &mut self,
        text: &str,
        mark: &Mark,
        path: &str,
        depth: usize,
    ) -> Result<(String, bool), ConfigError> {
        let mut out = String::with_capacity(text.len());
        let mut substituted = false;
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("$$") {
                out.push('$');
                rest = after;
            } else if let Some(close) = tail.strip_prefix("${").and_then(|_| closing_brace(tail, 2))
            {
                if let Some((raw, _)) = self.retrieve(&tail[2..close], mark, path, depth)? {
                    out.push_str(&self.text(&raw, mark, path, depth + 1)?.0);
                }
                substituted = true;
                rest = &tail[close + 1..];
            } else {
                // A lone `$` (or `$VAR`, which otelcol no longer expands) stays as written.
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok((out, substituted))
    }

    /// The raw text behind `scheme:opaque` (scheme `env` when none is written) and a label for it;
    /// `None` for an unset variable without a default.
    fn retrieve(
        &mut self,
        uri: &str,
        mark: &Mark,
        path: &str,
        depth: usize,
    ) -> Result<Option<(String, String)>, ConfigError> {
        let fail = |message: String| ConfigError::new(Some(mark.clone()), path, message);
        if depth >= MAX_DEPTH {
            return Err(fail(format!(
                "too many recursive expansions of \"${{{uri}}}\""
            )));
        }
        let (scheme, opaque) = match scheme_of(uri) {
            Some((scheme, opaque)) if scheme == "env" || scheme == "file" => (scheme, opaque),
            // `${VAR:-default}` cannot mean anything but the env scheme with a default.
            Some((name, opaque)) if valid_env_name(name) && opaque.starts_with('-') => ("env", uri),
            Some((scheme, _)) => {
                return Err(fail(format!(
                    "unsupported scheme {scheme:?} in \"${{{uri}}}\" (supported: env, file)"
                )));
            }
            None => ("env", uri),
        };
        // Nested references in the name itself (`${env:${X}}`) are expanded first.
        let (name, default) = match opaque.split_once(":-") {
            Some((name, default)) if scheme == "env" => (name, Some(default)),
            _ => (opaque, None),
        };
        let name = if name.contains('$') {
            self.text(name, mark, path, depth + 1)?.0
        } else {
            name.to_owned()
        };
        if scheme == "file" {
            let text = std::fs::read_to_string(&name)
                .map_err(|e| fail(format!("cannot read {name:?} for \"${{{uri}}}\": {e}")))?;
            return Ok(Some((text, format!("file:{name}"))));
        }
        if !valid_env_name(&name) {
            return Err(fail(format!(
                "environment variable {name:?} has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
            )));
        }
        match std::env::var(&name) {
            Ok(value) => Ok(Some((value, format!("env:{name}")))),
            Err(std::env::VarError::NotUnicode(_)) => Err(fail(format!(
                "environment variable {name:?} is not valid UTF-8"
            ))),
            Err(std::env::VarError::NotPresent) => match default {
                Some(default) => Ok(Some((default.to_owned(), format!("env:{name}")))),
                None => {
                    if self.unset.insert(name.clone()) {
                        self.warnings.push(format!(
                            "{mark}: {path}: environment variable {name:?} is not set; it expands to an empty value"
                        ));
                    }
                    Ok(None)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str) -> Result<(Node, Vec<String>), ConfigError> {
        let mut expander = Expander::default();
        let node = expander.node(Node::parse(text, "e.yaml").unwrap(), "", 0)?;
        Ok((node, expander.warnings))
    }

    #[test]
    fn finds_the_closing_brace_past_escapes_and_nesting() {
        assert_eq!(closing_brace("${A}", 2), Some(3));
        assert_eq!(closing_brace("${env:X:-$${env:Y}}", 2), Some(18));
        assert_eq!(closing_brace("${env:${X}}", 2), Some(10));
        assert_eq!(closing_brace("${open", 2), None);
    }

    #[test]
    fn unset_variables_are_empty_and_warned_about_once() {
        let (node, warnings) =
            expand("a: ${env:FT_RESOLVE_UNSET_2}\nb: x${FT_RESOLVE_UNSET_2}y\n").unwrap();
        assert!(node.get("a").unwrap().is_null());
        assert_eq!(node.get("b").unwrap().as_str(), Some("xy"));
        assert_eq!(
            warnings,
            [
                "e.yaml:1:4: a: environment variable \"FT_RESOLVE_UNSET_2\" is not set; it expands to an empty value"
            ]
        );
    }

    #[test]
    fn bad_references_are_located_errors() {
        let err = expand("x:\n  y: \"${hello.world}\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "e.yaml:2:6: x::y: environment variable \"hello.world\" has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
        );
        let err = expand("x: ${http://example.com}\n").unwrap_err();
        assert!(
            err.message.starts_with("unsupported scheme \"http\""),
            "{err}"
        );
        // SAFETY: unique to this test.
        unsafe { std::env::set_var("FT_RESOLVE_LOOP", "${env:FT_RESOLVE_LOOP}") };
        let err = expand("x: ${env:FT_RESOLVE_LOOP}\n").unwrap_err();
        assert!(
            err.message.starts_with("too many recursive expansions"),
            "{err}"
        );
    }
}
