//! The `postgresql` receiver's settings: otelcol-contrib's `postgresqlreceiver` keys and defaults
//! (`config.go`, `factory.go`): `confignet.AddrConfig` (`endpoint`, `transport`, `dialer`), the
//! scraper controller, `username`/`password`, `databases`/`exclude_databases`, `tls` (on by
//! default without certificate checks: `insecure: false`, `insecure_skip_verify: true`), the
//! metrics builder's `metrics`/`resource_attributes`, and the query-sample / top-query / pool
//! sections, accepted for compatibility. `top_queries` and `lock_waits` are ferrotel's own.

use std::time::Duration;

use ferrotel_core::config::net::split_host_port;
use ferrotel_core::config::{GoDuration, Opaque, Validate};
use ferrotel_core::scraperhelper::topn::TopQueriesConfig;
use ferrotel_core::scraperhelper::{Controller, Toggles, scrape_timeout};
use ferrotel_core::tls::{TlsClientSetting, defaults};

use crate::metadata::CATALOG;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `host:port`, for `unix` too: the host is then the socket's directory.
    pub endpoint: String,
    /// `tcp` (default) or `unix`.
    pub transport: String,
    pub dialer: Dialer,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// The scrape's deadline; zero means the collection interval.
    pub timeout: GoDuration,
    pub username: String,
    pub password: Opaque,
    /// Databases to scrape; empty means every database that is not a template.
    pub databases: Vec<String>,
    pub exclude_databases: Vec<String>,
    #[serde(deserialize_with = "defaults::deserialize_skip_verify")]
    pub tls: TlsClientSetting,
    pub metrics: Toggles,
    pub resource_attributes: Toggles,
    /// otelcol's log events (query samples, top queries); ferrotel emits none.
    pub events: Toggles,
    pub query_sample_collection: QuerySampleCollection,
    pub top_query_collection: TopQueryCollection,
    pub connection_pool: ConnectionPool,
    pub top_queries: TopQueriesConfig,
    pub lock_waits: LockWaits,
}

/// `dialer:` of otelcol's `confignet.AddrConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialer {
    /// How long connecting may take; zero means the scrape's deadline alone.
    pub timeout: GoDuration,
}

/// otelcol's `query_sample_collection` (log events): accepted, not acted on.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerySampleCollection {
    pub enabled: bool,
    pub max_rows_per_query: u64,
}

/// otelcol's `top_query_collection` (log events): accepted, not acted on; see `top_queries`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopQueryCollection {
    pub enabled: bool,
    pub max_rows_per_query: u64,
    pub top_n_query: u64,
    pub max_explain_each_interval: u64,
    pub query_plan_cache_size: u64,
    pub query_plan_cache_ttl: GoDuration,
    pub collection_interval: GoDuration,
}

/// otelcol's `connection_pool`: accepted; ferrotel keeps one connection per database anyway.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionPool {
    pub max_idle_time: Option<GoDuration>,
    pub max_lifetime: Option<GoDuration>,
    pub max_idle: Option<u64>,
    pub max_open: Option<u64>,
}

/// ferrotel's backends waiting for a lock, with the query of the backend that blocks them.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockWaits {
    pub enabled: bool,
    pub limit: usize,
    pub max_query_length: usize,
}

impl Default for LockWaits {
    fn default() -> Self {
        LockWaits {
            enabled: false,
            limit: 20,
            max_query_length: 1024,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: "localhost:5432".into(),
            transport: "tcp".into(),
            dialer: Dialer::default(),
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            username: String::new(),
            password: Opaque::default(),
            databases: Vec::new(),
            exclude_databases: Vec::new(),
            tls: defaults::skip_verify(),
            metrics: Toggles::new(),
            resource_attributes: Toggles::new(),
            events: Toggles::new(),
            query_sample_collection: QuerySampleCollection::default(),
            top_query_collection: TopQueryCollection::default(),
            connection_pool: ConnectionPool::default(),
            top_queries: TopQueriesConfig::default(),
            lock_waits: LockWaits::default(),
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

    /// (host, port) as Go's `net.SplitHostPort` splits the endpoint.
    pub fn host_port(&self) -> Result<(String, String), String> {
        split_host_port(&self.endpoint)
    }

    /// Sections otelcol reads that ferrotel accepts without acting on them, for a warning.
    pub fn ignored_sections(&self) -> Vec<&'static str> {
        let mut ignored = Vec::new();
        if self.query_sample_collection != QuerySampleCollection::default() {
            ignored.push("query_sample_collection");
        }
        if self.top_query_collection != TopQueryCollection::default() {
            ignored.push("top_query_collection (see top_queries)");
        }
        if self.connection_pool != ConnectionPool::default() {
            ignored.push("connection_pool");
        }
        if self.events.values().any(|t| t.enabled) {
            ignored.push("events");
        }
        ignored
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        CATALOG.validate(&self.metrics, &self.resource_attributes, &self.events)?;
        Controller::validate_interval(*self.collection_interval)?;
        // otelcol reports every problem at once (multierr), in this order
        let mut errors = Vec::new();
        if self.username.is_empty() {
            errors.push("invalid config: missing username".to_string());
        }
        if self.password.is_empty() {
            errors.push("invalid config: missing password".to_string());
        }
        for (value, field) in [
            (&self.tls.server_name_override, "ServerName"),
            (&self.tls.max_version, "MaxVersion"),
            (&self.tls.min_version, "MinVersion"),
        ] {
            if !value.is_empty() {
                errors.push(format!("invalid config: field '{field}' not supported"));
            }
        }
        if self.transport != "tcp" && self.transport != "unix" {
            errors.push("invalid config: 'transport' must be 'tcp' or 'unix'".into());
        } else {
            let port_ok = self
                .host_port()
                .is_ok_and(|(_, port)| port.parse::<u16>().is_ok());
            if !port_ok {
                errors.push(
                    "invalid config: 'endpoint' must be in the form <host>:<port> no matter what 'transport' is configured"
                        .into(),
                );
            }
        }
        if let Err(e) = self.top_queries.validate() {
            errors.push(e);
        }
        if self.lock_waits.limit == 0 || self.lock_waits.max_query_length == 0 {
            errors.push("lock_waits: limit and max_query_length must be positive".into());
        }
        if let Err(e) = self.tls.validate() {
            errors.push(format!("tls: {e}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
