//! The `mysql` receiver's settings: otelcol-contrib's `mysqlreceiver` keys and defaults
//! (`config.go`, `factory.go`): the scraper controller, `confignet.AddrConfig` (`endpoint`,
//! `transport`, `dialer`), `username`/`password`/`database`, `allow_native_passwords`, `tls`,
//! `statement_events`, the query sample / top query sections, the metrics builder's
//! `metrics`/`resource_attributes` and the logs builder's `events`; plus ferrotel's `top_queries`.

use std::time::Duration;

use ferrotel_core::config::net::{host_and_port, validate_stream_transport};
use ferrotel_core::config::{GoDuration, Opaque, Validate};
use ferrotel_core::scraperhelper::topn::TopQueriesConfig;
use ferrotel_core::scraperhelper::{Controller, Toggles, scrape_timeout};
use ferrotel_core::tls::{TlsClientSetting, defaults};

use crate::metadata::CATALOG;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `host:port` for the TCP transports, the socket's path for `unix`.
    pub endpoint: String,
    /// `tcp` (default), `tcp4`, `tcp6` or `unix`.
    pub transport: String,
    pub dialer: Dialer,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// The scrape's deadline; zero means the collection interval.
    pub timeout: GoDuration,
    pub username: String,
    pub password: Opaque,
    /// The default database of the session; empty for none.
    pub database: String,
    /// Go's driver can refuse `mysql_native_password`; the Rust driver always speaks it, so only
    /// `true` (the default) is accepted.
    pub allow_native_passwords: bool,
    /// otelcol's `db_auth` (an authentication extension); refused, ferrotel has none for databases.
    pub db_auth: String,
    /// Omitted: clear text (otelcol's default). Written, even with only `server_name_override`:
    /// TLS on, because the section then decodes over configtls's own default (`insecure: false`).
    pub tls: TlsClientSetting,
    pub statement_events: StatementEvents,
    pub query_sample_collection: QuerySampleCollection,
    pub top_query_collection: TopQueryCollection,
    pub metrics: Toggles,
    pub resource_attributes: Toggles,
    pub events: Toggles,
    /// ferrotel's own: the top statement digests by time spent between two scrapes.
    pub top_queries: TopQueriesConfig,
}

/// `dialer:` of otelcol's `confignet.AddrConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialer {
    /// How long connecting may take; zero means the scrape's deadline alone.
    pub timeout: GoDuration,
}

/// Bounds of the `mysql.statement_event.*` query.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatementEvents {
    pub digest_text_limit: u32,
    pub limit: u32,
    /// Only digests seen within this much time.
    pub time_limit: GoDuration,
}

impl Default for StatementEvents {
    fn default() -> Self {
        StatementEvents {
            digest_text_limit: 120,
            limit: 250,
            time_limit: GoDuration::from_secs(24 * 3600),
        }
    }
}

/// Settings of otelcol's `db.server.query_sample` log events, accepted for compatibility.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerySampleCollection {
    pub max_rows_per_query: u64,
}

impl Default for QuerySampleCollection {
    fn default() -> Self {
        QuerySampleCollection {
            max_rows_per_query: 100,
        }
    }
}

/// Settings of otelcol's `db.server.top_query` log events, accepted for compatibility.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopQueryCollection {
    pub collection_interval: GoDuration,
    pub lookback_time: u64,
    pub max_query_sample_count: u64,
    pub top_query_count: u64,
    pub query_plan_cache_size: i64,
    pub query_plan_cache_ttl: GoDuration,
}

impl Default for TopQueryCollection {
    fn default() -> Self {
        TopQueryCollection {
            collection_interval: GoDuration::from_secs(60),
            lookback_time: 60,
            max_query_sample_count: 1000,
            top_query_count: 200,
            query_plan_cache_size: 1000,
            query_plan_cache_ttl: GoDuration::from_secs(3600),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: "localhost:3306".into(),
            transport: "tcp".into(),
            dialer: Dialer::default(),
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            username: "root".into(),
            password: Opaque::default(),
            database: String::new(),
            allow_native_passwords: true,
            db_auth: String::new(),
            tls: defaults::insecure(),
            statement_events: StatementEvents::default(),
            query_sample_collection: QuerySampleCollection::default(),
            top_query_collection: TopQueryCollection::default(),
            metrics: Toggles::new(),
            resource_attributes: Toggles::new(),
            events: Toggles::new(),
            top_queries: TopQueriesConfig::default(),
        }
    }
}

impl Config {
    pub fn is_unix(&self) -> bool {
        self.transport == "unix"
    }

    /// The scrape's deadline as the scraper helper applies it.
    pub fn effective_timeout(&self) -> Duration {
        scrape_timeout(*self.collection_interval, *self.timeout)
    }

    /// (host, port) of a TCP endpoint, as Go's `net.SplitHostPort` splits it.
    pub fn host_port(&self) -> Result<(String, u16), String> {
        host_and_port(&self.endpoint)
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        CATALOG.validate(&self.metrics, &self.resource_attributes, &self.events)?;
        Controller::validate_interval(*self.collection_interval)?;
        validate_stream_transport(&self.transport, "a MySQL server")?;
        if self.endpoint.is_empty() {
            return Err("endpoint must be specified".into());
        }
        if !self.is_unix() {
            self.host_port()?;
        }
        if !self.allow_native_passwords {
            return Err(
                "allow_native_passwords: false is not supported: the MySQL driver \
                        always accepts mysql_native_password"
                    .into(),
            );
        }
        if !self.db_auth.is_empty() {
            return Err(format!(
                "db_auth: authentication extensions ({:?}) are not supported; set username and password",
                self.db_auth
            ));
        }
        self.top_queries.validate()?;
        self.tls.validate().map_err(|e| format!("tls: {e}"))?;
        crate::tls::unsupported(&self.tls).map_err(|e| format!("tls: {e}"))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
