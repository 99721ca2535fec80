//! The `mongodb` receiver's settings: otelcol-contrib's `mongodbreceiver` keys and defaults
//! (`config.go`, `factory.go`), with its validation messages.

use std::collections::BTreeMap;

use ferrotel_core::config::{GoDuration, Opaque, Validate};
use ferrotel_core::scraperhelper::{Controller, Toggles, scrape_timeout};
use ferrotel_core::tls::TlsClientSetting;

use crate::metadata::CATALOG;

pub const DEFAULT_ENDPOINT: &str = "localhost:27017";

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// The scrape's deadline, and the driver's connect timeout.
    pub timeout: GoDuration,
    /// TLS is on unless `tls: {insecure: true}`, as in otelcol.
    pub tls: TlsClientSetting,
    pub metrics: Toggles,
    pub resource_attributes: Toggles,
    /// otelcol's logs side (`db.server.query_sample`): accepted, no logs are produced.
    pub events: Toggles,
    /// Belongs to the logs side: accepted and unused.
    pub query_sample_collection: QuerySampleCollection,
    pub hosts: Vec<Host>,
    /// `mongodb` (default) or `mongodb+srv`.
    pub scheme: String,
    pub username: String,
    pub password: Opaque,
    pub auth_mechanism: String,
    pub auth_source: String,
    pub auth_mechanism_properties: BTreeMap<String, String>,
    pub replica_set: String,
    pub direct_connection: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            collection_interval: GoDuration::from_secs(60),
            initial_delay: GoDuration::from_secs(1),
            timeout: GoDuration::from_secs(60),
            tls: TlsClientSetting::default(),
            metrics: Toggles::new(),
            resource_attributes: Toggles::new(),
            events: Toggles::new(),
            query_sample_collection: QuerySampleCollection::default(),
            hosts: vec![Host {
                endpoint: DEFAULT_ENDPOINT.to_string(),
                dialer: Dialer::default(),
            }],
            scheme: String::new(),
            username: String::new(),
            password: Opaque::default(),
            auth_mechanism: String::new(),
            auth_source: String::new(),
            auth_mechanism_properties: BTreeMap::new(),
            replica_set: String::new(),
            direct_connection: false,
        }
    }
}

/// One of `hosts` (otelcol's `confignet.TCPAddrConfig`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Host {
    pub endpoint: String,
    pub dialer: Dialer,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dialer {
    pub timeout: GoDuration,
}

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

impl Config {
    /// The scrape's deadline: `timeout`, or the interval when it is zero (as the helper does).
    pub fn effective_timeout(&self) -> std::time::Duration {
        scrape_timeout(*self.collection_interval, *self.timeout)
    }
}

