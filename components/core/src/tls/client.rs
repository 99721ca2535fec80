//! Client-side TLS with otelcol's `configtls` client keys, turned into a rustls `ClientConfig` on
//! the ring provider. Used by every exporter with a `tls:` section.
//!
//! What differs from Go's crypto/tls: TLS 1.0/1.1 do not exist in rustls (a lower `min_version`
//! is raised to 1.2, with a warning); only ECDHE AEAD suites exist for TLS 1.2 (the other suites
//! Go knows, named in `cipher_suites`, are skipped with a warning); the system pool is the Mozilla
//! root set (webpki-roots). Without `ca_file`/`ca_pem` the server is verified against that root set.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::common::{CommonKeys, ReloadingKeyPair, TpmSetting, redact, system_roots};
use crate::config::{GoDuration, Validate};

/// `tls:` of a client (otelcol `configtls.ClientConfig`).
#[derive(Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientSetting {
    /// No TLS at all (gRPC: plaintext HTTP/2). HTTP exporters follow the URL scheme instead.
    pub insecure: bool,
    /// TLS without checking the server's certificate chain or name.
    pub insecure_skip_verify: bool,
    pub ca_file: String,
    pub ca_pem: String,
    pub cert_file: String,
    pub cert_pem: String,
    pub key_file: String,
    pub key_pem: String,
    /// The name to send (SNI) and to verify the certificate against, instead of the host.
    pub server_name_override: String,
    /// Empty means "1.2", as in otelcol.
    pub min_version: String,
    /// Empty means the highest supported (1.3).
    pub max_version: String,
    /// Also trust the system roots when a CA is given.
    pub include_system_ca_certs_pool: bool,
    /// Re-reads the client certificate files on the first handshake after this much time (0: never).
    pub reload_interval: GoDuration,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub tpm: TpmSetting,
}

/// Secrets stay out of logs and debug output.
impl fmt::Debug for TlsClientSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientSetting")
            .field("insecure", &self.insecure)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &redact(&self.ca_pem))
            .field("cert_file", &self.cert_file)
            .field("cert_pem", &redact(&self.cert_pem))
            .field("key_file", &self.key_file)
            .field("key_pem", &redact(&self.key_pem))
            .field("server_name_override", &self.server_name_override)
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .finish_non_exhaustive()
    }
}

impl Validate for TlsClientSetting {
    fn validate(&self) -> Result<(), String> {
        self.common().validate()
    }
}

impl TlsClientSetting {
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

    /// The name to verify the server as, when `server_name_override` is set.
    pub fn server_name(&self) -> anyhow::Result<Option<ServerName<'static>>> {
        if self.server_name_override.is_empty() {
            return Ok(None);
        }
        let name = self
            .server_name_override
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        ServerName::try_from(name).map(Some).map_err(|_| {
            anyhow!(
                "tls::server_name_override {:?} is not a valid DNS name or IP address",
                self.server_name_override
            )
        })
    }

    /// The rustls config (no ALPN: the transport adds its own). Errors name the file or key.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let keys = self.common();
        keys.validate().map_err(|e| anyhow!(e))?;
        keys.refuse_tpm()?;
        let provider = Arc::new(keys.provider()?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&keys.versions()?)
            .context("TLS versions and cipher suites do not fit together")?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
        } else {
            let roots = keys
                .ca_roots(self.include_system_ca_certs_pool)?
                .unwrap_or_else(system_roots);
            builder.with_root_certificates(roots)
        };
        let config = if keys.has_cert() {
            let resolver = keys.reloading_key_pair(provider, "TLS client certificate")?;
            builder.with_client_cert_resolver(Arc::new(resolver))
        } else {
            builder.with_no_client_auth()
        };
        Ok(config)
    }
}

/// `insecure_skip_verify`: any certificate is accepted, but handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl ResolvesClientCert for ReloadingKeyPair {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.current()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(yaml: &str) -> Result<TlsClientSetting, String> {
        let node = crate::config::Node::parse(yaml, "t.yaml").unwrap();
        crate::config::decode_validated::<TlsClientSetting>(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn validation_messages_follow_otelcol() {
        assert!(
            setting("min_version: asd\n")
                .unwrap_err()
                .contains("invalid TLS min_version: unsupported TLS version: \"asd\"")
        );
        assert!(
            setting("cert_file: a\n")
                .unwrap_err()
                .contains("must include both certificate and key")
        );
        assert!(
            setting("ca_file: a\nca_pem: b\n")
                .unwrap_err()
                .contains("either a CA file or the PEM-encoded string")
        );
        assert!(
            setting("min_version: \"1.3\"\nmax_version: \"1.2\"\n")
                .unwrap_err()
                .contains("min_version cannot be greater")
        );
        assert!(setting("insecure: true\nbogus: 1\n").is_err());
        let ok = setting("insecure: true\nca_file: /var/lib/mycert.pem\ncert_file: c\nkey_file: k\nreload_interval: 1m\n").unwrap();
        assert!(ok.insecure);
    }

    #[test]
    fn configs_build_with_defaults_and_fail_with_the_path() {
        let _ = TlsClientSetting::default().client_config().unwrap();
        let skip = TlsClientSetting {
            insecure_skip_verify: true,
            ..Default::default()
        };
        let _ = skip.client_config().unwrap();
        let missing = TlsClientSetting {
            ca_file: "/nonexistent/ca.pem".into(),
            ..Default::default()
        };
        let err = format!("{:#}", missing.client_config().unwrap_err());
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let bad_suite = TlsClientSetting {
            cipher_suites: vec!["TLS_NOPE".into()],
            ..Default::default()
        };
        assert!(
            bad_suite
                .client_config()
                .unwrap_err()
                .to_string()
                .contains("invalid TLS cipher suite")
        );
        let named = TlsClientSetting {
            server_name_override: "backend.example".into(),
            ..Default::default()
        };
        assert!(named.server_name().unwrap().is_some());
    }

    #[test]
    fn debug_output_hides_pem_secrets() {
        let s = TlsClientSetting {
            key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}
