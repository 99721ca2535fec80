//! A YAML tree whose every node remembers its file, line and column.

use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// A path, a `file:` URI as given, `--set`, `env:VAR` or `<default config>`.
    pub file: Arc<str>,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
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
    Scalar { value: String, quoted: bool },
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
        Node { kind: NodeKind::Null, mark }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
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
}
