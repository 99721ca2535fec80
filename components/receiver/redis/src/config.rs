//! The `redis` receiver's settings: otelcol-contrib's `redisreceiver` keys and defaults
//! (`config.go`, `factory.go`): `confignet.AddrConfig` (`endpoint`, `transport`, `dialer`), the
//! scraper controller, `username`/`password`, `tls` (off by default: `insecure: true`) and the
//! metrics builder's `metrics`/`resource_attributes`.

use std::fmt;
use std::time::Duration;

use ferrotel_core::config::{GoDuration, Opaque, Validate};
use ferrotel_core::scraperhelper::{Toggles, validate_toggles};
use ferrotel_core::tls::TlsClientSetting;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};

use crate::metadata::{ACCEPTED_ONLY, DEFS, RESOURCE_ATTRIBUTES};

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
    #[serde(deserialize_with = "tls_insecure_by_default")]
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
            tls: insecure_tls(),
            metrics: Toggles::new(),
            resource_attributes: Toggles::new(),
        }
    }
}

fn insecure_tls() -> TlsClientSetting {
    TlsClientSetting {
        insecure: true,
        ..TlsClientSetting::default()
    }
}

/// Transports confignet knows; only the stream ones reach a Redis server.
const TRANSPORTS: &[&str] = &[
    "tcp",
    "tcp4",
    "tcp6",
    "udp",
    "udp4",
    "udp6",
    "ip",
    "ip4",
    "ip6",
    "unix",
    "unixgram",
    "unixpacket",
    "npipe",
];
const SUPPORTED: &[&str] = &["tcp", "tcp4", "tcp6", "unix"];

impl Config {
    pub fn is_unix(&self) -> bool {
        self.transport == "unix"
    }

    /// The scrape's deadline as the scraper helper applies it.
    pub fn effective_timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            self.collection_interval.as_duration()
        } else {
            self.timeout.as_duration()
        }
    }

    /// (host, port) of a TCP endpoint, as Go's `net.SplitHostPort` splits it.
    pub fn host_port(&self) -> Result<(String, String), String> {
        split_host_port(&self.endpoint)
    }
}

pub fn split_host_port(endpoint: &str) -> Result<(String, String), String> {
    let missing = || format!("address {endpoint}: missing port in address");
    if let Some(rest) = endpoint.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {endpoint}: missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(missing)?;
        return Ok((host.to_string(), port.to_string()));
    }
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(missing)?;
    if host.contains(':') {
        return Err(format!("address {endpoint}: too many colons in address"));
    }
    Ok((host.to_string(), port.to_string()))
}

impl Validate for Config {
    fn validate(&self) -> Result<(), String> {
        validate_toggles(
            "metrics",
            &self.metrics,
            DEFS.iter()
                .map(|d| d.name)
                .chain(ACCEPTED_ONLY.iter().copied()),
        )?;
        validate_toggles(
            "resource_attributes",
            &self.resource_attributes,
            RESOURCE_ATTRIBUTES.iter().map(|(n, _)| *n),
        )?;
        if self.collection_interval.is_zero() {
            return Err("\"collection_interval\": requires positive value".into());
        }
        if !TRANSPORTS.contains(&self.transport.as_str()) {
            return Err(format!("invalid transport type {:?}", self.transport));
        }
        if !SUPPORTED.contains(&self.transport.as_str()) {
            return Err(format!(
                "transport {:?} cannot reach a Redis server (use tcp, tcp4, tcp6 or unix)",
                self.transport
            ));
        }
        if self.endpoint.is_empty() {
            return Err("endpoint must be specified".into());
        }
        if !self.is_unix() {
            let (_, port) = self.host_port()?;
            if port.parse::<u16>().is_err() {
                return Err(format!("address {}: invalid port {port:?}", self.endpoint));
            }
        }
        self.tls.validate().map_err(|e| format!("tls: {e}"))
    }
}

/// Decodes `tls:` over a default with `insecure: true` (otelcol fills the defaults first, so only
/// an explicit `insecure: false` turns TLS on).
fn tls_insecure_by_default<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<TlsClientSetting, D::Error> {
    struct TlsVisitor;
    impl<'de> Visitor<'de> for TlsVisitor {
        type Value = TlsClientSetting;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of TLS settings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(insecure_tls())
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(WithInsecure {
                inner: map,
                seen: false,
                injected: false,
            }))
        }
    }
    deserializer.deserialize_map(TlsVisitor)
}

/// Passes the user's keys through and adds `insecure: true` at the end unless it was given.
struct WithInsecure<A> {
    inner: A,
    seen: bool,
    injected: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithInsecure<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if self.injected {
            return Ok(None);
        }
        match self.inner.next_key::<String>()? {
            Some(key) => {
                self.seen |= key == "insecure";
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None if self.seen => Ok(None),
            None => {
                self.injected = true;
                seed.deserialize("insecure".into_deserializer()).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        if self.injected {
            seed.deserialize(true.into_deserializer())
        } else {
            self.inner.next_value_seed(seed)
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
