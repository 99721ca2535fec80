//! The `ebpf` receiver: telemetry from every process on the node without touching its code, read
//! from kernel tracepoints (see the crate's README for what it emits and `ebpf/` for the kernel side).

pub mod aggregate;
#[cfg(test)]
mod aggregate_tests;
pub mod config;
pub mod detect;
pub mod events;
pub mod factory;
mod kernel_maps;
pub mod loader;
pub mod metrics;
pub mod names;
pub mod otlp;
pub mod privileges;
pub mod procinfo;
pub mod receiver;
mod selfmetrics;
mod spans;
mod tls;

pub use factory::EbpfReceiverFactory;
