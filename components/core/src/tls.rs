//! Client-side TLS with otelcol's `configtls` client keys, turned into a rustls `ClientConfig` on
//! the ring provider. Used by every exporter with a `tls:` section.
//!
//! What differs from Go's crypto/tls: TLS 1.0/1.1 do not exist in rustls (a lower `min_version`
//! is raised to 1.2, with a warning); only ECDHE AEAD suites exist for TLS 1.2 (other names in
//! `cipher_suites` are skipped with a warning); the system pool is the Mozilla root set
//! (webpki-roots). Without `ca_file`/`ca_pem` the server is verified against that root set.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};

use crate::config::{GoDuration, Validate};
use crate::tls_server::TpmSetting;

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
        let redact = |s: &str| if s.is_empty() { "" } else { "[REDACTED]" };
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

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Version {
    V10,
    V11,
    V12,
    V13,
}

fn parse_version(v: &str, default: Version) -> Result<Version, String> {
    match v {
        "" => Ok(default),
        "1.0" => Ok(Version::V10),
        "1.1" => Ok(Version::V11),
        "1.2" => Ok(Version::V12),
        "1.3" => Ok(Version::V13),
        other => Err(format!("unsupported TLS version: {other:?}")),
    }
}

impl Validate for TlsClientSetting {
    fn validate(&self) -> Result<(), String> {
        if !self.ca_file.is_empty() && !self.ca_pem.is_empty() {
            return Err("provide either a CA file or the PEM-encoded string, but not both".into());
        }
        if !self.cert_file.is_empty() && !self.cert_pem.is_empty() {
            return Err("provide either certificate file or PEM, but not both".into());
        }
        if !self.key_file.is_empty() && !self.key_pem.is_empty() {
            return Err("provide either key file or PEM, but not both".into());
        }
        if self.has_cert() != self.has_key() {
            return Err("TLS configuration must include both certificate and key (CertFile/CertPem and KeyFile/KeyPem)".into());
        }
        let min = parse_version(&self.min_version, Version::V12)
            .map_err(|e| format!("invalid TLS min_version: {e}"))?;
        let max = parse_version(&self.max_version, Version::V13)
            .map_err(|e| format!("invalid TLS max_version: {e}"))?;
        if !self.max_version.is_empty() && max < min {
            return Err(
                "invalid TLS configuration: min_version cannot be greater than max_version".into(),
            );
        }
        Ok(())
    }
}

impl TlsClientSetting {
    fn has_cert(&self) -> bool {
        !self.cert_file.is_empty() || !self.cert_pem.is_empty()
    }

