//! otelcol-contrib's `bearertokenauth` extension for ferrotel.
//!
//! As a server authenticator (a receiver's `auth.authenticator`) it accepts a request whose
//! `header` (default `Authorization`) is exactly `<scheme> <token>` for one of the configured
//! tokens, compared in constant time. As a client authenticator (an exporter's
//! `auth.authenticator`) it sets that header on every request, with the first token. Tokens come
//! from `token`, `tokens`, or `filename` (one token a line), which is re-read as soon as the file
//! changes, so a rotated secret is picked up without a restart.

pub mod config;
mod factory;
mod tokens;

pub use config::Config;
pub use factory::BearerTokenAuthExtensionFactory;
pub use tokens::BearerTokenAuth;
