//! exporterhelper's settings, with otelcol's keys and defaults: `sending_queue` and
//! `retry_on_failure` (an exporter's `timeout` is a plain field of its own config, as otelcol
//! squashes `TimeoutConfig` into it).

use std::fmt;

use crate::config::{GoDuration, Validate};
use crate::signal::Telemetry;

/// How the queue measures what it holds (`sending_queue::sizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sizer {
    /// One per batch handed to the exporter.
    #[default]
    Requests,
    /// Spans, metric data points or log records.
    Items,
    /// Bytes of the protobuf encoding.
    Bytes,
}

impl Sizer {
    pub fn size(self, data: &Telemetry) -> usize {
        match self {
            Sizer::Requests => 1,
            Sizer::Items => data.item_count(),
            Sizer::Bytes => data.encoded_len(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sizer::Requests => "requests",
            Sizer::Items => "items",
            Sizer::Bytes => "bytes",
        }
    }
}

impl fmt::Display for Sizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Sizer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "requests" => Ok(Sizer::Requests),
            "items" => Ok(Sizer::Items),
            "bytes" => Ok(Sizer::Bytes),
            _ => Err(serde::de::Error::custom(format!(
                "invalid sizer: {text:?} (valid values: requests, items, bytes)"
            ))),
        }
    }
}

/// `sending_queue`. Enabled by default, as in otelcol.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub enabled: bool,
    /// Workers sending from the queue at once.
    pub num_consumers: i64,
    /// Capacity in `sizer` units; what is being sent still counts until it is done.
    pub queue_size: i64,
    pub sizer: Sizer,
    /// Wait for room instead of refusing when full.
    pub block_on_overflow: bool,
    /// `consume` returns only once the batch was sent (or dropped), with its outcome.
    pub wait_for_result: bool,
    /// A storage extension id (`file_storage/x`): the queue is then kept on disk (`persistent`).
    pub storage: Option<String>,
    /// Batches formed as the queue is read (see `exporterhelper::batcher`); overrides the
    /// settings a `batch` processor upstream asks for.
    pub batch: Option<BatchConfig>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: Sizer::Requests,
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

impl Validate for QueueConfig {
    fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.num_consumers <= 0 {
            return Err("sending_queue: `num_consumers` must be positive".into());
        }
        if self.queue_size <= 0 {
            return Err("sending_queue: `queue_size` must be positive".into());
        }
        if self.storage.is_some() && self.wait_for_result {
            return Err(
                "sending_queue: `wait_for_result` is not supported with a persistent queue configured with `storage`".into(),
            );
        }
        if let Some(batch) = &self.batch {
            batch
                .validate()
                .map_err(|e| format!("sending_queue::batch: {e}"))?;
            if batch.sizer.unwrap_or(Sizer::Items) == self.sizer && batch.min_size > self.queue_size
            {
                return Err(
                    "sending_queue: `min_size` must be less than or equal to `queue_size`".into(),
                );
            }
        }
        Ok(())
    }
}

/// `sending_queue::batch`, otelcol's exporter-side batching, with its keys and defaults.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    pub flush_timeout: GoDuration,
    pub min_size: i64,
    pub max_size: i64,
    /// Unset means the queue's sizer.
    pub sizer: Option<Sizer>,
    pub partition: Option<PartitionConfig>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            flush_timeout: GoDuration::from_millis(200),
            min_size: 8192,
            max_size: 0,
            sizer: None,
            partition: None,
        }
    }
}

