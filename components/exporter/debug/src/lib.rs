//! otelcol's `debug` exporter for ferrotel.
//!
//! `basic` writes one summary line per batch, counted on the encoded bytes without decoding;
//! `normal` adds about a line per span, data point or log record; `detailed` dumps every field.
//! The texts follow otelcol's layout (an output format otelcol itself calls unstable). Output goes
//! to the collector's log, or to stdout, stderr or files, sampled per second as otelcol samples it.

pub mod config;
mod detailed;
mod detailed_metrics;
mod exporter;
mod factory;
mod normal;
mod output;
pub mod values;

pub use config::{DebugConfig, Verbosity};
pub use exporter::{DebugExporter, Summary, render};
pub use factory::DebugExporterFactory;

#[cfg(test)]
mod tests;
