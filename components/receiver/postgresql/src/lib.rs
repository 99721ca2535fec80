//! The `postgresql` receiver: otelcol-contrib's `postgresqlreceiver` metrics, read from the
//! server's statistics views, plus (off by default) ferrotel's top-N queries from
//! `pg_stat_statements`, lock waits with their blocking query, and standby replay lag.

mod config;
mod factory;
mod metadata;
mod queries;
mod record;
mod scraper;
mod tls;
mod top_queries;

pub use config::Config;
pub use factory::PostgresqlReceiverFactory;
pub use metadata::DEFS;