impl Validate for BatchConfig {
    fn validate(&self) -> Result<(), String> {
        if self.sizer == Some(Sizer::Requests) {
            return Err(
                "`batch` supports only `items` or `bytes` sizer, found \"requests\"".into(),
            );
        }
        if self.flush_timeout.is_zero() {
            return Err("`flush_timeout` must be positive, found 0".into());
        }
        if self.min_size < 0 {
            return Err(format!(
                "`min_size` must be non-negative, found {}",
                self.min_size
            ));
        }
        if self.max_size < 0 {
            return Err(format!(
                "`max_size` must be non-negative, found {}",
                self.max_size
            ));
        }
        if self.max_size > 0 && self.max_size < self.min_size {
            return Err(format!(
                "`max_size` ({}) must be greater or equal to `min_size` ({})",
                self.max_size, self.min_size
            ));
        }
        if let Some(partition) = &self.partition {
            let mut seen = std::collections::HashSet::new();
            for key in &partition.metadata_keys {
                if !seen.insert(key.to_lowercase()) {
                    return Err(format!(
                        "duplicate entry in metadata_keys: {:?} (case-insensitive)",
                        key.to_lowercase()
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartitionConfig {
    pub metadata_keys: Vec<String>,
    pub cardinality_limit: i64,
}

/// `retry_on_failure`: exponential backoff with jitter (otelcol's configretry defaults).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub enabled: bool,
    /// Wait after the first failure.
    pub initial_interval: GoDuration,
    /// Each wait is drawn from `interval * (1 ± randomization_factor)`.
    pub randomization_factor: f64,
    /// Growth of the interval after each retry.
    pub multiplier: f64,
    /// Upper bound of the interval (before jitter).
    pub max_interval: GoDuration,
    /// Time after which a batch is dropped; 0 retries forever.
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
        }
    }
}

impl Validate for RetryConfig {
    fn validate(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let err = |m: &str| Err(format!("retry_on_failure: {m}"));
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return err("'randomization_factor' must be within [0, 1]");
        }
        if self.multiplier < 0.0 || self.multiplier.is_nan() {
            return err("'multiplier' must be non-negative");
        }
        if !self.max_elapsed_time.is_zero() {
            if self.max_elapsed_time < self.initial_interval {
                return err("'max_elapsed_time' must not be less than 'initial_interval'");
            }
            if self.max_elapsed_time < self.max_interval {
                return err("'max_elapsed_time' must not be less than 'max_interval'");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Node, decode_validated};

    #[derive(Debug, serde::Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Both {
        sending_queue: QueueConfig,
        retry_on_failure: RetryConfig,
    }

    impl Validate for Both {
        fn validate(&self) -> Result<(), String> {
            self.sending_queue.validate()?;
            self.retry_on_failure.validate()
        }
    }

    fn parse(yaml: &str) -> Result<Both, String> {
        let node = Node::parse(yaml, "t.yaml").unwrap();
        decode_validated::<Both>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_otelcols() {
        let both = parse("sending_queue:\nretry_on_failure:\n").unwrap();
        assert_eq!(both.sending_queue, QueueConfig::default());
        assert_eq!(both.sending_queue.num_consumers, 10);
        assert_eq!(both.sending_queue.queue_size, 1000);
        assert_eq!(
            both.retry_on_failure.initial_interval,
            GoDuration::from_secs(5)
        );
        assert_eq!(
            both.retry_on_failure.max_elapsed_time,
            GoDuration::from_secs(300)
        );
    }

    #[test]
    fn otelcol_testdata_shapes_load() {
        let both = parse(
            "sending_queue:\n  enabled: true\n  sizer: items\n  num_consumers: 2\n  queue_size: 100000\n  batch:\n    flush_timeout: 200ms\n    min_size: 1000\n    max_size: 10000\nretry_on_failure:\n  initial_interval: 10s\n  randomization_factor: 0.7\n  multiplier: 1.3\n  max_interval: 60s\n  max_elapsed_time: 10m\n",
        )
        .unwrap();
        assert_eq!(both.sending_queue.sizer, Sizer::Items);
        assert_eq!(both.sending_queue.batch.unwrap().max_size, 10000);
        let empty_batch = parse("sending_queue:\n  batch:\n").unwrap();
        assert_eq!(
            empty_batch.sending_queue.batch,
            Some(BatchConfig::default())
        );
    }

    #[test]
    fn validation_messages_follow_otelcol() {
        let e = parse("retry_on_failure:\n  randomization_factor: -5\n").unwrap_err();
        assert!(
            e.contains("'randomization_factor' must be within [0, 1]"),
            "{e}"
        );
        let e = parse("sending_queue:\n  queue_size: 0\n").unwrap_err();
        assert!(e.contains("`queue_size` must be positive"), "{e}");
        let e = parse("sending_queue:\n  num_consumers: 0\n").unwrap_err();
        assert!(e.contains("`num_consumers` must be positive"), "{e}");
        let e = parse("sending_queue:\n  sizer: pages\n").unwrap_err();
        assert!(e.contains("invalid sizer: \"pages\""), "{e}");
        let e = parse("sending_queue:\n  storage: file_storage\n  wait_for_result: true\n")
            .unwrap_err();
        assert!(e.contains("`wait_for_result` is not supported"), "{e}");
        let e = parse("retry_on_failure:\n  max_elapsed_time: 1s\n").unwrap_err();
        assert!(
            e.contains("'max_elapsed_time' must not be less than 'initial_interval'"),
            "{e}"
        );
        assert!(
            parse("sending_queue:\n  enabled: false\n  queue_size: 0\n").is_ok(),
            "a disabled queue is not checked"
        );
        assert!(parse("sending_queue:\n  bogus: 1\n").is_err());
    }
}
