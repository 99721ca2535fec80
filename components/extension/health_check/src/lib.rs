//! otelcol-contrib's `health_check` extension for ferrotel.
//!
//! `GET <path>` on `endpoint` (default `localhost:13133`, `/`) answers 200 with
//! `{"status":"Server available","upSince":…,"uptime":…}` once every pipeline has started, and 503
//! with `{"status":"Server not available",…}` before that and from the start of shutdown; or the
//! fixed `response_body` texts. TLS comes from the shared `tls` server settings (rustls, ring).

pub mod config;
mod factory;
mod server;
mod status;

pub use config::HealthCheckConfig;
pub use factory::HealthCheckExtensionFactory;
pub use server::HealthCheckExtension;

#[cfg(test)]
mod tests;
