//! otelcol's OTLP/HTTP exporter (`otlp_http`, deprecated alias `otlphttp`) for ferrotel.
//!
//! Each batch is one POST to `<endpoint>/v1/{traces,metrics,logs}` (or the signal's own URL), as
//! protobuf (the bytes the batch arrived as, never decoded) or OTLP/JSON, compressed with gzip at
//! level 1 by default. hyper-util's pooled client speaks HTTP/1.1, or HTTP/2 when a TLS server
//! offers it; TLS is rustls on the ring provider. Per the OTLP/HTTP specification, 429, 502, 503
//! and 504 are retried (honouring `Retry-After`), other errors drop the batch with the server's
//! google.rpc.Status message in the log, and a partial success is logged and counted.

mod client;
pub mod config;
mod exporter;
mod factory;

pub use config::{Encoding, OtlpHttpConfig};
pub use exporter::{HttpSender, retry_after};
pub use factory::OtlpHttpExporterFactory;