impl Validate for Config {
    /// otelcol's checks, in its order; several problems are joined with "; " as multierr does.
    fn validate(&self) -> Result<(), String> {
        CATALOG.validate(&self.metrics, &self.resource_attributes, &self.events)?;
        Controller::validate_interval(*self.collection_interval)?;
        if self.hosts.is_empty() {
            return Err("no hosts were specified in the config".into());
        }
        let mut errors = Vec::new();
        for host in &self.hosts {
            if host.endpoint.is_empty() {
                errors.push("no endpoint specified for one of the hosts".to_string());
            }
        }
        if !self.scheme.is_empty() && self.scheme != "mongodb" && self.scheme != "mongodb+srv" {
            errors.push(format!(
                "invalid scheme {:?}, must be \"mongodb\" or \"mongodb+srv\"",
                self.scheme
            ));
        }
        if self.scheme == "mongodb+srv" && self.hosts.len() != 1 {
            errors.push("mongodb+srv scheme requires exactly one host".into());
        }
        if !self.username.is_empty() && self.password.is_empty() {
            errors.push("username provided without password".into());
        } else if self.username.is_empty() && !self.password.is_empty() {
            errors.push("password provided without user".into());
        }
        if let Err(e) = self.tls.validate() {
            errors.push(format!("error loading tls configuration: {e}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::config::{Node, decode_validated};
    use std::time::Duration;

    fn decode(text: &str) -> Result<Config, String> {
        let node = Node::parse(text, "mongodb.yaml").map_err(|e| e.to_string())?;
        decode_validated::<Config>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_section_has_otelcols_defaults() {
        let config = decode("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.hosts.len(), 1);
        assert_eq!(config.hosts[0].endpoint, "localhost:27017");
        assert_eq!(*config.collection_interval, Duration::from_secs(60));
        assert_eq!(*config.initial_delay, Duration::from_secs(1));
        assert_eq!(*config.timeout, Duration::from_secs(60));
        assert!(
            !config.tls.insecure,
            "otelcol dials with TLS unless told otherwise"
        );
        assert!(!config.direct_connection);
        assert_eq!(config.query_sample_collection.max_rows_per_query, 100);
    }

    #[test]
    fn the_upstream_testdata_config_decodes() {
        let text = include_str!("../testdata/config.yaml");
        let node = Node::parse(text, "config.yaml").unwrap();
        let ids: Vec<_> = node.entries().collect();
        assert_eq!(ids.len(), 1, "one receiver id in the file");
        let (id, section) = ids[0];
        assert_eq!(id.name, "mongodb");
        let config = decode_validated::<Config>(section).unwrap();
        assert_eq!(
            config.hosts,
            vec![Host {
                endpoint: "localhost:27017".into(),
                dialer: Dialer::default()
            }]
        );
        assert_eq!(config.username, "otel");
        assert_eq!(config.password.expose(), "$MONGO_PASSWORD");
        assert_eq!(*config.collection_interval, Duration::from_secs(60));
        assert_eq!(
            *config.timeout,
            Duration::from_secs(60),
            "the default stays"
        );
    }

    #[test]
    fn every_key_decodes() {
        let config = decode(
            "hosts:\n  - endpoint: a:1\n    dialer:\n      timeout: 5s\n  - endpoint: b:2\n\
             scheme: mongodb\nusername: u\npassword: p\nauth_mechanism: SCRAM-SHA-256\n\
             auth_source: admin\nauth_mechanism_properties:\n  SERVICE_NAME: x\n\
             replica_set: rs0\ndirect_connection: true\ntimeout: 2s\ncollection_interval: 10s\n\
             initial_delay: 0s\ntls:\n  insecure: true\n\
             metrics:\n  mongodb.uptime:\n    enabled: true\n\
             resource_attributes:\n  server.port:\n    enabled: true\n\
             events:\n  db.server.query_sample:\n    enabled: false\n\
             query_sample_collection:\n  max_rows_per_query: 5\n",
        )
        .unwrap();
        assert_eq!(config.hosts.len(), 2);
        assert_eq!(*config.hosts[0].dialer.timeout, Duration::from_secs(5));
        assert_eq!(config.replica_set, "rs0");
        assert!(config.direct_connection && config.tls.insecure);
        assert_eq!(config.auth_mechanism_properties["SERVICE_NAME"], "x");
        assert!(config.metrics["mongodb.uptime"].enabled);
        assert_eq!(config.effective_timeout(), Duration::from_secs(2));
        assert!(!format!("{config:?}").contains("password: p"), "{config:?}");
    }

    #[test]
    fn otelcols_validation_messages() {
        let err = |text: &str| decode(text).unwrap_err();
        assert!(err("username: u\n").contains("username provided without password"));
        assert!(err("password: p\n").contains("password provided without user"));
        assert!(err("hosts: []\n").contains("no hosts were specified in the config"));
        let both = err("hosts:\n  - endpoint: ''\nscheme: http\n");
        assert!(
            both.contains("no endpoint specified for one of the hosts"),
            "{both}"
        );
        assert!(both.contains("invalid scheme \"http\""), "{both}");
        assert!(
            err("scheme: mongodb+srv\nhosts: [{endpoint: a}, {endpoint: b}]\n")
                .contains("mongodb+srv scheme requires exactly one host")
        );
        assert!(err("tls:\n  min_version: \"0.9\"\n").contains("error loading tls configuration"));
        assert!(err("metrics:\n  mongodb.uptme:\n    enabled: true\n").contains("mongodb.uptime"));
        assert!(err("resource_attributes:\n  database:\n    enabled: true\n").contains("database"));
        assert!(err("hosts:\n  - endpoint: a\n    transport: tcp\n").contains("transport"));
        assert!(err("endpoint: localhost:27017\n").contains("endpoint"));
    }
}
