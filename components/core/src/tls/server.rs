//! Server-side TLS settings with otelcol's `configtls` server keys, turned into a rustls
//! `ServerConfig` on the ring provider. Used by every listener that takes a `tls:` section.
//!
//! Differences from Go's crypto/tls that a user can notice, each logged when it applies:
//! TLS 1.0/1.1 do not exist in rustls (a `min_version` below 1.2 is raised to 1.2); only the
//! ECDHE AEAD TLS 1.2 suites exist (CBC and RSA-kx suites named in `cipher_suites` are skipped);
//! the "system" CA pool is the Mozilla root set (webpki-roots); P-521 and ML-KEM curves are not
//! offered by the ring provider.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

pub use super::common::TpmSetting;
use super::common::{CommonKeys, ReloadingKeyPair, redact, roots_from_pem};
use crate::config::{GoDuration, Validate};

/// `tls:` of a server (otelcol `configtls.ServerConfig`).
#[derive(Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerSetting {
    /// For a server otelcol loads it as root CAs, which a server never consults; only
    /// `client_ca_file` turns on client verification. Kept for config compatibility.
    pub ca_file: String,
    pub ca_pem: String,
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub include_insecure_cipher_suites: bool,
    pub include_system_ca_certs_pool: bool,
    /// Empty means "1.2", as in otelcol.
    pub min_version: String,
    /// Empty means the highest supported (1.3).
    pub max_version: String,
    /// Re-reads `cert_file`/`key_file` on the first handshake after this much time (0: never).
    pub reload_interval: GoDuration,
    pub tpm: TpmSetting,
    /// CA bundle that client certificates must chain to; setting it requires client certificates.
    pub client_ca_file: String,
    pub client_ca_file_reload: bool,
}

/// Secrets stay out of logs and debug output.
impl fmt::Debug for TlsServerSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerSetting")
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &redact(&self.ca_pem))
            .field("cert_file", &self.cert_file)
            .field("cert_pem", &redact(&self.cert_pem))
            .field("key_file", &self.key_file)
            .field("key_pem", &redact(&self.key_pem))
            .field("cipher_suites", &self.cipher_suites)
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .field("reload_interval", &self.reload_interval)
            .field("client_ca_file", &self.client_ca_file)
            .finish_non_exhaustive()
    }
}

impl TlsServerSetting {
    fn common(&self) -> CommonKeys<'_> {
        CommonKeys {
            ca_file: &self.ca_file,
            ca_pem: &self.ca_pem,
            cert_file: &self.cert_file,
            cert_pem: &self.cert_pem,
            key_file: &self.key_file,
            key_pem: &self.key_pem,
            min_version: &self.min_version,
            max_version: &self.max_version,
            cipher_suites: &self.cipher_suites,
            curve_preferences: &self.curve_preferences,
            reload_interval: self.reload_interval.0,
            tpm: &self.tpm,
        }
    }

    /// Builds the rustls config; `alpn` lists the application protocols to offer (`h2`, `http/1.1`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> anyhow::Result<Arc<ServerConfig>> {
        self.validate().map_err(|e| anyhow!(e))?;
        let keys = self.common();
        keys.refuse_tpm()?;
        if self.client_ca_file_reload {
            tracing::warn!(
                "tls::client_ca_file_reload is not supported yet; the client CA file is read once at start"
            );
        }
        let provider = Arc::new(self.provider()?);
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&keys.versions()?)
            .context("TLS versions and cipher suites do not fit together")?;
        let builder = if self.client_ca_file.is_empty() {
            builder.with_no_client_auth()
        } else {
            let roots = self.client_roots()?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("failed to load client CA CertPool")?;
            builder.with_client_cert_verifier(verifier)
        };
        // Parsed for early errors only: a server does not use root CAs (otelcol neither).
        keys.ca_roots(false)?;
        let resolver = keys.reloading_key_pair(provider, "TLS certificate")?;
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    fn provider(&self) -> anyhow::Result<CryptoProvider> {
        self.common().provider()
    }

    fn client_roots(&self) -> anyhow::Result<RootCertStore> {
        let pem = std::fs::read(&self.client_ca_file).with_context(|| {
            format!(
                "failed to load client CA CertPool: failed to load CA {}",
                self.client_ca_file
            )
        })?;
        roots_from_pem(&pem, self.include_system_ca_certs_pool).with_context(|| {
            format!(
                "failed to load client CA CertPool: failed to parse CA {}",
                self.client_ca_file
            )
        })
    }
}

impl Validate for TlsServerSetting {
    fn validate(&self) -> Result<(), String> {
        let keys = self.common();
        keys.validate()?;
        if !keys.has_cert() {
            return Err(
                "TLS configuration must include both certificate and key for server connections"
                    .into(),
            );
        }
        Ok(())
    }
}

impl ResolvesServerCert for ReloadingKeyPair {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::common::go_suite_name;
    use std::time::Duration;

    fn setting(yaml: &str) -> Result<TlsServerSetting, String> {
        let node = crate::config::Node::parse(yaml, "t.yaml").unwrap();
        crate::config::decode_validated::<TlsServerSetting>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn validation_messages_follow_otelcol() {
        assert!(
            setting("cert_file: a\n")
                .unwrap_err()
                .contains("must include both certificate and key (CertFile")
        );
        assert!(
            setting("min_version: \"1.3\"\n")
                .unwrap_err()
                .contains("for server connections")
        );
        assert!(
            setting("cert_file: a\nkey_file: b\nmin_version: \"1.5\"\n")
                .unwrap_err()
                .contains("invalid TLS min_version: unsupported TLS version: \"1.5\"")
        );
        assert!(
            setting("cert_file: a\nkey_file: b\nmin_version: \"1.3\"\nmax_version: \"1.2\"\n")
                .unwrap_err()
                .contains("min_version cannot be greater")
        );
        assert!(
            setting("cert_file: a\ncert_pem: x\nkey_file: b\n")
                .unwrap_err()
                .contains("either certificate file or PEM")
        );
        assert!(setting("cert_file: a\nkey_file: b\nbogus: 1\n").is_err());
        let ok =
            setting("cert_file: a\nkey_file: b\nreload_interval: 1m\nclient_ca_file: c\n").unwrap();
        assert_eq!(ok.reload_interval.0, Duration::from_secs(60));
    }

    #[test]
    fn missing_files_fail_with_the_path() {
        let s = setting("cert_file: /nonexistent/c.pem\nkey_file: /nonexistent/k.pem\n").unwrap();
        let err = format!("{:#}", s.server_config(&[b"h2"]).unwrap_err());
        assert!(err.contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn cipher_suites_map_go_names() {
        let s = TlsServerSetting {
            cipher_suites: vec![
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
                "TLS_RSA_WITH_AES_128_CBC_SHA".into(),
            ],
            ..Default::default()
        };
        let provider = s.provider().unwrap();
        let names: Vec<String> = provider.cipher_suites.iter().map(go_suite_name).collect();
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()));
        assert!(
            names.contains(&"TLS_AES_128_GCM_SHA256".to_string()),
            "TLS 1.3 suites stay on: {names:?}"
        );
        assert!(!names.contains(&"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".to_string()));
        let bad = TlsServerSetting {
            cipher_suites: vec!["TLS_NOPE".into()],
            ..Default::default()
        };
        assert!(
            bad.provider()
                .unwrap_err()
                .to_string()
                .contains("invalid TLS cipher suite: \"TLS_NOPE\"")
        );
    }

    #[test]
    fn debug_output_hides_pem_secrets() {
        let s = TlsServerSetting {
            key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}
