//! The `otlp` receiver: OTLP over gRPC (tonic, port 4317) and HTTP (hyper, port 4318, protobuf and
//! JSON), with otelcol's otlpreceiver config keys, defaults and wire behaviour.
//!
//! Requests are not decoded on the way in: gRPC uses a raw-bytes codec and protobuf HTTP bodies
//! are passed on as they came, so a relay pays for a framing walk rather than a decode. Refusals
//! from the pipeline become the protocol's "retry later" (gRPC UNAVAILABLE with RetryInfo, HTTP 503
//! with Retry-After), never a silent drop.

mod auth;
mod body;
mod codec;
pub mod config;
mod cors;
mod export;
mod factory;
#[doc(hidden)]
pub mod fuzzing;
mod grpc;
mod http;
mod listener;
mod receiver;

pub use config::Config;
pub use factory::OtlpReceiverFactory;
pub use receiver::OtlpReceiver;
