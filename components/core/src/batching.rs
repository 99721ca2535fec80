//! What travels with a batch besides its data: the client's metadata (when a receiver has
//! `include_metadata`) and a `batch` processor's request to be batched downstream.
//!
//! ferrotel acknowledges a client once its items are in an exporter's queue (DESIGN §1), so
//! batches are formed where the queue is read, as otelcol's `sending_queue.batch` does. The `batch`
//! processor therefore hands each request on at once and marks it with a [`BatchHint`]: the
//! exporters it feeds batch it with the processor's settings, per metadata partition, and report
//! each batch they form in the processor's own `otelcol_processor_batch_*` metrics.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::telemetry::ProcessorMetrics;

/// Request metadata of the client that sent a batch (gRPC metadata or HTTP headers), keys in
/// lower case, as otelcol's `client.Info.Metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMetadata {
    entries: BTreeMap<String, Vec<String>>,
}

impl ClientMetadata {
    pub fn new() -> Self {
        ClientMetadata::default()
    }

    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.entries
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }

    /// Every value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> &[String] {
        self.entries
            .get(&key.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How batches are formed from queued requests, in items (spans, data points, log records) or
/// bytes of the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchSettings {
    /// A batch leaves once it holds this much (0: as soon as anything is there).
    pub min_size: usize,
    /// A batch never holds more (0: no bound); larger requests are split (items only).
    pub max_size: usize,
    /// A batch leaves when its first request has waited this long, whatever its size.
    pub flush_timeout: Duration,
    /// Sizes count bytes rather than items.
    pub bytes: bool,
}

/// A `batch` processor's wish that the exporters after it batch this data.
#[derive(Clone)]
pub struct BatchHint {
    pub settings: BatchSettings,
    /// The processor's id: data from two processors is never joined in one batch.
    pub origin: Arc<str>,
    /// The values of the processor's `metadata_keys`; data with other values is never joined.
    pub partition: Option<Arc<str>>,
    /// Where batches formed for this processor are counted.
    pub metrics: ProcessorMetrics,
}

impl std::fmt::Debug for BatchHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchHint")
            .field("settings", &self.settings)
            .field("origin", &self.origin)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

/// What a batch carries besides its items. Cheap to clone: two optional `Arc`s.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub metadata: Option<Arc<ClientMetadata>>,
    pub batch: Option<Arc<BatchHint>>,
}

/// Turns client metadata into a partition: the values of `keys`, in order. Distinct partitions are
/// capped at `cardinality_limit` (0: no cap); past it, data of a new combination is refused, as
/// otelcol's batch processor refuses it ("too many batcher metadata-value combinations").
pub struct Partitioner {
    keys: Vec<String>,
    cardinality_limit: usize,
    seen: Mutex<HashSet<Arc<str>>>,
}

impl Partitioner {
    /// `None` when there are no keys: everything goes into one partition.
    pub fn new(keys: &[String], cardinality_limit: usize) -> Option<Self> {
        (!keys.is_empty()).then(|| Partitioner {
            keys: keys.to_vec(),
            cardinality_limit,
            seen: Mutex::new(HashSet::new()),
        })
    }

    /// The partition of data from a client with `metadata`; missing keys count as empty values.
    pub fn partition(&self, metadata: Option<&ClientMetadata>) -> Result<Arc<str>, String> {
        let mut key = String::new();
        for name in &self.keys {
            let values = metadata.map_or(&[][..], |m| m.get(name));
            key.push_str(name);
            key.push('=');
            key.push_str(&values.join(","));
            key.push(';');
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = seen.get(key.as_str()) {
            return Ok(known.clone());
        }
        if self.cardinality_limit > 0 && seen.len() >= self.cardinality_limit {
            return Err(format!(
                "too many batcher metadata-value combinations (metadata_cardinality_limit {})",
                self.cardinality_limit
            ));
        }
        let key: Arc<str> = key.into();
        seen.insert(key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(tenant: Option<&str>) -> ClientMetadata {
        let mut metadata = ClientMetadata::new();
        if let Some(tenant) = tenant {
            metadata.insert("X-Tenant", tenant);
        }
        metadata.insert("other", "ignored");
        metadata
    }

    #[test]
    fn metadata_keys_are_case_insensitive() {
        let metadata = client(Some("a"));
        assert_eq!(metadata.get("x-tenant"), ["a".to_string()]);
        assert_eq!(metadata.get("X-TENANT"), ["a".to_string()]);
        assert!(metadata.get("absent").is_empty());
    }

    #[test]
    fn partitions_follow_the_listed_keys_only() {
        let partitioner = Partitioner::new(&["x-tenant".into()], 0).unwrap();
        let a = partitioner.partition(Some(&client(Some("a")))).unwrap();
        let a_again = partitioner.partition(Some(&client(Some("a")))).unwrap();
        let b = partitioner.partition(Some(&client(Some("b")))).unwrap();
        let none = partitioner.partition(None).unwrap();
        assert_eq!(a, a_again);
        assert_ne!(a, b);
        assert_ne!(a, none);
        assert!(Partitioner::new(&[], 10).is_none());
    }

    #[test]
    fn a_new_combination_past_the_cardinality_limit_is_refused() {
        let partitioner = Partitioner::new(&["x-tenant".into()], 2).unwrap();
        partitioner.partition(Some(&client(Some("a")))).unwrap();
        partitioner.partition(Some(&client(Some("b")))).unwrap();
        let error = partitioner.partition(Some(&client(Some("c")))).unwrap_err();
        assert!(error.contains("too many batcher metadata-value combinations"));
        // Known combinations still pass.
        partitioner.partition(Some(&client(Some("a")))).unwrap();
    }
}
