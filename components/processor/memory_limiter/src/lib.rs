//! otelcol's `memory_limiter` processor for ferrotel.
//!
//! Every `check_interval` the process's resident memory is compared with the soft limit
//! (`limit − spike`); above it, consumes are refused with a retryable error (gRPC `UNAVAILABLE`,
//! HTTP 503) until usage falls back. Data below the limit passes through untouched, still encoded.
//! Limits are fixed MiB or percentages of the cgroup's memory limit (v2 or v1), else the host's.

pub mod config;
mod factory;
mod limiter;
pub mod memory;

pub use config::MemoryLimiterConfig;
pub use factory::{MemoryLimiterProcessorFactory, thresholds};
pub use limiter::{MemoryLimiter, REFUSED_REASON};
pub use memory::{MemorySource, Thresholds};

#[cfg(test)]
mod tests;
