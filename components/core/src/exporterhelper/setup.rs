//! What every network exporter's factory does alike: the client `auth` and `middlewares` keys
//! (configauth, configmiddleware) it accepts but cannot serve yet, the [`ExporterSettings`] built
//! from its `timeout`, `sending_queue` and `retry_on_failure`, and the warnings for keys it
//! accepts without acting on them.

use super::ExporterSettings;
use super::config::{QueueConfig, RetryConfig};
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

/// Refuses `auth:`: sending without the credentials the user asked for would be worse than not
/// starting, and ferrotel has no client authenticator extensions yet.
pub fn refuse_authenticator(auth: Option<&AuthConfig>) -> anyhow::Result<()> {
    match auth {
        Some(auth) => anyhow::bail!(
            "auth::authenticator {:?}: client authenticator extensions are not available in ferrotel yet; send credentials with `headers` instead",
            auth.authenticator
        ),
        None => Ok(()),
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
    fn an_authenticator_is_refused_by_name() {
        assert!(refuse_authenticator(None).is_ok());
        let auth = AuthConfig {
            authenticator: "oauth2client".into(),
        };
        let err = refuse_authenticator(Some(&auth)).unwrap_err().to_string();
        assert!(err.contains("\"oauth2client\""), "{err}");
        assert!(err.contains("headers"), "{err}");
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
