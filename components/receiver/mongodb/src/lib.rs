//! The `mongodb` receiver: otelcol-contrib's `mongodbreceiver` metrics, scraped with the official
//! MongoDB driver from `listDatabases`, `serverStatus`, `dbStats`, `top` and `$indexStats`.

mod config;
mod connect;
mod factory;
mod metadata;
mod record;
mod scraper;
mod status;
mod uuid;

pub use config::Config;
pub use factory::MongodbReceiverFactory;
pub use metadata::DEFS;
