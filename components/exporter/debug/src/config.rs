//! The `debug` exporter's settings, with otelcol's keys, defaults and checks.

use ferrotel_core::config::Validate;
use std::fmt;

/// otelcol's telemetry level, as the exporter's `verbosity`: case-insensitive on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    None,
    #[default]
    Basic,
    Normal,
    Detailed,
}

impl fmt::Display for Verbosity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verbosity::None => "None",
            Verbosity::Basic => "Basic",
            Verbosity::Normal => "Normal",
            Verbosity::Detailed => "Detailed",
        })
    }
}

impl<'de> serde::Deserialize<'de> for Verbosity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?.to_lowercase();
        match text.as_str() {
            "none" => Ok(Verbosity::None),
            "basic" => Ok(Verbosity::Basic),
            "normal" => Ok(Verbosity::Normal),
            "detailed" => Ok(Verbosity::Detailed),
            _ => Err(serde::de::Error::custom(format!(
                "unknown metrics level {text:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    /// Messages written in full each second, per distinct message.
    pub sampling_initial: i64,
    /// After those, every n-th message is written (1: all of them).
    pub sampling_thereafter: i64,
    /// Write through the collector's own log (`tracing`); otherwise to `output_paths`.
    pub use_internal_logger: bool,
    /// `stdout`, `stderr` or file paths; only without the internal logger. Unset means stdout.
    pub output_paths: Option<Vec<String>>,
    /// exporterhelper's queue; accepted, not acted on: writing a line needs no queue.
    pub sending_queue: Option<serde_json::Value>,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
            output_paths: None,
            sending_queue: None,
        }
    }
}

impl Validate for DebugConfig {
    fn validate(&self) -> Result<(), String> {
        if self.verbosity == Verbosity::None {
            return Err(format!(
                "verbosity level {:?} is not supported",
                self.verbosity.to_string()
            ));
        }
        if self.use_internal_logger && self.output_paths.is_some() {
            return Err("output_paths is not supported when use_internal_logger is true".into());
        }
        if !self.use_internal_logger && self.output_paths.as_ref().is_some_and(Vec::is_empty) {
            return Err("output_paths must not be empty when use_internal_logger is false".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn decode(text: &str) -> Result<DebugConfig, String> {
        let node = Node::parse(text, "debug.yaml").map_err(|e| e.to_string())?;
        decode_validated::<DebugConfig>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_the_upstream_testdata() {
        assert_eq!(decode("").unwrap(), DebugConfig::default());
        let config = decode("use_internal_logger: false\noutput_paths:\n  - stderr\n").unwrap();
        assert_eq!(config.output_paths, Some(vec!["stderr".to_string()]));
        assert_eq!(
            (
                config.verbosity,
                config.sampling_initial,
                config.sampling_thereafter
            ),
            (Verbosity::Basic, 2, 1)
        );
        let config = decode(
            "verbosity: detailed\nsampling_initial: 10\nsampling_thereafter: 50\nuse_internal_logger: false\noutput_paths:\n  - stdout\n",
        )
        .unwrap();
        assert_eq!(
            (
                config.verbosity,
                config.sampling_initial,
                config.sampling_thereafter
            ),
            (Verbosity::Detailed, 10, 50)
        );
    }

    #[test]
    fn verbosity_is_case_insensitive_and_checked() {
        assert_eq!(
            decode("verbosity: Normal\n").unwrap().verbosity,
            Verbosity::Normal
        );
        let err = decode("verbosity: loud\n").unwrap_err();
        assert!(err.contains("unknown metrics level \"loud\""), "{err}");
        let err = decode("verbosity: none\n").unwrap_err();
        assert!(
            err.ends_with("verbosity level \"None\" is not supported"),
            "{err}"
        );
        let err = decode("verBosity: detailed\n").unwrap_err();
        assert!(err.contains("verBosity"), "{err}");
    }

    #[test]
    fn output_paths_need_the_internal_logger_off_and_at_least_one_path() {
        let err = decode("use_internal_logger: false\noutput_paths: []\n").unwrap_err();
        assert!(
            err.ends_with("output_paths must not be empty when use_internal_logger is false"),
            "{err}"
        );
        let err = decode("output_paths: [stdout]\n").unwrap_err();
        assert!(
            err.ends_with("output_paths is not supported when use_internal_logger is true"),
            "{err}"
        );
    }

    #[test]
    fn sending_queue_is_accepted() {
        let config = decode("sending_queue:\n  enabled: true\n  queue_size: 10\n").unwrap();
        assert!(config.sending_queue.is_some());
    }
}
