//! The `redis` receiver's settings: otelcol-contrib's `redisreceiver` keys and defaults
//! (`config.go`, `factory.go`): `confignet.AddrConfig` (`endpoint`, `transport`, `dialer`), the
//! scraper controller, `username`/`password`, `tls` (off by default: `insecure: true`) and the
//! metrics builder's `metrics`/`resource_attributes`.

use std::time::Duration;

use ferrotel_core::config::net::{host_and_port, split_host_port, validate_stream_transport};
use ferrotel_core::config::{GoDuration, Opaque, Validate};
use ferrotel_core::scraperhelper::{Controller, Toggles, scrape_timeout};
use ferrotel_core::tls::{TlsClientSetting, defaults};

use crate::metadata::CATALOG;

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `host:port` for the TCP transports, the socket's path for `unix`. Required.
    pub endpoint: String,
    /// `tcp` (default), `tcp4`, `tcp6` or `unix`.
    pub transport: String,
    pub dialer: Dialer,
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// The scrape's deadline; zero means the collection interval.
    pub timeout: GoDuration,
    /// For Redis 6+ ACL users; empty means the `default` user.
    pub username: String,
    pub password: Opaque,
    /// TLS is off unless `insecure: false` is written, as in otelcol's redis receiver.
    #[serde(deserialize_with = "defaults::deserialize_insecure")]
    pub tls: TlsClientSetting,
    pub metrics: Toggles,
    pub resource_attributes: Toggles,
}

/// `dialer:` of otelcol's `confignet.AddrConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialer {
    /// How long connecting may take; zero means the scrape's deadline alone.
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: String::new(),
            transport: "tcp".into(),
            dialer: Dialer::default(),
            collection_interval: GoDuration::from_secs(10),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::default(),
            username: String::new(),
            password: Opaque::default(),
            tls: defaults::insecure(),
            metrics: Toggles::new(),
            resource_attributes: Toggles::new(),
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
    pub fn host_port(&self) -> Result<(String, String), String> {
        split_host_port(&self.endpoint)
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        CATALOG.validate(&self.metrics, &self.resource_attributes, &Toggles::new())?;
        Controller::validate_interval(*self.collection_interval)?;
        validate_stream_transport(&self.transport, "a Redis server")?;
        if self.endpoint.is_empty() {
            return Err("endpoint must be specified".into());
        }
        if !self.is_unix() {
            host_and_port(&self.endpoint)?;
        }
        self.tls.validate().map_err(|e| format!("tls: {e}"))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
