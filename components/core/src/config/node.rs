//! A YAML tree whose every node remembers its file, line and column.
//!
//! Parsed from yaml-rust2's event stream rather than its `Yaml` type because that type forgets
//! positions; every error the loader reports after merging files must still name the line that wrote
//! the value.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::ConfigError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// A path, a `file:` URI as given, `--set`, `env:VAR` or `<default config>`.
    pub file: Arc<str>,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
}

impl Mark {
    pub fn new(file: impl Into<Arc<str>>, line: usize, col: usize) -> Mark {
        Mark {
            file: file.into(),
            line,
            col,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `~`, `null`, or nothing at all (`http:`).
    Null,
    /// The text as written; `quoted` scalars are always strings, plain ones are typed on decode.
    Scalar {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys keep their own marks; order is the file's order.
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub mark: Mark,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

impl Node {
    pub fn null(mark: Mark) -> Node {
        Node {
            kind: NodeKind::Null,
            mark,
        }
    }

    /// A plain (untyped until decoded) scalar.
    pub fn plain(value: impl Into<String>, mark: Mark) -> Node {
        Node {
            kind: NodeKind::Scalar {
                value: value.into(),
                quoted: false,
            },
            mark,
        }
    }

    /// A quoted scalar: always a string.
    pub fn string(value: impl Into<String>, mark: Mark) -> Node {
        Node {
            kind: NodeKind::Scalar {
                value: value.into(),
                quoted: true,
            },
            mark,
        }
    }

    pub fn map(entries: Vec<(Key, Node)>, mark: Mark) -> Node {
        Node {
            kind: NodeKind::Map(entries),
            mark,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, NodeKind::Map(_))
    }

    /// The value under `key` in a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// The entries of a map node (none for any other node).
    pub fn entries(&self) -> impl Iterator<Item = (&Key, &Node)> {
        let entries: &[(Key, Node)] = match &self.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        };
        entries.iter().map(|(k, v)| (k, v))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// What the node is, for error messages: `a map`, `a list`, `null` or the scalar in quotes.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Null => "an empty value".to_owned(),
            NodeKind::Scalar { value, .. } => format!("{value:?}"),
            NodeKind::Seq(_) => "a list".to_owned(),
            NodeKind::Map(_) => "a map".to_owned(),
        }
    }

    /// Gives this node and everything under it (keys included) one mark: used for values that came
    /// from an environment variable, which have no lines of their own.
    pub fn set_mark_deep(&mut self, mark: &Mark) {
        self.mark = mark.clone();
        match &mut self.kind {
            NodeKind::Seq(items) => items.iter_mut().for_each(|item| item.set_mark_deep(mark)),
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    key.mark = mark.clone();
                    value.set_mark_deep(mark);
                }
            }
            NodeKind::Null | NodeKind::Scalar { .. } => {}
        }
    }

    /// Parses the first YAML document of `text`; an empty document is a null node. Marks name `file`.
    pub fn parse(text: &str, file: &str) -> Result<Node, ConfigError> {
        let file: Arc<str> = Arc::from(file);
        // Pulled one by one rather than through `Parser::load`, which recurses once per level of
        // nesting and so overflows the stack on a deep enough document.
        let mut events = Vec::new();
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, marker) = parser.next_token().map_err(|e| {
                let mark = Mark::new(file.clone(), e.marker().line(), e.marker().col() + 1);
                ConfigError::new(Some(mark), "", format!("cannot parse YAML: {}", e.info()))
            })?;
            let last = matches!(event, Event::DocumentEnd | Event::StreamEnd);
            events.push((event, marker));
            if last {
                break;
            }
        }
        Builder {
            file,
            events: events.into_iter(),
            anchors: HashMap::new(),
            depth: 0,
            aliased_nodes: 0,
        }
        .document()
    }
}

/// Deepest nesting of lists and maps: far past any config, and shallow enough that building,
/// merging and decoding the tree (all recursive) cannot overflow a stack.
pub const MAX_DEPTH: usize = 128;
/// Nodes that aliases may copy in all: a few anchors reused many times each fit easily, while
/// aliases of aliases of aliases (the "billion laughs") are refused before they exhaust memory.
pub const MAX_ALIASED_NODES: usize = 100_000;

/// The second pass: events to nodes, with anchors, aliases, merge keys and duplicate-key checks.
struct Builder {
    file: Arc<str>,
    events: std::vec::IntoIter<(Event, Marker)>,
    /// Each anchored node with the number of nodes in it.
    anchors: HashMap<usize, (Node, usize)>,
    depth: usize,
    aliased_nodes: usize,
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(_, v)| count_nodes(v)).sum(),
        NodeKind::Null | NodeKind::Scalar { .. } => 0,
    }
}

