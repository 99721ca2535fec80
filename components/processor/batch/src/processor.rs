//! The batch processor's runtime: it hands every request on at once, marked with a [`BatchHint`],
//! and the exporters after it form the batches as their sending queues are read
//! (`ferrotel_core::exporterhelper`'s batcher). A caller is therefore held only as long as the next
//! consumer takes to accept its items — an exporter's queue answers at once — and what a client was
//! told is accepted is already in a queue (on disk, with a persistent one), never only in this
//! processor's memory.
//!
//! What it still does itself: requests over `send_batch_max_size` are split before they go on, and
//! with `metadata_keys` each request is tagged with its client's partition (refused past
//! `metadata_cardinality_limit`), so no batch joins data of two partitions.

use async_trait::async_trait;
use ferrotel_core::batching::{BatchHint, BatchSettings, Partitioner};
use ferrotel_core::component::Lifecycle;
use ferrotel_core::consumer::{ConsumeError, Consumer, ConsumerRef};
use ferrotel_core::signal::{Signal, Telemetry};
use ferrotel_core::telemetry::ProcessorMetrics;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::BatchConfig;

pub struct BatchProcessor {
    signal: Signal,
    next: ConsumerRef,
    metrics: ProcessorMetrics,
    /// Requests over this many items are split (0: never).
    max_items: usize,
    /// The hint for data outside any metadata partition.
    hint: Arc<BatchHint>,
    partitioner: Option<Partitioner>,
    /// One hint per partition, made once.
    partition_hints: Mutex<HashMap<Arc<str>, Arc<BatchHint>>>,
}

impl BatchProcessor {
    pub(crate) fn new(
        signal: Signal,
        config: &BatchConfig,
        next: ConsumerRef,
        metrics: ProcessorMetrics,
        id: String,
    ) -> Self {
        let settings = BatchSettings {
            min_size: config.send_batch_size as usize,
            max_size: config.send_batch_max_size as usize,
            flush_timeout: config.timeout.as_duration(),
            bytes: false,
        };
        BatchProcessor {
            signal,
            next,
            max_items: config.send_batch_max_size as usize,
            hint: Arc::new(BatchHint {
                settings,
                origin: id.into(),
                partition: None,
                metrics: metrics.clone(),
            }),
            metrics,
            partitioner: Partitioner::new(
                &config.metadata_keys,
                config.metadata_cardinality_limit as usize,
            ),
            partition_hints: Mutex::new(HashMap::new()),
        }
    }

    fn hint_for(&self, data: &Telemetry) -> Result<Arc<BatchHint>, ConsumeError> {
        let Some(partitioner) = &self.partitioner else {
            return Ok(self.hint.clone());
        };
        let partition = partitioner
            .partition(data.context().metadata.as_deref())
            .map_err(ConsumeError::Permanent)?;
        let mut hints = self
            .partition_hints
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let hint = hints.entry(partition.clone()).or_insert_with(|| {
            Arc::new(BatchHint {
                partition: Some(partition),
                ..(*self.hint).clone()
            })
        });
        Ok(hint.clone())
    }

    async fn hand_on(&self, data: Telemetry) -> Result<(), ConsumeError> {
        let items = data.item_count();
        self.next.consume(data).await?;
        self.metrics.outgoing(self.signal, items);
        Ok(())
    }
}

#[async_trait]
impl Consumer for BatchProcessor {
    async fn consume(&self, mut data: Telemetry) -> Result<(), ConsumeError> {
        if data.signal() != self.signal {
            return Err(ConsumeError::Permanent(format!(
                "batch processor of a {} pipeline was handed {} data",
                self.signal,
                data.signal()
            )));
        }
        let items = data.item_count();
        self.metrics.incoming(self.signal, items);
        if items == 0 {
            return Ok(());
        }
        data.context_mut().batch = Some(self.hint_for(&data)?);
        if self.max_items == 0 || items <= self.max_items {
            return self.hand_on(data).await;
        }
        // Pieces go on in order; a failure stops the rest, and the caller (told of it) sends again.
        let mut rest = data;
        while rest.item_count() > self.max_items {
            let (head, tail) = rest
                .split_at(self.max_items)
                .map_err(|e| ConsumeError::Permanent(format!("batch could not be split: {e}")))?;
            self.hand_on(head).await?;
            rest = tail;
        }
        self.hand_on(rest).await
    }
}

/// Nothing is held here, so there is nothing to start or flush.
impl Lifecycle for BatchProcessor {}
