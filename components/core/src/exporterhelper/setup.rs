//! What every network exporter's factory does alike: the client `auth` key (configauth) resolved
//! to the named authenticator extension, the `middlewares` key (configmiddleware) it accepts, the
//! [`ExporterSettings`] built from its `timeout`, `sending_queue` and `retry_on_failure`, and the
//! warnings for keys it accepts without acting on them.

use std::sync::Arc;

use super::ExporterSettings;
use super::config::{QueueConfig, RetryConfig};
use crate::auth::ClientAuthenticator;
use crate::component::Host;
use crate::config::GoDuration;

/// The `write_buffer_size` otelcol's OTLP exporters default to.
pub const DEFAULT_WRITE_BUFFER_SIZE: i64 = 512 * 1024;

/// `auth:` of a client (configauth): a client authenticator extension.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub authenticator: String,
}

/// One entry of `middlewares:` (configmiddleware).
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiddlewareConfig {
    pub id: String,
}

/// The client authenticator `auth::authenticator` names, looked up among the extensions the
/// host has created (otelcol resolves it when the exporter starts; ferrotel when it is created,
/// which is as early and also covers `ferrotel validate`).
pub fn client_authenticator(
    host: &Host,
    auth: Option<&AuthConfig>,
) -> anyhow::Result<Option<Arc<dyn ClientAuthenticator>>> {
    match auth {
        Some(auth) => Ok(Some(host.client_authenticator(&auth.authenticator)?)),
        None => Ok(None),
    }
}

/// Logs, once at creation, each key that is set but not acted on. `keys` pairs "is it set" with
/// the key's name (and, in parentheses, why it has no effect).
pub fn warn_inactive_keys(exporter_id: &str, keys: &[(bool, &str)]) {
    for (set, key) in keys {
        if *set {
            tracing::warn!(exporter = %exporter_id, "{key} is accepted but not acted on yet");
        }
    }
}

impl ExporterSettings {
    /// The settings from an exporter's `timeout`, `sending_queue` and `retry_on_failure` keys
    /// (otelcol squashes them into every exporter's config); the drain timeout stays the default.
    pub fn from_config(
        timeout: GoDuration,
        sending_queue: &QueueConfig,
        retry_on_failure: &RetryConfig,
    ) -> Self {
        ExporterSettings {
            timeout: timeout.0,
            queue: sending_queue.clone(),
            retry: retry_on_failure.clone(),
            ..ExporterSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authenticator_is_resolved_by_name() {
        let host = Host::default();
        assert!(client_authenticator(&host, None).unwrap().is_none());
        let auth = AuthConfig {
            authenticator: "oauth2client".into(),
        };
        let err = format!(
            "{:#}",
            client_authenticator(&host, Some(&auth)).err().unwrap()
        );
        assert!(
            err.contains("failed to resolve authenticator \"oauth2client\""),
            "{err}"
        );
        assert!(err.contains("not found"), "{err}");

        struct Fixed;
        impl ClientAuthenticator for Fixed {
            fn headers(&self) -> Result<http::HeaderMap, crate::auth::AuthError> {
                Ok(http::HeaderMap::new())
            }
        }
        let id = crate::component::ComponentId::parse("oauth2client").unwrap();
        host.register_extension(
            &id,
            crate::component::ExtensionServices {
                client_auth: Some(Arc::new(Fixed)),
                ..Default::default()
            },
        );
        assert!(client_authenticator(&host, Some(&auth)).unwrap().is_some());
    }

    #[test]
    fn settings_come_from_the_config_keys() {
        let queue = QueueConfig {
            num_consumers: 3,
            ..QueueConfig::default()
        };
        let retry = RetryConfig {
            enabled: false,
            ..RetryConfig::default()
        };
        let settings = ExporterSettings::from_config(GoDuration::from_secs(9), &queue, &retry);
        assert_eq!(settings.timeout, std::time::Duration::from_secs(9));
        assert_eq!(settings.queue, queue);
        assert_eq!(settings.retry, retry);
        assert_eq!(
            settings.drain_timeout,
            ExporterSettings::default().drain_timeout
        );
    }
}
