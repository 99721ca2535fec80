//! ferrotel's test and benchmark harness: a load generator, a counting sink, a recording server,
//! and helpers to run collector processes (ferrotel, rotel) on free loopback ports.

pub mod bench_report;
pub mod codec;
pub mod loadgen;
pub mod otlp_query;
pub mod procs;
pub mod recorder;
pub mod reliability;
pub mod sink;
pub mod transport;
pub mod workload;
