//! TLS with otelcol's `configtls` keys, on rustls with the ring provider: [`client`] for
//! exporters, [`server`] for listeners, both built on the same loaders and checks.

pub mod client;
mod common;
pub mod defaults;
pub mod server;

pub use client::TlsClientSetting;
pub use common::TpmSetting;
pub use server::TlsServerSetting;
