//! The `redis` receiver: otelcol-contrib's `redisreceiver` metrics, read from the server's `INFO`
//! reply (and, when the optional per-command metrics are on, its command and latency stats).

mod config;
mod factory;
mod info;
mod metadata;
mod record;
mod scraper;

pub use config::Config;
pub use factory::RedisReceiverFactory;
pub use metadata::DEFS;
