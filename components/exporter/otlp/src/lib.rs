//! otelcol's OTLP/gRPC exporter (`otlp_grpc`, deprecated alias `otlp`) for ferrotel.
//!
//! Batches are sent as the protobuf bytes they arrived as: the exporter never decodes forwarded
//! data. It speaks gRPC through a tonic channel (HTTP/2, rustls on the ring provider), with the
//! exporterhelper's queue, retries and timeout around it. Status codes are handled per the OTLP
//! specification: UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS (and
//! RESOURCE_EXHAUSTED with RetryInfo) are retried, honouring RetryInfo's delay; the rest drop the
//! batch. A partial success is logged and its rejected items counted as failed.

pub mod config;
mod exporter;
mod factory;
pub mod grpc;

pub use config::OtlpGrpcConfig;
pub use exporter::{GrpcSender, classify};
pub use factory::OtlpExporterFactory;
