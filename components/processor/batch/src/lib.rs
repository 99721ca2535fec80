//! otelcol's `batch` processor for ferrotel.
//!
//! Batches are joined and split as encoded protobuf, never decoded: a relay that only batches pays
//! for byte copies. A batch is sent when it holds `send_batch_size` items or when its first item has
//! waited `timeout`; batches over `send_batch_max_size` are split. The consume that fills a batch
//! awaits its send (backpressure), and a failed send is either that caller's error or counted in
//! `otelcol_processor_dropped_*`, never lost silently.

mod batcher;
mod chunk;
pub mod config;
mod factory;

pub use batcher::BatchProcessor;
pub use config::BatchConfig;
pub use factory::BatchProcessorFactory;

#[cfg(test)]
mod tests;
