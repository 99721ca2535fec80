//! The `batch` processor's settings, with otelcol's keys, defaults and checks.

use ferrotel_core::config::{GoDuration, Validate};

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// How long the first item of a batch may wait before the batch is sent regardless of size.
    /// Zero sends every batch as soon as it arrives (split by `send_batch_max_size`).
    pub timeout: GoDuration,
    /// Item count that sends a batch at once. Zero ignores the size and sends immediately.
    pub send_batch_size: u32,
    /// Upper bound on a sent batch; larger ones are split. Zero means no bound.
    pub send_batch_max_size: u32,
    /// Client metadata keys (a receiver's `include_metadata`) whose values form separate batches.
    pub metadata_keys: Vec<String>,
    /// Limit on distinct metadata value combinations; data of a new one past it is refused.
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            timeout: GoDuration::from_millis(200),
            send_batch_size: 8192,
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl Validate for BatchConfig {
    fn validate(&self) -> Result<(), String> {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            return Err("send_batch_max_size must be greater or equal to send_batch_size".into());
        }
        let mut seen = std::collections::HashSet::new();
        for key in &self.metadata_keys {
            let lower = key.to_lowercase();
            if !seen.insert(lower.clone()) {
                return Err(format!(
                    "duplicate entry in metadata_keys: {lower:?} (case-insensitive)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};

    fn decode(text: &str) -> Result<BatchConfig, String> {
        let node = Node::parse(text, "batch.yaml").map_err(|e| e.to_string())?;
        decode_validated::<BatchConfig>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_section_means_otelcol_defaults() {
        let config = decode("").unwrap();
        assert_eq!(config, BatchConfig::default());
        assert_eq!(
            config.timeout.as_duration(),
            std::time::Duration::from_millis(200)
        );
        assert_eq!(config.send_batch_size, 8192);
        assert_eq!(config.metadata_cardinality_limit, 1000);
    }

    #[test]
    fn reads_the_upstream_testdata() {
        let config =
            decode("timeout: 10s\nsend_batch_size: 10000\nsend_batch_max_size: 11000\n").unwrap();
        assert_eq!(config.timeout, GoDuration::from_secs(10));
        assert_eq!(config.send_batch_size, 10000);
        assert_eq!(config.send_batch_max_size, 11000);
    }

    #[test]
    fn max_size_below_size_is_refused() {
        let err = decode("send_batch_size: 100\nsend_batch_max_size: 50\n").unwrap_err();
        assert!(
            err.contains("send_batch_max_size must be greater or equal to send_batch_size"),
            "{err}"
        );
        // Zero means unbounded, whatever the size.
        assert!(decode("send_batch_size: 100\nsend_batch_max_size: 0\n").is_ok());
        assert!(decode("send_batch_size: 100\nsend_batch_max_size: 100\n").is_ok());
    }

    #[test]
    fn duplicate_metadata_keys_are_refused_case_insensitively() {
        let err = decode("metadata_keys: [tenant, Tenant]\n").unwrap_err();
        assert!(
            err.contains("duplicate entry in metadata_keys: \"tenant\" (case-insensitive)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_negative_timeouts_are_refused() {
        let err = decode("send_batch_sizes: 1\n").unwrap_err();
        assert!(err.contains("send_batch_sizes"), "{err}");
        let err = decode("timeout: -1s\n").unwrap_err();
        assert!(
            err.contains("negative durations are not supported"),
            "{err}"
        );
    }
}
