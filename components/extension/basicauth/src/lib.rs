//! otelcol-contrib's `basicauth` extension for ferrotel.
//!
//! With `htpasswd` it is a server authenticator: a receiver's request must carry
//! `Authorization: Basic …` with a user and password that match the htpasswd entries (bcrypt,
//! MD5-crypt, SHA-1, salted SHA-1 or plaintext, as Apache's `htpasswd` writes them). With
//! `client_auth` it is a client authenticator: an exporter sends those credentials on every
//! request. One instance is one or the other, as in otelcol.

mod client;
pub mod config;
mod factory;
mod htpasswd;
mod server;

pub use client::BasicAuthClient;
pub use config::Config;
pub use factory::BasicAuthExtensionFactory;
pub use server::BasicAuthServer;
