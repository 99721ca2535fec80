//! ferrotel-core: what every component shares — the data type, consumers, factories, the config
//! language, the pipeline graph and self-telemetry.

pub mod auth;
pub mod batching;
pub mod component;
pub mod config;
pub mod consumer;
pub mod exporterhelper;
pub mod graph;
pub mod otlp_json;
pub mod process;
pub mod scraperhelper;
pub mod signal;
pub mod storage;
pub mod telemetry;
pub mod telemetry_server;
pub mod testing;
pub mod tls;
pub mod wire;

/// The server half of [`tls`], at the path listeners have always imported it from.
pub use tls::server as tls_server;

pub use component::{ComponentId, Kind, Stability};
pub use consumer::{ConsumeError, Consumer, ConsumerRef};
pub use signal::{Signal, Telemetry};