    fn has_key(&self) -> bool {
        !self.key_file.is_empty() || !self.key_pem.is_empty()
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
        self.validate().map_err(|e| anyhow!(e))?;
        if self.tpm.enabled {
            bail!("tls::tpm is not supported by ferrotel: load the key from key_file or key_pem");
        }
        let provider = Arc::new(self.provider()?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .context("TLS versions and cipher suites do not fit together")?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider.clone())))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let config = if self.has_cert() {
            builder.with_client_cert_resolver(Arc::new(ReloadingClientCert::new(
                self.clone(),
                provider,
            )?))
        } else {
            builder.with_no_client_auth()
        };
        Ok(config)
    }

    fn versions(&self) -> anyhow::Result<Vec<&'static SupportedProtocolVersion>> {
        let min = parse_version(&self.min_version, Version::V12)
            .map_err(|e| anyhow!("invalid TLS min_version: {e}"))?;
        let max = parse_version(&self.max_version, Version::V13)
            .map_err(|e| anyhow!("invalid TLS max_version: {e}"))?;
        if max < Version::V12 {
            bail!(
                "tls::max_version {:?}: TLS 1.0 and 1.1 are not supported (rustls offers 1.2 and 1.3)",
                self.max_version
            );
        }
        if min < Version::V12 {
            tracing::warn!(min_version = %self.min_version, "TLS 1.0 and 1.1 are not supported; the minimum is 1.2");
        }
        let mut versions = Vec::new();
        if min <= Version::V12 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= Version::V13 {
            versions.push(&rustls::version::TLS13);
        }
        Ok(versions)
    }

    fn provider(&self) -> anyhow::Result<CryptoProvider> {
        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            let mut tls12 = Vec::new();
            for name in &self.cipher_suites {
                match provider
                    .cipher_suites
                    .iter()
                    .find(|s| go_suite_name(s) == *name)
                {
                    Some(suite) => tls12.push(*suite),
                    None if name.starts_with("TLS_")
                        && (name.contains("_CBC_")
                            || name.contains("_RSA_WITH_")
                            || name.contains("RC4")
                            || name.ends_with("CHACHA20_POLY1305")) =>
                    {
                        tracing::warn!(cipher_suite = %name, "TLS cipher suite not available with rustls; ignored")
                    }
                    None => bail!("invalid TLS cipher suite: {name:?}"),
                }
            }
            // As in Go, the list governs TLS 1.2 only; TLS 1.3 suites stay on.
            tls12.retain(|s| s.version() != &rustls::version::TLS13);
            let tls13 = provider
                .cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13)
                .copied();
            provider.cipher_suites = tls13.chain(tls12).collect();
        }
        if !self.curve_preferences.is_empty() {
            use rustls::crypto::ring::kx_group;
            let mut groups = Vec::new();
            for curve in &self.curve_preferences {
                match curve.as_str() {
                    "X25519" => groups.push(kx_group::X25519),
                    "P256" => groups.push(kx_group::SECP256R1),
                    "P384" => groups.push(kx_group::SECP384R1),
                    "P521" | "X25519MLKEM768" => {
                        tracing::warn!(curve = %curve, "TLS curve not available with the ring provider; ignored")
                    }
                    other => bail!(
                        "invalid curve type: {other}. Expected values are [P256 P384 P521 X25519 X25519MLKEM768]"
                    ),
                }
            }
            if groups.is_empty() {
                bail!(
                    "tls::curve_preferences: none of the listed curves is available (X25519, P256 and P384 are)"
                );
            }
            provider.kx_groups = groups;
        }
        Ok(provider)
    }

    fn roots(&self) -> anyhow::Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let pem = if !self.ca_file.is_empty() {
            Some(std::fs::read(&self.ca_file).with_context(|| {
                format!(
                    "failed to load CA CertPool: failed to load CA {}",
                    self.ca_file
                )
            })?)
        } else if !self.ca_pem.is_empty() {
            Some(self.ca_pem.as_bytes().to_vec())
        } else {
            None
        };
        if pem.is_none() || self.include_system_ca_certs_pool {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(pem) = pem {
            let source = if self.ca_file.is_empty() {
                "ca_pem"
            } else {
                self.ca_file.as_str()
            };
            let certs = parse_certs(&pem).with_context(|| {
                format!("failed to load CA CertPool: failed to parse CA {source}")
            })?;
            if certs.is_empty() {
                bail!("failed to load CA CertPool: no certificate found in CA {source}");
            }
            for cert in certs {
                roots.add(cert).with_context(|| {
                    format!("failed to load CA CertPool: invalid CA certificate in {source}")
                })?;
            }
        }
        Ok(roots)
    }

    fn load_certified_key(&self, provider: &CryptoProvider) -> anyhow::Result<Arc<CertifiedKey>> {
        let read = |file: &str, pem: &str| -> anyhow::Result<Vec<u8>> {
            if file.is_empty() {
                Ok(pem.as_bytes().to_vec())
            } else {
                std::fs::read(file)
                    .with_context(|| format!("failed to load TLS cert and key: open {file}"))
            }
        };
        let certs = parse_certs(&read(&self.cert_file, &self.cert_pem)?)
            .context("failed to load TLS cert and key PEMs")?;
        if certs.is_empty() {
            bail!(
                "failed to load TLS cert and key PEMs: no certificate found in the certificate PEM"
            );
        }
        let key_pem = read(&self.key_file, &self.key_pem)?;
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
            .context("failed to load TLS cert and key PEMs: malformed private key PEM")?
            .ok_or_else(|| {
                anyhow!("failed to load TLS cert and key PEMs: no private key found in the key PEM")
            })?;
        Ok(Arc::new(
            CertifiedKey::from_der(certs, key, provider)
                .context("failed to load TLS cert and key PEMs")?,
        ))
    }
}

fn parse_certs(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .context("malformed certificate PEM")
}

/// Go's name for a suite: rustls spells TLS 1.3 suites `TLS13_…`, Go `TLS_…`.
fn go_suite_name(suite: &rustls::SupportedCipherSuite) -> String {
    let name = format!("{:?}", suite.suite());
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
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

/// The client certificate, re-read from its files once `reload_interval` has passed (lazily, on a
/// handshake, as otelcol does). A failed reload keeps the previous certificate.
struct ReloadingClientCert {
    setting: TlsClientSetting,
    provider: Arc<CryptoProvider>,
    state: RwLock<(Arc<CertifiedKey>, Instant)>,
}

impl ReloadingClientCert {
    fn new(setting: TlsClientSetting, provider: Arc<CryptoProvider>) -> anyhow::Result<Self> {
        let key = setting.load_certified_key(&provider)?;
        Ok(ReloadingClientCert {
            setting,
            provider,
            state: RwLock::new((key, Instant::now())),
        })
    }

    fn reload_due(&self, loaded: Instant) -> bool {
        let from_files = !self.setting.cert_file.is_empty() || !self.setting.key_file.is_empty();
        from_files
            && !self.setting.reload_interval.is_zero()
            && loaded.elapsed() >= self.setting.reload_interval.0
    }
}

impl fmt::Debug for ReloadingClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingClientCert")
            .field("cert_file", &self.setting.cert_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesClientCert for ReloadingClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let (key, loaded) = self.state.read().ok().map(|s| (s.0.clone(), s.1))?;
        if !self.reload_due(loaded) {
            return Some(key);
        }
        let mut state = self.state.write().ok()?;
        if self.reload_due(state.1) {
            match self.setting.load_certified_key(&self.provider) {
                Ok(fresh) => *state = (fresh, Instant::now()),
                Err(e) => {
                    tracing::warn!(cert_file = %self.setting.cert_file, error = %format!("{e:#}"), "TLS client certificate reload failed; keeping the previous one");
                    state.1 = Instant::now();
                }
            }
        }
        Some(state.0.clone())
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
