//! The `mysql` receiver: otelcol-contrib's `mysqlreceiver` metrics, read from `SHOW GLOBAL STATUS`,
//! the InnoDB buffer pool size, performance_schema's I/O and statement summaries and the replica
//! status of a MySQL or MariaDB server; plus, when asked, the top statement digests by time.

mod config;
mod factory;
mod metadata;
mod record;
mod scraper;
mod tls;
mod topn;

pub use config::Config;
pub use factory::MysqlReceiverFactory;
pub use metadata::DEFS;
