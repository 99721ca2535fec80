//! otelcol's `batch` processor for ferrotel, with otelcol's keys and defaults.
//!
//! ferrotel acknowledges a client once its items are in an exporter's sending queue, so batches are
//! formed where those queues are read (as otelcol's `sending_queue.batch` does): this processor
//! hands each request on at once, asking the exporters after it to batch with its
//! `send_batch_size`, `send_batch_max_size` and `timeout`, per `metadata_keys` partition. An
//! exporter's own `sending_queue.batch` takes precedence. Batches are joined and split as encoded
//! protobuf, never decoded; `otelcol_processor_batch_*` count the batches formed for it.

pub mod config;
mod factory;
mod processor;

pub use config::BatchConfig;
pub use factory::BatchProcessorFactory;
pub use processor::BatchProcessor;

#[cfg(test)]
mod tests;
