//! The decoder's error: raised unlocated by serde (or by a `Deserialize` impl), then given the mark
//! and path of the innermost node that was being decoded.

use std::fmt;

use serde::de;

use crate::config::{ConfigError, Mark, did_you_mean};

#[derive(Clone, Debug)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where a node sits below the decoded root: `protocols::grpc::endpoint`, `hosts[0]::endpoint`.
#[derive(Clone, Debug, Default)]
pub struct Path(Vec<Seg>);

impl Path {
    pub fn from_colons(base: &str) -> Path {
        Path(
            base.split("::")
                .filter(|s| !s.is_empty())
                .map(|s| Seg::Key(s.to_owned()))
                .collect(),
        )
    }

    pub fn key(&self, key: &str) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Path(segs)
    }

    pub fn index(&self, index: usize) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Path(segs)
    }

    fn join(&self, separator: &str) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                Seg::Key(key) => {
                    if !out.is_empty() {
                        out.push_str(separator);
                    }
                    out.push_str(key);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// otelcol's error-path form: `receivers::otlp::protocols`.
    pub fn colons(&self) -> String {
        self.join("::")
    }

    /// mapstructure's form, used in "has invalid keys": `protocols.grpc`.
    pub fn dotted(&self) -> String {
        self.join(".")
    }
}

/// The node an error belongs to.
#[derive(Clone)]
pub struct At {
    pub mark: Mark,
    pub path: Path,
}

#[derive(Debug)]
enum Inner {
    Message(String),
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    Located(ConfigError),
}

#[derive(Debug)]
pub struct DeError(Box<Inner>);

impl DeError {
    pub fn message(message: impl Into<String>) -> DeError {
        DeError(Box::new(Inner::Message(message.into())))
    }

    /// Gives the error the node's place, unless a node further in already did.
    pub fn locate(self, at: &At) -> DeError {
        let located = match *self.0 {
            Inner::Located(_) => return self,
            Inner::Message(message) => {
                ConfigError::new(Some(at.mark.clone()), at.path.colons(), message)
            }
            Inner::UnknownField { field, expected } => {
                let dotted = at.path.dotted();
                let mut message = if dotted.is_empty() {
                    format!("has invalid keys: {field}")
                } else {
                    format!("'{dotted}' has invalid keys: {field}")
                };
                if let Some(near) = did_you_mean(&field, expected.iter().copied()) {
                    message.push_str(&format!(" (did you mean {near:?}?)"));
                }
                // The message names the section itself, as otelcol's does.
                ConfigError::new(Some(at.mark.clone()), "", message)
            }
            Inner::UnknownVariant { variant, expected } => {
                let mut message = format!(
                    "unknown value {variant:?} (valid values: [{}])",
                    expected.join(", ")
                );
                if let Some(near) = did_you_mean(&variant, expected.iter().copied()) {
                    message.push_str(&format!(" (did you mean {near:?}?)"));
                }
                ConfigError::new(Some(at.mark.clone()), at.path.colons(), message)
            }
        };
        DeError(Box::new(Inner::Located(located)))
    }

    pub fn into_config_error(self, at: &At) -> ConfigError {
        match *self.locate(at).0 {
            Inner::Located(error) => error,
            _ => unreachable!("locate always locates"),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Inner::Message(message) => f.write_str(message),
            Inner::UnknownField { field, .. } => write!(f, "has invalid keys: {field}"),
            Inner::UnknownVariant { variant, .. } => write!(f, "unknown value {variant:?}"),
            Inner::Located(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for DeError {}

/// serde's `Unexpected`, worded for config authors.
fn describe(unexpected: de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match unexpected {
        U::Bool(b) => b.to_string(),
        U::Unsigned(n) => n.to_string(),
        U::Signed(n) => n.to_string(),
        U::Float(x) => x.to_string(),
        U::Char(c) => format!("{c:?}"),
        U::Str(s) => format!("{s:?}"),
        U::Bytes(_) => "bytes".to_owned(),
        U::Unit | U::Option => "an empty value".to_owned(),
        U::Seq => "a list".to_owned(),
        U::Map => "a map".to_owned(),
        other => other.to_string(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::message(msg.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        DeError::message(format!("expected {expected}, got {}", describe(unexpected)))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        DeError::message(format!(
            "invalid value {}: expected {expected}",
            describe(unexpected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn de::Expected) -> Self {
        DeError::message(format!("expected {expected}, got a list of {len} items"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError(Box::new(Inner::UnknownField {
            field: field.to_owned(),
            expected,
        }))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError(Box::new(Inner::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        }))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::message(format!("missing required key '{field}'"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::message(format!("key '{field}' is set twice"))
    }
}