/// A key as parsed, before it is known to be a plain `<<`.
struct RawKey {
    key: Key,
    merge: bool,
}

impl Builder {
    fn mark(&self, m: Marker) -> Mark {
        Mark::new(self.file.clone(), m.line(), m.col() + 1)
    }

    fn document(mut self) -> Result<Node, ConfigError> {
        let start = Mark::new(self.file.clone(), 1, 1);
        while let Some((event, marker)) = self.events.next() {
            match event {
                Event::StreamStart | Event::DocumentStart | Event::Nothing => {}
                Event::StreamEnd | Event::DocumentEnd => break,
                other => return self.node(other, marker),
            }
        }
        Ok(Node::null(start))
    }

    fn next(&mut self) -> Result<(Event, Marker), ConfigError> {
        self.events.next().ok_or_else(|| {
            ConfigError::new(None, "", format!("{}: unexpected end of YAML", self.file))
        })
    }

    fn node(&mut self, event: Event, marker: Marker) -> Result<Node, ConfigError> {
        let mark = self.mark(marker);
        let (node, anchor) = match event {
            Event::Alias(id) => {
                let (node, nodes) = self.anchors.get(&id).ok_or_else(|| {
                    ConfigError::new(
                        Some(mark.clone()),
                        "",
                        "alias refers to an anchor that is not defined before it",
                    )
                })?;
                self.aliased_nodes = self.aliased_nodes.saturating_add(*nodes);
                if self.aliased_nodes > MAX_ALIASED_NODES {
                    return Err(ConfigError::new(
                        Some(mark),
                        "",
                        format!("aliases expand to more than {MAX_ALIASED_NODES} YAML nodes"),
                    ));
                }
                return Ok(node.clone());
            }
            Event::Scalar(value, style, anchor, tag) => {
                (scalar(value, style, tag.as_ref(), mark), anchor)
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.depth >= MAX_DEPTH => {
                return Err(ConfigError::new(
                    Some(mark),
                    "",
                    format!("YAML nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            Event::SequenceStart(anchor, _) => {
                self.depth += 1;
                let mut items = Vec::new();
                loop {
                    let (event, marker) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, marker)?);
                }
                self.depth -= 1;
                (
                    Node {
                        kind: NodeKind::Seq(items),
                        mark,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                self.depth += 1;
                let node = self.mapping(mark)?;
                self.depth -= 1;
                (node, anchor)
            }
            other => {
                return Err(ConfigError::new(
                    Some(mark),
                    "",
                    format!("unexpected YAML event {other:?}"),
                ));
            }
        };
        if anchor > 0 {
            self.anchors
                .insert(anchor, (node.clone(), count_nodes(&node)));
        }
        Ok(node)
    }

    fn mapping(&mut self, mark: Mark) -> Result<Node, ConfigError> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        let mut merged: Vec<Node> = Vec::new();
        loop {
            let (event, marker) = self.next()?;
            if event == Event::MappingEnd {
                break;
            }
            let raw = self.key(event, marker)?;
            let (event, marker) = self.next()?;
            let value = self.node(event, marker)?;
            if raw.merge {
                match value.kind {
                    NodeKind::Seq(items) => merged.extend(items),
                    _ => merged.push(value),
                }
                continue;
            }
            if let Some((earlier, _)) = entries.iter().find(|(k, _)| k.name == raw.key.name) {
                let message = format!(
                    "mapping key {:?} already defined at line {}",
                    raw.key.name, earlier.mark.line
                );
                return Err(ConfigError::new(Some(raw.key.mark), "", message));
            }
            entries.push((raw.key, value));
        }
        // `<<` merge keys: explicit keys win, then earlier merged maps over later ones.
        for source in merged {
            let NodeKind::Map(source_entries) = source.kind else {
                return Err(ConfigError::new(
                    Some(source.mark),
                    "",
                    "the value of a << merge key must be a map or a list of maps",
                ));
            };
            for (key, value) in source_entries {
                if !entries.iter().any(|(k, _)| k.name == key.name) {
                    entries.push((key, value));
                }
            }
        }
        Ok(Node {
            kind: NodeKind::Map(entries),
            mark,
        })
    }

    fn key(&mut self, event: Event, marker: Marker) -> Result<RawKey, ConfigError> {
        let mark = self.mark(marker);
        let node = self.node(event, marker)?;
        let merge =
            matches!(&node.kind, NodeKind::Scalar { value, quoted: false } if value == "<<");
        let name = match node.kind {
            NodeKind::Null => String::new(),
            NodeKind::Scalar { value, .. } => value,
            NodeKind::Seq(_) | NodeKind::Map(_) => {
                return Err(ConfigError::new(
                    Some(mark),
                    "",
                    "a map key must be a plain value, not a list or a map",
                ));
            }
        };
        Ok(RawKey {
            key: Key { name, mark },
            merge,
        })
    }
}

fn scalar(value: String, style: TScalarStyle, tag: Option<&Tag>, mark: Mark) -> Node {
    let tagged_str = tag.is_some_and(|t| t.suffix == "str");
    let quoted = tagged_str || !matches!(style, TScalarStyle::Plain);
    if !quoted && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL") {
        return Node::null(mark);
    }
    Node {
        kind: NodeKind::Scalar { value, quoted },
        mark,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        Node::parse(text, "t.yaml").unwrap()
    }

    #[test]
    fn marks_are_one_based_for_keys_and_values() {
        let node = parse("receivers:\n  otlp:\n    endpoint: \"x\"\n");
        let (key, receivers) = node.entries().next().unwrap();
        assert_eq!((key.mark.line, key.mark.col), (1, 1));
        let (otlp_key, otlp) = receivers.entries().next().unwrap();
        assert_eq!((otlp_key.mark.line, otlp_key.mark.col), (2, 3));
        let endpoint = otlp.get("endpoint").unwrap();
        assert_eq!(
            endpoint.kind,
            NodeKind::Scalar {
                value: "x".into(),
                quoted: true
            }
        );
        assert_eq!(endpoint.mark.to_string(), "t.yaml:3:15");
    }

    #[test]
    fn empty_and_null_values_are_null_but_quoted_empty_is_a_string() {
        let node = parse("a:\nb: ~\nc: null\nd: ''\ne: !!str 0123\n");
        assert!(node.get("a").unwrap().is_null());
        assert!(node.get("b").unwrap().is_null());
        assert!(node.get("c").unwrap().is_null());
        assert_eq!(
            node.get("d").unwrap().kind,
            NodeKind::Scalar {
                value: String::new(),
                quoted: true
            }
        );
        assert_eq!(
            node.get("e").unwrap().kind,
            NodeKind::Scalar {
                value: "0123".into(),
                quoted: true
            }
        );
        assert!(parse("").is_null());
        assert!(parse("# only a comment\n").is_null());
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let node = parse("base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let used = node.get("use").unwrap();
        assert_eq!(used.get("x").unwrap().as_str(), Some("1"));
        assert_eq!(used.get("y").unwrap().as_str(), Some("3"));
        let NodeKind::Seq(items) = &node.get("list").unwrap().kind else {
            panic!("not a list")
        };
        assert_eq!(items[0].get("y").unwrap().as_str(), Some("2"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let at_limit = format!("{}x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Node::parse(&at_limit, "ok.yaml").is_ok());
        // Block sequences are not limited by the scanner's flow level (255), so go far past it.
        let deep = format!("{}x\n", "- ".repeat(100_000));
        let err = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Node::parse(&deep, "deep.yaml").unwrap_err())
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(
            err.to_string(),
            format!("deep.yaml:1:257: YAML nested deeper than {MAX_DEPTH} levels")
        );
    }

    #[test]
    fn aliases_cannot_multiply_without_bound() {
        // Ten anchors, each a list of ten aliases of the one before: 10^10 nodes if expanded.
        let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            yaml.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = Node::parse(&yaml, "laughs.yaml").unwrap_err();
        assert!(
            err.message.contains(&format!(
                "aliases expand to more than {MAX_ALIASED_NODES} YAML nodes"
            )),
            "{err}"
        );
        // Ordinary reuse is fine.
        assert!(Node::parse("a: &a {x: 1}\nb: *a\nc: *a\n", "ok.yaml").is_ok());
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let err = Node::parse("a: 1\nb: 2\na: 3\n", "dup.yaml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dup.yaml:3:1: mapping key \"a\" already defined at line 1"
        );
        let err = Node::parse("a: [1, 2\nb: 3\n", "bad.yaml").unwrap_err();
        let mark = err.mark.clone().unwrap();
        assert_eq!(&*mark.file, "bad.yaml");
        assert!(
            mark.line >= 1 && err.message.starts_with("cannot parse YAML"),
            "{err}"
        );
    }
}
