//! otelcol's config language: YAML files merged in order, `--set` overrides, `${env:…}` expansion,
//! strict per-component decoding, and validation whose errors name the file, line, id and key.
//!
//! The loader keeps a tree of [`Node`]s that remember where each value came from, so an error found
//! after merging still points at the file and line that wrote the value.

pub mod de;
pub mod duration;
pub mod load;
pub mod model;
pub mod net;
pub mod node;
pub mod opaque;
pub mod resolve;
pub mod validate;

pub use de::decode;
pub use duration::GoDuration;
pub use load::{LoadedConfig, load};
pub use model::{Config, PipelineConfig, PipelineId, ServiceConfig, TelemetryConfig};
pub use node::{Mark, Node, NodeKind};
pub use opaque::Opaque;

use std::fmt;

/// A config problem, located: `file:line:col: path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub mark: Option<Mark>,
    /// otelcol-style key path, e.g. `receivers::otlp::protocols::grpc`.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(mark: Option<Mark>, path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            mark,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(mark) = &self.mark {
            write!(f, "{mark}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The nearest candidate by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&wrong.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= (c.len().max(wrong.len()) / 3).max(1) + 1)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// A component config's own checks, run after decoding (otelcol's `Validate()`).
pub trait Validate {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Decodes a component's section (a null node means "all defaults") and runs its checks. Error
/// paths are relative to `node`; the loader prefixes the component's own path.
pub fn decode_validated<T: serde::de::DeserializeOwned + Validate>(
    node: &Node,
) -> Result<T, ConfigError> {
    let config: T = decode(node)?;
    config
        .validate()
        .map_err(|message| ConfigError::new(Some(node.mark.clone()), "", message))?;
    Ok(config)
}
